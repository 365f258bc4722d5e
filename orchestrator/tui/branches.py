"""The dashboard's branch column, cached per repository and looked up again only on change.

Many sessions share one repository and a checkout is rare, so asking git for every pane every
few seconds (what the dashboard used to do) spent a process per session for an answer that
almost never changes. Here the answer is kept per git folder, with the ``stat`` of the files it
comes from: the ``HEAD`` file (a checkout rewrites it) and, for a worktree session, the refs of
its branch and base and ``packed-refs`` (a commit or a fetch moves them). Telling whether
anything changed is a few ``stat`` calls and no process; a change costs one ``git`` for the
repository, or one :func:`orchestrator.session_worktrees.summary` for a worktree session.

Edits that are not committed change no file git keeps, so a worktree session's summary is also
recomputed when its state changes (a turn that ended has usually changed files), and at the
latest after :data:`WORKTREE_TTL` while the dashboard is on screen.

No Textual here: the backend uses it from its worker thread.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.fleet import worktrees as session_worktrees

if TYPE_CHECKING:
    from orchestrator.tmux.panes import PaneInfo

WORKTREE_TTL = 30.0
"""Seconds a worktree session's summary is kept when no git file it depends on changed
(uncommitted edits change none)."""
FOLDER_TTL = 30.0
"""Seconds a folder's repository is remembered before the folder is walked up again."""

Stamp = tuple[tuple[int, int, int], ...]
"""The (inode, size, mtime in ns) of each file an answer came from; zeros for a missing file."""


def git_branch(cwd: str) -> str:
    """The branch checked out in ``cwd`` ("" outside a repository); one ``git`` process."""
    if not cwd:
        return ""
    try:
        proc = subprocess.run(
            ["git", "-C", cwd, "rev-parse", "--abbrev-ref", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def git_dir(folder: str) -> Path | None:
    """The git folder of the repository holding ``folder`` (a worktree's own one for a linked
    worktree), found by walking up; None outside a repository. No process."""
    if not folder:
        return None
    path = Path(folder)
    for candidate in (path, *path.parents):
        dot_git = candidate / ".git"
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():
            try:
                line = dot_git.read_text(encoding="utf-8").strip()
            except OSError:
                return None
            if line.startswith("gitdir:"):
                found = Path(line.removeprefix("gitdir:").strip())
                return found if found.is_absolute() else (candidate / found).resolve()
            return None
    return None


def common_dir(gitdir: Path) -> Path:
    """Where the refs live: the main repository's git folder for a linked worktree."""
    try:
        relative = (gitdir / "commondir").read_text(encoding="utf-8").strip()
    except OSError:
        return gitdir
    found = Path(relative)
    return found if found.is_absolute() else (gitdir / found).resolve()


def stamp(*files: Path) -> Stamp:
    """What tells a file changed, for each file."""
    result = []
    for file in files:
        try:
            st = file.stat()
        except OSError:
            result.append((0, 0, 0))
        else:
            result.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(result)


@dataclass
class _Cached:
    stamp: Stamp
    text: str
    at: float
    epoch: object = None


class BranchCache:
    """Branch texts for sessions, per repository, recomputed only when their files change."""

    def __init__(
        self,
        *,
        branch: Callable[[str], str] = git_branch,
        summary: Callable[
            [PaneInfo], session_worktrees.BranchSummary | None
        ] = session_worktrees.summary,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._branch = branch
        self._summary = summary
        self._clock = clock
        self._folders: dict[str, tuple[float, Path | None]] = {}
        self._repos: dict[Path, _Cached] = {}
        self._worktrees: dict[str, _Cached] = {}
        self.git_runs = 0
        """How many times git was asked (a repository's branch or a worktree's summary)."""

    def _git_dir(self, folder: str, now: float) -> Path | None:
        known = self._folders.get(folder)
        if known is None or now - known[0] > FOLDER_TTL:
            known = (now, git_dir(folder))
            self._folders[folder] = known
        return known[1]

    def text(self, pane: PaneInfo, epoch: object = None) -> str:
        """What the branch column shows for ``pane``: a worktree session's progress against its
        base, else the branch checked out in its folder. ``epoch`` (e.g. the session's state and
        since) recomputes a worktree session's summary when it changes."""
        now = self._clock()
        if session_worktrees.spec_of(pane) is not None:
            return self._worktree_text(pane, epoch, now)
        gitdir = self._git_dir(pane.cwd, now)
        if gitdir is None:
            return ""
        current = stamp(gitdir / "HEAD")
        cached = self._repos.get(gitdir)
        if cached is None or cached.stamp != current:
            self.git_runs += 1
            cached = _Cached(current, self._branch(pane.cwd), now)
            self._repos[gitdir] = cached
        return cached.text

    def _worktree_text(self, pane: PaneInfo, epoch: object, now: float) -> str:
        gitdir = self._git_dir(pane.worktree, now) or self._git_dir(pane.repo, now)
        files: list[Path] = []
        if gitdir is not None:
            common = common_dir(gitdir)
            files = [gitdir / "HEAD", common / "packed-refs"]
            files += [common / "refs" / "heads" / ref for ref in (pane.branch, pane.base) if ref]
        current = stamp(*files)
        cached = self._worktrees.get(pane.name)
        if (
            cached is None
            or cached.stamp != current
            or cached.epoch != epoch
            or now - cached.at > WORKTREE_TTL
        ):
            self.git_runs += 1
            found = self._summary(pane)
            cached = _Cached(current, found.text if found else "", now, epoch)
            self._worktrees[pane.name] = cached
        return cached.text
