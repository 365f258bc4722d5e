"""Worktree sessions against real git repositories made in tmp_path: making, reusing, refusing,
status, diff and merge. Cleanup is in ``test_worktree_clean.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.git.repo import NotARepositoryError, WorktreeError, find_repo
from orchestrator.git.review import diff, merge, worktree_status
from orchestrator.git.worktree import WorktreeSettings, ensure_worktree, plan_worktree
from tests.gitrepo import SETTINGS, branch_exists, commit, git, up

pytestmark = pytest.mark.usefixtures("git_identity", "c_locale")


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
