"""Bring a fleet up, find it again, take it down.

A fleet is one tmux session named after its layout: a ``dashboard`` window, and an ``agents``
window holding one pane per agent session. Every pane is tagged with tmux user options
(``@orc_fleet``, ``@orc_session``, ...) so that any later process finds the fleet from tmux alone,
whoever started it.
Creating a fleet is one chained tmux call, so it is fast and leaves no moment in which an agent
runs untagged; if it fails, the half-made tmux session is killed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator import paths
from orchestrator.detect.model import NO_STATUS
from orchestrator.errors import NotFoundError, OrchestratorError, TmuxError
from orchestrator.fleet import worktrees as session_worktrees
from orchestrator.layout.plan import Fleet, SessionPlan
from orchestrator.tmux.client import Tmux, TmuxCommand, escape_format, tag, tmux_version
from orchestrator.tmux.panes import PaneInfo, fleet_names, list_panes, list_sessions

AGENTS_WINDOW = "agents"
DASHBOARD_WINDOW = "dashboard"
DEFAULT_SIZE = (200, 50)

# ---------------------------------------------------------------------------------------------
# Launch commands


def session_env(fleet: Fleet, plan: SessionPlan) -> dict[str, str]:
    """The environment a session's pane gets on top of the tmux server's."""
    env = dict(plan.env)
    env["ORCHESTRATOR_FLEET"] = fleet.name
    env["ORCHESTRATOR_SESSION"] = plan.name
    return env


def _command_args(argv: Sequence[str]) -> list[str]:
    # With two or more arguments tmux runs the program directly; a single argument would be
    # handed to `sh -c` as shell code, so it is quoted to stay one word.
    if len(argv) == 1:
        return [shlex.quote(argv[0])]
    return list(argv)


def _pane_spec(
    fleet: Fleet, plan: SessionPlan, resume_id: str | None = None
) -> tuple[list[str], list[str]]:
    """The ``-c/-e`` options and the command for a session's pane."""
    env = session_env(fleet, plan)
    argv = [
        *plan.agent.launch_argv(fleet.name, plan.name, plan.argv),
        *plan.agent.resume_args(resume_id),
    ]
    if "PATH" in env:
        # tmux (3.3a spawn.c) gives a new pane the PATH of the tmux client that asked for it,
        # over any `-e PATH=`, and looks the program up there; `env` puts the session's PATH
        # back and finds the program through it, as `validate` did.
        argv = ["/usr/bin/env", f"PATH={env['PATH']}", *argv]
    options = ["-c", escape_format(str(plan.cwd))]
    for key, value in env.items():
        options += ["-e", f"{key}={value}"]
    return options, ["--", *_command_args(argv)]


def _tag_pane(
    target: str, fleet: Fleet, plan: SessionPlan, resume_id: str | None = None
) -> list[TmuxCommand]:
    tags = {
        "fleet": fleet.name,
        "session": plan.name,
        "kind": "agent",
        "role": " ".join(plan.role.split()),
        "agent": plan.agent.name,
        "cwd": str(plan.cwd),
        "started": f"{time.time():.3f}",
        # The conversation this run continues: its layout prompt was sent in an earlier run.
        "resumed": (resume_id or "") if plan.agent.resume_args(resume_id) else "",
    }
    commands: list[TmuxCommand] = [
        ["set-option", "-p", "-t", target, tag(key), value] for key, value in tags.items()
    ]
    commands += session_worktrees.tag_commands(target, plan)
    commands.append(["select-pane", "-t", target, "-T", escape_format(plan.name)])
    return commands


SERVICES = ("dashboard", "watcher")
"""The tool's own windows in a fleet: the dashboard (for people) and the watcher (headless)."""
_SERVICE_COMMAND = {"dashboard": "dashboard", "watcher": "watch"}


def service_argv(tmux: Tmux, fleet_name: str, kind: str) -> list[str]:
    """The command a service window runs."""
    argv = [sys.executable, "-m", "orchestrator"]
    if tmux.socket_name:
        argv += ["-L", tmux.socket_name]
    return [*argv, _SERVICE_COMMAND[kind], fleet_name]


def _service_options(runtime: str | None = None) -> list[str]:
    # Services must find the same runtime folder and history as the `up` that started them,
    # whatever environment the tmux server was started with.
    options = ["-e", f"ORCHESTRATOR_RUNTIME_DIR={runtime or paths.runtime_dir()}"]
    if os.environ.get("ORCHESTRATOR_DB"):
        options += ["-e", f"ORCHESTRATOR_DB={os.environ['ORCHESTRATOR_DB']}"]
    return options


