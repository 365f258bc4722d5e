"""A git branch and worktree per session, and no work ever lost to cleanup.

A session with ``worktree = true`` works in its own linked worktree on its own branch
(``orc/dev-1``: a prefix plus the session name), created from a base branch. This module is the
headless git core: create or reuse the worktree, report where a session's branch stands against
its base, show its diff, merge it into the base, and decide what cleanup may remove.

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
- A removal is only ever ``git worktree remove`` (which itself refuses a dirty worktree),
  ``git branch -d`` told to check against the base (which itself refuses unmerged commits) and
  ``git worktree prune``: git re-checks what :func:`assess` decided. ``--force`` and ``-D`` are
  used only for an item the caller forces, or a squash-merged branch the caller consented to.
- Squash-merged means: every commit's patch is already in the base (``git cherry``) or merging the
  branch would not change the base's tree (``git merge-tree``). Detection alone never makes a
  branch removable; the caller must also pass ``assume_squash_merged``.
- Ignored files do not block removal: they are declared disposable by the project, and counting
  them would make every worktree with a ``.venv`` or ``node_modules`` unremovable.
- A running session's worktree is never removed, forced or not; a folder in our worktree folder
  that git does not know as a worktree is never removed either (it is reported for the user).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from orchestrator.errors import OrchestratorError

DEFAULT_PREFIX = "orc/"
BASE_KEY = "orchestratorBase"
MergeMode = Literal["ff-only", "merge-commit"]

# Variables that would point git at another repository than the one we name with -C.
_GIT_LOCATION_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)


class GitError(OrchestratorError):
    """git is missing or refused a command."""


class NotARepositoryError(GitError):
    """A session's folder is not inside a git repository."""


class WorktreeError(GitError):
    """A worktree or branch cannot be made, reused or merged as asked."""


# ---------------------------------------------------------------------------------------------
# Models


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


@dataclass(frozen=True)
class ChangedFile:
    """A file that differs between the session's work and the merge-base with its base."""

    path: str
    """Path relative to the worktree's top folder."""
    status: str
    """git's letter: A added, M modified, D deleted, R renamed, T type changed, ? untracked."""


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


@dataclass(frozen=True)
class Safety:
    """Whether removing a session's worktree and branch could lose work, and why."""

    safe: bool
    """True if removal loses nothing (or the caller consented to what it would drop)."""
    reasons: tuple[str, ...]
    """Why removal is not safe; empty when safe."""
    forceable: bool
    """False if not even ``force`` may remove it (a running session, a folder git does not know)."""
    unmerged: int
    """Commits on the branch (or a detached worktree HEAD) not reachable from the base."""
    squash_merged: bool
    """The unmerged commits' changes are already in the base (squash merge or cherry-pick)."""
    tip: str | None
    """The branch's commit, to restore it with ``git branch NAME TIP`` after a forced removal."""

    @property
    def verdict(self) -> str:
        """One line for people: ``safe to remove`` or the reasons it is not."""
        return "safe to remove" if self.safe else "; ".join(self.reasons)


@dataclass(frozen=True)
class CleanItem:
    """A worktree and/or branch of ours found in the repository, with a verdict."""

    spec: WorktreeSpec
    """Session name, branch, base and worktree folder (expected, if no worktree is registered)."""
    has_branch: bool
    """The branch exists."""
    worktree: Path | None
    """The registered worktree folder holding the branch, if any."""
    live: bool
    """A running session owns it."""
    safety: Safety
    """Whether it may be removed."""

    @property
    def orphaned(self) -> bool:
        """No running session owns it (left by a crash or an ended session)."""
        return not self.live


@dataclass(frozen=True)
class CleanOutcome:
    """What removal did to one item."""

    item: CleanItem
    """The item as assessed just before removal."""
    removed: bool
    """True if the worktree and branch are gone."""
    detail: str
    """What was done, or why nothing (or only part) was done."""
    restore: str | None = None
    """A command that brings the branch back, after a forced or squash-consented delete."""


