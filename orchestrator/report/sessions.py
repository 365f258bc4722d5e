"""From session summaries (of every agent) to the report's sessions: their project, their fleet
session, their waits and states from our history, the filters, and which ran in parallel.

Overlaps are found by a sweep over the sessions sorted by start: each session is compared only
with those that start before it ends, so a report over thousands of sessions that rarely overlap
costs little more than sorting them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from orchestrator.report.attention import HistoryFacts, Link, Stretch, assign_waits
from orchestrator.report.projects import Projects
from orchestrator.report.transcript import Summary

SIGNIFICANT_S = 30 * 60
"""An overlap longer than this (seconds) is significant and makes both sessions parallel."""


@dataclass
class Session:
    """One transcript with a start, and what the report learns about it."""

    summary: Summary
    """What the transcript says."""
    start: float
    """Its start (epoch seconds)."""
    end: float
    """Its end (epoch seconds)."""
    project: str
    """The repository (or folder) it ran in."""
    link: Link | None = None
    """The fleet session that ran it, if our history knows."""
    waits: list[Stretch] = field(default_factory=list)
    """Its waits for the user, from our history."""
    states: list[Stretch] = field(default_factory=list)
    """Its fleet session's states while it ran, from our history."""
    parallel: bool = False
    """It has at least one significant overlap."""

    @property
    def hours(self) -> float:
        """End minus start, in hours."""
        return (self.end - self.start) / 3600


@dataclass(frozen=True)
class Overlap:
    """Two sessions that ran at the same time."""

    first: Session
    """The one that started first."""
    second: Session
    """The other."""
    seconds: float
    """The length of the intersection of their spans."""


@dataclass(frozen=True)
class Filters:
    """Which sessions a report keeps."""

    since: float | None = None
    """Keep sessions starting at or after this (epoch seconds)."""
    until: float | None = None
    """Keep sessions starting before this (epoch seconds)."""
    project: str | None = None
    """Keep sessions of this project (already resolved like a session's)."""
    fleet: str | None = None
    """Keep conversations our history links to this fleet."""
    agent: str | None = None
    """Keep sessions of this agent."""

    def keep(self, session: Session) -> bool:
        """Whether ``session`` is in the report."""
        if self.since is not None and session.start < self.since:
            return False
        if self.until is not None and session.start >= self.until:
            return False
        if self.project is not None and session.project != self.project:
            return False
        if self.agent is not None and session.summary.agent != self.agent:
            return False
        return self.fleet is None or (session.link is not None and session.link.fleet == self.fleet)


def build_sessions(
    summaries: Iterable[Summary], facts: HistoryFacts, projects: Projects
) -> list[Session]:
    """Every summary with a start as a :class:`Session`, linked to our history, by start."""
    sessions: list[Session] = []
    for summary in summaries:
        if summary.start is None or summary.end is None:
            continue
        session = Session(summary, summary.start, summary.end, projects.of(summary.cwd))
        if summary.agent == "aider":
            session.link = facts.folder_link(summary.cwd, summary.start)
        else:
            session.link = facts.link_of(summary.session_id, summary.path)
        sessions.append(session)
    sessions.sort(key=lambda s: (s.start, s.summary.path))
    by_fleet_session: dict[tuple[str, str], list[Session]] = {}
    for session in sessions:
        if session.link is not None:
            key = (session.link.fleet, session.link.name)
            by_fleet_session.setdefault(key, []).append(session)
    for key, runs in by_fleet_session.items():
        shares = assign_waits([s.start for s in runs], facts.waits(key))
        stretches = facts.stretches.get(key, [])
        for run, waits in zip(runs, shares, strict=True):
            run.waits = waits
            until = max([run.end, *(w.end for w in waits)])
            run.states = [
                Stretch(s.state, max(s.start, run.start), min(s.end, until))
                for s in stretches
                if s.end > run.start and s.start < until
            ]
    return sessions


def overlaps(sessions: list[Session]) -> list[Overlap]:
    """Every pair of sessions whose spans intersect for a positive time; marks the parallel ones.

    ``sessions`` must be sorted by start.
    """
    found: list[Overlap] = []
    for i, first in enumerate(sessions):
        for second in sessions[i + 1 :]:
            if second.start >= first.end:
                break
            seconds = min(first.end, second.end) - second.start
            if seconds <= 0:
                continue
            found.append(Overlap(first, second, seconds))
            if seconds > SIGNIFICANT_S:
                first.parallel = second.parallel = True
    return found
