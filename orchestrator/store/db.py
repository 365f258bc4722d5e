"""The history store: fleets, sessions, every state transition, prompts and Claude session ids.

One SQLite file (``paths.state_dir() / "history.sqlite3"``, or ``$ORCHESTRATOR_DB``, or the path a
caller gives) that survives crashes of any process using it:

- Every write is its own committed transaction, so a process killed at any moment leaves either
  the whole write or none of it.
- Recording a transition is idempotent (see :meth:`Store.record_transition`), so a watcher that is
  killed and restarted re-announces what it sees without doubling a transition.
- Several processes (a watcher, CLI commands) may use the file at once: WAL lets readers and one
  writer work side by side, and writers wait for each other up to :data:`BUSY_TIMEOUT_S`.
- A corrupt file is moved aside, never deleted and never silently reset: the store starts a fresh
  file and says so in :attr:`Store.recovered_from` and a logged warning.

A :class:`Store` holds one connection and is used from the thread that opened it (SQLite's
``check_same_thread`` enforces this); a watcher thread opens its own Store.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from orchestrator import paths
from orchestrator.errors import OrchestratorError

log = logging.getLogger(__name__)

ENV_VAR = "ORCHESTRATOR_DB"
"""Environment variable naming the history database file; overrides the default location."""

DEFAULT_NAME = "history.sqlite3"
BUSY_TIMEOUT_S = 10.0
"""How long a write waits for another process's write to finish before giving up."""

_SQLITE_HEADER = b"SQLite format 3\x00"
_CORRUPT_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_SIDE_FILES = ("-wal", "-shm")
_MOVED_FILES = ("", *_SIDE_FILES, "-journal")

# MIGRATIONS[i] brings the schema from version i to version i + 1; the version lives in
# PRAGMA user_version. To change the schema, append a step: never edit a released one.
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
)
SCHEMA_VERSION = len(MIGRATIONS)


class _Record:
    """Shared behaviour of the row types."""

    def to_json(self) -> dict[str, object]:
        """The row as JSON-ready values (paths become strings)."""
        assert dataclasses.is_dataclass(self)
        return {
            f.name: str(v) if isinstance(v, Path) else v
            for f in dataclasses.fields(self)
            for v in [getattr(self, f.name)]
        }


@dataclass(frozen=True)
class FleetRecord(_Record):
    """A fleet the tool has brought up at least once."""

    name: str
    """The fleet's name (its layout's name)."""
    layout_path: Path | None
    """The layout file it was last brought up from, if known."""
    created_at: float
    """When the fleet was first recorded (epoch seconds)."""
    updated_at: float
    """When the fleet's row last changed (epoch seconds)."""


@dataclass(frozen=True)
class SessionRecord(_Record):
    """One agent session of a fleet, with its latest recorded state."""

    fleet: str
    """The fleet it belongs to."""
    name: str
    """The session's name within the fleet."""
    role: str | None
    """The role the layout gave it."""
    agent: str | None
    """The agent profile it runs (``claude``, ``shell``, ...)."""
    cwd: Path | None
    """The folder the agent runs in."""
    pane_id: str | None
    """The tmux pane it was last seen in (``%12``)."""
    claude_session_id: str | None
    """The Claude Code session id it was last seen with."""
    state: str | None
    """The latest recorded state (the ``to_state`` of its latest transition), None before any."""
    state_at: float | None
    """When that state began (epoch seconds)."""
    created_at: float
    """When the session was first recorded (epoch seconds)."""
    updated_at: float
    """When the session's row last changed (epoch seconds)."""


@dataclass(frozen=True)
class Transition(_Record):
    """A change of a session's state."""

    id: int
    """Insertion order: a later transition has a larger id."""
    fleet: str
    """The fleet of the session."""
    session: str
    """The session's name."""
    from_state: str | None
    """The state before, which is always the previous transition's ``to_state`` (None at first)."""
    to_state: str
    """The state after."""
    at: float
    """When the change was seen (epoch seconds)."""
    source: str
    """Which signal decided it: ``hook``, ``screen``, ``process``, ``registry``, ..."""
    reason: str
    """Why, in words a person reads (``permission: Bash(rm -rf build)``)."""
    key: str | None
    """The caller's unique key for the event behind it, if it gave one."""


