"""The dashboard's wait for the watcher: it sleeps until ``state.json`` is written.

With inotify (:class:`orchestrator.watch.inotify.TreeWatcher` on the fleet's folder alone) a
thread blocks in ``poll`` and wakes only for a write; ``watchfiles`` is the fallback where inotify
is missing (its loop wakes every ``step``, 20 times a second at 50 ms, whether or not anything
changed; with fifty sessions working the difference in the dashboard's CPU was within the
run-to-run noise of the measurement).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import watchfiles

from orchestrator.watch.inotify import InotifyUnavailableError, TreeWatcher

log = logging.getLogger(__name__)


class StateWrites:
    """Waits for writes of one file (by name) in a folder, at most some seconds at a time."""

    def __init__(self, folder: Path, name: str = "state.json") -> None:
        self.folder = folder
        self.name = name
        self._stop = threading.Event()
        self._written = threading.Event()
        self._tree: TreeWatcher | None = None
        self._thread: threading.Thread | None = None
        self._inotify = True
        self._changes: Iterator[set[tuple[watchfiles.Change, str]]] | None = None

    def wait(self, timeout: float) -> bool:
        """Sleep until the file is written (True) or ``timeout`` seconds pass (False)."""
        if self._stop.is_set():
            return False
        if self._inotify and self._tree is None:
            self._start()
        if self._tree is not None:
            written = self._written.wait(timeout)
            self._written.clear()
            return written
        if self._inotify:  # the folder is not there (yet): try again next time
            self._stop.wait(timeout)
            return False
        return self._poll(timeout)

    def _start(self) -> None:
        try:
            self._tree = TreeWatcher(self.folder, subfolders=False)
        except InotifyUnavailableError:
            self._inotify = False
            return
        except OSError:
            return
        self._thread = threading.Thread(target=self._run, name="state-writes", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self._tree is not None
        try:
            self._tree.run(self._seen)
        except Exception:  # the folder vanished: the fleet is going away
            log.exception("waiting for the watcher's writes stopped")
        self._written.set()

    def _seen(self, path: Path) -> None:
        if path.name == self.name:
            self._written.set()

    def _poll(self, timeout: float) -> bool:
        if self._changes is None:
            self._changes = watchfiles.watch(
                self.folder,
                debounce=50,
                step=50,
                stop_event=self._stop,
                rust_timeout=max(1, int(timeout * 1000)),
                yield_on_timeout=True,
                watch_filter=lambda _, path: path.endswith(self.name),
            )
        try:
            return bool(next(self._changes))
        except StopIteration:
            self._changes = None
        except Exception:  # the folder vanished (fleet ended): fall back to a plain wait
            self._changes = None
        self._stop.wait(timeout)
        return False

    def close(self) -> None:
        """Stop waiting; the thread ends and the descriptors are closed."""
        self._stop.set()
        self._written.set()
        tree, self._tree = self._tree, None
        if tree is not None:
            tree.close()
            if self._thread is not None:
                self._thread.join(timeout=2)
            with contextlib.suppress(OSError):
                tree.release()
