"""Where a session's branch stands against its base, its work as a patch, and merging it.

Each function takes the :class:`~orchestrator.git.worktree.WorktreeSpec` of a session whose branch
exists. The session's own worktree counts where it still exists: the status and the diff include
its uncommitted and untracked files, and a merge refuses while it holds any (they would be left
out). A merge happens in the main work tree, which must have the base checked out and nothing
uncommitted; a merge commit that conflicts is aborted, so the base is either merged or unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from orchestrator.git.repo import (
    ChangedFile,
    WorktreeError,
    branch_ref,
    commit_of,
    first_few,
    git_output,
    local_changes,
    run_git,
    stderr_line,
)
from orchestrator.git.worktree import WorktreeSpec, worktree_of

MergeMode = Literal["ff-only", "merge-commit"]
"""How :func:`merge` brings a branch in: fast-forward only, or always a merge commit."""


@dataclass(frozen=True)
class WorktreeStatus:
    """Where a session's branch stands against its base."""

    spec: WorktreeSpec
    """The session's worktree and branch."""
    worktree_exists: bool
    """False if the worktree folder is gone (the branch may remain)."""
    ahead: int
    """Commits on the branch that the base lacks."""
    behind: int
    """Commits on the base that the branch lacks."""
    uncommitted: int
    """Tracked files with staged or unstaged changes in the worktree."""
    untracked: int
    """Untracked, not ignored, files in the worktree."""
    changed: tuple[ChangedFile, ...]
    """Every file changed since the merge-base: committed, uncommitted and untracked."""

    @property
    def dirty(self) -> bool:
        """True if the worktree holds anything not committed."""
        return bool(self.uncommitted or self.untracked)


@dataclass(frozen=True)
class MergeResult:
    """What :func:`merge` did."""

    spec: WorktreeSpec
    """The session merged."""
    mode: MergeMode
    """How it was merged."""
    commits: int
    """Commits brought into the base (0: already up to date, nothing done)."""
    before: str
    """The base's commit before the merge."""
    after: str
    """The base's commit after the merge."""


def _require(spec: WorktreeSpec) -> tuple[str, str]:
    tip = commit_of(spec.repo, branch_ref(spec.branch))
    if tip is None:
        raise WorktreeError(
            f"session {spec.session} has no branch {spec.branch} in {spec.repo}",
            hint="run `up` to create it",
        )
    base = commit_of(spec.repo, branch_ref(spec.base))
    if base is None:
        raise WorktreeError(
            f"base branch {spec.base} of session {spec.session} no longer exists in {spec.repo}",
            hint="recreate it, or set the worktree base in the layout",
        )
    return tip, base


def worktree_status(spec: WorktreeSpec) -> WorktreeStatus:
    """Branch, commits ahead of and behind the base, and every changed file."""
    tip, base = _require(spec)
    counts = git_output(spec.repo, "rev-list", "--left-right", "--count", f"{base}...{tip}").split()
    behind, ahead = int(counts[0]), int(counts[1])
    merge_base = git_output(spec.repo, "merge-base", base, tip)
    tree = worktree_of(spec)
    tracked: list[ChangedFile] = []
    untracked: list[str] = []
    if tree is not None:
        tracked, untracked = local_changes(tree.path)
        # Compared with the work tree, so committed, staged and unstaged changes all count.
        names = run_git(tree.path, "diff", "--name-status", "-z", "--no-renames", merge_base).stdout
    else:
        names = run_git(
            spec.repo, "diff", "--name-status", "-z", "--no-renames", merge_base, tip
        ).stdout
    tokens = [t for t in names.split("\0") if t]
    changed = [ChangedFile(tokens[i + 1], tokens[i][0]) for i in range(0, len(tokens) - 1, 2)]
    changed += [ChangedFile(path, "?") for path in untracked]
    return WorktreeStatus(
        spec=spec,
        worktree_exists=tree is not None,
        ahead=ahead,
        behind=behind,
        uncommitted=len(tracked),
        untracked=len(untracked),
        changed=tuple(sorted(changed, key=lambda f: f.path)),
    )