@dataclass(frozen=True)
class Prompt(_Record):
    """A prompt sent to a session."""

    id: int
    """Insertion order."""
    fleet: str
    """The fleet of the session."""
    session: str
    """The session's name."""
    at: float
    """When it was sent (epoch seconds)."""
    text: str
    """The prompt as sent."""
    source: str
    """Who sent it: ``layout``, ``dashboard``, ``cli``, ..."""


@dataclass(frozen=True)
class ClaudeSession(_Record):
    """A Claude Code conversation seen in a session, resumable with ``claude --resume <id>``."""

    fleet: str
    """The fleet of the session."""
    session: str
    """The session's name."""
    claude_session_id: str
    """Claude Code's own session id."""
    first_seen: float
    """When it was first seen (epoch seconds)."""
    last_seen: float
    """When it was last seen (epoch seconds)."""
    transcript_path: Path | None
    """Claude Code's transcript file for it, if known."""


class _CorruptError(Exception):
    """The database file is not a usable SQLite database."""


def resolve_path(path: Path | str | None = None) -> Path:
    """The database file: ``path`` if given, else ``$ORCHESTRATOR_DB``, else the state folder's."""
    if path is not None:
        return Path(path).expanduser()
    override = os.environ.get(ENV_VAR, "")
    if override:
        return Path(override).expanduser()
    return paths.state_dir() / DEFAULT_NAME


def _is_corruption(exc: sqlite3.Error) -> bool:
    # Only these codes mean the file is bad. "database is locked" or "unable to open" are
    # OperationalErrors too, and must never lead to moving a user's file aside.
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _CORRUPT_CODES


def _opt_path(value: str | None) -> Path | None:
    return None if value is None else Path(value)


def _opt_str(value: Path | str | None) -> str | None:
    return None if value is None else str(value)


