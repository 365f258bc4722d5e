"""The panes the tool tagged, as tmux lists them: every later command finds the fleet this way.

Each pane carries tmux user options (``@orc_fleet``, ``@orc_session``, ``@orc_state``...), so one
``list-panes -a`` call tells any process which fleet and session a pane is and what the watcher last
published about it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from orchestrator.tmux.client import Tmux

PANE_FIELDS = (
    "pane_id",
    "pane_pid",
    "pane_dead",
    "pane_dead_status",
    "pane_dead_signal",
    "pane_title",
    "pane_current_path",
    "pane_current_command",
    "pane_width",
    "pane_height",
    "session_name",
    "window_name",
    "window_index",
    "pane_index",
    "pane_active",
    "window_active",
    "@orc_fleet",
    "@orc_session",
    "@orc_kind",
    "@orc_role",
    "@orc_agent",
    "@orc_cwd",
    "@orc_started",
    "@orc_state",
    "@orc_since",
    "@orc_reason",
    "@orc_source",
    "@orc_branch",
    "@orc_base",
    "@orc_worktree",
    "@orc_repo",
    "@orc_resumed",
    "@orc_waiting_for",
)


@dataclass(frozen=True)
class PaneInfo:
    """One tagged pane as tmux reports it."""

    fleet: str
    name: str
    kind: str
    role: str
    agent: str
    cwd: str
    pane_id: str
    pane_pid: int | None
    dead: bool
    dead_status: int | None
    dead_signal: int | None
    title: str
    current_command: str
    width: int
    height: int
    window: str
    active: bool
    """The active pane of its window."""
    window_active: bool
    """Its window is the session's current window."""
    started: float | None
    state: str
    since: float | None
    reason: str
    source: str
    branch: str = ""
    """The session's own branch (worktree sessions only)."""
    base: str = ""
    """The branch the session's branch is compared with and merged into."""
    worktree: str = ""
    """The session's worktree folder."""
    repo: str = ""
    """The main work tree of the session's repository."""
    resumed: str = ""
    """The Claude conversation id this run of the agent continues (empty: a new one)."""
    waiting_for: tuple[str, ...] = ()
    """What the session's prompt still waits for: ``after`` sessions and ``needs`` files."""

    @classmethod
    def from_row(cls, row: dict[str, str]) -> PaneInfo:
        """Build from a :meth:`Tmux.query` row of :data:`PANE_FIELDS`."""
        return cls(
            fleet=row.get("@orc_fleet", ""),
            name=row.get("@orc_session", ""),
            kind=row.get("@orc_kind", ""),
            role=row.get("@orc_role", ""),
            agent=row.get("@orc_agent", ""),
            cwd=row.get("@orc_cwd", "") or row.get("pane_current_path", ""),
            pane_id=row.get("pane_id", ""),
            pane_pid=_int(row.get("pane_pid")),
            dead=row.get("pane_dead") == "1",
            dead_status=_int(row.get("pane_dead_status")),
            dead_signal=_int(row.get("pane_dead_signal")),
            title=row.get("pane_title", ""),
            current_command=row.get("pane_current_command", ""),
            width=_int(row.get("pane_width")) or 0,
            height=_int(row.get("pane_height")) or 0,
            window=row.get("window_name", ""),
            active=row.get("pane_active") == "1",
            window_active=row.get("window_active") == "1",
            started=_float(row.get("@orc_started")),
            state=row.get("@orc_state", ""),
            since=_float(row.get("@orc_since")),
            reason=row.get("@orc_reason", ""),
            source=row.get("@orc_source", ""),
            branch=row.get("@orc_branch", ""),
            base=row.get("@orc_base", ""),
            worktree=row.get("@orc_worktree", ""),
            repo=row.get("@orc_repo", ""),
            resumed=row.get("@orc_resumed", ""),
            waiting_for=_json_list(row.get("@orc_waiting_for", "")),
        )


def _json_list(value: str) -> tuple[str, ...]:
    if not value:
        return ()
    try:
        data = json.loads(value)
    except ValueError:
        return ()
    return tuple(str(item) for item in data) if isinstance(data, list) else ()


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def list_panes(tmux: Tmux, fleet: str | None = None) -> list[PaneInfo]:
    """Every pane the tool tagged, on the whole server (one tmux call)."""
    rows = tmux.query(["list-panes", "-a"], PANE_FIELDS)
    panes = [PaneInfo.from_row(row) for row in rows if row.get("@orc_fleet")]
    if fleet is not None:
        panes = [pane for pane in panes if pane.fleet == fleet]
    return panes


def list_sessions(tmux: Tmux, fleet: str | None = None) -> list[PaneInfo]:
    """The agent panes (not dashboards) the tool finds on the server."""
    return [pane for pane in list_panes(tmux, fleet) if pane.kind == "agent"]


def fleet_names(tmux: Tmux) -> list[str]:
    """Names of the fleets on the server, in the order tmux lists them."""
    rows = tmux.query(["list-sessions"], ("session_name", "@orc_fleet"))
    return [row["session_name"] for row in rows if row.get("@orc_fleet")]
