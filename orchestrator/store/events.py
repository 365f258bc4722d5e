"""The history as a stream of events: every transition, prompt and hand-off, in the order written.

An :class:`EventFeed` keeps, per table, the id of the last row it handed out, and each
:meth:`~EventFeed.read` returns the rows written since: a reader that is slow, or busy while
several rows arrive, misses none, and two reads never return a row twice. The history is the
source (not the watcher's in-memory states), so the stream holds what was recorded, by any
process, and ``since`` replays it. Waiting for new rows is the caller's part (``orchestrator
events`` sleeps on inotify on the database's folder).

Each event becomes one JSON object with the keys of :data:`KEYS`, always all of them. A feed's
position is a *cursor* (``T.P.H``: the last transition, prompt and hand-off ids handed out); a feed
made ``after`` a cursor goes on exactly from there, which is how this machine resumes a host's
stream after the connection dropped, with nothing missed and nothing twice.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from orchestrator.store.queries import Queries
from orchestrator.store.records import Handoff, Prompt, Transition

_Row = TypeVar("_Row", Transition, Prompt, Handoff)

KEYS = ("at", "fleet", "session", "kind", "from", "to", "reason", "host")
"""The keys of every event's JSON object, in order (``from``/``to`` may be null; ``host`` is null
for an event of this machine)."""
TABLES = ("transitions", "prompts", "handoffs")
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
    host: str | None = None
    """The host it happened on (None: this machine). A ``host`` event (``new`` is
    ``unreachable`` or ``back``, ``session`` empty) is about the connection to it."""
    cursor: str | None = None
    """The feed's cursor just after this event (not printed unless asked for)."""

    def to_json(self) -> dict[str, object]:
        """The event as ``events --json`` prints it."""
        values = (
            self.at,
            self.fleet,
            self.session,
            self.kind,
            self.old,
            self.new,
            self.reason,
            self.host,
        )
        return dict(zip(KEYS, values, strict=True))

    def json_line(self) -> str:
        """One line of JSON (no newline inside: reasons' newlines are escaped)."""
        return json.dumps(self.to_json(), ensure_ascii=False)

    def text(self) -> str:
        """One line for people."""
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.at))
        what = " ".join(self.reason.split())
        if self.kind == "host":
            said = f": {what}" if what else ""
            return f"{when} {self.fleet} host {self.host} {self.new}{said}"
        who = f"{self.fleet}/{self.session}" + (f"@{self.host}" if self.host else "")
        if self.kind == "transition":
            change = f"{self.old or '-'} -> {self.new}"
            return f"{when} {who} {change}" + (f": {what}" if what else "")
        return f"{when} {who} {self.kind} ({self.old}): {what}"


def parse_cursor(text: str) -> dict[str, int]:
    """A cursor (``T.P.H``) as the last id handed out per table; ValueError when it is not one."""
    ids = [int(part) for part in text.split(".")]
    if len(ids) != len(TABLES) or min(ids) < 0:
        raise ValueError(f"not a cursor: {text!r}")
    return dict(zip(TABLES, ids, strict=True))


class EventFeed:
    """Reads the events recorded after the last read (or after ``since``, the first time)."""

    def __init__(
        self,
        store: Queries,
        *,
        fleet: str | None = None,
        since: float | None = None,
        after: dict[str, int] | None = None,
    ) -> None:
        self.store = store
        self.fleet = fleet
        self.since = since if after is None else None
        """Replay from this time (None: only events recorded from now on, or after ``after``)."""
        start = (lambda _: 0) if since is not None else store.last_id
        self.cursors = dict(after) if after is not None else {t: start(t) for t in TABLES}
        self.start = dict(self.cursors)
        """The cursors as the current read began."""

    def cursor(self) -> str:
        """Where the feed stands (``T.P.H``), for a later feed to go on ``after``."""
        return ".".join(str(self.cursors[table]) for table in TABLES)

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
        # Each event's cursor: every row of its table up to it, and of the other tables up to
        # the last one merged before it, has been handed out.
        upto = dict(self.start)
        found = []
        for event in merged:
            table, ident = event.cursor.split(":") if event.cursor else ("", "0")
            upto[table] = int(ident)
            if self.since is None or event.at >= self.since:
                found.append(dataclasses.replace(event, cursor=_cursor(upto)))
        return found

    def _drain(
        self,
        table: str,
        fetch: Callable[..., Sequence[_Row]],
        convert: Callable[[_Row], Event],
    ) -> list[Event]:
        found: list[Event] = []
        self.start[table] = self.cursors[table]
        while True:
            rows = fetch(self.cursors[table], fleet=self.fleet, limit=BATCH)
            for row in rows:
                found.append(dataclasses.replace(convert(row), cursor=f"{table}:{row.id}"))
                self.cursors[table] = row.id
            if len(rows) < BATCH:
                return found


def _cursor(ids: dict[str, int]) -> str:
    return ".".join(str(ids[table]) for table in TABLES)


def _from_transition(row: Transition) -> Event:
    return Event(
        row.at, row.fleet, row.session, "transition", row.from_state, row.to_state, row.reason
    )


def _from_prompt(row: Prompt) -> Event:
    return Event(row.at, row.fleet, row.session, "prompt", row.source, None, row.text)


def _from_handoff(row: Handoff) -> Event:
    return Event(row.at, row.fleet, row.session, "handoff", row.after, None, row.detail)
