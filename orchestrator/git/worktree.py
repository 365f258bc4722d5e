"""A git branch and worktree per session: where it goes, making it, and taking it back.

A session with ``worktree = true`` works in its own linked worktree on its own branch
(``orc/dev-1``: a prefix plus the session name), created from a base branch. This module plans a
session's worktree and creates or reuses it; :mod:`orchestrator.git.review` reports on it, shows
its diff and merges it, and :mod:`orchestrator.git.clean` decides what cleanup may remove.

Decisions worth knowing:

- Worktrees live in ``<repo parent>/.<repo name>-worktrees/<session>`` unless configured. Beside the
  checkout rather than under the XDG data folder because tools look upward for their settings
  (Claude Code reads ``CLAUDE.md`` from every parent folder; so do ``.editorconfig``, ``.envrc``,
  ``.tool-versions`` and node's module lookup): a sibling folder keeps the checkout's parents in
  effect and makes the worktrees easy to find. The folder must not be inside the checkout, where
  it would show up as untracked files.
- The base a branch was made from is recorded in the repository's config as
  ``branch.<branch>.orchestratorBase``. It survives a crash (so orphans are judged against the
  right base) and git drops it when the branch is deleted.
- A launch that fails takes back only what it made (:func:`undo_ensure`), and git re-checks that
  nothing was written there since.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.git.repo import (
    ListedWorktree,
    WorktreeError,
    branch_ref,
    commit_of,
    current_branch,
    find_repo,
    first_few,
    list_worktrees,
    local_changes,
    run_git,
    same_path,
    stderr_line,
)

DEFAULT_PREFIX = "orc/"
"""The branch prefix unless the layout sets one."""
BASE_KEY = "orchestratorBase"
"""The branch config key (``branch.<branch>.orchestratorBase``) recording a branch's base."""
SESSION_KEY = "orchestratorSession"
"""The branch config key recording the session a branch was made for (so ``clean`` can tell a
layout's custom prefix from the name, without the layout)."""


@dataclass(frozen=True)
class WorktreeSettings:
    """The layout's worktree options, shared by every session of a fleet."""

    prefix: str = DEFAULT_PREFIX
    """Branch name prefix; the session's branch is ``prefix + session name``."""
    base: str | None = None
    """Branch new session branches start from; ``None`` means the repository's current branch."""
    folder: Path | None = None
    """Folder holding the worktrees; ``None`` means ``<repo parent>/.<repo name>-worktrees``."""


@dataclass(frozen=True)
class WorktreeSpec:
    """Where one session's worktree is, on which branch, made from which base."""

    session: str
    """The session's name."""
    repo: Path
    """The repository's main work tree."""
    branch: str
    """The session's branch (short name, e.g. ``orc/dev-1``)."""
    base: str
    """The branch the session's branch is compared with and merged into."""
    path: Path
    """The session's worktree folder."""


@dataclass(frozen=True)
class EnsureResult:
    """What :func:`ensure_worktree` did."""

    spec: WorktreeSpec
    """The worktree now in place."""
    created_branch: bool
    """True if the branch was made now; False if an existing one was reused."""
    created_worktree: bool
    """True if the worktree was added now; False if an existing one was reused."""


def check_prefix(settings: WorktreeSettings) -> None:
    """Refuse an empty branch prefix."""
    # The prefix is how cleanup tells our branches from the user's: without one, every branch
    # would be a cleanup candidate.
    if not settings.prefix:
        raise WorktreeError(
            "the worktree branch prefix is empty",
            hint=f"set a prefix such as {DEFAULT_PREFIX!r} in the layout",
        )


def default_folder(repo: Path) -> Path:
    """Where worktrees go unless configured: ``<repo parent>/.<repo name>-worktrees``."""
    return repo.parent / f".{repo.name}-worktrees"


def recorded_base(repo: Path, branch: str) -> str | None:
    """The base recorded for ``branch`` when it was made, if any."""
    proc = run_git(repo, "config", "--get", f"branch.{branch}.{BASE_KEY}", check=False)
    return proc.stdout.strip() or None


