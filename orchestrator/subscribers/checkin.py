"""Check-ins: every ``checkin`` interval, one digest notification and the dashboard's banner.

Registered by the composition root (``cli/watch.py``) beside the other subscribers; the watcher
does not know it. A thread of its own sleeps for the interval, then takes the fleet's digest
(:func:`orchestrator.watch.checkin.gather`), writes it to ``checkin.json`` in the fleet's runtime
folder (the dashboard shows it as a banner) and, when someone needs a look, sends it through the
notifier (:meth:`~orchestrator.subscribers.notify.Notifier.deliver`: a desktop notification, or
the fleet's tmux clients). A digest with nobody in it is written but not sent: it would be noise.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from orchestrator.runtime import fleet_dir
from orchestrator.subscribers.notify import Note, Notifier
from orchestrator.tmux.client import Tmux
from orchestrator.watch import checkin

log = logging.getLogger(__name__)


class CheckIns:
    """The check-in clock of one fleet; :meth:`start` runs it in a daemon thread."""

    def __init__(
        self,
        tmux: Tmux,
        fleet: str,
        interval: float,
        notifier: Notifier,
        *,
        runtime: Path | None = None,
    ) -> None:
        self.tmux = tmux
        self.fleet = fleet
        self.interval = interval
        self.notifier = notifier
        self.runtime = runtime
        self.folder = fleet_dir(fleet, runtime)
        self.digests: list[checkin.Digest] = []
        """Every digest taken (for tests and diagnostics)."""
        self._stop = threading.Event()

    def check_in(self) -> checkin.Digest:
        """Take the digest now; write it for the dashboard; send it when it lists anyone."""
        digest = checkin.gather(self.tmux, self.fleet, runtime=self.runtime)
        self.digests.append(digest)
        checkin.write_json(self.folder / checkin.DIGEST_FILE, digest.to_json())
        log.info("check-in: %s", "; ".join(digest.lines()))
        if not digest.empty and self.notifier.settings.enabled:
            self.notifier.deliver(Note(f"{self.fleet}: check-in", "\n".join(digest.lines())))
        return digest

    def run(self) -> None:
        """Check in every :attr:`interval` seconds until :meth:`stop`."""
        while not self._stop.wait(self.interval):
            try:
                self.check_in()
            except Exception:  # tmux gone for a moment: the next check-in tries again
                log.exception("check-in failed")

    def start(self) -> threading.Thread:
        """Run the clock in a daemon thread (it never holds up the watcher)."""
        thread = threading.Thread(target=self.run, name="checkin", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """End :meth:`run` at its next wake-up."""
        self._stop.set()


def start(tmux: Tmux, fleet: str, interval: float | None, notifier: Notifier) -> CheckIns | None:
    """Start the fleet's check-ins every ``interval`` seconds (None: check-ins are off)."""
    if interval is None:
        log.info("check-ins are off")
        return None
    log.info("a check-in every %gs", interval)
    clock = CheckIns(tmux, fleet, interval, notifier)
    clock.start()
    return clock
