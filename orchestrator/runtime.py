"""A fleet's runtime folder and the watcher lock: small enough for every command to import.

The lock is an ``flock`` on ``<runtime>/fleets/<fleet>/watcher.lock``: the kernel releases it when
its holder dies, however it dies, so a crashed watcher never blocks its successor.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from orchestrator import paths


def fleet_dir(fleet: str, runtime: Path | None = None) -> Path:
    """The fleet's private runtime folder (hook files, snapshot, lock)."""
    return (runtime or paths.runtime_dir()) / "fleets" / fleet


class LockHeld(RuntimeError):
    """Another watcher already watches this fleet."""


@contextlib.contextmanager
def fleet_lock(folder: Path) -> Iterator[IO[str]]:
    """Hold the fleet's watcher lock (released by the kernel even on SIGKILL)."""
    paths.ensure_private_dir(folder)
    handle = (folder / "watcher.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise LockHeld(f"a watcher already runs for this fleet ({folder})") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    try:
        yield handle
    finally:
        handle.close()


def watcher_running(fleet: str, runtime: Path | None = None) -> bool:
    """Whether some process holds the fleet's watcher lock."""
    lock = fleet_dir(fleet, runtime) / "watcher.lock"
    if not lock.exists():
        return False
    with lock.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False
