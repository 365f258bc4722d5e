"""Cleanup of worktree sessions against real git repositories made in tmp_path.

Every test ends by proving nothing was lost: the commit is still reachable from a branch, the file
still exists.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestrator.git.clean import (
    _remove,
    assess,
    clean,
    find_orphans,
    plan_clean,
    remove_worktree,
)
from orchestrator.git.repo import WorktreeError
from orchestrator.git.review import merge
from orchestrator.git.worktree import WorktreeSettings
from tests.gitrepo import SETTINGS, branch_exists, commit, git, reachable, up

pytestmark = pytest.mark.usefixtures("git_identity", "c_locale")


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
