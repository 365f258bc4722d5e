"""Bring a fleet up, find it again, take it down.

A fleet is one tmux session named after its layout: a ``dashboard`` window, and an ``agents``
window holding one pane per agent session. Every pane is tagged with tmux user options
(``@orc_fleet``, ``@orc_session``, ...) so that any later process finds the fleet from tmux alone,
whoever started it.
Creating a fleet is one chained tmux call, so it is fast and leaves no moment in which an agent
runs untagged; if it fails, the half-made tmux session is killed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.agents import custom
from orchestrator.errors import OrchestratorError, TmuxError
from orchestrator.fleet import worktrees as session_worktrees
from orchestrator.fleet.commands import (
    AGENTS_WINDOW,
    DEFAULT_SIZE,
    pane_spec,
    session_options,
    tag_pane,
    window_options,
)
from orchestrator.fleet.services import SERVICES, revive_service, service_window
from orchestrator.layout.plan import Fleet
from orchestrator.runtime import fleet_dir, watcher_running
from orchestrator.tmux.client import Tmux, TmuxCommand, tag, tmux_version
from orchestrator.tmux.panes import list_panes

# ---------------------------------------------------------------------------------------------
# Launch commands


# ---------------------------------------------------------------------------------------------
# up / down


@dataclass
class UpReport:
    """What ``up`` did."""

    fleet: str
    created: bool
    started: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    services: dict[str, str] = field(default_factory=dict)
    """Each service window: started, restarted or running."""
    seconds: float = 0.0


def up(
    fleet: Fleet,
    tmux: Tmux,
    *,
    size: tuple[int, int] | None = None,
    services: tuple[str, ...] = SERVICES,
    resume: Mapping[str, str] | None = None,
) -> UpReport:
    """Create the fleet, or start what is missing or dead in a live one.

    Sessions with ``worktree`` set get their worktree first; if the launch then fails, the
    worktrees and branches made for it are taken back (never ones that existed before).
    ``resume`` maps session names to the Claude conversation each one started here continues
    (``claude --resume <id>``); running sessions are left alone.
    """
    tmux_version()
    started = time.perf_counter()
    # Sessions about to start need a clean base (running ones are left as they are).
    running = {p.name for p in list_panes(tmux, fleet.name) if p.kind == "agent" and not p.dead}
    starting = [plan.name for plan in fleet.sessions if plan.name not in running]
    prepared = session_worktrees.prepare(fleet, clean_base=starting)
    fleet = prepared.fleet
    # The watcher and the dashboard read the fleet's own agents from here, not from the layout.
    custom.record(fleet.name, fleet.agents)
    try:
        if tmux.has_session(fleet.name):
            report = _reconcile(fleet, tmux, services, resume or {})
        else:
            report = _create(fleet, tmux, size or DEFAULT_SIZE, services, resume or {})
    except BaseException:
        prepared.undo()
        raise
    report.seconds = time.perf_counter() - started
    return report


def _create(
    fleet: Fleet,
    tmux: Tmux,
    size: tuple[int, int],
    services: tuple[str, ...],
    resume: Mapping[str, str],
) -> UpReport:
    name = fleet.name
    agents = f"={name}:{AGENTS_WINDOW}"
    commands: list[TmuxCommand] = []
    for index, plan in enumerate(fleet.sessions):
        options, command = pane_spec(fleet, plan, resume.get(plan.name))
        if index == 0:
            geometry = ["-x", str(size[0]), "-y", str(size[1])]
            new_session = ["new-session", "-d", "-s", name, "-n", AGENTS_WINDOW, *geometry]
            # `new-session -e` would put the first agent's environment into the tmux session's
            # own, and so into every later pane: start a placeholder and respawn the pane.
            commands.append([*new_session, "--", "cat"])
            commands += session_options(name, str(fleet.source), str(fleet.root or ""))
            commands += window_options(agents)
            commands.append(["respawn-pane", "-k", "-t", agents, *options, *command])
        else:
            commands.append(["split-window", "-t", agents, *options, *command])
            # Re-tile after each split so that many panes never run out of room.
            commands.append(["select-layout", "-t", agents, "tiled"])
        commands += tag_pane(agents, fleet, plan, resume.get(plan.name))
    if fleet.sessions:
        commands.append(["select-layout", "-t", agents, fleet.arrange])
        commands.append(["select-pane", "-t", f"{agents}.0"])
    else:
        # Every session runs on another host: the fleet here is its service windows, made in
        # a session that starts with a placeholder window, removed once they are in.
        geometry = ["-x", str(size[0]), "-y", str(size[1])]
        commands.append(["new-session", "-d", "-s", name, "-n", "_", *geometry, "--", "cat"])
        commands += session_options(name, str(fleet.source), str(fleet.root or ""))
    report = UpReport(fleet=name, created=True, started=[plan.name for plan in fleet.sessions])
    for kind in services:
        elsewhere = _watcher_elsewhere(name) if kind == "watcher" else None
        if elsewhere:
            report.services[kind] = elsewhere
        else:
            commands += service_window(tmux, name, kind)
            report.services[kind] = "started"
    if not fleet.sessions:
        commands += [["kill-window", "-t", f"={name}:_"], ["move-window", "-r", "-t", f"={name}:"]]
    try:
        tmux.run(*commands)
    except (TmuxError, OSError) as exc:
        tmux.run(["kill-session", "-t", f"={name}"], check=False)
        raise OrchestratorError(
            f"could not create fleet {name!r}; nothing was left behind: {exc}"
        ) from None
    return report


LOCK_WAIT = 3.0
"""Seconds ``up`` waits for a held watcher lock to be let go before reporting another watcher."""


def _watcher_elsewhere(fleet: str) -> str | None:
    """What to report when a watcher outside the fleet's window holds the fleet's lock.

    A watcher whose fleet just vanished (its tmux server died, its session was killed) lets go
    of the lock within moments: wait up to :data:`LOCK_WAIT` for that before calling it another
    watcher.
    """
    deadline = time.monotonic() + LOCK_WAIT
    while watcher_running(fleet):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    else:
        return None
    try:
        pid = (fleet_dir(fleet) / "watcher.lock").read_text().strip()
    except OSError:
        pid = ""
    holder = f" (pid {pid})" if pid else ""
    return f"not started: another watcher{holder} holds the fleet's lock and watches it"


def _reconcile(
    fleet: Fleet, tmux: Tmux, services: tuple[str, ...], resume: Mapping[str, str]
) -> UpReport:
    name = fleet.name
    owner = tmux.query(["list-sessions"], ("session_name", "@orc_fleet"))
    if not any(row["session_name"] == name and row.get("@orc_fleet") == name for row in owner):
        raise OrchestratorError(
            f"a tmux session named {name!r} already exists and is not an orchestrator fleet",
            hint="rename the layout's `name`, or end that tmux session first",
        )
    panes = list_panes(tmux, name)
    by_name = {pane.name: pane for pane in panes if pane.kind == "agent"}
    report = UpReport(fleet=name, created=False)
    agents = f"={name}:{AGENTS_WINDOW}"
    has_agents_window = any(pane.window == AGENTS_WINDOW for pane in panes)
    commands: list[TmuxCommand] = []
    for plan in fleet.sessions:
        pane = by_name.get(plan.name)
        resume_id = resume.get(plan.name)
        options, command = pane_spec(fleet, plan, resume_id)
        if pane is None:
            if has_agents_window:
                # Without -d the new pane becomes the active one, which is what gets tagged.
                commands.append(["split-window", "-t", agents, *options, *command])
                commands.append(["select-layout", "-t", agents, "tiled"])
            else:
                commands.append(
                    ["new-window", "-d", "-t", f"={name}:", "-n", AGENTS_WINDOW, *options, *command]
                )
                commands += window_options(agents)
                has_agents_window = True
            commands += tag_pane(agents, fleet, plan, resume_id)
            report.started.append(plan.name)
        elif pane.dead:
            commands.append(["respawn-pane", "-k", "-t", pane.pane_id, *options, *command])
            commands += tag_pane(pane.pane_id, fleet, plan, resume_id)
            report.restarted.append(plan.name)
        else:
            report.running.append(plan.name)
    if commands and fleet.sessions:
        commands.append(["select-layout", "-t", agents, fleet.arrange])
        active = [pane.pane_id for pane in panes if pane.active and pane.window == AGENTS_WINDOW]
        commands += [["select-pane", "-t", pane_id] for pane_id in active]
    for kind in services:
        found = [pane for pane in panes if pane.kind == kind]
        elsewhere = _watcher_elsewhere(name) if kind == "watcher" else None
        if elsewhere and (not found or found[0].dead):
            # A new watcher window would exit at once on the held lock.
            report.services[kind] = elsewhere
        elif not found:
            commands += revive_service(tmux, name, kind, None)
            report.services[kind] = "started"
        elif found[0].dead:
            commands += revive_service(tmux, name, kind, found[0])
            report.services[kind] = "restarted"
        else:
            report.services[kind] = "running"
    if commands:
        tmux.run(*commands)
    if report.restarted:
        wake_watcher(tmux, name)
    return report


def wake_watcher(tmux: Tmux, fleet: str) -> None:
    """Tell the fleet's watcher that panes were respawned, so it reads them at once.

    A respawned pane keeps its id; the watcher would otherwise meet its new process only at its
    next periodic listing. It wakes on the fleet's ``pane-died`` file (see
    :mod:`orchestrator.watch.inputs`), in the runtime folder the fleet was brought up with.
    """
    rows = tmux.query(["display-message", "-p", "-t", f"={fleet}:"], (tag("runtime"),))
    runtime = rows[0].get(tag("runtime"), "") if rows else ""
    folder = fleet_dir(fleet, Path(runtime) if runtime else None)
    if folder.is_dir():
        with (folder / "pane-died").open("a", encoding="utf-8") as died:
            died.write("respawned\n")
