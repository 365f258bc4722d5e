"""Where ``clean`` looks for session worktrees and branches, from any folder and without a layout.

Every repository and branch prefix a session may have left work in is gathered from:

- the panes of running fleets (their ``@orc_repo``, ``@orc_branch`` and ``@orc_worktree`` tags);
- the history database: the folders sessions ran in, and the layouts fleets were brought up from
  (their ``[worktrees]`` prefix and folder);
- the repository of the current folder, if it is one;
- in each of those repositories, the branches made for sessions (their base and session name are
  recorded in the repository's config), whatever the prefix, with the folder of their worktree.

So a fleet that crashed still has its branches listed, a layout's custom ``prefix`` and ``folder``
are found without ``--layout``, and ``clean`` run outside any repository still finds them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from orchestrator.errors import OrchestratorError
from orchestrator.fleet.worktrees import spec_of
from orchestrator.git.repo import find_repo, list_worktrees
from orchestrator.git.worktree import DEFAULT_PREFIX, WorktreeSettings, recorded_branches
from orchestrator.tmux.panes import PaneInfo


class Target(NamedTuple):
    """One repository and one branch prefix (with its worktree folder) to list and clean."""

    repo: Path
    """The repository's main work tree."""
    settings: WorktreeSettings
    """The branch prefix and worktree folder there."""


Found = dict[Path, dict[str, Path | None]]
"""Repository -> branch prefix -> worktree folder (None: the default)."""


def _add(found: Found, repo: Path, prefix: str, folder: Path | None) -> None:
    prefixes = found.setdefault(repo.resolve(), {})
    if prefix and (prefixes.get(prefix) is None):
        prefixes[prefix] = folder


def from_panes(panes: Iterable[PaneInfo]) -> list[tuple[Path, str, Path]]:
    """(repository, prefix, worktree folder) of each running worktree session."""
    found = []
    for pane in panes:
        spec = spec_of(pane)
        if spec is not None and spec.branch.endswith(pane.name) and spec.branch != pane.name:
            found.append((spec.repo, spec.branch.removesuffix(pane.name), spec.path.parent))
    return found


def _from_history() -> tuple[list[Path], list[tuple[Path, str, Path | None]]]:
    """Folders sessions ran in, and (repository, prefix, folder) of recorded fleets' layouts."""
    from orchestrator.store.db import Store

    folders: list[Path] = []
    layouts: list[Path] = []
    with contextlib.suppress(OrchestratorError, OSError), Store() as store:
        folders = [s.cwd for s in store.sessions() if s.cwd is not None]
        layouts = [f.layout_path for f in store.fleets() if f.layout_path is not None]
    settings: list[tuple[Path, str, Path | None]] = []
    for source in dict.fromkeys(layouts):
        settings += _from_layout(source)
    return folders, settings


def _from_layout(source: Path) -> list[tuple[Path, str, Path | None]]:
    from orchestrator.layout.load import load_fleet

    if not source.is_file():
        return []
    try:
        plan = load_fleet(str(source), check_commands=False)
    except (OrchestratorError, OSError):
        return []
    found = []
    for session in plan.sessions:
        if session.worktree:
            with contextlib.suppress(OrchestratorError):
                repo = find_repo(session.cwd)
                found.append((repo, plan.worktrees.prefix, plan.worktrees.folder))
    return found


def _recorded(repo: Path) -> list[tuple[str, Path | None]]:
    """(prefix, folder) of the branches made for sessions in ``repo``."""
    trees = {tree.branch: tree.path for tree in list_worktrees(repo) if tree.branch}
    found = []
    for branch, session in recorded_branches(repo).items():
        tree = trees.get(branch)
        name = session or (tree.name if tree is not None else "")
        if name and branch.endswith(name) and branch != name:
            found.append((branch.removesuffix(name), tree.parent if tree is not None else None))
    return found


def find(panes: Sequence[PaneInfo], here: Path, *, history: bool = True) -> list[Target]:
    """Every repository and prefix to clean, longest prefix first within a repository (so a
    branch shows under its own session's name when one prefix starts another)."""
    found: Found = {}
    for repo, prefix, tree_folder in from_panes(panes):
        _add(found, repo, prefix, tree_folder)
    folders, layouts = _from_history() if history else ([], [])
    for repo, prefix, layout_folder in layouts:
        _add(found, repo, prefix, layout_folder)
    for where in [here, *folders]:
        if where.is_dir():
            with contextlib.suppress(OrchestratorError):
                found.setdefault(find_repo(where).resolve(), {})
    targets: list[Target] = []
    for repo, prefixes in found.items():
        for prefix, recorded_folder in _recorded(repo):
            _add(found, repo, prefix, recorded_folder)
        prefixes.setdefault(DEFAULT_PREFIX, None)
        for prefix in sorted(prefixes, key=lambda p: (-len(p), p)):
            targets.append(Target(repo, WorktreeSettings(prefix=prefix, folder=prefixes[prefix])))
    return targets


def settings_in(repo: Path, panes: Sequence[PaneInfo]) -> list[WorktreeSettings]:
    """Every prefix used in one repository (running sessions, recorded branches, the default)."""
    return [
        target.settings for target in find(panes, repo, history=False) if same(target.repo, repo)
    ]


def same(one: Path, other: Path) -> bool:
    """Whether two folders are the same."""
    return one.resolve() == other.resolve()