def _service_window(
    tmux: Tmux, name: str, kind: str, runtime: str | None = None
) -> list[TmuxCommand]:
    """Commands that add a service window: the dashboard first in the list, the watcher last."""
    where = ["-b", "-t", f"={name}:{AGENTS_WINDOW}"] if kind == "dashboard" else ["-t", f"={name}:"]
    argv = _command_args(service_argv(tmux, name, kind))
    target = f"={name}:{kind}"
    return [
        ["new-window", "-d", *where, "-n", kind, *_service_options(runtime), "--", *argv],
        ["set-option", "-p", "-t", target, tag("fleet"), name],
        ["set-option", "-p", "-t", target, tag("kind"), kind],
        ["set-option", "-w", "-t", target, "remain-on-exit", "off"],
    ]


def _revive_service(
    tmux: Tmux, name: str, kind: str, pane: PaneInfo | None, runtime: str | None = None
) -> list[TmuxCommand]:
    """Commands that start a service again: a new window when it is gone, else in its pane."""
    if pane is None:
        return _service_window(tmux, name, kind, runtime)
    argv = _command_args(service_argv(tmux, name, kind))
    return [["respawn-pane", "-k", "-t", pane.pane_id, *_service_options(runtime), "--", *argv]]


def ensure_service(tmux: Tmux, name: str, kind: str) -> str:
    """The pane of fleet ``name``'s service window ``kind``, started again first if it is gone
    (quitting the dashboard closes its window) or dead, as ``up`` does.

    The service gets the runtime folder the fleet was brought up with (``@orc_runtime``): this
    may run from a tmux key binding, in the tmux server's environment rather than the user's.
    """
    found = next((pane for pane in list_panes(tmux, name) if pane.kind == kind), None)
    if found is not None and not found.dead:
        return found.pane_id
    rows = tmux.query(["display-message", "-p", "-t", f"={name}:"], (tag("runtime"),))
    runtime = rows[0].get(tag("runtime")) if rows else None
    tmux.run(*_revive_service(tmux, name, kind, found, runtime or None))
    started = next((pane for pane in list_panes(tmux, name) if pane.kind == kind), None)
    if started is None:
        raise OrchestratorError(
            f"the {kind} window of fleet {name!r} ended as soon as it started",
            hint=f"run `{shlex.join(service_argv(tmux, name, kind))}` to see why",
        )
    return started.pane_id


def _session_options(name: str, source: str) -> list[TmuxCommand]:
    target = f"={name}:"
    waiting = "#{?@orc_waiting,#[reverse] needs you: #{@orc_waiting} #[noreverse] ,}"
    return [
        ["set-option", "-t", target, tag("fleet"), name],
        ["set-option", "-t", target, tag("layout"), source],
        ["set-option", "-t", target, tag("runtime"), str(paths.runtime_dir())],
        # Claude Code asks for focus events (it prints a hint without them); a server option.
        ["set-option", "-s", "focus-events", "on"],
        # The names of the sessions awaiting input, on the status line of every window.
        ["set-option", "-t", target, "status-right", f"{waiting}%H:%M"],
        ["set-option", "-t", target, "status-right-length", "80"],
        ["set-option", "-t", target, "status-interval", "2"],
        # tmux's default status-left, "[#{session_name}] ", is cut at 10 columns: room for the
        # whole fleet name, and never less than tmux's own default.
        ["set-option", "-t", target, "status-left-length", str(max(10, len(f"[{name}] ")))],
    ]


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
    prepared = session_worktrees.prepare(fleet)
    fleet = prepared.fleet
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


