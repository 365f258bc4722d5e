"""Taking the user to a session's pane, and back to the dashboard.

Used by the dashboard and by ``orchestrator jump NAME | --next | --dashboard``. Inside tmux (on
the fleet's own server) a jump selects the pane's window and pane and switches the client when the
pane is in another tmux session; outside tmux it hands back the ``attach-session`` command line,
which the caller runs (the CLI execs it, the dashboard suspends itself around it).
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from orchestrator.detect.model import NEEDS_USER
from orchestrator.errors import NotFoundError, OrchestratorError
from orchestrator.fleet.services import ensure_service
from orchestrator.tmux.client import Tmux, TmuxCommand, escape_format
from orchestrator.tmux.panes import PaneInfo, list_sessions

BACK_KEY = os.environ.get("ORCHESTRATOR_BACK_KEY", "B")
"""The key (after the tmux prefix) that returns to the fleet's dashboard window."""
_BACK_COMMAND = (
    "if-shell -F '#{@orc_fleet}' { "
    "if-shell -F '#{W:#{?#{==:#{window_name},dashboard},1,}}' { select-window -t :dashboard } "
    "{ run-shell {jump} } "
    '} { display-message "not in an orchestrator fleet" }'
)
"""The back key's binding: the dashboard window if there is one, else (its `q` closes it) start it
again through ``orchestrator jump --dashboard``, where ``{jump}`` goes."""


@dataclass(frozen=True)
class Client:
    """An attached tmux client and what it is looking at."""

    tty: str
    session: str
    pane_id: str
    """The active pane of the client's current window: what the user sees."""
    activity: float


def clients(tmux: Tmux) -> list[Client]:
    """Every client attached to the server (one tmux call), but control-mode ones."""
    fields = ("client_tty", "client_session", "pane_id", "client_activity", "client_control_mode")
    rows = tmux.query(["list-clients"], fields)
    found = []
    for row in rows:
        if row.get("client_control_mode") == "1":
            # The watcher's: no terminal, nobody looking, and it cannot be switched to a pane.
            continue
        try:
            activity = float(row.get("client_activity") or 0)
        except ValueError:
            activity = 0.0
        found.append(Client(row["client_tty"], row["client_session"], row["pane_id"], activity))
    return found


def viewed_panes(tmux: Tmux) -> set[str]:
    """The panes attached clients are showing right now (their windows' active panes)."""
    return {client.pane_id for client in clients(tmux)}


SHOWN_PANES = "#{window_id} #{pane_id}#{?window_zoomed_flag,, #{P:#{pane_id} }}"
"""A ``list-clients`` format: the client's current window, its active pane, then every pane on
screen (all the window's panes, or only the active one while it is zoomed)."""
SHOWN_BY_PEOPLE = "#{?client_control_mode,," + SHOWN_PANES + "}"
"""The same for attached terminals only: a control-mode client (the watcher's) shows nobody
anything, and prints an empty line."""


def visible_panes(tmux: Tmux) -> set[str]:
    """Every pane on someone's screen now: all the panes of each window an attached client
    (not a control-mode one) shows, but only the active one of a zoomed window. One tmux call."""
    lines = tmux.run(["list-clients", "-F", SHOWN_BY_PEOPLE], check=False)
    return {pane for line in lines for pane in line.split()[1:]}


def waiting_order(panes: Iterable[PaneInfo]) -> list[str]:
    """Names of the sessions that need the user (awaiting input, or stopped on an error), the one
    waiting longest first."""
    waiting = [p for p in panes if p.kind == "agent" and p.state in NEEDS_USER]
    waiting.sort(key=lambda p: (p.since or 0.0, p.name))
    return [p.name for p in waiting]


def next_in(order: Sequence[str], current: str | None) -> str | None:
    """The session after ``current`` in ``order``, cycling; the first when ``current`` is not in
    it. None when nothing waits."""
    if not order:
        return None
    if current in order:
        return order[(order.index(current) + 1) % len(order)]
    return order[0]


def next_waiting(panes: Sequence[PaneInfo], current_pane: str | None = None) -> str | None:
    """The next session awaiting input, after the one in ``current_pane`` (a pane id)."""
    current = next((p.name for p in panes if p.pane_id == current_pane), None)
    return next_in(waiting_order(panes), current)


def inside(tmux: Tmux) -> bool:
    """Whether this process runs inside a pane of ``tmux``'s server (not just any tmux)."""
    value = os.environ.get("TMUX", "")
    if not value:
        return False
    socket = value.split(",")[0]
    lines = tmux.run(["display-message", "-p", "#{socket_path}"], check=False)
    return bool(lines) and os.path.realpath(lines[0]) == os.path.realpath(socket)