def recorded_branches(repo: Path) -> dict[str, str | None]:
    """The branches made for sessions in ``repo`` (their base is recorded), each with the name of
    its session where that is recorded too."""
    pattern = rf"^branch\..*\.({BASE_KEY}|{SESSION_KEY})$".lower()
    proc = run_git(repo, "config", "--get-regexp", pattern, check=False)
    found: dict[str, str | None] = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition(" ")
        branch, _, variable = key.removeprefix("branch.").rpartition(".")
        if variable == SESSION_KEY.lower() and value.strip():
            found[branch] = value.strip()
        else:
            found.setdefault(branch, None)
    return found


def worktree_folder(repo: Path, settings: WorktreeSettings) -> Path:
    """The folder holding the worktrees, absolute (a relative one is taken from ``repo``)."""
    folder = (settings.folder or default_folder(repo)).expanduser()
    return folder if folder.is_absolute() else repo / folder


def plan_worktree(cwd: Path, session: str, settings: WorktreeSettings) -> WorktreeSpec:
    """Work out a session's branch, base and folder; create nothing.

    The base is, first match wins: the layout's base, the base recorded when the branch was made,
    the repository's current branch.
    """
    repo = find_repo(cwd)
    check_prefix(settings)
    branch = f"{settings.prefix}{session}"
    check = run_git(repo, "check-ref-format", "--branch", branch, check=False)
    if check.returncode != 0:
        raise WorktreeError(
            f"{branch!r} is not a valid git branch name",
            hint="fix the worktree branch prefix in the layout",
        )
    base = settings.base or recorded_base(repo, branch) or current_branch(repo)
    folder = worktree_folder(repo, settings)
    path = folder.resolve() / session
    if path.is_relative_to(repo.resolve()):
        raise WorktreeError(
            f"worktree folder {folder} is inside the checkout {repo}; its files would show up "
            "there as untracked",
            hint="choose a worktree folder outside the repository",
        )
    return WorktreeSpec(session=session, repo=repo, branch=branch, base=base, path=path)


# ---------------------------------------------------------------------------------------------
# Creating or reusing


def ensure_worktree(spec: WorktreeSpec, *, allow_dirty_base: bool = False) -> EnsureResult:
    """Give the session its worktree on its branch, reusing whatever already exists.

    Refuses, leaving nothing behind, when the branch is checked out elsewhere, the folder is taken,
    the base is missing, or (for a new branch) the base's checkout has uncommitted changes the new
    worktree would not contain.
    """
    repo = spec.repo
    # Registrations whose folder was deleted by hand would block `worktree add` at that path;
    # prune drops only those (never a locked one, never a folder that exists).
    run_git(repo, "worktree", "prune")
    trees = list_worktrees(repo)
    holder = next((t for t in trees if t.branch == spec.branch), None)
    at_path = next((t for t in trees if same_path(t.path, spec.path)), None)
    if holder is not None and not same_path(holder.path, spec.path):
        raise WorktreeError(
            f"branch {spec.branch} is already checked out at {holder.path}, so session "
            f"{spec.session} cannot have it at {spec.path}",
            hint=f"switch {holder.path} to another branch or remove that worktree "
            "(`orchestrator clean`), or use another branch prefix",
        )
    if at_path is not None:
        if at_path.branch == spec.branch:
            return EnsureResult(spec, created_branch=False, created_worktree=False)
        what = f"branch {at_path.branch}" if at_path.branch else "a detached HEAD"
        raise WorktreeError(
            f"{spec.path} is already a worktree on {what}, not on {spec.branch}",
            hint=f"check out {spec.branch} there, or remove that worktree",
        )
    if spec.path.exists() and (not spec.path.is_dir() or any(spec.path.iterdir())):
        raise WorktreeError(
            f"{spec.path} already exists and is not a worktree of {repo}",
            hint="move it away, or configure another worktree folder",
        )

    created_branch = False
    if commit_of(repo, branch_ref(spec.branch)) is None:
        _check_base(spec, trees, allow_dirty_base=allow_dirty_base)
        run_git(repo, "branch", "--no-track", spec.branch, branch_ref(spec.base))
        created_branch = True
    if recorded_base(repo, spec.branch) is None:
        run_git(repo, "config", f"branch.{spec.branch}.{BASE_KEY}", spec.base)
    run_git(repo, "config", f"branch.{spec.branch}.{SESSION_KEY}", spec.session)

    try:
        spec.path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _undo_branch(spec, created_branch)
        raise WorktreeError(
            f"cannot create worktree folder {spec.path.parent}: {exc.strerror}",
            hint="configure a worktree folder you can write to",
        ) from None
    proc = run_git(repo, "worktree", "add", str(spec.path), spec.branch, check=False)
    if proc.returncode != 0:
        _undo_branch(spec, created_branch)
        raise WorktreeError(
            f"cannot add worktree {spec.path} for branch {spec.branch}: {stderr_line(proc)}",
            hint="nothing was left behind; fix the cause and run `up` again",
        )
    return EnsureResult(spec, created_branch=created_branch, created_worktree=True)


