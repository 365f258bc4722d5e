"""Looks the dashboard cannot take: a turn that ends while its pane is on someone's screen.

The dashboard counts a session as seen when a snapshot finds its pane on screen; but a dashboard
nobody looks at takes a snapshot only every 10 s, so a turn that ends while the user watches the
agents' window, followed by a quick switch to the dashboard, would read as "finished, not yet
looked at". The watcher knows the moment a turn ends: this subscriber then asks tmux (one call, in
its own thread) whether the pane is on an attached client's screen, and if so writes the look to
``seen.json`` (:func:`orchestrator.watch.checkin.note_seen`), where the dashboard and check-ins
read it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path

from orchestrator.fleet import jump
from orchestrator.runtime import fleet_dir
from orchestrator.tmux.client import Tmux
from orchestrator.watch import checkin
from orchestrator.watch.model import SessionState, Transition, WatcherHandle, take_batch
from orchestrator.watch.turns import ACTIVE, DONE

log = logging.getLogger(__name__)


class Looks:
    """The subscriber: notes a turn's end; a thread of its own asks tmux who sees the pane."""

    def __init__(self, tmux: Tmux, folder: Path) -> None:
        self.tmux = tmux
        self.folder = folder
        """The fleet's runtime folder, where ``seen.json`` is."""
        self._queue: queue.Queue[tuple[str, str]] = queue.Queue()
        self._thread: threading.Thread | None = None

    def __call__(self, transition: Transition, state: SessionState) -> None:
        del state
        if transition.old in ACTIVE and transition.new in DONE:
            if self._thread is None:
                self._thread = threading.Thread(target=self._drain, name="looks", daemon=True)
                self._thread.start()
            self._queue.put((transition.session, transition.pane_id))

    def _drain(self) -> None:
        while True:
            ended = take_batch(self._queue)  # turns that ended together share one look
            try:
                self.look_all(ended)
            except Exception:
                log.exception("noting a look failed")

    def look(self, name: str, pane_id: str) -> bool:
        """Note that ``name`` is seen now if its pane is on someone's screen; say whether."""
        return bool(self.look_all([(name, pane_id)]))

    def look_all(self, ended: list[tuple[str, str]]) -> set[str]:
        """Note as seen now every session of ``ended`` (names and pane ids) whose pane is on
        someone's screen (one tmux call); return their names."""
        visible = jump.visible_panes(self.tmux)
        seen = {name for name, pane_id in ended if pane_id in visible}
        if seen:
            now = time.time()
            checkin.note_seen(self.folder, dict.fromkeys(seen, now))
        return seen


def subscribe(watcher: WatcherHandle) -> Looks:
    """Note the turns that end on screen. The one line ``run_watcher`` needs."""
    looks = Looks(watcher.tmux, fleet_dir(watcher.fleet))
    watcher.subscribe(looks)
    return looks
