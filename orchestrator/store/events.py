"""The history as a stream of events: every transition, prompt and hand-off, in the order written.

An :class:`EventFeed` keeps, per table, the id of the last row it handed out, and each
:meth:`~EventFeed.read` returns the rows written since: a reader that is slow, or busy while
several rows arrive, misses none, and two reads never return a row twice. The history is the
source (not the watcher's in-memory states), so the stream holds what was recorded, by any
process, and ``since`` replays it. Waiting for new rows is the caller's part (``orchestrator
events`` sleeps on inotify on the database's folder).

Each event becomes one JSON object with the keys of :data:`KEYS`, always all of them.
"""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from orchestrator.store.queries import Queries
from orchestrator.store.records import Handoff, Prompt, Transition

_Row = TypeVar("_Row", Transition, Prompt, Handoff)

KEYS = ("at", "fleet", "session", "kind", "from", "to", "reason")
"""The keys of every event's JSON object, in order (``from``/``to`` may be null)."""
BATCH = 1000
"""Rows read per query; a read repeats until a table has nothing more."""


@dataclass(frozen=True)
class Event:
    """One thing that happened to a session."""

    at: float
    """When (epoch seconds): a transition's state began, a prompt was sent, a hand-off made."""
    fleet: str
    session: str
    kind: str
    """``transition``, ``prompt`` or ``handoff``."""
    old: str | None
    """A transition's previous state; a prompt's sender (layout, dashboard, ...); a hand-off's
    producers (comma-separated)."""
    new: str | None
    """A transition's new state (None for the other kinds)."""
    reason: str
    """A transition's reason; a prompt's text; a hand-off's description."""

    def to_json(self) -> dict[str, object]:
        """The event as ``events --json`` prints it."""
        values = (self.at, self.fleet, self.session, self.kind, self.old, self.new, self.reason)
        return dict(zip(KEYS, values, strict=True))

    def json_line(self) -> str:
        """One line of JSON (no newline inside: reasons' newlines are escaped)."""
        return json.dumps(self.to_json(), ensure_ascii=False)

    def text(self) -> str:
        """One line for people."""
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.at))
        what = " ".join(self.reason.split())
        if self.kind == "transition":
            change = f"{self.old or '-'} -> {self.new}"
            return f"{when} {self.fleet}/{self.session} {change}" + (f": {what}" if what else "")
        return f"{when} {self.fleet}/{self.session} {self.kind} ({self.old}): {what}"


class EventFeed:
    """Reads the events recorded after the last read (or after ``since``, the first time)."""

    def __init__(
        self, store: Queries, *, fleet: str | None = None, since: float | None = None
    ) -> None:
        self.store = store
        self.fleet = fleet
        self.since = since
        """Replay from this time (None: only events recorded from now on)."""
        start = (lambda _: 0) if since is not None else store.last_id
        self.cursors = {table: start(table) for table in ("transitions", "prompts", "handoffs")}

    def read(self) -> list[Event]:
        """Every event recorded since the last read."""
        store = self.store
        # Each table in the order it was written (a session's transitions form a chain, even
        # when a later one is dated earlier by the signal that decided it); the tables merged
        # by time.
        merged = heapq.merge(
            self._drain("transitions", store.transitions_after, _from_transition),
            self._drain("prompts", store.prompts_after, _from_prompt),
            self._drain("handoffs", store.handoffs_after, _from_handoff),
            key=lambda event: event.at,
        )
        return [e for e in merged if self.since is None or e.at >= self.since]

    def _drain(
        self,
        table: str,
        fetch: Callable[..., Sequence[_Row]],
        convert: Callable[[_Row], Event],
    ) -> list[Event]:
        found: list[Event] = []
        while True:
            rows = fetch(self.cursors[table], fleet=self.fleet, limit=BATCH)
            for row in rows:
                found.append(convert(row))
                self.cursors[table] = row.id
            if len(rows) < BATCH:
                return found


def _from_transition(row: Transition) -> Event:
    return Event(
        row.at, row.fleet, row.session, "transition", row.from_state, row.to_state, row.reason
    )


def _from_prompt(row: Prompt) -> Event:
    return Event(row.at, row.fleet, row.session, "prompt", row.source, None, row.text)


def _from_handoff(row: Handoff) -> Event:
    return Event(row.at, row.fleet, row.session, "handoff", row.after, None, row.detail)
