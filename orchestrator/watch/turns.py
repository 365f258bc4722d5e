"""When each session's latest turn ended: what tells "finished" from plain idle.

A turn ends when a session goes from working or awaiting input to idle or exited, having begun
from idle (or exited): a fresh session reaching its first idle prompt has run no turn, even when it
printed on its way there (a shell's start-up output reads as working). Two sources, both cheap:
the watcher's ``transitions.jsonl``, read from where the last read stopped (so a turn shorter
than the time between two snapshots still counts, and a dashboard started later knows the turns
that ended before it), and the states the dashboard's own snapshots see (for a fleet without a
watcher).
A turn belongs to a pane: a restarted session (a new pane) starts with none.

Used by the dashboard (from its worker thread) and by check-ins (:mod:`orchestrator.watch.checkin`).
"""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.detect.model import State

TAIL = 256 * 1024
"""Bytes of the log read the first time (the latest turns), however long the log is."""
ACTIVE = frozenset({State.WORKING.value, State.AWAITING_INPUT.value})
"""States a turn is in."""
DONE = frozenset({State.IDLE.value, State.ERROR.value, State.EXITED.value})
"""States a turn ends in."""


class Turns:
    """The end of each session's latest turn, by session name."""

    def __init__(self, log: Path) -> None:
        self.log = log
        """The watcher's transitions log (it may not exist: no watcher)."""
        self._read_to: int | None = None
        self._states: dict[str, tuple[str, str]] = {}
        self._ended: dict[str, tuple[str, float]] = {}
        self._from_rest: dict[str, tuple[str, bool]] = {}
        """Per session: the pane, and whether its current activity began from idle or exited."""

    def _see(self, name: str, pane_id: str, old: str | None, new: str, at: float) -> None:
        """Take in one change of state (``old`` None: not known)."""
        if new in ACTIVE and old not in ACTIVE:
            self._from_rest[name] = (pane_id, old in DONE)
        elif old in ACTIVE and new in DONE and self._from_rest.get(name) == (pane_id, True):
            self._ended[name] = (pane_id, at)

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
            at, old, new = record.get("at"), record.get("old"), record.get("new")
            if isinstance(at, int | float) and isinstance(new, str):
                old_state = old if isinstance(old, str) else None
                self._see(
                    str(record.get("session")), str(record.get("pane_id")), old_state, new, at
                )

    def note(
        self, name: str, pane_id: str, state: str, since: float | None, started: float = 0.0
    ) -> float | None:
        """Take in a session's state as a snapshot saw it; return when its latest turn ended
        while it is idle or exited after one, else None. A pane is its id and ``started`` (when
        its agent started): tmux reuses ids on a new server, and a turn that ended before the
        pane started was an earlier pane's."""
        before = self._states.get(name)
        self._states[name] = (pane_id, state)
        old = before[1] if before is not None and before[0] == pane_id else None
        if old != state:
            self._see(name, pane_id, old, state, since if since is not None else 0.0)
        ended = self._ended.get(name)
        if state not in DONE or ended is None or ended[0] != pane_id or ended[1] < started:
            return None
        return ended[1]
