"""A fleet's service windows, the dashboard and the watcher: how each is started, and started
again when it is gone or dead.
"""

from __future__ import annotations

import os
import shlex
import sys

from orchestrator import paths
from orchestrator.errors import OrchestratorError
from orchestrator.fleet.commands import command_args
from orchestrator.tmux.client import Tmux, TmuxCommand, tag
from orchestrator.tmux.panes import PaneInfo, list_panes

SERVICES = ("dashboard", "watcher")
"""The tool's own windows in a fleet: the dashboard (for people) and the watcher (headless)."""


_SERVICE_COMMAND = {"dashboard": "dashboard", "watcher": "watch"}


def service_argv(tmux: Tmux, fleet_name: str, kind: str) -> list[str]:
    """The command a service window runs."""
    argv = [sys.executable, "-m", "orchestrator", *tmux.base_args()[1:]]
    return [*argv, _SERVICE_COMMAND[kind], fleet_name]


def _service_options(runtime: str | None = None) -> list[str]:
    # Services must find the same runtime folder, history and notification settings as the `up`
    # that started them, whatever environment the tmux server was started with; the latest
    # `up`'s ORCHESTRATOR_NOTIFY wins, set or not (an empty value overrides the server's).
    options = ["-e", f"ORCHESTRATOR_RUNTIME_DIR={runtime or paths.runtime_dir()}"]
    for variable in ("ORCHESTRATOR_DB", "XDG_CONFIG_HOME"):
        if os.environ.get(variable):
            options += ["-e", f"{variable}={os.environ[variable]}"]
    return [*options, "-e", f"ORCHESTRATOR_NOTIFY={os.environ.get('ORCHESTRATOR_NOTIFY', '')}"]


def service_window(
    tmux: Tmux, name: str, kind: str, runtime: str | None = None
) -> list[TmuxCommand]:
    """Commands that add a service window: the dashboard first in the list, the watcher last."""
    # Before the first window / after the last: `-t =name:` alone takes the lowest free index,
    # which is the dashboard's when both service windows are gone.
    if kind == "dashboard":
        where = ["-b", "-t", f"={name}:{{start}}"]
    else:
        where = ["-a", "-t", f"={name}:{{end}}"]
    argv = command_args(service_argv(tmux, name, kind))
    target = f"={name}:{kind}"
    return [
        ["new-window", "-d", *where, "-n", kind, *_service_options(runtime), "--", *argv],
        ["set-option", "-p", "-t", target, tag("fleet"), name],
        ["set-option", "-p", "-t", target, tag("kind"), kind],
        ["set-option", "-w", "-t", target, "remain-on-exit", "off"],
    ]


def revive_service(
    tmux: Tmux, name: str, kind: str, pane: PaneInfo | None, runtime: str | None = None
) -> list[TmuxCommand]:
    """Commands that start a service again: a new window when it is gone, else in its pane."""
    if pane is None:
        # `-b` shifts the windows after it up by one: number them afresh, in order, so the
        # dashboard is the first window again (`prefix 0` with tmux's default base-index).
        return [
            *service_window(tmux, name, kind, runtime),
            ["move-window", "-r", "-t", f"={name}:"],
        ]
    argv = command_args(service_argv(tmux, name, kind))
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
    tmux.run(*revive_service(tmux, name, kind, found, runtime or None))
    started = next((pane for pane in list_panes(tmux, name) if pane.kind == kind), None)
    if started is None:
        raise OrchestratorError(
            f"the {kind} window of fleet {name!r} ended as soon as it started",
            hint=f"run `{shlex.join(service_argv(tmux, name, kind))}` to see why",
        )
    return started.pane_id
