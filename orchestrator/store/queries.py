"""The reads of the history: fleets, sessions, transitions, prompts and Claude sessions.

:class:`Queries` is the reading half of ``Store`` (:mod:`orchestrator.store.db`), which opens the
connection it reads through. Every query is a single ``SELECT``, so it sees one consistent
snapshot even while another process writes (WAL).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from orchestrator.store.records import (
    CLAUDE_COLUMNS,
    FLEET_COLUMNS,
    HANDOFF_COLUMNS,
    PROMPT_COLUMNS,
    SESSION_COLUMNS,
    TRANSITION_COLUMNS,
    ClaudeSession,
    FleetRecord,
    Handoff,
    Prompt,
    SessionRecord,
    Transition,
    claude_session_from_row,
    fleet_from_row,
    handoff_from_row,
    prompt_from_row,
    session_from_row,
    transition_from_row,
)


class Queries:
    """What the history holds, read through an open connection."""

    _conn: sqlite3.Connection

    def fleet(self, name: str) -> FleetRecord | None:
        """The fleet called ``name``, or None."""
        row = self._conn.execute(
            f"SELECT {FLEET_COLUMNS} FROM fleets WHERE name = ?",  # noqa: S608 (constant columns)
            (name,),
        ).fetchone()
        return None if row is None else fleet_from_row(row)

    def fleets(self) -> list[FleetRecord]:
        """All fleets, by name."""
        rows = self._conn.execute(
            f"SELECT {FLEET_COLUMNS} FROM fleets ORDER BY name"  # noqa: S608 (constant columns)
        ).fetchall()
        return [fleet_from_row(r) for r in rows]

    def session(self, fleet: str, name: str) -> SessionRecord | None:
        """The session ``name`` of ``fleet``, or None."""
        row = self._conn.execute(
            f"SELECT {SESSION_COLUMNS} FROM sessions"  # noqa: S608 (constant columns)
            " WHERE fleet = ? AND name = ?",
            (fleet, name),
        ).fetchone()
        return None if row is None else session_from_row(row)

    def sessions(self, fleet: str | None = None) -> list[SessionRecord]:
        """All sessions (of one fleet, if given), by fleet then name."""
        where, args = _where(fleet=fleet)
        rows = self._conn.execute(
            f"SELECT {SESSION_COLUMNS} FROM sessions{where}"  # noqa: S608 (bound values only)
            " ORDER BY fleet, name",
            args,
        ).fetchall()
        return [session_from_row(r) for r in rows]

    def transitions(
        self,
        session: str | None = None,
        *,
        fleet: str | None = None,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[Transition]:
        """Transitions, oldest first (newest last).

        Filtered by session name (in any fleet unless ``fleet`` is given), by ``at >= since``;
        ``limit`` keeps the newest ``limit`` of them.
        """
        where, args = _where(session=session, fleet=fleet, since=since)
        select = f"SELECT {TRANSITION_COLUMNS} FROM transitions{where}"  # noqa: S608 (bound)
        return [transition_from_row(r) for r in self._select_newest(select, args, limit)]

    def latest_transition(self, fleet: str, session: str) -> Transition | None:
        """The session's most recent transition, or None."""
        found = self.transitions(session, fleet=fleet, limit=1)
        return found[0] if found else None

    def prompts(
        self, session: str | None = None, *, fleet: str | None = None, limit: int | None = None
    ) -> list[Prompt]:
        """Prompts, oldest first, filtered like :meth:`transitions`."""
        where, args = _where(session=session, fleet=fleet)
        select = f"SELECT {PROMPT_COLUMNS} FROM prompts{where}"  # noqa: S608 (bound values)
        return [prompt_from_row(r) for r in self._select_newest(select, args, limit)]

    def handoffs(
        self,
        session: str | None = None,
        *,
        fleet: str | None = None,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[Handoff]:
        """Pipeline hand-offs, oldest first, filtered like :meth:`transitions`."""
        where, args = _where(session=session, fleet=fleet, since=since)
        select = f"SELECT {HANDOFF_COLUMNS} FROM handoffs{where}"  # noqa: S608 (bound values)
        return [handoff_from_row(r) for r in self._select_newest(select, args, limit)]

    def claude_session(
        self, fleet: str, session: str, claude_session_id: str
    ) -> ClaudeSession | None:
        """The Claude Code session ``claude_session_id`` as seen in a session, or None."""
        row = self._conn.execute(
            f"SELECT {CLAUDE_COLUMNS} FROM claude_sessions"  # noqa: S608 (constant columns)
            " WHERE fleet = ? AND session = ? AND claude_session_id = ?",
            (fleet, session, claude_session_id),
        ).fetchone()
        return None if row is None else claude_session_from_row(row)

    def claude_sessions(self, fleet: str, session: str) -> list[ClaudeSession]:
        """The Claude Code sessions seen in a session, least recently seen first."""
        rows = self._conn.execute(
            f"SELECT {CLAUDE_COLUMNS} FROM claude_sessions"  # noqa: S608 (constant columns)
            " WHERE fleet = ? AND session = ? ORDER BY last_seen, first_seen",
            (fleet, session),
        ).fetchall()
        return [claude_session_from_row(r) for r in rows]

    def latest_claude_session(self, fleet: str, session: str) -> ClaudeSession | None:
        """The Claude Code session seen most recently in a session: the one to ``--resume``."""
        found = self.claude_sessions(fleet, session)
        return found[-1] if found else None

    def transitions_after(
        self, after_id: int, *, fleet: str | None = None, limit: int = 1000
    ) -> list[Transition]:
        """Transitions recorded after the one with id ``after_id``, oldest first (at most
        ``limit``): what a reader following the history has not seen yet."""
        rows = self._after(TRANSITION_COLUMNS, "transitions", after_id, fleet, limit)
        return [transition_from_row(r) for r in rows]

    def prompts_after(
        self, after_id: int, *, fleet: str | None = None, limit: int = 1000
    ) -> list[Prompt]:
        """Prompts recorded after the one with id ``after_id``, like :meth:`transitions_after`."""
        return [
            prompt_from_row(r)
            for r in self._after(PROMPT_COLUMNS, "prompts", after_id, fleet, limit)
        ]

    def handoffs_after(
        self, after_id: int, *, fleet: str | None = None, limit: int = 1000
    ) -> list[Handoff]:
        """Hand-offs recorded after the one with id ``after_id``, like :meth:`transitions_after`."""
        return [
            handoff_from_row(r)
            for r in self._after(HANDOFF_COLUMNS, "handoffs", after_id, fleet, limit)
        ]

    def _after(
        self, columns: str, table: str, after_id: int, fleet: str | None, limit: int
    ) -> list[tuple[object, ...]]:
        where, args = _where(fleet=fleet, after_id=after_id)
        select = f"SELECT {columns} FROM {table}{where} ORDER BY id LIMIT ?"  # noqa: S608 (bound)
        return self._conn.execute(select, [*args, limit]).fetchall()

    def last_id(self, table: str) -> int:
        """The highest row id of ``table`` (one of the history's tables; 0 when it is empty)."""
        if table not in {"transitions", "prompts", "handoffs"}:
            raise ValueError(f"no such table: {table}")
        row = self._conn.execute(f"SELECT MAX(id) FROM {table}").fetchone()  # noqa: S608
        return int(row[0] or 0)

    def _select_newest(
        self, select: str, args: Sequence[object], limit: int | None
    ) -> list[tuple[object, ...]]:
        if limit is None:
            return self._conn.execute(select + " ORDER BY id", args).fetchall()
        rows = self._conn.execute(select + " ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
        rows.reverse()
        return rows


def _where(
    *,
    session: str | None = None,
    fleet: str | None = None,
    since: float | None = None,
    after_id: int | None = None,
) -> tuple[str, list[object]]:
    # Clauses come from this fixed list; values are always bound, never spliced in.
    clauses: list[str] = []
    args: list[object] = []
    for clause, value in (
        ("session = ?", session),
        ("fleet = ?", fleet),
        ("at >= ?", since),
        ("id > ?", after_id),
    ):
        if value is not None:
            clauses.append(clause)
            args.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args
