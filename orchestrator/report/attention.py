"""What our own history adds to the transcripts: which fleet session ran a conversation, what
state it was in when, and each wait for the user.

The history (:mod:`orchestrator.store`) records every Claude conversation a fleet session showed
(``claude_sessions``: its id and transcript path) and every state transition. A *wait* is one
stretch in ``awaiting_input``: from the transition into it until the next transition to another
state (a wait still open when the report runs lasts until then). A wait belongs to the
conversation its session was running when it began: the one that started last before it, or,
for a wait before any (a trust dialog at start-up), the session's first.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass, field

from orchestrator.store.db import Store
from orchestrator.store.records import Transition

AWAITING = "awaiting_input"
"""The state whose stretches are waits."""


@dataclass(frozen=True)
class Link:
    """A fleet session that showed a conversation."""

    fleet: str
    """The fleet."""
    name: str
    """The session's name in the fleet."""
    last_seen: float
    """When the history last saw the conversation there (epoch seconds)."""


@dataclass(frozen=True)
class Stretch:
    """A stretch of time a fleet session spent in one state."""

    state: str
    """The state."""
    start: float
    """When it began (epoch seconds)."""
    end: float
    """When the next state began, or the report's time for the latest one."""


@dataclass
class HistoryFacts:
    """The links and stretches the history holds."""

    by_id: dict[str, Link] = field(default_factory=dict)
    """Links by Claude session id."""
    by_path: dict[str, Link] = field(default_factory=dict)
    """Links by the transcript's real path."""
    stretches: dict[tuple[str, str], list[Stretch]] = field(default_factory=dict)
    """Per (fleet, session), its states in time order."""

    def link_of(self, session_id: str, path: str) -> Link | None:
        """The fleet session that showed the conversation, if the history knows one (``path``
        as the scan found it: under a resolved config folder)."""
        return self.by_path.get(path) or self.by_id.get(session_id)

    def waits(self, key: tuple[str, str]) -> list[Stretch]:
        """The waits of one fleet session, in time order."""
        return [s for s in self.stretches.get(key, []) if s.state == AWAITING]


def read_history(store: Store, now: float) -> HistoryFacts:
    """Every link and state stretch in the history."""
    facts = HistoryFacts()
    for record in store.sessions():
        seen_here = store.claude_sessions(record.fleet, record.name)
        for seen in seen_here:
            link = Link(seen.fleet, seen.session, seen.last_seen)
            old = facts.by_id.get(seen.claude_session_id)
            if old is None or old.last_seen <= link.last_seen:
                facts.by_id[seen.claude_session_id] = link
            if seen.transcript_path is not None:
                facts.by_path[os.path.realpath(seen.transcript_path)] = link
        if seen_here:
            # Only sessions that ran a conversation: no other session's states reach a report.
            key = (record.fleet, record.name)
            facts.stretches[key] = _stretches(
                store.transitions(record.name, fleet=record.fleet), now
            )
    return facts


def _stretches(transitions: list[Transition], now: float) -> list[Stretch]:
    out: list[Stretch] = []
    current: tuple[str, float] | None = None
    for t in transitions:
        if current is not None and current[0] == t.to_state:
            continue  # the same state with a new reason: one stretch
        if current is not None:
            out.append(Stretch(current[0], current[1], t.at))
        current = (t.to_state, t.at)
    if current is not None:
        out.append(Stretch(current[0], current[1], max(current[1], now)))
    return out


def assign_waits(starts: list[float], waits: list[Stretch]) -> list[list[Stretch]]:
    """Split one fleet session's waits among its conversations (their ``starts``, sorted)."""
    out: list[list[Stretch]] = [[] for _ in starts]
    if not starts:
        return out
    for wait in waits:
        index = bisect.bisect_right(starts, wait.start) - 1
        out[max(index, 0)].append(wait)
    return out