def diff(spec: WorktreeSpec) -> str:
    """The session's work as a patch: committed changes since the merge-base plus uncommitted ones.

    Untracked files are shown as new files.
    """
    tip, base = _require(spec)
    merge_base = git_output(spec.repo, "merge-base", base, tip)
    plain = ("--no-color", "--no-ext-diff", "--src-prefix=a/", "--dst-prefix=b/")
    tree = worktree_of(spec)
    if tree is None:
        return run_git(spec.repo, "diff", *plain, merge_base, tip).stdout
    parts = [run_git(tree.path, "diff", *plain, merge_base).stdout]
    _, untracked = local_changes(tree.path)
    for path in untracked:
        # --no-index exits 1 when the files differ, which they always do here.
        parts.append(
            run_git(
                tree.path, "diff", *plain, "--no-index", "--", "/dev/null", path, ok=(0, 1)
            ).stdout
        )
    return "".join(parts)


def merge(spec: WorktreeSpec, *, mode: MergeMode = "ff-only") -> MergeResult:
    """Bring the session's branch into its base, in the main work tree.

    The main work tree must have the base checked out and no uncommitted changes; the session's
    worktree must hold nothing uncommitted (it would be left out of the merge). A merge commit that
    conflicts is aborted, leaving the base as it was.
    """
    tip, base = _require(spec)
    tree = worktree_of(spec)
    if tree is not None:
        tracked, untracked = local_changes(tree.path)
        if tracked or untracked:
            raise WorktreeError(
                f"session {spec.session}'s worktree {tree.path} has uncommitted work "
                f"({first_few([f.path for f in tracked] + untracked)}); it would be left out",
                hint="commit it in the session's worktree (or discard it), then merge again",
            )
    checked_out = run_git(spec.repo, "symbolic-ref", "--quiet", "HEAD", check=False).stdout.strip()
    if checked_out != branch_ref(spec.base):
        shown = (
            f"branch {checked_out.removeprefix('refs/heads/')}"
            if checked_out
            else "a detached HEAD"
        )
        raise WorktreeError(
            f"cannot merge {spec.branch} into {spec.base}: the main work tree {spec.repo} has "
            f"{shown} checked out, and the merge happens there",
            hint=f"run `git switch {spec.base}` in {spec.repo}, then merge again",
        )
    tracked, _ = local_changes(spec.repo)
    if tracked:
        raise WorktreeError(
            f"cannot merge into {spec.base}: {spec.repo} has uncommitted changes "
            f"({first_few([f.path for f in tracked])})",
            hint="commit or stash them, then merge again",
        )
    commits = int(git_output(spec.repo, "rev-list", "--count", f"{base}..{tip}"))
    if commits == 0:
        return MergeResult(spec, mode, 0, base, base)
    if mode == "ff-only":
        proc = run_git(spec.repo, "merge", "--ff-only", "--no-edit", tip, check=False)
        if proc.returncode != 0:
            raise WorktreeError(
                f"cannot fast-forward {spec.base} to {spec.branch}: the branches have diverged "
                f"({spec.base} has commits {spec.branch} lacks)",
                hint="merge with a merge commit, or rebase the session's branch onto the base",
            )
    else:
        message = f"Merge session {spec.session} (branch {spec.branch})"
        proc = run_git(spec.repo, "merge", "--no-ff", "--no-edit", "-m", message, tip, check=False)
        if proc.returncode != 0:
            conflicts = git_output(spec.repo, "diff", "--name-only", "--diff-filter=U").splitlines()
            run_git(spec.repo, "merge", "--abort", check=False)
            reason = f"conflicts in {first_few(conflicts)}" if conflicts else stderr_line(proc)
            raise WorktreeError(
                f"merging {spec.branch} into {spec.base} failed ({reason}); the merge was "
                "aborted and the base is unchanged",
                hint="merge the base into the session's branch and resolve the conflicts there",
            )
    after = commit_of(spec.repo, "HEAD") or base
    return MergeResult(spec, mode, commits, base, after)