def _window_options(target: str) -> list[TmuxCommand]:
    return [
        ["set-option", "-w", "-t", target, "remain-on-exit", "on"],
        ["set-option", "-w", "-t", target, "pane-border-status", "top"],
        [
            "set-option",
            "-w",
            "-t",
            target,
            "pane-border-format",
            " #{?@orc_session,#{@orc_session},#{pane_title}}"
            "#{?@orc_state, [#{@orc_state}],} #{?pane_dead,(exit #{pane_dead_status}) ,}",
        ],
        # Agents set their terminal title; where tmux can refuse that (3.4+), keep the session's
        # name as the pane title. -q: older tmux does not know the option.
        ["set-option", "-q", "-w", "-t", target, "allow-set-title", "off"],
    ]


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
        options, command = _pane_spec(fleet, plan, resume.get(plan.name))
        if index == 0:
            geometry = ["-x", str(size[0]), "-y", str(size[1])]
            new_session = ["new-session", "-d", "-s", name, "-n", AGENTS_WINDOW, *geometry]
            # `new-session -e` would put the first agent's environment into the tmux session's
            # own, and so into every later pane: start a placeholder and respawn the pane.
            commands.append([*new_session, "--", "cat"])
            commands += _session_options(name, str(fleet.source))
            commands += _window_options(agents)
            commands.append(["respawn-pane", "-k", "-t", agents, *options, *command])
        else:
            commands.append(["split-window", "-t", agents, *options, *command])
            # Re-tile after each split so that many panes never run out of room.
            commands.append(["select-layout", "-t", agents, "tiled"])
        commands += _tag_pane(agents, fleet, plan, resume.get(plan.name))
    commands.append(["select-layout", "-t", agents, fleet.arrange])
    commands.append(["select-pane", "-t", f"{agents}.0"])
    for kind in services:
        commands += _service_window(tmux, name, kind)
    try:
        tmux.run(*commands)
    except (TmuxError, OSError) as exc:
        tmux.run(["kill-session", "-t", f"={name}"], check=False)
        raise OrchestratorError(
            f"could not create fleet {name!r}; nothing was left behind: {exc}"
        ) from None
    return UpReport(
        fleet=name,
        created=True,
        started=[plan.name for plan in fleet.sessions],
        services=dict.fromkeys(services, "started"),
    )


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
        options, command = _pane_spec(fleet, plan, resume_id)
        if pane is None:
            if has_agents_window:
                # Without -d the new pane becomes the active one, which is what gets tagged.
                commands.append(["split-window", "-t", agents, *options, *command])
                commands.append(["select-layout", "-t", agents, "tiled"])
            else:
                commands.append(
                    ["new-window", "-d", "-t", f"={name}:", "-n", AGENTS_WINDOW, *options, *command]
                )
                commands += _window_options(agents)
                has_agents_window = True
            commands += _tag_pane(agents, fleet, plan, resume_id)
            report.started.append(plan.name)
        elif pane.dead:
            commands.append(["respawn-pane", "-k", "-t", pane.pane_id, *options, *command])
            commands += _tag_pane(pane.pane_id, fleet, plan, resume_id)
            report.restarted.append(plan.name)
        else:
            report.running.append(plan.name)
    if commands:
        commands.append(["select-layout", "-t", agents, fleet.arrange])
        active = [pane.pane_id for pane in panes if pane.active and pane.window == AGENTS_WINDOW]
        commands += [["select-pane", "-t", pane_id] for pane_id in active]
    for kind in services:
        found = [pane for pane in panes if pane.kind == kind]
        if not found:
            commands += _revive_service(tmux, name, kind, None)
            report.services[kind] = "started"
        elif found[0].dead:
            commands += _revive_service(tmux, name, kind, found[0])
            report.services[kind] = "restarted"
        else:
            report.services[kind] = "running"
    if commands:
        tmux.run(*commands)
    return report


@dataclass(frozen=True)
class RestartReport:
    """What :func:`restart_session` did."""

    fleet: str
    name: str
    pane_id: str
    argv: list[str]
    """The command the pane runs now."""
    resumed: str | None
    """The Claude conversation it continues, if any."""


def layout_source(tmux: Tmux, fleet_name: str) -> str:
    """The layout file a live fleet was brought up from (its tmux session's ``@orc_layout``)."""
    rows = tmux.query(["display-message", "-p", "-t", f"={fleet_name}:"], (tag("layout"),))
    source = rows[0].get(tag("layout"), "") if rows else ""
    if not source:
        raise OrchestratorError(
            f"fleet {fleet_name!r} does not say which layout started it",
            hint="bring it up again with `orchestrator up LAYOUT`",
        )
    return source


def restart_session(
    tmux: Tmux,
    fleet_name: str,
    name: str,
    resume_id: str | None = None,
    *,
    force: bool = False,
) -> RestartReport:
    """Start a session's agent again in its pane, as the fleet's layout says.

    With ``resume_id`` a Claude session continues that conversation (``--resume``); other agents
    simply start again. A session whose agent still runs is refused unless ``force``, which
    kills it first. A session whose pane is gone gets a new one.
    """
    from orchestrator.layout.load import load_fleet

    plan_fleet = load_fleet(layout_source(tmux, fleet_name))
    plans = [plan for plan in plan_fleet.sessions if plan.name == name]
    if not plans:
        raise NotFoundError(f"session {name!r} is not in the layout {plan_fleet.source}")
    pane = next((p for p in list_sessions(tmux, fleet_name) if p.name == name), None)
    if pane is not None and pane.cwd and not plans[0].worktree:
        # The folder it ran in: a shared layout's relative root was resolved against the folder
        # `up` ran in, which this process may not be in.
        plans[0] = dataclasses.replace(plans[0], cwd=Path(pane.cwd))
    one = Fleet(
        name=plan_fleet.name,
        description=plan_fleet.description,
        arrange=plan_fleet.arrange,
        source=plan_fleet.source,
        sessions=(plans[0],),
        worktrees=plan_fleet.worktrees,
    )
    if pane is not None and not pane.dead and not force:
        raise OrchestratorError(
            f"session {name!r} is still running (pane {pane.pane_id})",
            hint=f"use --force to end it and start it again, or `orchestrator jump {name}`",
        )
    prepared = session_worktrees.prepare(one)
    plan = prepared.fleet.sessions[0]
    options, command = _pane_spec(prepared.fleet, plan, resume_id)
    try:
        if pane is None:
            up(prepared.fleet, tmux, services=(), resume={name: resume_id} if resume_id else None)
            pane = next(p for p in list_sessions(tmux, fleet_name) if p.name == name)
        else:
            tmux.run(
                ["respawn-pane", "-k", "-t", pane.pane_id, *options, *command],
                *_tag_pane(pane.pane_id, prepared.fleet, plan, resume_id),
            )
    except BaseException:
        prepared.undo()
        raise
    resumed = resume_id if plan.agent.resume_args(resume_id) else None
    return RestartReport(fleet_name, name, pane.pane_id, command[1:], resumed)


