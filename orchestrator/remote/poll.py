"""The latest states of a fleet's remote sessions, kept fresh by a thread of their own.

For the dashboard: asking hosts takes a round trip (seconds when one is unreachable), so a daemon
thread asks every :data:`EVERY` seconds (only while the fleet has hosts) and :meth:`rows` hands
back the last answer at once.
"""

from __future__ import annotations

import threading

from orchestrator.remote.fleet import Host, hosts_of, status_rows

EVERY = 3.0
"""Seconds between two rounds of questions to the fleet's hosts."""
LONGEST = 30.0
"""While a host stays unreachable the rounds back off (6, 12, 24 s...) up to this many seconds."""


def backoff(misses: int) -> float:
    """Seconds to the next round after ``misses`` rounds in a row with a host unreachable."""
    return min(LONGEST, EVERY * float(2 ** min(misses, 8)))


class RemotePoller:
    """The remote rows of one fleet (``status --json`` rows with ``host``), refreshed behind."""

    def __init__(self, fleet: str) -> None:
        self.fleet = fleet
        self._rows: list[dict[str, object]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def rows(self) -> list[dict[str, object]]:
        """The latest rows; starts the thread the first time the fleet has hosts."""
        if self._thread is None and hosts_of(self.fleet):
            self._thread = threading.Thread(target=self._run, name="remote-poll", daemon=True)
            self._thread.start()
        return list(self._rows)

    def where(self, name: str) -> tuple[Host, str, str] | None:
        """Session ``name``'s host, its pane there and its agent, as last heard; None when it
        is not a remote session or its host has not told its pane."""
        for row in self._rows:
            if row.get("name") == name and row.get("pane_id"):
                for host in hosts_of(self.fleet):
                    if host.host == row.get("host"):
                        return host, str(row["pane_id"]), str(row.get("agent") or "")
        return None

    def _run(self) -> None:
        misses = 0
        while not self._stop.is_set():
            self._rows = status_rows([self.fleet])
            lost = any(" unreachable since " in str(row.get("reason")) for row in self._rows)
            misses = misses + 1 if lost else 0
            self._stop.wait(backoff(misses))

    def close(self) -> None:
        """Stop asking."""
        self._stop.set()
