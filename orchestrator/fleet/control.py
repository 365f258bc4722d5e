"""Find a fleet on the tmux server, attach to it, take it down."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Sequence

import psutil

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
    panes = list_sessions(tmux, name)
    ended = [pane.name for pane in panes]
    trees = process_trees([p.pane_pid for p in panes if p.pane_pid and not p.dead])
    tmux.run(["kill-session", "-t", f"={name}"])
    # Gemini CLI (a node parent and its child) outlives the hang-up of its pane: whatever the
    # agents left running ends with the fleet.
    end_processes(trees)
    return ended


def process_trees(roots: list[int]) -> list[psutil.Process]:
    """The processes under ``roots`` (included), as handles that know their start time (so a
    reused PID is never signalled)."""
    found: list[psutil.Process] = []
    for pid in roots:
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(pid)
            found += [root, *root.children(recursive=True)]
    return found


def end_processes(procs: list[psutil.Process], grace: float = 1.0) -> None:
    """Give ``procs`` ``grace`` seconds to end by themselves, then SIGTERM, then SIGKILL."""
    if not procs:
        return
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for signal_name in ("terminate", "kill"):
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                getattr(proc, signal_name)()
        _, alive = psutil.wait_procs(alive, timeout=grace)
        if not alive:
            return


def resolve_fleet_name(
    tmux: Tmux, name: str | None, *, again: Callable[[str], str] | None = None
) -> str:
    """The fleet a command means: the one named, the one we are inside, or the only one.

    ``again(fleet)`` gives the user's command with that fleet named, for the hint when several
    fleets run and none is named.
    """
    names = fleet_names(tmux)
    if name:
        if name not in names:
            raise NotFoundError(
                f"no fleet named {name!r} on this tmux server",
                hint="run `orchestrator status` to list fleets (and check -L/--socket-name)",
            )
        return name
    inside = current_fleet(tmux)
    if inside in names:
        return inside
    if len(names) == 1:
        return names[0]
    if not names:
        raise NotFoundError(
            "no fleet is running on this tmux server",
            hint="start one with `orchestrator up` (or check -L/--socket-name)",
        )
    raise OrchestratorError(
        f"several fleets are running ({', '.join(names)}); say which one",
        hint=_name_it(names, again),
    )


def _name_it(fleets: Sequence[str], again: Callable[[str], str] | None) -> str:
    if again is None:
        return f"name the fleet with --fleet ({', '.join(fleets)})"
    return f"name the fleet, e.g. `{again(fleets[0])}`"


def session_fleet(
    tmux: Tmux, name: str | None, session: str, *, again: Callable[[str], str] | None = None
) -> str | None:
    """The fleet of the running session ``session``, by the one rule every command follows.

    The fleet named, else the fleet this process runs in if it has that session, else the one
    fleet that has it; with several, an error asking for ``--fleet``. None when no fleet on the
    server has a session of that name.
    """
    if name:
        return resolve_fleet_name(tmux, name)
    having = sorted({pane.fleet for pane in list_sessions(tmux) if pane.name == session})
    if len(having) > 1:
        inside = current_fleet(tmux)
        if inside in having:
            return inside
        raise OrchestratorError(
            f"several fleets have a session named {session!r} ({', '.join(having)})",
            hint=_name_it(having, again),
        )
    return having[0] if having else None


def current_fleet(tmux: Tmux) -> str | None:
    """The fleet this process runs in: the one of its pane (``$TMUX_PANE``) or, from a key
    binding's ``run-shell``, of the tmux session ``$TMUX`` names; None elsewhere."""
    if not tmux.holds_this_process():
        return None
    session = os.environ.get("TMUX", "").split(",")[-1]
    target = os.environ.get("TMUX_PANE") or (f"${session}" if session.isdigit() else "")
    if not target:
        return None
    rows = tmux.query(["display-message", "-p", "-t", target], ("@orc_fleet",))
    return (rows[0].get("@orc_fleet") or None) if rows else None


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
    return "".join(f" {shlex.quote(word)}" for word in tmux.base_args()[1:])