def down(tmux: Tmux, name: str) -> list[str]:
    """End one fleet: kill its tmux session and nothing else. Returns the sessions it ended."""
    if name not in fleet_names(tmux):
        raise NotFoundError(
            f"no fleet named {name!r} on this tmux server",
            hint="run `orchestrator status` to see the fleets (and check -L/--socket-name)",
        )
    ended = [pane.name for pane in list_sessions(tmux, name)]
    tmux.run(["kill-session", "-t", f"={name}"])
    return ended


def resolve_fleet_name(tmux: Tmux, name: str | None) -> str:
    """The fleet a command means: the one named, the one we are inside, or the only one."""
    names = fleet_names(tmux)
    if name:
        if name not in names:
            raise NotFoundError(
                f"no fleet named {name!r} on this tmux server",
                hint="run `orchestrator status` to list fleets (and check -L/--socket-name)",
            )
        return name
    inside = _current_tmux_session(tmux)
    if inside in names:
        return inside
    if len(names) == 1:
        return names[0]
    if not names:
        raise NotFoundError(
            "no fleet is running on this tmux server", hint="start one with `orchestrator up`"
        )
    raise OrchestratorError(
        f"several fleets are running ({', '.join(names)}); name one",
        hint="e.g. `orchestrator down NAME`",
    )


def _current_tmux_session(tmux: Tmux) -> str | None:
    pane = os.environ.get("TMUX_PANE")
    if not pane or not os.environ.get("TMUX"):
        return None
    rows = tmux.query(["display-message", "-p", "-t", pane], ("session_name",))
    return rows[0]["session_name"] if rows else None


def attach(tmux: Tmux, name: str, target: str | None = None) -> int:
    """Attach to a fleet (or switch the client when already inside tmux); return the exit status."""
    where = target or f"={name}"
    if os.environ.get("TMUX"):
        tmux.run(["switch-client", "-t", where])
        return 0
    if not sys.stdin.isatty():
        raise OrchestratorError(
            "cannot attach: standard input is not a terminal",
            hint=f"use --detach, then `tmux{_socket_flag(tmux)} attach -t {name}`",
        )
    binary = shutil.which("tmux") or "tmux"
    env = {k: v for k, v in os.environ.items() if k != "TMUX_PANE"}
    os.execvpe(binary, [*tmux.base_args(), "attach-session", "-t", where], env)  # noqa: S606
    return 0  # not reached: exec replaced this process


def _socket_flag(tmux: Tmux) -> str:
    return f" -L {tmux.socket_name}" if tmux.socket_name else ""


def describe_state(pane: PaneInfo) -> tuple[str, str]:
    """The state and reason we can tell from tmux alone (without the watcher)."""
    if pane.dead:
        if pane.dead_signal:
            return "exited", f"killed by signal {pane.dead_signal}"
        if pane.dead_status is None:
            return "exited", NO_STATUS
        return "exited", f"exit status {pane.dead_status}"
    if pane.state and pane.state != "exited":
        return pane.state, pane.reason
    return "unknown", ""


def status_rows(tmux: Tmux, fleet: str | None = None) -> list[dict[str, object]]:
    """Rows for ``status --json``."""
    rows: list[dict[str, object]] = []
    for pane in list_sessions(tmux, fleet):
        state, reason = describe_state(pane)
        rows.append(
            {
                "fleet": pane.fleet,
                "name": pane.name,
                "role": pane.role,
                "agent": pane.agent,
                "pane_id": pane.pane_id,
                "state": state,
                "since": pane.since,
                "reason": reason,
                "cwd": pane.cwd,
                **session_worktrees.status_fields(pane),
            }
        )
    return rows


def dump_json(rows: list[dict[str, object]]) -> str:
    """The JSON document ``status --json`` prints."""
    return json.dumps({"sessions": rows}, indent=2)
