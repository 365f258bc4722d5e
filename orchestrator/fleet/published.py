"""What a fleet's panes say about their sessions from tmux alone, without a watcher: the state
last published on them (or what a dead pane tells), and the rows ``status --json`` prints."""

from __future__ import annotations

import json

from orchestrator.detect.model import NO_STATUS
from orchestrator.fleet import worktrees as session_worktrees
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import PaneInfo, list_sessions

NOT_READ_YET = "started; the watcher has not read it yet"
"""The reason of a live pane nothing was published for since its agent started."""


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
    # A live pane's exit is this run's (its agent gone from under a shell) only if it was
    # published after the pane started; before, it belongs to the run a restart replaced.
    if pane.state == "exited" and (pane.since or 0.0) >= (pane.started or 0.0):
        return pane.state, pane.reason
    # Nothing published yet for this run of the agent: a fresh pane, or one just restarted
    # whose published state (exited, most often) belongs to the run before.
    return "starting", NOT_READ_YET


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
                "waiting_for": list(pane.waiting_for),
                **session_worktrees.status_fields(pane),
                "host": None,
            }
        )
    return rows


def dump_json(rows: list[dict[str, object]]) -> str:
    """The JSON document ``status --json`` prints."""
    return json.dumps({"sessions": rows}, indent=2)
