"""Worktree sessions in a fleet: made by ``up``, found again from tmux, summarised for people.

The git work itself is in :mod:`orchestrator.git`; this module connects it to fleets. ``up``
calls :func:`prepare` before it touches tmux, so a session that cannot have its worktree stops the
launch with nothing made. Each worktree session's pane is tagged with its branch, base, worktree
and repository (``@orc_branch``, ``@orc_base``, ``@orc_worktree``, ``@orc_repo``), which is how
``status``, ``diff``, ``merge``, ``clean`` and the dashboard find it later without the layout.

Nothing here removes work: undoing a failed launch goes through :func:`undo_ensure`, which
takes back only what that launch made and lets git refuse anything written since.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.errors import OrchestratorError
from orchestrator.git import review
from orchestrator.git.repo import ChangedFile, NotARepositoryError, WorktreeError
from orchestrator.git.worktree import (
    EnsureResult,
    WorktreeSettings,
    WorktreeSpec,
    check_clean_base,
    ensure_worktree,
    plan_worktree,
    undo_ensure,
)
from orchestrator.tmux.client import TmuxCommand, tag

if TYPE_CHECKING:
    from orchestrator.layout.plan import Fleet, SessionPlan
    from orchestrator.tmux.panes import PaneInfo

TAGS = ("branch", "base", "worktree", "repo")
"""The pane tags (``@orc_<name>``) a worktree session carries."""


# ---------------------------------------------------------------------------------------------
# up


@dataclass
class Prepared:
    """The fleet with worktree sessions moved into their worktrees, and what was made for it."""

    fleet: Fleet
    """The fleet to launch: each worktree session's ``cwd`` is inside its worktree."""
    made: list[EnsureResult] = field(default_factory=list)
    """Worktrees and branches this launch created (not the ones it reused)."""
    new_folders: list[Path] = field(default_factory=list)
    """Worktree folders that did not exist before this launch."""

    def undo(self) -> list[str]:
        """Take back what this launch made; return what had to be kept, and why."""
        kept = [note for result in reversed(self.made) if (note := undo_ensure(result)) is not None]
        self.made.clear()
        for folder in self.new_folders:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty: the folder is ours, anything in it is not
        return kept


def prepare(fleet: Fleet, *, clean_base: Collection[str] = ()) -> Prepared:
    """Make or reuse the worktree of every session with ``worktree`` set, before tmux is touched.

    Every session is planned before anything is made, so a folder that is not in a repository
    stops the launch at once, and so does a base with uncommitted changes for the sessions in
    ``clean_base`` (those about to start: their worktree, new or reused, would not hold the
    changes). If making one fails, what this call made for the others is undone and the error
    names the session.
    """
    specs: dict[str, WorktreeSpec] = {}
    for plan in fleet.sessions:
        if plan.worktree:
            try:
                planned = plan_worktree(plan.cwd, plan.name, fleet.worktrees)
                if plan.name in clean_base:
                    where = f"session {plan.name}'s worktree ({planned.path})"
                    check_clean_base(planned, what=where)
                specs[plan.name] = planned
            except OrchestratorError as exc:
                raise _in_session(exc, fleet, plan.name, []) from None
    prepared = Prepared(fleet)
    if not specs:
        return prepared
    prepared.new_folders = sorted(
        {spec.path.parent for spec in specs.values() if not spec.path.parent.exists()}
    )
    plans: list[SessionPlan] = []
    for plan in fleet.sessions:
        spec = specs.get(plan.name)
        if spec is None:
            plans.append(plan)
            continue
        try:
            result = ensure_worktree(spec)
            if result.created_branch or result.created_worktree:
                prepared.made.append(result)
            plans.append(replace(plan, cwd=_cwd_in_worktree(plan, spec), checkout=spec))
        except OrchestratorError as exc:
            raise _in_session(exc, fleet, plan.name, prepared.undo()) from None
    prepared.fleet = replace(fleet, sessions=tuple(plans))
    return prepared


def _cwd_in_worktree(plan: SessionPlan, spec: WorktreeSpec) -> Path:
    """The session's folder inside its worktree: a session in ``repo/api`` works in ``wt/api``."""
    try:
        relative = plan.cwd.resolve().relative_to(spec.repo.resolve())
    except ValueError:
        return spec.path  # e.g. the layout points into another worktree of the same repository
    folder = spec.path / relative
    if not folder.is_dir():
        raise WorktreeError(
            f"folder {relative} is not in the worktree {spec.path} (it is not tracked by git)",
            hint="point the session's cwd at a tracked folder, or set worktree = false for it",
        )
    return folder


def _in_session(
    exc: OrchestratorError, fleet: Fleet, session: str, kept: Sequence[str]
) -> OrchestratorError:
    if kept:
        outcome = "; could not undo everything: " + "; ".join(kept)
    else:
        outcome = "; nothing was launched and nothing was left behind"
    message = f"fleet {fleet.name}, session {session}: {exc.message}{outcome}"
    return type(exc)(message, hint=exc.hint)


def tag_commands(target: str, plan: SessionPlan) -> list[TmuxCommand]:
    """tmux commands that tag (or untag) a pane with its session's branch, base and worktree."""
    spec = plan.checkout
    if spec is None:
        return [["set-option", "-p", "-u", "-t", target, tag(name)] for name in TAGS]
    values = {"branch": spec.branch, "base": spec.base, "worktree": str(spec.path)}
    values["repo"] = str(spec.repo)
    return [["set-option", "-p", "-t", target, tag(name), values[name]] for name in TAGS]


# ---------------------------------------------------------------------------------------------
# Reading a session's branch


