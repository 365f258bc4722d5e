"""One report from start to end: find and summarise every agent's files (through the cache), read
our history, keep the sessions asked for, and compute the figures.

This is what the command line and the dashboard call; both then render the :class:`Report`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from orchestrator.errors import OrchestratorError
from orchestrator.report import prices as price_table
from orchestrator.report.analysis import Report, analyse, local, timezone_name
from orchestrator.report.attention import aider_folders, read_history
from orchestrator.report.cache import scan
from orchestrator.report.projects import Projects
from orchestrator.report.sessions import Filters, build_sessions, overlaps
from orchestrator.report.sources import AGENTS, Folders, default_folders
from orchestrator.store.db import Store


@dataclass(frozen=True)
class Request:
    """What a report is asked to cover."""

    claude_dirs: list[Path] = field(default_factory=list)
    """Claude config folders besides the default one."""
    codex_homes: list[Path] = field(default_factory=list)
    """Codex homes besides ``$CODEX_HOME`` or ``~/.codex``."""
    gemini_dirs: list[Path] = field(default_factory=list)
    """Gemini CLI ``.gemini`` folders besides the default one."""
    aider_dirs: list[Path] = field(default_factory=list)
    """Folders with an aider chat history, besides those our history saw aider run in."""
    agent: str | None = None
    """Keep sessions of this agent only."""
    since: str | None = None
    """Keep sessions that start at or after this date or time (local)."""
    until: str | None = None
    """Keep sessions that start before this time, or on or before this date (local)."""
    project: str | None = None
    """Keep sessions of the project this folder belongs to."""
    fleet: str | None = None
    """Keep conversations our history links to this fleet."""
    prices: Path | None = None
    """A prices file replacing the shipped one."""
    workers: int | None = None
    """Reading processes (default: up to two)."""


def parse_when(text: str, option: str, *, end_of_day: bool = False) -> float:
    """``YYYY-MM-DD`` or an ISO date and time, in local time unless it names its zone.

    A bare date as the end of a window (``end_of_day``) means up to the end of that day.
    """
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            when = datetime(day.year, day.month, day.day)
            if end_of_day:
                when += timedelta(days=1)
        else:
            when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise OrchestratorError(
            f"{option} {text!r}: not a date or time",
            hint=f"write {option} 2026-11-30 or {option} 2026-11-30T14:00",
        ) from exc
    return when.timestamp() if when.tzinfo else when.astimezone().timestamp()


def make_report(request: Request, store: Store, *, now: float | None = None) -> Report:
    """The report ``request`` asks for, from the transcripts and the history in ``store``."""
    now = time.time() if now is None else now
    since = None if request.since is None else parse_when(request.since, "--since")
    until = None if request.until is None else parse_when(request.until, "--until", end_of_day=True)
    if since is not None and until is not None and until <= since:
        raise OrchestratorError(
            f"--until {request.until} is not after --since {request.since}",
            hint="give a window whose end comes after its start",
        )
    if request.agent is not None and request.agent not in AGENTS:
        raise OrchestratorError(
            f"--agent {request.agent}: the report reads no files of this agent",
            hint=f"give one of {', '.join(AGENTS)}",
        )
    prices = price_table.load(request.prices)
    folders = _folders(request, store)
    scanned = scan(folders, store, workers=request.workers)
    facts = read_history(store, now)
    projects = Projects()
    project = None
    if request.project is not None:
        project = projects.of(str(Path(request.project).expanduser().absolute()))
    filters = Filters(since, until, project, request.fleet, request.agent)
    everything = build_sessions(scanned.summaries, facts, projects)
    kept = [s for s in everything if filters.keep(s)]
    found = overlaps(kept)
    kept_paths = {s.summary.path for s in kept}
    # Lines skipped count for the report's sessions, and for transcripts that hold no session
    # at all (no window or filter can place them, and a wholly broken file must not go unsaid).
    counted = [s for s in scanned.summaries if s.path in kept_paths or s.start is None]
    window = {
        "since": None if since is None else local(since).isoformat(timespec="seconds"),
        "until": None if until is None else local(until).isoformat(timespec="seconds"),
        "timezone": timezone_name(),
    }
    report = analyse(
        kept,
        found,
        prices,
        window,
        skipped_lines=sum(s.skipped_lines for s in counted),
        skipped_files=len(scanned.failed),
    )
    report.data["sources"] = {
        "claude_dirs": [str(d) for d in folders.claude],
        "codex_homes": [str(d) for d in folders.codex],
        "gemini_dirs": [str(d) for d in folders.gemini],
        "aider_dirs": [str(d) for d in folders.aider],
        "transcripts": len(scanned.summaries) + len(scanned.failed),
        "read": scanned.read,
        "cached": scanned.cached,
        "database": str(store.path),
    }
    file_warnings = [f"{path}: cannot be read ({why}); skipped" for path, why in scanned.failed]
    file_warnings += [
        f"{s.path}: {s.skipped_lines} line(s) skipped (malformed, cut short, or of an unknown"
        " record type)"
        for s in counted
        if s.skipped_lines
    ]
    report.warnings[:0] = file_warnings
    return report


def _folders(request: Request, store: Store) -> Folders:
    def given(paths: list[Path]) -> list[Path]:
        return [Path(p).expanduser() for p in paths]

    found = default_folders([Path(p) for p in aider_folders(store)])
    return Folders(
        claude=[*found.claude, *given(request.claude_dirs)],
        codex=[*found.codex, *given(request.codex_homes)],
        gemini=[*found.gemini, *given(request.gemini_dirs)],
        aider=[*found.aider, *given(request.aider_dirs)],
    )
