"""When each session's latest turn ended: what tells "finished" from plain idle in the dashboard.

A turn ends when a session goes from working or awaiting input to idle or exited. A fresh
session reaching its first idle prompt has run no turn. Two sources, both cheap: the watcher's
``transitions.jsonl``, read from where the last read stopped (so a turn shorter than the time
between two snapshots still counts, and a dashboard started later knows the turns that ended
before it), and the states the dashboard's own snapshots see (for a fleet without a watcher).
A turn belongs to a pane: a restarted session (a new pane) starts with none.

No Textual here: the backend uses it from its worker thread.
"""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.detect.model import State

TAIL = 256 * 1024
"""Bytes of the log read the first time (the latest turns), however long the log is."""
ACTIVE = frozenset({State.WORKING.value, State.AWAITING_INPUT.value})
"""States a turn is in."""
DONE = frozenset({State.IDLE.value, State.EXITED.value})
"""States a turn ends in."""


class Turns:
    """The end of each session's latest turn, by session name."""

    def __init__(self, log: Path) -> None:
        self.log = log
        """The watcher's transitions log (it may not exist: no watcher)."""
        self._read_to: int | None = None
        self._states: dict[str, tuple[str, str]] = {}
        self._ended: dict[str, tuple[str, float]] = {}

    def read_log(self) -> None:
        """Take in the turns the watcher logged since the last read."""
        try:
            with self.log.open("rb") as log:
                size = log.seek(0, 2)
                start = self._read_to
                if start is None or start > size:  # first read, or a new log
                    start = max(0, size - TAIL)
                log.seek(start)
                data = log.read(size - start)
        except OSError:
            return
        end = data.rfind(b"\n") + 1
        self._read_to = start + end
        for line in data[:end].splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # the partial first line of a tail
            if not isinstance(record, dict):
                continue
            if record.get("old") in ACTIVE and record.get("new") in DONE:
                at = record.get("at")
                if isinstance(at, int | float):
                    self._ended[str(record.get("session"))] = (str(record.get("pane_id")), at)

    def note(self, name: str, pane_id: str, state: str, since: float | None) -> float | None:
        """Take in a session's state as a snapshot saw it; return when its latest turn ended
        while it is idle or exited after one, else None."""
        before = self._states.get(name)
        self._states[name] = (pane_id, state)
        was_active = before is not None and before[0] == pane_id and before[1] in ACTIVE
        if was_active and state in DONE and since is not None:
            self._ended[name] = (pane_id, since)
        ended = self._ended.get(name)
        if state not in DONE or ended is None or ended[0] != pane_id:
            return None
        return ended[1]