# ---------------------------------------------------------------------------------------------
# Running git


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_VARS}
    env.update(LC_ALL="C", LANGUAGE="C", GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0")
    return env


def _git(
    cwd: Path, *args: str, check: bool = True, ok: Collection[int] = (0,)
) -> subprocess.CompletedProcess[str]:
    argv = ["git", "-C", str(cwd), *args]
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, env=_env(), stdin=subprocess.DEVNULL, timeout=120
        )
    except FileNotFoundError:
        raise GitError(
            "git is not installed", hint="install git and make sure it is on PATH"
        ) from None
    except (OSError, subprocess.SubprocessError) as exc:
        raise GitError(f"cannot run git in {cwd}: {exc}") from None
    if check and proc.returncode not in ok:
        shown = " ".join(args)
        raise GitError(f"git {shown} failed in {cwd}: {_stderr(proc)}")
    return proc


def _stderr(proc: subprocess.CompletedProcess[str]) -> str:
    text = (proc.stderr or proc.stdout).strip()
    return text.splitlines()[-1] if text else f"exit status {proc.returncode}"


def _out(cwd: Path, *args: str) -> str:
    return _git(cwd, *args).stdout.strip()


def _rev(repo: Path, rev: str) -> str | None:
    proc = _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def _branch_ref(branch: str) -> str:
    return f"refs/heads/{branch}"


def _same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


@dataclass(frozen=True)
class _Worktree:
    path: Path
    head: str | None
    branch: str | None  # short name; None when detached
    locked: bool
    prunable: bool
    bare: bool


def _worktrees(repo: Path) -> list[_Worktree]:
    """``git worktree list --porcelain -z``: the main work tree first."""
    out = _git(repo, "worktree", "list", "--porcelain", "-z").stdout
    result: list[_Worktree] = []
    record: dict[str, str] = {}
    for token in [*out.split("\0"), ""]:
        if token:
            key, _, value = token.partition(" ")
            record[key] = value
            continue
        if "worktree" in record:
            ref = record.get("branch", "")
            result.append(
                _Worktree(
                    path=Path(record["worktree"]),
                    head=record.get("HEAD"),
                    branch=ref.removeprefix("refs/heads/") if ref else None,
                    locked="locked" in record,
                    prunable="prunable" in record,
                    bare="bare" in record,
                )
            )
        record = {}
    return result


def _status(worktree: Path) -> tuple[list[ChangedFile], list[str]]:
    """Tracked changes (staged or not) and untracked files of a work tree."""
    out = _git(
        worktree,
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--ignore-submodules=none",
    ).stdout
    tokens = out.split("\0")
    tracked: list[ChangedFile] = []
    untracked: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if len(token) < 4:
            continue
        code, path = token[:2], token[3:]
        if code == "??":
            untracked.append(path)
            continue
        if "R" in code or "C" in code:
            i += 1  # the rename's source path follows
        letter = next((c for c in code if c not in " ?"), "M")
        tracked.append(ChangedFile(path, letter))
    return tracked, untracked


