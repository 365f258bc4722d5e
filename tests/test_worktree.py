"""Worktree sessions against real git repositories made in tmp_path.

Every cleanup test ends by proving nothing was lost: the commit is still reachable from a branch,
the file still exists.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestrator.git.worktree import (
    NotARepositoryError,
    WorktreeError,
    WorktreeSettings,
    WorktreeSpec,
    _remove,
    assess,
    clean,
    diff,
    ensure_worktree,
    find_orphans,
    find_repo,
    merge,
    plan_clean,
    plan_worktree,
    remove_worktree,
    worktree_status,
)
from tests.gitrepo import commit, git, reachable

pytestmark = pytest.mark.usefixtures("git_identity")


@pytest.fixture(autouse=True)
def _c_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """git's messages in English (no tmux here: tmux under LC_ALL=C drops UTF-8)."""
    monkeypatch.setenv("LC_ALL", "C")


SETTINGS = WorktreeSettings()


def branch_exists(repo: Path, branch: str) -> bool:
    proc = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository on branch main with one commit, inside its own parent folder."""
    path = tmp_path / "proj" / "app"
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    commit(path, "README.md", "hello\n", "initial")
    return path.resolve()


def up(repo: Path, session: str, settings: WorktreeSettings = SETTINGS) -> WorktreeSpec:
    spec = plan_worktree(repo, session, settings)
    ensure_worktree(spec)
    return spec


# ---------------------------------------------------------------------------------------------
# Creating and reusing


def test_two_sessions_get_their_own_worktree_branch_and_work_apart(repo: Path) -> None:
    one, two = up(repo, "dev-1"), up(repo, "dev-2")

    assert one.path == repo.parent / ".app-worktrees" / "dev-1"
    assert (one.branch, one.base) == ("orc/dev-1", "main")
    assert git(one.path, "branch", "--show-current") == "orc/dev-1"
    assert git(two.path, "branch", "--show-current") == "orc/dev-2"
    assert git(repo, "config", "branch.orc/dev-1.orchestratorBase") == "main"

    commit(one.path, "one.txt", "1\n")
    commit(two.path, "two.txt", "2\n")
    assert not (two.path / "one.txt").exists()
    assert not (repo / "one.txt").exists()

    first = merge(one, mode="ff-only")
    second = merge(two, mode="merge-commit")  # diverged from main once dev-1 landed
    assert (first.commits, second.commits) == (1, 1)
    assert (repo / "one.txt").read_text() == "1\n"
    assert (repo / "two.txt").read_text() == "2\n"
    assert git(repo, "rev-list", "--count", "--merges", "HEAD") == "1"
    assert worktree_status(one).ahead == worktree_status(two).ahead == 0


def test_existing_worktree_and_branch_are_reused(repo: Path) -> None:
    git(repo, "branch", "orc/dev-1")
    work = commit(repo, "a.txt", "a\n")
    git(repo, "update-ref", "refs/heads/orc/dev-1", work)
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    spec = plan_worktree(repo, "dev-1", SETTINGS)

    first = ensure_worktree(spec)
    assert (first.created_branch, first.created_worktree) == (False, True)
    assert git(spec.path, "rev-parse", "HEAD") == work
    (spec.path / "scratch.txt").write_text("keep me\n")

    again = ensure_worktree(plan_worktree(repo, "dev-1", SETTINGS))
    assert (again.created_branch, again.created_worktree) == (False, False)
    assert (spec.path / "scratch.txt").read_text() == "keep me\n"


def test_plan_from_inside_a_worktree_finds_the_main_repo(repo: Path) -> None:
    spec = up(repo, "dev-1")
    assert find_repo(spec.path) == repo
    assert plan_worktree(spec.path, "dev-1", SETTINGS) == spec


def test_recorded_base_wins_over_the_current_branch(repo: Path) -> None:
    git(repo, "switch", "-q", "-c", "release")
    up(repo, "dev-1")
    git(repo, "switch", "-q", "main")
    assert plan_worktree(repo, "dev-1", SETTINGS).base == "release"
    assert plan_worktree(repo, "dev-2", SETTINGS).base == "main"


def test_custom_prefix_base_and_folder(repo: Path, tmp_path: Path) -> None:
    git(repo, "branch", "develop")
    settings = WorktreeSettings(prefix="agent-", base="develop", folder=tmp_path / "trees")
    spec = up(repo, "dev-1", settings)
    assert (spec.branch, spec.base, spec.path) == (
        "agent-dev-1",
        "develop",
        tmp_path / "trees/dev-1",
    )
    assert git(spec.path, "branch", "--show-current") == "agent-dev-1"


# ---------------------------------------------------------------------------------------------
# Errors that leave nothing half made


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(
        NotARepositoryError, match=r"(?s)not inside a git repository.*hint: .*git init"
    ):
        plan_worktree(tmp_path, "dev-1", SETTINGS)


def test_dirty_base_is_refused_and_nothing_is_made(repo: Path) -> None:
    (repo / "README.md").write_text("changed\n")
    spec = plan_worktree(repo, "dev-1", SETTINGS)
    with pytest.raises(WorktreeError, match=r"main checked out at .* uncommitted.*README\.md"):
        ensure_worktree(spec)
    assert not branch_exists(repo, "orc/dev-1")
    assert not spec.path.exists()
    assert ensure_worktree(spec, allow_dirty_base=True).created_worktree


def test_branch_checked_out_elsewhere_is_refused(repo: Path, tmp_path: Path) -> None:
    git(repo, "worktree", "add", "-q", "-b", "orc/dev-1", str(tmp_path / "mine"))
    spec = plan_worktree(repo, "dev-1", SETTINGS)
    with pytest.raises(WorktreeError, match=r"orc/dev-1 is already checked out at .*mine"):
        ensure_worktree(spec)
    assert not spec.path.exists()


def test_folder_taken_by_other_files_is_refused(repo: Path) -> None:
    spec = plan_worktree(repo, "dev-1", SETTINGS)
    spec.path.mkdir(parents=True)
    (spec.path / "notes.txt").write_text("mine\n")
    with pytest.raises(WorktreeError, match=r"dev-1 already exists and is not a worktree"):
        ensure_worktree(spec)
    assert not branch_exists(repo, "orc/dev-1")
    assert (spec.path / "notes.txt").read_text() == "mine\n"


def test_branch_made_for_a_failed_worktree_is_removed_again(repo: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    spec = plan_worktree(repo, "dev-1", WorktreeSettings(folder=blocker))
    with pytest.raises(WorktreeError, match=r"cannot create worktree folder .*not-a-folder"):
        ensure_worktree(spec)
    assert not branch_exists(repo, "orc/dev-1")
    assert "orc/dev-1" not in git(repo, "config", "--list")


def test_worktree_folder_inside_the_checkout_is_refused(repo: Path) -> None:
    with pytest.raises(WorktreeError, match=r"inside the checkout"):
        plan_worktree(repo, "dev-1", WorktreeSettings(folder=repo / "trees"))


def test_missing_base_is_refused(repo: Path) -> None:
    spec = plan_worktree(repo, "dev-1", WorktreeSettings(base="nope"))
    with pytest.raises(WorktreeError, match=r"base branch 'nope' does not exist"):
        ensure_worktree(spec)
    assert not branch_exists(repo, "orc/dev-1")


# ---------------------------------------------------------------------------------------------
# Status and diff


def test_status_counts_ahead_behind_and_changed_files(repo: Path) -> None:
    spec = up(repo, "dev-1")
    commit(spec.path, "src/new.py", "x = 1\n")
    commit(spec.path, "README.md", "hello again\n")
    commit(repo, "base.txt", "base moved\n")
    (spec.path / "src/new.py").write_text("x = 2\n")
    (spec.path / "untracked.txt").write_text("draft\n")

    status = worktree_status(spec)
    assert (status.ahead, status.behind) == (2, 1)
    assert (status.uncommitted, status.untracked, status.dirty) == (1, 1, True)
    assert [(f.path, f.status) for f in status.changed] == [
        ("README.md", "M"),
        ("src/new.py", "A"),
        ("untracked.txt", "?"),
    ]

    patch = diff(spec)
    assert "+hello again" in patch  # committed
    assert "+x = 2" in patch  # uncommitted, on top of the committed x = 1
    assert "+draft" in patch  # untracked
    assert "base moved" not in patch  # the base's own progress is not the session's work


def test_status_without_a_worktree_reads_the_branch(repo: Path) -> None:
    spec = up(repo, "dev-1")
    commit(spec.path, "a.txt", "a\n")
    git(repo, "worktree", "remove", str(spec.path))
    status = worktree_status(spec)
    assert (status.worktree_exists, status.ahead, status.dirty) == (False, 1, False)
    assert [f.path for f in status.changed] == ["a.txt"]
    assert "+a" in diff(spec)


# ---------------------------------------------------------------------------------------------
# Merge


def test_merge_refuses_uncommitted_work_in_the_session(repo: Path) -> None:
    spec = up(repo, "dev-1")
    commit(spec.path, "a.txt", "a\n")
    (spec.path / "b.txt").write_text("not committed\n")
    before = git(repo, "rev-parse", "main")
    with pytest.raises(WorktreeError, match=r"dev-1's worktree .* uncommitted work \(b\.txt\)"):
        merge(spec)
    assert git(repo, "rev-parse", "main") == before


def test_merge_refuses_a_dirty_base_checkout(repo: Path) -> None:
    spec = up(repo, "dev-1")
    commit(spec.path, "a.txt", "a\n")
    (repo / "README.md").write_text("local edit\n")
    with pytest.raises(WorktreeError, match=r"cannot merge into main: .* uncommitted.*README"):
        merge(spec, mode="merge-commit")
    assert (repo / "README.md").read_text() == "local edit\n"


def test_merge_refuses_when_the_base_is_not_checked_out(repo: Path) -> None:
    spec = up(repo, "dev-1")
    commit(spec.path, "a.txt", "a\n")
    git(repo, "switch", "-q", "-c", "other")
    with pytest.raises(WorktreeError, match=r"(?s)has branch other checked out.*git switch main"):
        merge(spec)


def test_fast_forward_refused_when_diverged_and_conflicts_abort(repo: Path) -> None:
    spec = up(repo, "dev-1")
    commit(spec.path, "README.md", "session\n")
    base = commit(repo, "README.md", "base\n")
    with pytest.raises(WorktreeError, match=r"cannot fast-forward main to orc/dev-1"):
        merge(spec, mode="ff-only")
    with pytest.raises(WorktreeError, match=r"conflicts in README\.md.*aborted"):
        merge(spec, mode="merge-commit")
    assert git(repo, "rev-parse", "HEAD") == base
    assert git(repo, "status", "--porcelain") == ""


def test_merge_with_nothing_new_does_nothing(repo: Path) -> None:
    spec = up(repo, "dev-1")
    result = merge(spec)
    assert result.commits == 0
    assert result.before == result.after


# ---------------------------------------------------------------------------------------------
# Cleanup: nothing is ever lost


def test_merged_and_clean_is_removed(repo: Path) -> None:
    spec = up(repo, "dev-1")
    work = commit(spec.path, "a.txt", "a\n")
    merge(spec)

    (outcome,) = clean(repo, SETTINGS, live_sessions=())
    assert outcome.removed, outcome.detail
    assert outcome.restore is None
    assert not spec.path.exists()
    assert not branch_exists(repo, "orc/dev-1")
    assert "dev-1" not in git(repo, "worktree", "list")
    assert reachable(repo, work)
    assert (repo / "a.txt").read_text() == "a\n"


def test_merged_branch_is_removed_while_another_branch_is_checked_out(repo: Path) -> None:
    """`branch -d` is checked against the base, not against whatever the checkout has."""
    spec = up(repo, "dev-1")
    work = commit(spec.path, "a.txt", "a\n")
    merge(spec)
    git(repo, "switch", "-q", "-c", "elsewhere", "HEAD~1")

    (outcome,) = clean(repo, SETTINGS, live_sessions=())
    assert outcome.removed, outcome.detail
    assert outcome.restore is None  # deleted with -d, not -D
    assert reachable(repo, work)


def test_locked_worktree_is_kept_unless_forced(repo: Path) -> None:
    spec = up(repo, "dev-1")
    git(repo, "worktree", "lock", "--reason", "on a USB disk", str(spec.path))
    (kept,) = clean(repo, SETTINGS, live_sessions=())
    assert not kept.removed
    assert "locked" in kept.detail
    (forced,) = clean(repo, SETTINGS, live_sessions=(), force={"dev-1"})
    assert forced.removed, forced.detail
    assert not spec.path.exists()


def test_empty_prefix_is_refused(repo: Path) -> None:
    with pytest.raises(WorktreeError, match=r"prefix is empty"):
        plan_clean(repo, WorktreeSettings(prefix=""), live_sessions=())


def test_dirty_worktree_is_kept(repo: Path) -> None:
    spec = up(repo, "dev-1")
    (spec.path / "README.md").write_text("edited, not committed\n")

    (item,) = plan_clean(repo, SETTINGS, live_sessions=())
    assert not item.safety.safe
    assert "1 uncommitted change(s)" in item.safety.verdict
    (outcome,) = clean(repo, SETTINGS, live_sessions=())
    assert not outcome.removed
    assert (spec.path / "README.md").read_text() == "edited, not committed\n"
    assert branch_exists(repo, "orc/dev-1")


def test_untracked_file_is_kept(repo: Path) -> None:
    spec = up(repo, "dev-1")
    (spec.path / "notes.md").write_text("ideas\n")

    outcome = remove_worktree(spec)
    assert not outcome.removed
    assert "untracked file(s)" in outcome.detail
    assert (spec.path / "notes.md").read_text() == "ideas\n"


def test_ignored_files_do_not_block_removal(repo: Path) -> None:
    commit(repo, ".gitignore", "build/\n")
    spec = up(repo, "dev-1")
    (spec.path / "build").mkdir()
    (spec.path / "build" / "out.o").write_text("")
    assert assess(spec).safe


def test_unmerged_commits_are_kept_unless_forced(repo: Path) -> None:
    spec = up(repo, "dev-1")
    work = commit(spec.path, "a.txt", "a\n")

    safety = assess(spec)
    assert (safety.safe, safety.unmerged, safety.squash_merged) == (False, 1, False)
    assert "1 commit(s) on orc/dev-1 not merged into main" in safety.verdict
    (outcome,) = clean(repo, SETTINGS, live_sessions=())
    assert not outcome.removed
    assert reachable(repo, work)
    assert (spec.path / "a.txt").exists()

    (forced,) = clean(repo, SETTINGS, live_sessions=(), force={"dev-1"})
    assert forced.removed
    assert forced.restore == f"git branch orc/dev-1 {work}"
    git(repo, "branch", "orc/dev-1", work)  # the restore command works: the commit still exists
    assert reachable(repo, work)


def test_down_keeps_unmerged_work(repo: Path) -> None:
    spec = up(repo, "dev-1")
    work = commit(spec.path, "a.txt", "a\n")
    outcome = remove_worktree(spec)
    assert not outcome.removed
    assert outcome.detail.startswith("kept: ")
    assert reachable(repo, work)
    assert spec.path.is_dir()


def test_squash_merged_branch_needs_consent(repo: Path) -> None:
    spec = up(repo, "dev-1")
    first = commit(spec.path, "a.txt", "a\n")
    last = commit(spec.path, "b.txt", "b\n")
    git(repo, "merge", "-q", "--squash", "orc/dev-1")
    git(repo, "commit", "-q", "-m", "squash of dev-1")

    (item,) = plan_clean(repo, SETTINGS, live_sessions=())
    assert item.safety.squash_merged
    assert not item.safety.safe
    assert "squash-merged?" in item.safety.verdict
    (kept,) = clean(repo, SETTINGS, live_sessions=())
    assert not kept.removed
    assert reachable(repo, last)

    (removed,) = clean(repo, SETTINGS, live_sessions=(), assume_squash_merged={"dev-1"})
    assert removed.removed, removed.detail
    assert removed.restore == f"git branch orc/dev-1 {last}"
    assert (repo / "a.txt").read_text() == "a\n"
    assert (repo / "b.txt").read_text() == "b\n"
    assert git(repo, "cat-file", "-t", first) == "commit"


def test_consent_alone_does_not_remove_unmerged_work(repo: Path) -> None:
    spec = up(repo, "dev-1")
    work = commit(spec.path, "a.txt", "a\n")
    (outcome,) = clean(repo, SETTINGS, live_sessions=(), assume_squash_merged={"dev-1"})
    assert not outcome.removed
    assert reachable(repo, work)


def test_crash_orphans_are_listed_and_live_sessions_are_never_removed(repo: Path) -> None:
    live = up(repo, "dev-1")
    orphan = up(repo, "dev-2")
    # A crash: dev-2's folder survives but nothing runs there; dev-1 is still running.
    orphans = find_orphans(repo, SETTINGS, live_sessions={"dev-1"})
    assert [(o.spec.session, o.worktree, o.orphaned) for o in orphans] == [
        ("dev-2", orphan.path, True)
    ]

    outcomes = {o.item.spec.session: o for o in clean(repo, SETTINGS, {"dev-1"}, force={"dev-1"})}
    assert not outcomes["dev-1"].removed
    assert "session dev-1 is running" in outcomes["dev-1"].detail
    assert live.path.is_dir()
    assert branch_exists(repo, "orc/dev-1")
    assert outcomes["dev-2"].removed
    assert not orphan.path.exists()


def test_orphan_with_a_deleted_folder_is_found_and_pruned(repo: Path) -> None:
    spec = up(repo, "dev-1")
    work = commit(spec.path, "a.txt", "a\n")
    merge(spec)
    subprocess.run(["rm", "-rf", str(spec.path)], check=True)

    (item,) = find_orphans(repo, SETTINGS, live_sessions=())
    assert item.safety.safe
    (outcome,) = clean(repo, SETTINGS, live_sessions=())
    assert outcome.removed, outcome.detail
    assert "dev-1" not in git(repo, "worktree", "list")
    assert reachable(repo, work)


def test_branch_without_worktree_is_a_candidate(repo: Path) -> None:
    git(repo, "branch", "orc/old")
    (item,) = plan_clean(repo, SETTINGS, live_sessions=())
    assert (item.spec.session, item.has_branch, item.worktree) == ("old", True, None)
    (outcome,) = clean(repo, SETTINGS, live_sessions=())
    assert outcome.removed
    assert not branch_exists(repo, "orc/old")


def test_detached_head_commits_are_kept(repo: Path) -> None:
    spec = up(repo, "dev-1")
    git(spec.path, "switch", "-q", "--detach")
    loose = commit(spec.path, "loose.txt", "only on a detached HEAD\n")

    outcome = remove_worktree(spec)
    assert not outcome.removed
    assert "1 commit(s) on the detached HEAD" in outcome.detail
    assert git(spec.path, "rev-parse", "HEAD") == loose


def test_stray_folder_is_reported_and_never_removed(repo: Path) -> None:
    up(repo, "dev-1")
    stray = repo.parent / ".app-worktrees" / "leftover"
    stray.mkdir()
    (stray / "precious.txt").write_text("mine\n")

    items = {i.spec.session: i for i in plan_clean(repo, SETTINGS, live_sessions=())}
    assert "not a worktree git knows about" in items["leftover"].safety.verdict
    assert not items["leftover"].safety.forceable
    outcomes = {
        o.item.spec.session: o for o in clean(repo, SETTINGS, (), force={"leftover", "dev-1"})
    }
    assert not outcomes["leftover"].removed
    assert outcomes["dev-1"].removed
    assert (stray / "precious.txt").read_text() == "mine\n"


def test_branch_checked_out_in_the_main_work_tree_is_never_removed(repo: Path) -> None:
    git(repo, "switch", "-q", "-c", "orc/dev-1")
    (item,) = plan_clean(repo, SETTINGS, live_sessions=())
    assert not item.safety.forceable
    (outcome,) = clean(repo, SETTINGS, live_sessions=(), force={"dev-1"})
    assert not outcome.removed
    assert repo.is_dir()
    assert git(repo, "branch", "--show-current") == "orc/dev-1"


def test_git_itself_refuses_what_changed_after_the_listing(repo: Path) -> None:
    """If work appears between assessment and removal, git's own checks still keep it."""
    spec = up(repo, "dev-1")
    (item,) = plan_clean(repo, SETTINGS, live_sessions=())
    assert item.safety.safe
    (spec.path / "late.txt").write_text("written after the listing\n")
    outcome = _remove(item, force=False)
    assert not outcome.removed
    assert "git refused" in outcome.detail
    assert (spec.path / "late.txt").read_text() == "written after the listing\n"
