"""Which project a session belongs to: the git repository of its folder, a worktree counting as
its main repository.

Read from the file system alone (no ``git`` process): walking up from the folder to the first
``.git``; a ``.git`` *file* is a linked worktree's pointer
(``gitdir: <repo>/.git/worktrees/<name>``) whose ``commondir`` leads back to the main
repository's ``.git``. A folder that is in no repository, or no longer exists, is its own
project. Answers are remembered per folder, so a report over thousands of sessions in a few
folders looks at each folder once.
"""

from __future__ import annotations

import os
from pathlib import Path


class Projects:
    """Resolves folders to projects, remembering each answer."""

    def __init__(self) -> None:
        self._known: dict[str, str] = {}

    def of(self, cwd: str | None) -> str:
        """The project of a session whose first record ran in ``cwd`` ("" when it had none)."""
        if not cwd:
            return ""
        found = self._known.get(cwd)
        if found is None:
            found = project_of(cwd)
            self._known[cwd] = found
        return found


def project_of(cwd: str) -> str:
    """The main repository holding ``cwd``, or ``cwd`` itself (see the module's docstring)."""
    folder = Path(cwd)
    if not folder.is_dir():
        return cwd
    for candidate in (folder, *folder.parents):
        dot_git = candidate / ".git"
        if dot_git.is_dir():
            return str(candidate)
        if dot_git.is_file():
            main = _main_of_worktree(candidate, dot_git)
            return str(main) if main is not None else str(candidate)
    return cwd


def _main_of_worktree(top: Path, pointer: Path) -> Path | None:
    # A linked worktree's .git file says where its private git folder is; that folder's
    # "commondir" names the main repository's .git folder (relative to the private folder).
    try:
        text = pointer.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    private = Path(text.removeprefix("gitdir:").strip())
    if not private.is_absolute():
        private = top / private
    try:
        common = (private / "commondir").read_text(encoding="utf-8").strip()
    except OSError:
        return None  # a submodule's .git file: the submodule is its own repository
    common_dir = Path(os.path.normpath(private / common))
    return common_dir.parent if common_dir.name == ".git" else common_dir
