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
  file and says so in :attr:`Store.recovered_from`, which the command that opened it reports.

This module opens the file (finding it, locking, spotting corruption, migrating, closing); the
rows are in :mod:`~orchestrator.store.records`, the tables in :mod:`~orchestrator.store.schema`,
and what a :class:`Store` can do once open in :mod:`~orchestrator.store.queries` and
:mod:`~orchestrator.store.writes`.

A :class:`Store` holds one connection and is used from the thread that opened it (SQLite's
``check_same_thread`` enforces this); a watcher thread opens its own Store.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Self

from orchestrator import paths
from orchestrator.errors import OrchestratorError
from orchestrator.store.schema import SCHEMA_VERSION, migrate, user_version
from orchestrator.store.writes import Writes

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


class Store(Writes):
    """The history database. Open it, use it from one thread, close it (or use ``with``).

    The reads come from :class:`~orchestrator.store.queries.Queries` and the writes from
    :class:`~orchestrator.store.writes.Writes`; this class opens and closes the file.
    """

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

    @classmethod
    def another(cls, path: Path | str) -> Self:
        """A further connection to a database this process already has open (``Store(path)``
        done), for use in another thread.

        Opening with ``Store(path)`` again would read and create the file outside SQLite, and
        closing any descriptor of a file drops every POSIX lock this process holds on it: the
        first connection would lose its locks, and another process closing the database last
        would then delete the WAL under it (its later writes lost). SQLite itself shares the
        locks of the connections it opens in one process, so this one is opened by SQLite only.
        """
        store = cls.__new__(cls)
        store.path = Path(path)
        store.recovered_from = None
        store.recovery_reason = None
        store._check = False
        store._conn = sqlite3.connect(store.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        store._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        store._conn.execute("PRAGMA synchronous = NORMAL")
        return store

    # -- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection; further calls raise ``sqlite3.ProgrammingError``."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
        self._refuse_newer(user_version(conn))
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
        # INFO, not WARNING: Python would print a warning on standard error when logging is not
        # set up, beside the notice the command prints itself (two notices in two wordings).
        # Whoever opens the store tells the user (`history.recovery_message`).
        log.info(
            "history database %s was corrupt (%s); moved aside to %s and started a fresh one",
            self.path,
            reason,
            base,
        )

    def _migrate(self) -> None:
        if user_version(self._conn) == SCHEMA_VERSION:
            return
        with self._write() as conn:
            # Another process may have migrated while we waited for the write lock.
            version = user_version(conn)
            self._refuse_newer(version)
            migrate(conn, version)

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise OrchestratorError(
                f"the history database {self.path} has schema version {version}, newer than "
                f"this orchestrator's {SCHEMA_VERSION}",
                hint=f"upgrade orchestrator, or set {ENV_VAR} to use another file",
            )

    def _restrict_files(self) -> None:
        # Also tightens a file an older version or the user left readable by others.
        for suffix in ("", *_SIDE_FILES):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{self.path}{suffix}").chmod(0o600)
