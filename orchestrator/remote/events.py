"""What happens on a fleet's hosts, as events: each host's own ``orchestrator events``, read over
the shared connection and resumed from where it stopped.

A host's watcher records its sessions' transitions, prompts and hand-offs in its own history,
connected or not. ``events`` here runs ``orchestrator events --json --cursor`` there: every line
it prints carries the host's cursor after it (``T.P.H``, its last row ids), and this machine keeps
the last one per host. When the connection drops (ssh exits 255), a ``host`` event says so
("unreachable"); the stream is asked for again with backoff, and once the host answers a ``host``
event says it is ``back`` and the stream goes on ``--after`` the cursor: what happened there
meanwhile arrives then, once. Before a host has told its cursor, it is asked ``--since`` the time
this machine's stream began (or the ``--since`` given).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from orchestrator.remote.fleet import STATUS_TIMEOUT, Host, hosts_of
from orchestrator.remote.history import fleets_with_hosts
from orchestrator.remote.ssh import UNREACHABLE, SshFailed
from orchestrator.store.events import Event

Emit = Callable[[list[Event]], None]
LONGEST = 30.0
"""While a host stays unreachable, its stream is asked for again after 2, 4, 8, 16, then every
30 seconds (each try costs at most ssh's ConnectTimeout, on a thread of its own)."""


def backoff(misses: int) -> float:
    """Seconds before the next try after ``misses`` failed ones in a row."""
    return min(LONGEST, float(2 ** min(misses, 8)))


class HostFeed:
    """One host's events of one fleet, with the cursor to go on from."""

    def __init__(self, fleet: str, host: Host, since: float) -> None:
        self.fleet = fleet
        self.host = host
        self.since = since
        self.cursor: str | None = None
        self.down_since: float | None = None
        self.process: subprocess.Popen[str] | None = None
        self._stopped = threading.Event()

    def _argv(self, *, follow: bool) -> list[str]:
        where = ["--after", self.cursor] if self.cursor else ["--since", repr(self.since)]
        more = [] if follow else ["--no-follow"]
        argv = ["events", "--json", "--cursor", "--fleet", self.fleet, *where, *more]
        return self.host.command(*argv)

    def _event(self, data: dict[str, object]) -> Event:
        return Event(
            at=float(data["at"]),  # type: ignore[arg-type]
            fleet=self.fleet,
            session=str(data["session"]),
            kind=str(data["kind"]),
            old=None if data.get("from") is None else str(data["from"]),
            new=None if data.get("to") is None else str(data["to"]),
            reason=str(data.get("reason") or ""),
            host=self.host.host,
        )

    def take(self, line: str) -> Event | None:
        """The event of one line the host printed (None for a cursor-only line); keeps its
        cursor."""
        try:
            data = json.loads(line)
            cursor = data.get("cursor")
            event = self._event(data) if "kind" in data else None
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        if isinstance(cursor, str):
            self.cursor = cursor
        return event

    def _host_event(self, what: str, reason: str) -> Event:
        return Event(time.time(), self.fleet, "", "host", None, what, reason, host=self.host.host)

    def lost(self, said: str) -> list[Event]:
        """The connection is gone: an ``unreachable`` event, the first time."""
        if self.down_since is not None:
            return []
        self.down_since = time.time()
        return [self._host_event("unreachable", said)]

    def answered(self) -> list[Event]:
        """The host answers: a ``back`` event when it was unreachable."""
        if self.down_since is None:
            return []
        away = time.time() - self.down_since
        self.down_since = None
        return [self._host_event("back", f"after {away:.0f} s")]

    def read_once(self) -> list[Event]:
        """What the host recorded since the cursor (or ``since``), with the host events its
        answer (or silence) calls for."""
        try:
            done = self.host.connection.run(self._argv(follow=False), timeout=STATUS_TIMEOUT * 2)
        except SshFailed as exc:
            return self.lost(str(exc))
        if done.returncode != 0:
            said = done.stderr.strip() or f"exit status {done.returncode}"
            return [self._host_event("failed", f"events failed there: {said}")]
        found = self.answered()
        for line in done.stdout.splitlines():
            if event := self.take(line):
                found.append(event)
        return found

    def follow(self, emit: Emit) -> None:
        """Stream the host's events to ``emit`` until :meth:`stop`, reconnecting with backoff."""
        misses = 0
        while not self._stopped.is_set():
            try:
                self.host.connection.open()
            except SshFailed as exc:
                emit(self.lost(str(exc)))
                misses += 1
                self._stopped.wait(backoff(misses))
                continue
            emit(self.answered())
            misses = 0
            status, said = self._stream(emit)
            if self._stopped.is_set():
                return
            if status == UNREACHABLE:
                emit(self.lost(said or "the connection broke"))
            elif status != 0:
                failed = f"events failed there (exit status {status}): {said}"
                emit([self._host_event("failed", failed)])
            misses += 1
            self._stopped.wait(backoff(misses))

    def _stream(self, emit: Emit) -> tuple[int, str]:
        argv = self.host.connection.command_argv(self._argv(follow=True))
        with tempfile.TemporaryFile("w+") as errors:
            self.process = process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, text=True
            )
            assert process.stdout is not None
            for line in process.stdout:
                if event := self.take(line):
                    emit([event])
            status = process.wait()
            errors.seek(0)
            return status, " ".join(errors.read().split())

    def stop(self) -> None:
        """Stop following; ends the ssh process of the stream."""
        self._stopped.set()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()


def feeds(fleet: str | None, since: float) -> list[HostFeed]:
    """A feed per host of each fleet here that has hosts (only ``fleet`` when given)."""
    return [HostFeed(f, host, since) for f in fleets_with_hosts(fleet) for host in hosts_of(f)]


def read_all(found: list[HostFeed]) -> list[Event]:
    """Every host's events since its cursor, asked in parallel."""
    if not found:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(found))) as pool:
        answers = list(pool.map(HostFeed.read_once, found))
    return [event for events in answers for event in events]


def follow_all(found: list[HostFeed], emit: Emit) -> None:
    """Follow every host in a daemon thread of its own."""
    for feed in found:
        name = f"events-{feed.host.host}"
        threading.Thread(target=feed.follow, args=(emit,), name=name, daemon=True).start()