def undo_ensure(result: EnsureResult) -> str | None:
    """Take back what :func:`ensure_worktree` made, and nothing that existed before it.

    For a launch that failed after its worktrees were made. git re-checks: the worktree is removed
    without ``--force`` (refused if anything was written there since) and the branch with ``-d``
    (refused if it gained commits). Returns None when all is undone, else what was kept and why.
    """
    spec = result.spec
    if result.created_worktree:
        proc = run_git(spec.repo, "worktree", "remove", str(spec.path), check=False)
        if proc.returncode != 0:
            return f"kept worktree {spec.path} and branch {spec.branch}: {stderr_line(proc)}"
    if result.created_branch:
        proc = delete_branch(spec, force=False)
        if proc.returncode != 0:
            return f"kept branch {spec.branch}: {stderr_line(proc)}"
    return None


def _check_base(
    spec: WorktreeSpec, trees: Sequence[ListedWorktree], *, allow_dirty_base: bool
) -> None:
    if commit_of(spec.repo, branch_ref(spec.base)) is None:
        raise WorktreeError(
            f"base branch {spec.base!r} does not exist in {spec.repo} (or has no commits yet)",
            hint="commit something first, or set the worktree base in the layout to a local branch",
        )
    if not allow_dirty_base:
        check_clean_base(spec, trees, what=f"the new worktree for {spec.session}")


def check_clean_base(
    spec: WorktreeSpec, trees: Sequence[ListedWorktree] | None = None, *, what: str = ""
) -> None:
    """Refuse when the base branch, where it is checked out, has uncommitted changes to tracked
    files: the session's worktree (``what``) would not contain them."""
    for tree in list_worktrees(spec.repo) if trees is None else trees:
        if tree.branch != spec.base or tree.prunable:
            continue
        tracked, _ = local_changes(tree.path)
        if tracked:
            raise WorktreeError(
                f"the base branch {spec.base} checked out at {tree.path} has uncommitted changes "
                f"({first_few([f.path for f in tracked])}); "
                f"{what or f'the worktree of {spec.session}'} would not contain them",
                hint="commit or stash them first",
            )


def _undo_branch(spec: WorktreeSpec, created: bool) -> None:
    """Delete a branch made moments ago; it still points at the base, so -d suffices."""
    if created:
        delete_branch(spec, force=False)


def delete_branch(spec: WorktreeSpec, *, force: bool) -> subprocess.CompletedProcess[str]:
    """``git branch -d`` (``-D`` if ``force``) of the session's branch, judged against its base.

    Returns git's answer; a refusal is the caller's to report.
    """
    # `branch -d` checks "merged" against the branch's upstream, else the HEAD of the folder it
    # runs in. Naming the base as upstream for this one command makes git check against the base.
    return run_git(
        spec.repo,
        "-c",
        f"branch.{spec.branch}.remote=.",
        "-c",
        f"branch.{spec.branch}.merge={branch_ref(spec.base)}",
        "branch",
        "-D" if force else "-d",
        spec.branch,
        check=False,
    )


def worktree_of(spec: WorktreeSpec) -> ListedWorktree | None:
    """The registered worktree holding the session's branch, if any.

    One whose folder is gone (``prunable``) does not count.
    """
    for tree in list_worktrees(spec.repo):
        if tree.branch == spec.branch and not tree.prunable:
            return tree
    return None
