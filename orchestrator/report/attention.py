"""What our own history adds to the transcripts: which fleet session ran a conversation, what
state it was in when, and each wait for the user.

The history (:mod:`orchestrator.store`) records every conversation a fleet session showed
(``claude_sessions``: its id and transcript path, from the session-start hook of Claude Code,
Codex CLI or Gemini CLI) and every state transition. aider has no hooks and no session id: an
aider session is linked to the fleet session of agent ``aider`` that ran in its folder while it
started. A *wait* is one
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
START_SLACK = 60.0
"""Seconds an aider session's written start may precede its fleet session's first state (aider
writes its start time to the second, in local time; the watcher sees the pane within seconds)."""


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
    by_folder: dict[str, list[tuple[Link, float]]] = field(default_factory=dict)
    """aider fleet sessions by their folder's real path, with their first state's time."""

    def link_of(self, session_id: str, path: str) -> Link | None:
        """The fleet session that showed the conversation, if the history knows one (``path``
        as the scan found it: under a resolved config folder)."""
        return self.by_path.get(path) or self.by_id.get(session_id)

    def folder_link(self, folder: str | None, start: float) -> Link | None:
        """The aider fleet session that ran in ``folder`` when a session began at ``start``: the
        latest to have started (up to :data:`START_SLACK` seconds after it) and still been seen
        at or after it."""
        if folder is None:
            return None
        runs = self.by_folder.get(os.path.realpath(folder), [])
        fits = [(first, link) for link, first in runs if first <= start + START_SLACK]
        fits = [(first, link) for first, link in fits if link.last_seen >= start]
        return max(fits, key=lambda pair: pair[0])[1] if fits else None

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
        aider = record.agent == "aider" and record.cwd is not None
        if seen_here or aider:
            # Only sessions that ran a conversation: no other session's states reach a report.
            key = (record.fleet, record.name)
            stretches = _stretches(store.transitions(record.name, fleet=record.fleet), now)
            facts.stretches[key] = stretches
            if aider and stretches:
                link = Link(record.fleet, record.name, stretches[-1].end)
                folder = os.path.realpath(str(record.cwd))
                facts.by_folder.setdefault(folder, []).append((link, stretches[0].start))
    return facts


def aider_folders(store: Store) -> list[str]:
    """The folders our history saw aider sessions run in."""
    return sorted(
        {str(r.cwd) for r in store.sessions() if r.agent == "aider" and r.cwd is not None}
    )


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