class Store:
    """The history database. Open it, use it from one thread, close it (or use ``with``)."""

    def __init__(self, path: Path | str | None = None, *, check: bool = True) -> None:
        """Open (creating if needed) the history database.

        ``path`` overrides ``$ORCHESTRATOR_DB`` and the default location. With ``check``, the file
        is verified with ``PRAGMA quick_check`` (a read of the whole file); a corrupt file is moved
        aside either way once SQLite reports it as such while opening.
        """
        self.path: Path = resolve_path(path)
        """The database file."""
        self.recovered_from: Path | None = None
        """Where a corrupt database found on open was moved to; None if it was sound."""
        self.recovery_reason: str | None = None
        """What was wrong with that database."""
        self._check = check
        self._prepare_folder()
        with self._open_lock():
            try:
                conn = self._connect()
            except _CorruptError as exc:
                self._move_aside(str(exc))
                try:
                    conn = self._connect()
                except _CorruptError as again:
                    raise OrchestratorError(
                        f"cannot create a fresh history database at {self.path}: {again}"
                    ) from again
            self._conn = conn
            try:
                self._migrate()
            except BaseException:
                conn.close()
                raise
        self._restrict_files()

    # -- opening ---------------------------------------------------------------------------

    def _prepare_folder(self) -> None:
        folder = self.path.parent
        # Our own state folder is always made private; a folder the user chose (argument or
        # ORCHESTRATOR_DB) is made private only if we create it, else its mode is theirs.
        if self.path == paths.state_dir() / DEFAULT_NAME or not folder.exists():
            paths.ensure_private_dir(folder)

    @contextlib.contextmanager
    def _open_lock(self) -> Iterator[None]:
        # Checking, moving aside and migrating happen under an exclusive lock, so that two
        # processes opening a corrupt file at once cannot both move it (the second would move
        # aside the fresh file the first just made).
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise OrchestratorError(
                f"cannot open the history database lock {lock_path}: {exc.strerror}",
                hint=f"check the permissions of {lock_path.parent}, or set {ENV_VAR}",
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _connect(self) -> sqlite3.Connection:
        self._check_header()
        try:
            # Created 0600 before SQLite sees it: SQLite gives the -wal and -shm files the
            # database file's mode, so they are private from the first write too.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except (OSError, sqlite3.OperationalError) as exc:
            raise OrchestratorError(
                f"cannot open the history database {self.path}: {exc}",
                hint=f"check the file's permissions, or point {ENV_VAR} at another file",
            ) from exc
        try:
            self._configure(conn)
        except sqlite3.Error as exc:
            conn.close()
            if _is_corruption(exc):
                raise _CorruptError(str(exc)) from exc
            raise OrchestratorError(f"cannot use the history database {self.path}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def _check_header(self) -> None:
        try:
            with self.path.open("rb") as f:
                head = f.read(len(_SQLITE_HEADER))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise OrchestratorError(
                f"cannot read the history database {self.path}: {exc.strerror}"
            ) from exc
        # An empty file is a valid, empty database (and what a crash during creation leaves).
        if head and head != _SQLITE_HEADER:
            raise _CorruptError("not an SQLite database")

    def _configure(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if self._check:
            rows = conn.execute("PRAGMA quick_check").fetchall()
            if rows != [("ok",)]:
                raise _CorruptError("quick_check: " + "; ".join(str(r[0]) for r in rows[:5]))
        else:
            # Reading the schema is enough to catch a bad header or a mangled schema.
            conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        # Before anything writes to the file: a newer orchestrator's database is left untouched.
        self._refuse_newer(int(conn.execute("PRAGMA user_version").fetchone()[0]))
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            raise OrchestratorError(
                f"the history database {self.path} cannot use WAL journaling (got {mode})",
                hint="keep it on a local file system, or set ORCHESTRATOR_DB to a local path",
            )
        # NORMAL, not FULL: in WAL mode a commit is write()n to the -wal file before it returns,
        # so it sits in the OS page cache and survives the death of our process (crash, SIGKILL,
        # OOM kill) - the threat here. Only a kernel crash or power cut before the next checkpoint
        # can lose the last few commits, and even then the file stays consistent. FULL would add
        # an fsync to every transition to guard against that, which the issue does not ask for.
        conn.execute("PRAGMA synchronous = NORMAL")

    def _move_aside(self, reason: str) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        base = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while any(Path(f"{base}{s}").exists() for s in _MOVED_FILES):
            base = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
            n += 1
        # The main file first: once it is gone, no opener can mistake the side files for a
        # database's, and they follow it under the same new name.
        for suffix in _MOVED_FILES:
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                source.rename(f"{base}{suffix}")
        self.recovered_from = base
        self.recovery_reason = reason
        log.warning(
            "history database %s was corrupt (%s); moved aside to %s and started a fresh one",
            self.path,
            reason,
            base,
        )

    def _migrate(self) -> None:
        if self._user_version() == SCHEMA_VERSION:
            return
        with self._write() as conn:
            # Another process may have migrated while we waited for the write lock.
            version = self._user_version()
            self._refuse_newer(version)
            for step in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[step]:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise OrchestratorError(
                f"the history database {self.path} has schema version {version}, newer than "
                f"this orchestrator's {SCHEMA_VERSION}",
                hint=f"upgrade orchestrator, or set {ENV_VAR} to use another file",
            )

    def _user_version(self) -> int:
        row = self._conn.execute("PRAGMA user_version").fetchone()
        return int(row[0])

    def _restrict_files(self) -> None:
        # Also tightens a file an older version or the user left readable by others.
        for suffix in ("", *_SIDE_FILES):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{self.path}{suffix}").chmod(0o600)

    # -- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection; further calls raise ``sqlite3.ProgrammingError``."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

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

    @staticmethod
    def _ensure_session(conn: sqlite3.Connection, fleet: str, session: str, at: float) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO fleets (name, created_at, updated_at) VALUES (?, ?, ?)",
            (fleet, at, at),
        )
        conn.execute(
            "INSERT OR IGNORE INTO sessions (fleet, name, created_at, updated_at)"
            " VALUES (?, ?, ?, ?)",
            (fleet, session, at, at),
        )

    # -- writing ---------------------------------------------------------------------------

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
                (name, _opt_str(layout_path), now, now),
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
        now = time.time() if at is None else at
        with self._write() as conn:
            self._ensure_session(conn, fleet, name, now)
            conn.execute(
                "UPDATE sessions SET role = coalesce(?, role), agent = coalesce(?, agent),"
                " cwd = coalesce(?, cwd), pane_id = coalesce(?, pane_id), updated_at = ?"
                " WHERE fleet = ? AND name = ?",
                (role, agent, _opt_str(cwd), pane_id, now, fleet, name),
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
        now = time.time() if at is None else at
        to_state = str(to_state)
        with self._write() as conn:
            self._ensure_session(conn, fleet, session, now)
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
        now = time.time() if at is None else at
        with self._write() as conn:
            self._ensure_session(conn, fleet, session, now)
            cursor = conn.execute(
                "INSERT INTO prompts (fleet, session, at, text, source) VALUES (?, ?, ?, ?, ?)",
                (fleet, session, now, text, source),
            )
        assert cursor.lastrowid is not None
        return Prompt(cursor.lastrowid, fleet, session, now, text, source)

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
        now = time.time() if at is None else at
        with self._write() as conn:
            self._ensure_session(conn, fleet, session, now)
            conn.execute(
                "INSERT INTO claude_sessions (fleet, session, claude_session_id, first_seen,"
                " last_seen, transcript_path) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (fleet, session, claude_session_id) DO UPDATE SET"
                " first_seen = min(first_seen, excluded.first_seen),"
                " last_seen = max(last_seen, excluded.last_seen),"
                " transcript_path = coalesce(excluded.transcript_path, transcript_path)",
                (fleet, session, claude_session_id, now, now, _opt_str(transcript_path)),
            )
            conn.execute(
                "UPDATE sessions SET claude_session_id = ?, updated_at = ?"
                " WHERE fleet = ? AND name = ?",
                (claude_session_id, now, fleet, session),
            )
            row = conn.execute(
                f"SELECT {_CLAUDE_COLUMNS} FROM claude_sessions"  # noqa: S608 (constant columns)
                " WHERE fleet = ? AND session = ? AND claude_session_id = ?",
                (fleet, session, claude_session_id),
            ).fetchone()
        return _claude_session(row)

    # -- reading ---------------------------------------------------------------------------

    def fleet(self, name: str) -> FleetRecord | None:
        """The fleet called ``name``, or None."""
        row = self._conn.execute(
            f"SELECT {_FLEET_COLUMNS} FROM fleets WHERE name = ?",  # noqa: S608 (constant columns)
            (name,),
        ).fetchone()
        return None if row is None else _fleet(row)

    def fleets(self) -> list[FleetRecord]:
        """All fleets, by name."""
        rows = self._conn.execute(
            f"SELECT {_FLEET_COLUMNS} FROM fleets ORDER BY name"  # noqa: S608 (constant columns)
        ).fetchall()
        return [_fleet(r) for r in rows]

    def session(self, fleet: str, name: str) -> SessionRecord | None:
        """The session ``name`` of ``fleet``, or None."""
        row = self._conn.execute(
            f"SELECT {_SESSION_COLUMNS} FROM sessions"  # noqa: S608 (constant columns)
            " WHERE fleet = ? AND name = ?",
            (fleet, name),
        ).fetchone()
        return None if row is None else _session(row)

    def sessions(self, fleet: str | None = None) -> list[SessionRecord]:
        """All sessions (of one fleet, if given), by fleet then name."""
        where, args = _where(fleet=fleet)
        rows = self._conn.execute(
            f"SELECT {_SESSION_COLUMNS} FROM sessions{where}"  # noqa: S608 (bound values only)
            " ORDER BY fleet, name",
            args,
        ).fetchall()
        return [_session(r) for r in rows]

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
        select = f"SELECT {_TRANSITION_COLUMNS} FROM transitions{where}"  # noqa: S608 (bound)
        return [_transition(r) for r in self._select_newest(select, args, limit)]

    def latest_transition(self, fleet: str, session: str) -> Transition | None:
        """The session's most recent transition, or None."""
        found = self.transitions(session, fleet=fleet, limit=1)
        return found[0] if found else None

    def prompts(
        self, session: str | None = None, *, fleet: str | None = None, limit: int | None = None
    ) -> list[Prompt]:
        """Prompts, oldest first, filtered like :meth:`transitions`."""
        where, args = _where(session=session, fleet=fleet)
        select = f"SELECT {_PROMPT_COLUMNS} FROM prompts{where}"  # noqa: S608 (bound values)
        return [_prompt(r) for r in self._select_newest(select, args, limit)]

    def claude_sessions(self, fleet: str, session: str) -> list[ClaudeSession]:
        """The Claude Code sessions seen in a session, least recently seen first."""
        rows = self._conn.execute(
            f"SELECT {_CLAUDE_COLUMNS} FROM claude_sessions"  # noqa: S608 (constant columns)
            " WHERE fleet = ? AND session = ? ORDER BY last_seen, first_seen",
            (fleet, session),
        ).fetchall()
        return [_claude_session(r) for r in rows]

    def latest_claude_session(self, fleet: str, session: str) -> ClaudeSession | None:
        """The Claude Code session seen most recently in a session: the one to ``--resume``."""
        found = self.claude_sessions(fleet, session)
        return found[-1] if found else None

    def _select_newest(
        self, select: str, args: Sequence[object], limit: int | None
    ) -> list[tuple[object, ...]]:
        if limit is None:
            return self._conn.execute(select + " ORDER BY id", args).fetchall()
        rows = self._conn.execute(select + " ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
        rows.reverse()
        return rows


_FLEET_COLUMNS = "name, layout_path, created_at, updated_at"
_SESSION_COLUMNS = (
    "fleet, name, role, agent, cwd, pane_id, claude_session_id, state, state_at,"
    " created_at, updated_at"
)
_TRANSITION_COLUMNS = "id, fleet, session, from_state, to_state, at, source, reason, key"
_PROMPT_COLUMNS = "id, fleet, session, at, text, source"
_CLAUDE_COLUMNS = "fleet, session, claude_session_id, first_seen, last_seen, transcript_path"


def _where(
    *, session: str | None = None, fleet: str | None = None, since: float | None = None
) -> tuple[str, list[object]]:
    # Clauses come from this fixed list; values are always bound, never spliced in.
    clauses: list[str] = []
    args: list[object] = []
    for clause, value in (("session = ?", session), ("fleet = ?", fleet), ("at >= ?", since)):
        if value is not None:
            clauses.append(clause)
            args.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


def _fleet(row: Sequence[object]) -> FleetRecord:
    name, layout_path, created_at, updated_at = row
    return FleetRecord(str(name), _opt_path(_s(layout_path)), _f(created_at), _f(updated_at))


def _session(row: Sequence[object]) -> SessionRecord:
    fleet, name, role, agent, cwd, pane_id, cid, state, state_at, created, updated = row
    return SessionRecord(
        str(fleet),
        str(name),
        _s(role),
        _s(agent),
        _opt_path(_s(cwd)),
        _s(pane_id),
        _s(cid),
        _s(state),
        None if state_at is None else _f(state_at),
        _f(created),
        _f(updated),
    )


def _transition(row: Sequence[object]) -> Transition:
    id_, fleet, session, from_state, to_state, at, source, reason, key = row
    return Transition(
        _i(id_),
        str(fleet),
        str(session),
        _s(from_state),
        str(to_state),
        _f(at),
        str(source),
        str(reason),
        _s(key),
    )


def _prompt(row: Sequence[object]) -> Prompt:
    id_, fleet, session, at, text, source = row
    return Prompt(_i(id_), str(fleet), str(session), _f(at), str(text), str(source))


def _claude_session(row: Sequence[object]) -> ClaudeSession:
    fleet, session, cid, first_seen, last_seen, transcript = row
    return ClaudeSession(
        str(fleet), str(session), str(cid), _f(first_seen), _f(last_seen), _opt_path(_s(transcript))
    )


def _s(value: object) -> str | None:
    return None if value is None else str(value)


def _f(value: object) -> float:
    assert isinstance(value, int | float)
    return float(value)


def _i(value: object) -> int:
    assert isinstance(value, int)
    return value
