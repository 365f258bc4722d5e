"""The watcher's push sources: each puts ``(kind, value)`` events on the watcher's queue.

- a tmux control-mode client (``tmux -C``, attached read-only and without affecting window
  sizes): ``output`` (a pane id) for ``%output``, ``layout`` when windows come or go, ``exit``
  when the session ends or the client goes;
- a ``pane-died`` tmux hook that appends the pane's id to a file in the fleet's folder;
- an inotify thread on that folder (:mod:`orchestrator.watch.inotify`; ``watchfiles`` where there
  is no inotify): ``hooks`` (the file's path) when a session's ``events.jsonl`` grows, ``died``
  when the ``pane-died`` file does.

The control client also notes when each pane last printed (:attr:`PushSources.output_at`): the
moment a screen last changed, which the capture that follows can only see later.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import queue
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import watchfiles

from orchestrator.tmux.client import Tmux
from orchestrator.watch.inotify import InotifyUnavailableError, TreeWatcher

log = logging.getLogger(__name__)

Event = tuple[str, str]
"""(kind, value): ``output`` (pane ids, space-separated), ``hooks`` (a path), ``layout``,
``died``, ``exit``, ``stop`` (the last from :meth:`Watcher.stop`)."""


OUTPUT = re.compile(rb"^%output (%[0-9]+) ", re.MULTILINE)
"""A pane's output in the control client's stream: its pane id."""
LAYOUT = re.compile(
    rb"^%(?:window-add|window-close|unlinked-window-close|layout-change)\b", re.MULTILINE
)
"""Windows coming or going, panes rearranged: the pane set may have changed."""
EXIT = re.compile(rb"^%exit\b", re.MULTILINE)
"""The control client is leaving (the session ended, or it was detached)."""
READ_PAUSE = 0.05
"""Seconds the control client's reader waits after each chunk it read (a round waits as long
for output to coalesce anyway)."""
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class PushSources:
    """Starts and stops the push sources of one fleet's watcher."""

    def __init__(
        self,
        tmux: Tmux,
        fleet: str,
        folder: Path,
        events: queue.Queue[Event],
        stop_event: threading.Event,
    ) -> None:
        self.tmux = tmux
        self.fleet = fleet
        self.folder = folder
        self.events = events
        self.stop_event = stop_event
        self.control: subprocess.Popen[bytes] | None = None
        self.output_at: dict[str, float] = {}
        """When each pane last printed, by pane id (written by the control client's thread)."""
        self._tree: TreeWatcher | None = None
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Install the ``pane-died`` hook (one tmux call), start the control client and the file
        watcher."""
        self._install_tmux_hook()
        self._start_control_client()
        self._start_file_watcher()

    def stop(self) -> None:
        """End the control client and wait for the threads (``stop_event`` must be set)."""
        self._stop_control_client()
        if self._tree is not None:
            self._tree.close()
        for thread in self._threads:
            thread.join(timeout=2)
        if self._tree is not None:
            self._tree.release()
            self._tree = None

    def _install_tmux_hook(self) -> None:
        died = self.folder / "pane-died"
        command = f"run-shell -b 'echo #{{pane_id}} >> {died}'"
        self.tmux.run(["set-hook", "-t", f"={self.fleet}:", "pane-died", command], check=False)

    def _start_control_client(self) -> None:
        args = [
            *self.tmux.base_args(),
            "-C",
            "attach-session",
            "-t",
            f"={self.fleet}:",
            "-f",
            "ignore-size,read-only",
        ]
        env = {k: v for k, v in os.environ.items() if k not in {"TMUX", "TMUX_PANE"}}
        self.control = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
            env=env,
            preexec_fn=functools.partial(_die_with_parent, os.getpid()),
        )
        thread = threading.Thread(target=self._read_control, name="tmux-control", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _read_control(self) -> None:
        """Read the control client's stream a chunk at a time. With every session working it
        carries thousands of ``%output`` lines a second: they are found with one regular
        expression per chunk, never decoded, and a chunk gives one event naming the panes that
        printed, not one per line. After a chunk it lets the next gather for
        :data:`READ_PAUSE` (a round waits as long for output to coalesce anyway), so
        busy panes cost tens of reads a second, not thousands."""
        assert self.control is not None and self.control.stdout is not None
        fd = self.control.stdout.fileno()
        with contextlib.suppress(OSError):  # room for what arrives during a pause (Linux)
            fcntl.fcntl(fd, F_SETPIPE_SZ, 1 << 20)
        rest = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            data, rest = data[:cut], data[cut:]
            if not data:
                continue
            now = time.time()
            printed = [p.decode("ascii", "replace") for p in dict.fromkeys(OUTPUT.findall(data))]
            for pane_id in printed:
                self.output_at[pane_id] = now
            if printed:
                self.events.put(("output", " ".join(printed)))
            if LAYOUT.search(data):
                self.events.put(("layout", ""))
            if EXIT.search(data):
                break
            # Once stopping, read on without pausing until the client has gone (end of file).
            self.stop_event.wait(READ_PAUSE)
        self.events.put(("exit", ""))

    def _stop_control_client(self) -> None:
        control = self.control
        if control is None:
            return
        with contextlib.suppress(OSError):
            if control.stdin:
                control.stdin.close()  # tmux leaves control mode when its input ends
        try:
            control.wait(timeout=2)
        except subprocess.TimeoutExpired:
            control.kill()
            control.wait(timeout=2)

    def _start_file_watcher(self) -> None:
        try:
            self._tree = TreeWatcher(self.folder)
            target, name = self._watch_tree, "inotify"
        except InotifyUnavailableError:
            target, name = self._watch_files, "watchfiles"
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _on_file(self, path: str) -> None:
        if path.endswith("/pane-died"):
            self.events.put(("died", ""))
        elif path.endswith("/events.jsonl"):
            self.events.put(("hooks", path))

    def _watch_tree(self) -> None:
        assert self._tree is not None
        try:
            self._tree.run(lambda path: self._on_file(str(path)))
        except Exception:  # the folder vanished: the fleet is going away
            log.exception("file watcher stopped")
            self.events.put(("layout", ""))

    def _watch_files(self) -> None:
        try:
            for changes in watchfiles.watch(
                self.folder,
                debounce=50,
                step=30,  # the Rust side wakes (and takes the GIL) once a step: keep it rare
                stop_event=self.stop_event,
                rust_timeout=1000,
                yield_on_timeout=False,
                watch_filter=_is_input,
            ):
                for path in {path for _, path in changes}:
                    self._on_file(path)
        except Exception:  # the folder vanished: the fleet is going away
            log.exception("file watcher stopped")
            self.events.put(("layout", ""))


def _is_input(change: watchfiles.Change, path: str) -> bool:
    """Only hook event files and the pane-died file wake the watcher (not its own outputs)."""
    del change
    return path.endswith(("/events.jsonl", "/pane-died"))


def _die_with_parent(parent: int) -> None:
    """In the control client: get SIGTERM when the watcher (``parent``) dies, however it dies
    (Linux)."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    # A watcher killed between fork and prctl has already gone (the child was re-parented): the
    # signal would never come, so leave now rather than outlive it.
    if os.getppid() != parent:
        os._exit(1)
