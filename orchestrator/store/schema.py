"""The history's tables, and the migrations that bring any older file up to them.

``MIGRATIONS[i]`` brings the schema from version ``i`` to version ``i + 1``; the version a file
has lives in its ``PRAGMA user_version`` (0 for a new, empty file). Opening a store applies the
missing steps in one write transaction (see ``Store`` in :mod:`orchestrator.store.db`), so a
file is either fully migrated or left as it was.
"""

from __future__ import annotations

import sqlite3

# To change the schema, append a step: never edit a released one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE fleets (
            name TEXT PRIMARY KEY,
            layout_path TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
        """CREATE TABLE sessions (
            fleet TEXT NOT NULL,
            name TEXT NOT NULL,
            role TEXT,
            agent TEXT,
            cwd TEXT,
            pane_id TEXT,
            claude_session_id TEXT,
            state TEXT,
            state_at REAL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (fleet, name)
        )""",
        """CREATE TABLE transitions (
            id INTEGER PRIMARY KEY,
            fleet TEXT NOT NULL,
            session TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            at REAL NOT NULL,
            source TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            key TEXT,
            UNIQUE (fleet, session, key)
        )""",
        "CREATE INDEX transitions_by_session ON transitions (session, fleet, id)",
        """CREATE TABLE prompts (
            id INTEGER PRIMARY KEY,
            fleet TEXT NOT NULL,
            session TEXT NOT NULL,
            at REAL NOT NULL,
            text TEXT NOT NULL,
            source TEXT NOT NULL
        )""",
        "CREATE INDEX prompts_by_session ON prompts (session, fleet, id)",
        """CREATE TABLE claude_sessions (
            fleet TEXT NOT NULL,
            session TEXT NOT NULL,
            claude_session_id TEXT NOT NULL,
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL,
            transcript_path TEXT,
            PRIMARY KEY (fleet, session, claude_session_id)
        )""",
    ),
    (
        # Pipelines: a session that waited (``after``/``needs``) got its prompt. ``files`` is a
        # JSON list of {"name", "from", "to", "copied"}: each needed file, the folder it was
        # found in, where the consumer reads it, and whether it was copied there.
        """CREATE TABLE handoffs (
            id INTEGER PRIMARY KEY,
            fleet TEXT NOT NULL,
            session TEXT NOT NULL,
            at REAL NOT NULL,
            after TEXT NOT NULL DEFAULT '',
            files TEXT NOT NULL DEFAULT '[]',
            detail TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX handoffs_by_session ON handoffs (session, fleet, id)",
    ),
    (
        # `orchestrator report`'s cache: one summary per Claude Code transcript, valid while the
        # file keeps its size and modification time (and the parser its version).
        """CREATE TABLE transcript_summaries (
            path TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            parser INTEGER NOT NULL,
            summary BLOB NOT NULL,
            read_at REAL NOT NULL
        )""",
    ),
)
"""The steps from an empty file to the current schema, oldest first."""
SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this orchestrator reads and writes."""


def user_version(conn: sqlite3.Connection) -> int:
    """The schema version of the open database (0 for a new file)."""
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, version: int) -> None:
    """Bring a database at schema ``version`` (not newer than ours) to :data:`SCHEMA_VERSION`.

    Runs inside the caller's write transaction, which must have read ``version`` under it.
    """
    for step in range(version, SCHEMA_VERSION):
        for statement in MIGRATIONS[step]:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