def spec_of(pane: PaneInfo) -> WorktreeSpec | None:
    """The worktree a session's pane is tagged with; None for a session without one."""
    if not (pane.branch and pane.repo and pane.worktree and pane.base):
        return None
    return WorktreeSpec(
        session=pane.name,
        repo=Path(pane.repo),
        branch=pane.branch,
        base=pane.base,
        path=Path(pane.worktree),
    )


@dataclass(frozen=True)
class BranchSummary:
    """Where a session's branch stands against its base, for the dashboard and ``status``."""

    session: str
    """The session's name."""
    branch: str
    """The session's branch, e.g. ``orc/dev-1``."""
    base: str
    """The branch it is compared with and merged into."""
    worktree: Path
    """The session's worktree folder."""
    ahead: int | None
    """Commits on the branch the base lacks; None if git could not tell (see ``error``)."""
    behind: int | None
    """Commits on the base the branch lacks; None if git could not tell."""
    changed: tuple[ChangedFile, ...]
    """Files changed since the merge-base: committed, uncommitted and untracked."""
    uncommitted: int
    """Tracked files with changes not committed."""
    untracked: int
    """Untracked, not ignored, files."""
    error: str | None
    """Why the counts are missing (branch or base gone, git failed); None when all is well."""

    @property
    def text(self) -> str:
        """One short line, e.g. ``orc/dev-1: 2 ahead, 1 behind main, 3 changed (1 uncommitted)``."""
        if self.error is not None:
            return f"{self.branch}: {self.error}"
        line = (
            f"{self.branch}: {self.ahead} ahead, {self.behind} behind {self.base}, "
            f"{len(self.changed)} changed"
        )
        pending = self.uncommitted + self.untracked
        return line + (f" ({pending} uncommitted)" if pending else "")


def summary(pane: PaneInfo) -> BranchSummary | None:
    """A session's branch against its base; None for a session without its own worktree.

    Runs a handful of git commands in that one repository (no tmux call), so a dashboard can
    refresh it every few seconds.
    """
    spec = spec_of(pane)
    if spec is None:
        return None
    where = (pane.name, spec.branch, spec.base, spec.path)
    try:
        found = review.worktree_status(spec)
    except OrchestratorError as exc:
        return BranchSummary(*where, None, None, (), 0, 0, exc.message)
    return BranchSummary(
        *where, found.ahead, found.behind, found.changed, found.uncommitted, found.untracked, None
    )


def status_fields(pane: PaneInfo) -> dict[str, object]:
    """The ``status --json`` keys about a session's branch (all None without a worktree)."""
    found = summary(pane)
    if found is None:
        return dict.fromkeys(("branch", "base", "ahead", "behind", "changed"))
    return {
        "branch": found.branch,
        "base": found.base,
        "ahead": found.ahead,
        "behind": found.behind,
        "changed": None if found.error else len(found.changed),
    }


def diff(pane: PaneInfo) -> str:
    """A session's work against its base as a patch (committed, uncommitted and untracked)."""
    spec = spec_of(pane)
    if spec is None:
        raise WorktreeError(
            f"session {pane.name} works in the shared folder {pane.cwd}, not in a worktree of its "
            "own, so it has no branch to compare",
            hint="set worktree = true for it in the layout (then `orchestrator up`)",
        )
    return review.diff(spec)


# ---------------------------------------------------------------------------------------------
# Finding a session's worktree for diff, merge and clean


def locate(
    name: str,
    panes: Sequence[PaneInfo],
    *,
    repo: Path,
    settings: WorktreeSettings,
) -> WorktreeSpec:
    """The worktree of session ``name``: from its running pane, else from the repository.

    A session whose fleet has ended is found by its branch (prefix plus name) in ``repo``, with
    the base recorded when the branch was made.
    """
    found = [pane for pane in panes if pane.name == name]
    fleets = sorted({pane.fleet for pane in found})
    if len(fleets) > 1:
        raise OrchestratorError(
            f"several fleets have a session named {name!r} ({', '.join(fleets)})",
            hint="name the fleet with --fleet",
        )
    if found:
        spec = spec_of(found[0])
        if spec is None:
            raise WorktreeError(
                f"session {name} of fleet {found[0].fleet} works in the shared folder "
                f"{found[0].cwd}, not in a worktree of its own",
                hint="set worktree = true for it in the layout (then `orchestrator up`)",
            )
        return spec
    try:
        return plan_worktree(repo, name, settings)
    except NotARepositoryError as exc:
        raise WorktreeError(
            f"no running session named {name!r}, and {exc.message}",
            hint="run this in the repository (or give --repo), check the name with "
            "`orchestrator status`, or -L/--socket-name",
        ) from None


def live_sessions(
    panes: Iterable[PaneInfo], repo: Path, settings: WorktreeSettings
) -> frozenset[str]:
    """Sessions whose pane still exists (running or not) and owns a branch of ``repo``.

    Named as cleanup names items: the branch without the prefix.
    """
    live: set[str] = set()
    for pane in panes:
        spec = spec_of(pane)
        if spec is None or not spec.branch.startswith(settings.prefix):
            continue
        if spec.repo.resolve() == repo.resolve():
            live.add(spec.branch.removeprefix(settings.prefix))
    return frozenset(live)


def settings_from_panes(panes: Iterable[PaneInfo], repo: Path) -> WorktreeSettings | None:
    """The prefix and folder a running fleet uses for ``repo``, read from its panes' tags."""
    for pane in panes:
        spec = spec_of(pane)
        if spec is None or spec.repo.resolve() != repo.resolve():
            continue
        if spec.branch.endswith(pane.name) and len(spec.branch) > len(pane.name):
            return WorktreeSettings(
                prefix=spec.branch.removesuffix(pane.name), folder=spec.path.parent
            )
    return None
