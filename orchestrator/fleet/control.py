"""Find a fleet on the tmux server, attach to it, take it down."""

from __future__ import annotations

import os
import shutil
import sys

from orchestrator.errors import NotFoundError, OrchestratorError
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import fleet_names, list_sessions


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
