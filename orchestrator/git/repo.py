"""Running git for the worktree core, and reading what git says back.

Every git command of the worktree core goes through :func:`run_git`: ``git -C <folder>`` with the
variables that would point git at another repository removed, messages in English (``LC_ALL=C``,
so callers can read them), no prompt for credentials and no optional locks (a status read never
blocks a session's own git). Output is read in git's porcelain forms, NUL-separated where a file
name could hold any character.

The module also answers the questions every other part asks first: which repository holds a
folder (:func:`find_repo`), which branch is checked out, which worktrees git has registered, and
what a work tree holds that is not committed.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import OrchestratorError

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


@dataclass(frozen=True)
class ChangedFile:
    """A file that differs between the session's work and the merge-base with its base."""

    path: str
    """Path relative to the worktree's top folder."""
    status: str
    """git's letter: A added, M modified, D deleted, R renamed, T type changed, ? untracked."""


@dataclass(frozen=True)
class ListedWorktree:
    """One worktree as ``git worktree list`` reports it."""

    path: Path
    """The worktree's folder."""
    head: str | None
    """The commit checked out there."""
    branch: str | None
    """The branch checked out there (short name); None when detached."""
    locked: bool
    """``git worktree lock`` protects it."""
    prunable: bool
    """Its folder is gone; ``git worktree prune`` would drop it."""
    bare: bool
    """It is a bare repository (only ever the first, main entry)."""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_VARS}
    env.update(LC_ALL="C", LANGUAGE="C", GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0")
    return env


def run_git(
    cwd: Path, *args: str, check: bool = True, ok: Collection[int] = (0,)
) -> subprocess.CompletedProcess[str]:
    """Run ``git -C cwd args``; raise :class:`GitError` if it fails and ``check`` is set.

    ``ok`` lists the exit statuses that count as success.
    """
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
        raise GitError(f"git {shown} failed in {cwd}: {stderr_line(proc)}")
    return proc


def stderr_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The last line git wrote about a failure (or its exit status), to show people."""
    text = (proc.stderr or proc.stdout).strip()
    return text.splitlines()[-1] if text else f"exit status {proc.returncode}"


def git_output(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` and return its output, stripped; raise :class:`GitError` if it fails."""
    return run_git(cwd, *args).stdout.strip()


def commit_of(repo: Path, rev: str) -> str | None:
    """The commit ``rev`` names in ``repo``, or None if it names none."""
    proc = run_git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def branch_ref(branch: str) -> str:
    """The full ref name of a local branch."""
    return f"refs/heads/{branch}"


def same_path(a: Path, b: Path) -> bool:
    """True if both paths name the same folder once links are resolved."""
    return a.resolve() == b.resolve()


def list_worktrees(repo: Path) -> list[ListedWorktree]:
    """``git worktree list --porcelain -z``: the main work tree first."""
    out = run_git(repo, "worktree", "list", "--porcelain", "-z").stdout
    result: list[ListedWorktree] = []
    record: dict[str, str] = {}
    for token in [*out.split("\0"), ""]:
        if token:
            key, _, value = token.partition(" ")
            record[key] = value
            continue
        if "worktree" in record:
            ref = record.get("branch", "")
            result.append(
                ListedWorktree(
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


def local_changes(worktree: Path) -> tuple[list[ChangedFile], list[str]]:
    """Tracked changes (staged or not) and untracked files of a work tree."""
    out = run_git(
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


def first_few(paths: Sequence[str], limit: int = 5) -> str:
    """Up to ``limit`` paths for a message, then how many more there are."""
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def find_repo(cwd: Path) -> Path:
    """The main work tree of the repository holding ``cwd`` (also from inside a linked worktree)."""
    if not cwd.is_dir():
        raise NotARepositoryError(
            f"{cwd}: no such folder", hint="fix the session's cwd in the layout"
        )
    proc = run_git(cwd, "rev-parse", "--is-inside-work-tree", check=False)
    if proc.returncode != 0 or proc.stdout.strip() != "true":
        raise NotARepositoryError(
            f"{cwd} is not inside a git repository, so a session there cannot have a worktree",
            hint="run `git init` there, point the session's cwd at a repository, "
            "or set worktree = false for it",
        )
    main = list_worktrees(cwd)[0]
    if main.bare:
        raise NotARepositoryError(
            f"{main.path} is a bare repository; worktree sessions need a main work tree",
            hint="point the session's cwd at a normal checkout",
        )
    return main.path


def current_branch(repo: Path) -> str:
    """The branch checked out in ``repo``'s work tree; an error on a detached HEAD."""
    proc = run_git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    if proc.returncode != 0:
        raise WorktreeError(
            f"{repo} has a detached HEAD, so there is no current branch to start sessions from",
            hint="check out a branch there, or set the worktree base in the layout",
        )
    return proc.stdout.strip()