def _summary(paths: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


# ---------------------------------------------------------------------------------------------
# Finding the repository and planning a session's worktree


def find_repo(cwd: Path) -> Path:
    """The main work tree of the repository holding ``cwd`` (also from inside a linked worktree)."""
    if not cwd.is_dir():
        raise NotARepositoryError(
            f"{cwd}: no such folder", hint="fix the session's cwd in the layout"
        )
    proc = _git(cwd, "rev-parse", "--is-inside-work-tree", check=False)
    if proc.returncode != 0 or proc.stdout.strip() != "true":
        raise NotARepositoryError(
            f"{cwd} is not inside a git repository, so a session there cannot have a worktree",
            hint="run `git init` there, point the session's cwd at a repository, "
            "or set worktree = false for it",
        )
    main = _worktrees(cwd)[0]
    if main.bare:
        raise NotARepositoryError(
            f"{main.path} is a bare repository; worktree sessions need a main work tree",
            hint="point the session's cwd at a normal checkout",
        )
    return main.path


def _check_prefix(settings: WorktreeSettings) -> None:
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


def current_branch(repo: Path) -> str:
    """The branch checked out in ``repo``'s work tree; an error on a detached HEAD."""
    proc = _git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    if proc.returncode != 0:
        raise WorktreeError(
            f"{repo} has a detached HEAD, so there is no current branch to start sessions from",
            hint="check out a branch there, or set the worktree base in the layout",
        )
    return proc.stdout.strip()


def recorded_base(repo: Path, branch: str) -> str | None:
    """The base recorded for ``branch`` when it was made, if any."""
    proc = _git(repo, "config", "--get", f"branch.{branch}.{BASE_KEY}", check=False)
    return proc.stdout.strip() or None


def plan_worktree(cwd: Path, session: str, settings: WorktreeSettings) -> WorktreeSpec:
    """Work out a session's branch, base and folder; create nothing.

    The base is, first match wins: the layout's base, the base recorded when the branch was made,
    the repository's current branch.
    """
    repo = find_repo(cwd)
    _check_prefix(settings)
    branch = f"{settings.prefix}{session}"
    check = _git(repo, "check-ref-format", "--branch", branch, check=False)
    if check.returncode != 0:
        raise WorktreeError(
            f"{branch!r} is not a valid git branch name",
            hint="fix the worktree branch prefix in the layout",
        )
    base = settings.base or recorded_base(repo, branch) or current_branch(repo)
    folder = (settings.folder or default_folder(repo)).expanduser()
    if not folder.is_absolute():
        folder = repo / folder
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
    _git(repo, "worktree", "prune")
    trees = _worktrees(repo)
    holder = next((t for t in trees if t.branch == spec.branch), None)
    at_path = next((t for t in trees if _same(t.path, spec.path)), None)
    if holder is not None and not _same(holder.path, spec.path):
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
    if _rev(repo, _branch_ref(spec.branch)) is None:
        _check_base(spec, trees, allow_dirty_base=allow_dirty_base)
        _git(repo, "branch", "--no-track", spec.branch, _branch_ref(spec.base))
        created_branch = True
    if recorded_base(repo, spec.branch) is None:
        _git(repo, "config", f"branch.{spec.branch}.{BASE_KEY}", spec.base)

    try:
        spec.path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _undo_branch(spec, created_branch)
        raise WorktreeError(
            f"cannot create worktree folder {spec.path.parent}: {exc.strerror}",
            hint="configure a worktree folder you can write to",
        ) from None
    proc = _git(repo, "worktree", "add", str(spec.path), spec.branch, check=False)
    if proc.returncode != 0:
        _undo_branch(spec, created_branch)
        raise WorktreeError(
            f"cannot add worktree {spec.path} for branch {spec.branch}: {_stderr(proc)}",
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
        proc = _git(spec.repo, "worktree", "remove", str(spec.path), check=False)
        if proc.returncode != 0:
            return f"kept worktree {spec.path} and branch {spec.branch}: {_stderr(proc)}"
    if result.created_branch:
        proc = _delete_branch(spec, force=False)
        if proc.returncode != 0:
            return f"kept branch {spec.branch}: {_stderr(proc)}"
    return None


def _check_base(spec: WorktreeSpec, trees: Sequence[_Worktree], *, allow_dirty_base: bool) -> None:
    if _rev(spec.repo, _branch_ref(spec.base)) is None:
        raise WorktreeError(
            f"base branch {spec.base!r} does not exist in {spec.repo} (or has no commits yet)",
            hint="commit something first, or set the worktree base in the layout to a local branch",
        )
    if allow_dirty_base:
        return
    for tree in trees:
        if tree.branch != spec.base or tree.prunable:
            continue
        tracked, _ = _status(tree.path)
        if tracked:
            raise WorktreeError(
                f"the base branch {spec.base} checked out at {tree.path} has uncommitted changes "
                f"({_summary([f.path for f in tracked])}); the new worktree for {spec.session} "
                "would not contain them",
                hint="commit or stash them first",
            )


def _undo_branch(spec: WorktreeSpec, created: bool) -> None:
    """Delete a branch made moments ago; it still points at the base, so -d suffices."""
    if created:
        _delete_branch(spec, force=False)


def _delete_branch(spec: WorktreeSpec, *, force: bool) -> subprocess.CompletedProcess[str]:
    # `branch -d` checks "merged" against the branch's upstream, else the HEAD of the folder it
    # runs in. Naming the base as upstream for this one command makes git check against the base.
    return _git(
        spec.repo,
        "-c",
        f"branch.{spec.branch}.remote=.",
        "-c",
        f"branch.{spec.branch}.merge={_branch_ref(spec.base)}",
        "branch",
        "-D" if force else "-d",
        spec.branch,
        check=False,
    )


# ---------------------------------------------------------------------------------------------
# Status, diff, merge


def _worktree_of(spec: WorktreeSpec) -> _Worktree | None:
    for tree in _worktrees(spec.repo):
        if tree.branch == spec.branch and not tree.prunable:
            return tree
    return None


def _require(spec: WorktreeSpec) -> tuple[str, str]:
    tip = _rev(spec.repo, _branch_ref(spec.branch))
    if tip is None:
        raise WorktreeError(
            f"session {spec.session} has no branch {spec.branch} in {spec.repo}",
            hint="run `up` to create it",
        )
    base = _rev(spec.repo, _branch_ref(spec.base))
    if base is None:
        raise WorktreeError(
            f"base branch {spec.base} of session {spec.session} no longer exists in {spec.repo}",
            hint="recreate it, or set the worktree base in the layout",
        )
    return tip, base


def worktree_status(spec: WorktreeSpec) -> WorktreeStatus:
    """Branch, commits ahead of and behind the base, and every changed file."""
    tip, base = _require(spec)
    counts = _out(spec.repo, "rev-list", "--left-right", "--count", f"{base}...{tip}").split()
    behind, ahead = int(counts[0]), int(counts[1])
    merge_base = _out(spec.repo, "merge-base", base, tip)
    tree = _worktree_of(spec)
    tracked: list[ChangedFile] = []
    untracked: list[str] = []
    if tree is not None:
        tracked, untracked = _status(tree.path)
        # Compared with the work tree, so committed, staged and unstaged changes all count.
        names = _git(tree.path, "diff", "--name-status", "-z", "--no-renames", merge_base).stdout
    else:
        names = _git(
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
    merge_base = _out(spec.repo, "merge-base", base, tip)
    plain = ("--no-color", "--no-ext-diff", "--src-prefix=a/", "--dst-prefix=b/")
    tree = _worktree_of(spec)
    if tree is None:
        return _git(spec.repo, "diff", *plain, merge_base, tip).stdout
    parts = [_git(tree.path, "diff", *plain, merge_base).stdout]
    _, untracked = _status(tree.path)
    for path in untracked:
        # --no-index exits 1 when the files differ, which they always do here.
        parts.append(
            _git(tree.path, "diff", *plain, "--no-index", "--", "/dev/null", path, ok=(0, 1)).stdout
        )
    return "".join(parts)


def merge(spec: WorktreeSpec, *, mode: MergeMode = "ff-only") -> MergeResult:
    """Bring the session's branch into its base, in the main work tree.

    The main work tree must have the base checked out and no uncommitted changes; the session's
    worktree must hold nothing uncommitted (it would be left out of the merge). A merge commit that
    conflicts is aborted, leaving the base as it was.
    """
    tip, base = _require(spec)
    tree = _worktree_of(spec)
    if tree is not None:
        tracked, untracked = _status(tree.path)
        if tracked or untracked:
            raise WorktreeError(
                f"session {spec.session}'s worktree {tree.path} has uncommitted work "
                f"({_summary([f.path for f in tracked] + untracked)}); it would be left out",
                hint="commit it in the session's worktree (or discard it), then merge again",
            )
    checked_out = _git(spec.repo, "symbolic-ref", "--quiet", "HEAD", check=False).stdout.strip()
    if checked_out != _branch_ref(spec.base):
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
    tracked, _ = _status(spec.repo)
    if tracked:
        raise WorktreeError(
            f"cannot merge into {spec.base}: {spec.repo} has uncommitted changes "
            f"({_summary([f.path for f in tracked])})",
            hint="commit or stash them, then merge again",
        )
    commits = int(_out(spec.repo, "rev-list", "--count", f"{base}..{tip}"))
    if commits == 0:
        return MergeResult(spec, mode, 0, base, base)
    if mode == "ff-only":
        proc = _git(spec.repo, "merge", "--ff-only", "--no-edit", tip, check=False)
        if proc.returncode != 0:
            raise WorktreeError(
                f"cannot fast-forward {spec.base} to {spec.branch}: the branches have diverged "
                f"({spec.base} has commits {spec.branch} lacks)",
                hint="merge with a merge commit, or rebase the session's branch onto the base",
            )
    else:
        message = f"Merge session {spec.session} (branch {spec.branch})"
        proc = _git(spec.repo, "merge", "--no-ff", "--no-edit", "-m", message, tip, check=False)
        if proc.returncode != 0:
            conflicts = _out(spec.repo, "diff", "--name-only", "--diff-filter=U").splitlines()
            _git(spec.repo, "merge", "--abort", check=False)
            reason = f"conflicts in {_summary(conflicts)}" if conflicts else _stderr(proc)
            raise WorktreeError(
                f"merging {spec.branch} into {spec.base} failed ({reason}); the merge was "
                "aborted and the base is unchanged",
                hint="merge the base into the session's branch and resolve the conflicts there",
            )
    after = _rev(spec.repo, "HEAD") or base
    return MergeResult(spec, mode, commits, base, after)


# ---------------------------------------------------------------------------------------------
# Safety and cleanup


def _content_in_base(repo: Path, base: str, tip: str) -> bool:
    """True if the branch's changes are already in the base though its commits are not."""
    cherry = _out(repo, "cherry", base, tip).splitlines()
    if cherry and all(line.startswith("-") for line in cherry):
        return True
    # A squash of several commits matches no single patch; ask instead whether merging the branch
    # would change the base's tree. (Needs git 2.38; older git just answers "no".)
    proc = _git(repo, "merge-tree", "--write-tree", base, tip, check=False)
    if proc.returncode != 0:
        return False
    merged_tree = proc.stdout.split("\n", 1)[0].strip()
    return merged_tree == _out(repo, "rev-parse", f"{base}^{{tree}}")


def _assess(
    spec: WorktreeSpec,
    tree: _Worktree | None,
    *,
    live: bool,
    stray: bool,
    assume_squash_merged: bool,
) -> Safety:
    reasons: list[str] = []
    forceable = True
    if live:
        reasons.append(f"session {spec.session} is running; end it first")
        forceable = False
    if stray:
        reasons.append(
            f"{spec.path} is not a worktree git knows about; look inside and remove it by hand"
        )
        forceable = False
    if tree is not None and _same(tree.path, spec.repo):
        reasons.append(f"branch {spec.branch} is checked out in the main work tree {spec.repo}")
        forceable = False
    base = _rev(spec.repo, _branch_ref(spec.base))
    tip = _rev(spec.repo, _branch_ref(spec.branch))
    if base is None:
        reasons.append(f"base branch {spec.base} is gone, so nothing can be known to be merged")
    unmerged = 0
    squash = False
    if tip is not None and base is not None:
        unmerged = int(_out(spec.repo, "rev-list", "--count", f"{base}..{tip}"))
        if unmerged:
            squash = _content_in_base(spec.repo, base, tip)
            if not squash:
                reasons.append(f"{unmerged} commit(s) on {spec.branch} not merged into {spec.base}")
            elif not assume_squash_merged:
                reasons.append(
                    f"{unmerged} commit(s) on {spec.branch} not in {spec.base}, though their "
                    "changes are (squash-merged?); needs consent (assume squash-merged)"
                )
    if tree is not None and not tree.prunable and not _same(tree.path, spec.repo):
        if tree.locked:
            reasons.append(f"worktree {tree.path} is locked (`git worktree unlock` to allow)")
        tracked, untracked = _status(tree.path)
        if tracked:
            reasons.append(
                f"{len(tracked)} uncommitted change(s) in {tree.path}: "
                f"{_summary([f.path for f in tracked])}"
            )
        if untracked:
            reasons.append(
                f"{len(untracked)} untracked file(s) in {tree.path}: {_summary(untracked)}"
            )
        if tree.branch is None and tree.head and base is not None:
            # Commits made on a detached HEAD are on no branch; removing the worktree drops them.
            known = [base] if tip is None else [base, tip]
            loose = int(_out(spec.repo, "rev-list", "--count", tree.head, "--not", *known))
            if loose:
                unmerged += loose
                reasons.append(f"{loose} commit(s) on the detached HEAD of {tree.path}")
    return Safety(
        safe=not reasons,
        reasons=tuple(reasons),
        forceable=forceable,
        unmerged=unmerged,
        squash_merged=squash,
        tip=tip,
    )


def assess(spec: WorktreeSpec, *, live: bool = False, assume_squash_merged: bool = False) -> Safety:
    """Whether removing the session's worktree and branch would lose anything."""
    tree = _worktree_of(spec)
    if tree is None:
        tree = next((t for t in _worktrees(spec.repo) if _same(t.path, spec.path)), None)
    stray = tree is None and spec.path.exists()
    return _assess(spec, tree, live=live, stray=stray, assume_squash_merged=assume_squash_merged)


def plan_clean(
    repo: Path,
    settings: WorktreeSettings,
    live_sessions: Collection[str],
    *,
    assume_squash_merged: Collection[str] = (),
) -> tuple[CleanItem, ...]:
    """Every worktree and branch of ours, with a verdict each; removes nothing.

    Ours means: a branch named with our prefix, or a folder in our worktree folder. Items whose
    session is not in ``live_sessions`` are orphans (left by a crash or an ended session).
    """
    repo = find_repo(repo)
    _check_prefix(settings)
    folder = (settings.folder or default_folder(repo)).expanduser()
    if not folder.is_absolute():
        folder = repo / folder
    folder = folder.resolve()
    trees = _worktrees(repo)
    heads = _out(repo, "for-each-ref", "--format=%(refname)", "refs/heads/").splitlines()
    # session -> (our branch, the worktree holding it or in our folder, a stray folder)
    found: dict[str, tuple[str | None, _Worktree | None, Path | None]] = {}
    claimed: set[Path] = set()
    for ref in heads:
        branch = ref.removeprefix("refs/heads/")
        if branch.startswith(settings.prefix):
            tree = next((t for t in trees if t.branch == branch), None)
            found[branch[len(settings.prefix) :]] = (branch, tree, None)
            if tree is not None:
                claimed.add(tree.path.resolve())
    for tree in trees[1:]:
        # A worktree in our folder on a detached HEAD or on someone else's branch: its folder is
        # ours to judge, the branch is not ours to delete.
        if tree.path.resolve() not in claimed and tree.path.resolve().parent == folder:
            key = tree.path.name if tree.path.name not in found else str(tree.path)
            found[key] = (None, tree, None)
            claimed.add(tree.path.resolve())
    if folder.is_dir():
        registered = {t.path.resolve() for t in trees}
        for child in sorted(folder.iterdir()):
            if child.resolve() not in registered:
                key = child.name if child.name not in found else str(child)
                found[key] = (None, None, child)

    items: list[CleanItem] = []
    for session, (ours, tree, stray) in sorted(found.items()):
        name = ours or f"{settings.prefix}{session}"
        base = recorded_base(repo, name) or settings.base or _fallback_base(repo)
        path = tree.path if tree is not None else (stray or folder / session)
        spec = WorktreeSpec(session=session, repo=repo, branch=name, base=base, path=path)
        live = session in live_sessions
        safety = _assess(
            spec,
            tree,
            live=live,
            stray=stray is not None,
            assume_squash_merged=session in assume_squash_merged,
        )
        items.append(CleanItem(spec, ours is not None, tree.path if tree else None, live, safety))
    return tuple(items)


def _fallback_base(repo: Path) -> str:
    proc = _git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return proc.stdout.strip() or "HEAD"


def find_orphans(
    repo: Path, settings: WorktreeSettings, live_sessions: Collection[str]
) -> tuple[CleanItem, ...]:
    """Worktrees and branches of ours that no running session owns."""
    return tuple(item for item in plan_clean(repo, settings, live_sessions) if item.orphaned)


def clean(
    repo: Path,
    settings: WorktreeSettings,
    live_sessions: Collection[str],
    *,
    force: Collection[str] = (),
    assume_squash_merged: Collection[str] = (),
) -> tuple[CleanOutcome, ...]:
    """Remove every safe item; an unsafe one only if its session is in ``force``.

    Items are assessed right before removal, and git re-checks as it removes (``worktree remove``
    without ``--force``, ``branch -d``), so nothing changed since a listing can be lost.
    """
    items = plan_clean(repo, settings, live_sessions, assume_squash_merged=assume_squash_merged)
    return tuple(_remove(item, force=item.spec.session in force) for item in items)


def remove_worktree(
    spec: WorktreeSpec, *, force: bool = False, assume_squash_merged: bool = False
) -> CleanOutcome:
    """Remove one ended session's worktree and branch if that loses nothing (or if forced).

    For session end and ``down``: an unsafe worktree is kept, and the outcome says why.
    """
    tree = _worktree_of(spec)
    if tree is None:
        tree = next((t for t in _worktrees(spec.repo) if _same(t.path, spec.path)), None)
    stray = tree is None and spec.path.exists()
    safety = _assess(spec, tree, live=False, stray=stray, assume_squash_merged=assume_squash_merged)
    has_branch = _rev(spec.repo, _branch_ref(spec.branch)) is not None
    item = CleanItem(spec, has_branch, tree.path if tree else None, False, safety)
    return _remove(item, force=force)


def _remove(item: CleanItem, *, force: bool) -> CleanOutcome:
    spec, safety = item.spec, item.safety
    if not safety.safe and not (force and safety.forceable):
        return CleanOutcome(item, removed=False, detail=f"kept: {safety.verdict}")
    forced = not safety.safe
    done: list[str] = []
    if item.worktree is not None:
        if item.worktree.exists():
            args = ["worktree", "remove"]
            if forced:
                args += ["--force", "--force"]  # twice: also a locked worktree
            proc = _git(spec.repo, *args, str(item.worktree), check=False)
            if proc.returncode != 0:
                return CleanOutcome(
                    item,
                    removed=False,
                    detail=f"kept: git refused to remove {item.worktree}: {_stderr(proc)}",
                )
        done.append(f"removed worktree {item.worktree}")
    _git(spec.repo, "worktree", "prune")
    restore = None
    if item.has_branch:
        # -D only when forced, or for a squash-merged branch the caller consented to drop: then
        # git's own merged check would refuse although the changes are in the base.
        hard = forced or safety.squash_merged
        proc = _delete_branch(spec, force=hard)
        if proc.returncode != 0:
            done.append(f"kept branch {spec.branch}: {_stderr(proc)}")
            return CleanOutcome(item, removed=False, detail="; ".join(done))
        done.append(f"deleted branch {spec.branch}")
        if hard and safety.tip:
            restore = f"git branch {spec.branch} {safety.tip}"
    return CleanOutcome(
        item, removed=True, detail="; ".join(done) or "nothing to remove", restore=restore
    )
