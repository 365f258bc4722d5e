"""The writes to the history: fleets, sessions, state transitions, prompts and Claude sessions.

:class:`Writes` is the writing half of ``Store`` (:mod:`orchestrator.store.db`). Every public
method is one committed transaction, begun with ``BEGIN IMMEDIATE`` so that it holds the write
lock from the start: a read-then-write (the idempotency check of :meth:`Writes.record_transition`)
cannot interleave with another process's write. A write about a session records its fleet and
the session first if they are new, so callers never have to.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from orchestrator.store.queries import Queries
from orchestrator.store.records import (
    ClaudeSession,
    FleetRecord,
    Handoff,
    Prompt,
    SessionRecord,
    Transition,
    path_column,
)


class Writes(Queries):
    """Recording what happens to fleets and sessions, through an open connection."""

    def upsert_fleet(
        self, name: str, layout_path: Path | None = None, *, at: float | None = None
    ) -> FleetRecord:
        """Record a fleet, or update its layout path (None keeps the one recorded)."""
        now = time.time() if at is None else at
        with self._write() as conn:
            conn.execute(
                "INSERT INTO fleets (name, layout_path, created_at, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                " layout_path = coalesce(excluded.layout_path, layout_path),"
                " updated_at = excluded.updated_at",
                (name, path_column(layout_path), now, now),
            )
        record = self.fleet(name)
        assert record is not None
        return record

    def upsert_session(
        self,
        fleet: str,
        name: str,
        *,
        role: str | None = None,
        agent: str | None = None,
        cwd: Path | None = None,
        pane_id: str | None = None,
        at: float | None = None,
    ) -> SessionRecord:
        """Record a session, or update the fields given (None keeps what is recorded)."""
        with self._write_session(fleet, name, at) as (conn, now):
            conn.execute(
                "UPDATE sessions SET role = coalesce(?, role), agent = coalesce(?, agent),"
                " cwd = coalesce(?, cwd), pane_id = coalesce(?, pane_id), updated_at = ?"
                " WHERE fleet = ? AND name = ?",
                (role, agent, path_column(cwd), pane_id, now, fleet, name),
            )
        record = self.session(fleet, name)
        assert record is not None
        return record

    def record_transition(
        self,
        fleet: str,
        session: str,
        to_state: str,
        *,
        source: str,
        reason: str = "",
        at: float | None = None,
        key: str | None = None,
    ) -> Transition | None:
        """Record that a session's state became ``to_state``; return the new row, or None.

        The idempotency rule, which makes a killed-and-restarted watcher safe: a transition is
        recorded only if ``to_state`` differs from the session's latest recorded state and, when
        ``key`` is given, no transition of the session has that key yet. Otherwise nothing is
        written and None is returned. ``from_state`` is always the latest recorded state, so a
        session's transitions form an unbroken chain. The check and the insert are one
        transaction under the write lock, so concurrent writers cannot both insert.
        """
        to_state = str(to_state)
        with self._write_session(fleet, session, at) as (conn, now):
            if key is not None:
                seen = conn.execute(
                    "SELECT 1 FROM transitions WHERE fleet = ? AND session = ? AND key = ?",
                    (fleet, session, key),
                ).fetchone()
                if seen is not None:
                    return None
            row = conn.execute(
                "SELECT state FROM sessions WHERE fleet = ? AND name = ?", (fleet, session)
            ).fetchone()
            from_state: str | None = row[0]
            if from_state == to_state:
                return None
            cursor = conn.execute(
                "INSERT INTO transitions (fleet, session, from_state, to_state, at, source,"
                " reason, key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (fleet, session, from_state, to_state, now, source, reason, key),
            )
            conn.execute(
                "UPDATE sessions SET state = ?, state_at = ?, updated_at = ?"
                " WHERE fleet = ? AND name = ?",
                (to_state, now, now, fleet, session),
            )
        assert cursor.lastrowid is not None
        return Transition(
            cursor.lastrowid, fleet, session, from_state, to_state, now, source, reason, key
        )

    def add_prompt(
        self, fleet: str, session: str, text: str, *, source: str, at: float | None = None
    ) -> Prompt:
        """Record a prompt sent to a session."""
        with self._write_session(fleet, session, at) as (conn, now):
            cursor = conn.execute(
                "INSERT INTO prompts (fleet, session, at, text, source) VALUES (?, ?, ?, ?, ?)",
                (fleet, session, now, text, source),
            )
        assert cursor.lastrowid is not None
        return Prompt(cursor.lastrowid, fleet, session, now, text, source)

    def add_handoff(
        self,
        fleet: str,
        session: str,
        *,
        after: Sequence[str] = (),
        files: Sequence[Mapping[str, object]] = (),
        detail: str = "",
        at: float | None = None,
    ) -> Handoff:
        """Record that ``session`` got its prompt once ``after`` were done and ``files`` found."""
        after_text = ",".join(after)
        files_text = json.dumps(list(map(dict, files)))
        with self._write_session(fleet, session, at) as (conn, now):
            cursor = conn.execute(
                "INSERT INTO handoffs (fleet, session, at, after, files, detail)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (fleet, session, now, after_text, files_text, detail),
            )
        assert cursor.lastrowid is not None
        return Handoff(cursor.lastrowid, fleet, session, now, after_text, files_text, detail)

    def note_claude_session(
        self,
        fleet: str,
        session: str,
        claude_session_id: str,
        *,
        transcript_path: Path | None = None,
        at: float | None = None,
    ) -> ClaudeSession:
        """Record that a session runs Claude Code session ``claude_session_id`` (seen at ``at``).

        Safe to call on every sighting: it updates ``last_seen`` (never moving it back) and keeps
        the first ``first_seen``. The session's ``claude_session_id`` becomes this one.
        """
        with self._write_session(fleet, session, at) as (conn, now):
            conn.execute(
                "INSERT INTO claude_sessions (fleet, session, claude_session_id, first_seen,"
                " last_seen, transcript_path) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (fleet, session, claude_session_id) DO UPDATE SET"
                " first_seen = min(first_seen, excluded.first_seen),"
                " last_seen = max(last_seen, excluded.last_seen),"
                " transcript_path = coalesce(excluded.transcript_path, transcript_path)",
                (fleet, session, claude_session_id, now, now, path_column(transcript_path)),
            )
            conn.execute(
                "UPDATE sessions SET claude_session_id = ?, updated_at = ?"
                " WHERE fleet = ? AND name = ?",
                (claude_session_id, now, fleet, session),
            )
            # Read inside the transaction: the row as this write left it.
            record = self.claude_session(fleet, session, claude_session_id)
        assert record is not None
        return record

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so a read-then-write (the idempotency check)
        # cannot interleave with another process's write, and waits under busy_timeout instead
        # of failing with SQLITE_BUSY when upgrading a read.
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextlib.contextmanager
    def _write_session(
        self, fleet: str, session: str, at: float | None
    ) -> Iterator[tuple[sqlite3.Connection, float]]:
        # One transaction that first records the fleet and the session if they are new; yields
        # the connection and the time of the write (``at``, or now).
        now = time.time() if at is None else at
        with self._write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO fleets (name, created_at, updated_at) VALUES (?, ?, ?)",
                (fleet, now, now),
            )
            conn.execute(
                "INSERT OR IGNORE INTO sessions (fleet, name, created_at, updated_at)"
                " VALUES (?, ?, ?, ?)",
                (fleet, session, now, now),
            )
            yield conn, now