def _my_client(tmux: Tmux) -> Client | None:
    """The client showing the session this process runs in (most recently active one)."""
    attached = clients(tmux)
    # TMUX_PANE names a pane of the server we run in, which need not be this one.
    here = os.environ.get("TMUX_PANE") if inside(tmux) else None
    session = ""
    if here:
        rows = tmux.query(["display-message", "-p", "-t", here], ("session_name",))
        session = rows[0]["session_name"] if rows else ""
    mine = [c for c in attached if c.session == session] or attached
    return max(mine, key=lambda c: c.activity, default=None)


def back_key_commands(tmux: Tmux) -> list[TmuxCommand]:
    """The key binding that brings the user back to the fleet's dashboard window.

    tmux key bindings are server-wide, so the binding works from any session: in a fleet it
    selects the current fleet's ``dashboard`` window, starting it again when it is gone,
    elsewhere it says so.
    """
    argv = [sys.executable, "-m", "orchestrator", *tmux.base_args()[1:], "jump", "--dashboard"]
    # run-shell expands formats (the fleet's name here) before the shell sees the line.
    line = f"{escape_format(shlex.join(argv))} --fleet #{{@orc_fleet}}"
    binding = _BACK_COMMAND.replace("{jump}", _tmux_quote(line))
    return [["bind-key", "-T", "prefix", BACK_KEY, binding]]


def _tmux_quote(text: str) -> str:
    """``text`` as one double-quoted word of tmux's command language (no $VAR expansion)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def install_back_key(tmux: Tmux) -> str | None:
    """Bind :data:`BACK_KEY` unless something else is bound to it: the user's own binding, or
    one of tmux's defaults (``M``, ``m``, ``L``...). None when bound; else why not, for people.
    """
    lines = tmux.run(["list-keys", "-T", "prefix", BACK_KEY], check=False)
    if lines and not any("@orc_fleet" in line for line in lines):
        words = lines[0].split()
        taken = " ".join(words[words.index("prefix") + 2 :]) if "prefix" in words else lines[0]
        return (
            f"the back key is not bound: prefix {BACK_KEY} already does `{taken}` "
            "(your binding or one of tmux's own)"
            f"; set ORCHESTRATOR_BACK_KEY to a free key, or unbind {BACK_KEY} first"
        )
    tmux.run(*back_key_commands(tmux), check=False)
    return None


def find_pane(tmux: Tmux, fleet: str, name: str) -> PaneInfo:
    """The agent pane of session ``name`` in ``fleet``."""
    for pane in list_sessions(tmux, fleet):
        if pane.name == name:
            return pane
    raise NotFoundError(
        f"no session named {name!r} in fleet {fleet!r}",
        hint="run `orchestrator status` to list sessions",
    )


def jump_to_pane(tmux: Tmux, pane_id: str, *, terminal: bool = True) -> list[str] | None:
    """Show ``pane_id``. Returns the attach command line the caller must run when outside tmux.

    Without a ``terminal`` to attach from (a script, a desktop notification's action), the most
    recently active client attached to the server is switched to the pane instead; with no
    client attached either, nothing changes and :class:`OrchestratorError` says so.
    """
    select: list[TmuxCommand] = [
        ["select-window", "-t", pane_id],
        ["select-pane", "-t", pane_id],
    ]
    here = inside(tmux)
    if here or not terminal:
        client = _my_client(tmux)
        if client is None and not here:
            raise OrchestratorError(
                "no tmux client is attached to show the pane, and there is no terminal to attach",
                hint=f"attach to the fleet first (`{' '.join(tmux.base_args())} attach`), "
                "or run this from a terminal",
            )
        if client is not None:
            select.append(["switch-client", "-c", client.tty, "-t", pane_id])
        tmux.run(*select)
        return None
    tmux.run(*select)
    return [*tmux.base_args(), "attach-session", "-t", pane_id]


def jump(tmux: Tmux, fleet: str, name: str, *, terminal: bool = True) -> list[str] | None:
    """Take the user to session ``name``; see :func:`jump_to_pane`."""
    return jump_to_pane(tmux, find_pane(tmux, fleet, name).pane_id, terminal=terminal)


def current_pane(tmux: Tmux) -> str | None:
    """The pane the user is looking at: this client's pane inside tmux, else the latest client's."""
    client = _my_client(tmux)
    return client.pane_id if client else None


def dashboard_pane(tmux: Tmux, fleet: str) -> str:
    """The pane of the fleet's dashboard window, started again when it is gone (`q` closes it)."""
    return ensure_service(tmux, fleet, "dashboard")
