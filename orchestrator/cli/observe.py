"""The commands that watch over a fleet for people and other tools: ``checkin`` and ``events``."""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.cli.common import CommandFactory, fleet_argument, fleet_of, tmux_of, warn
from orchestrator.errors import OrchestratorError

if TYPE_CHECKING:
    from orchestrator.store.events import Event, EventFeed

EVENTS_BACKSTOP = 30.0
"""Seconds ``events`` waits for an inotify wake-up before reading anyway (a missed wake-up costs
at most this much delay; a read with nothing new is two small queries)."""
POLL_EVERY = 0.5
"""Seconds between two reads where inotify is not available."""


def add_commands(command: CommandFactory) -> None:
    """Declare ``checkin`` and ``events``."""
    checkin = command(
        "checkin",
        "Print the fleet's check-in digest now: who awaits input, who finished unseen, "
        "who has worked over an hour, who has sat idle over 30 minutes.",
        _checkin,
    )
    fleet_argument(checkin, positional=True)
    checkin.add_argument("--json", action="store_true", help="print JSON for scripts")

    events = command(
        "events",
        "Stream every transition, prompt and hand-off as the history records it.",
        _events,
    )
    events.add_argument("--fleet", help="only this fleet (default: every fleet)")
    events.add_argument(
        "--json",
        action="store_true",
        help='one JSON object per line: {"at", "fleet", "session", "kind", "from", "to", "reason"}',
    )
    events.add_argument(
        "--since",
        metavar="WHEN",
        help="replay from WHEN first: a duration ago (30s, 10m, 2h, 1d), "
        "a date and time (2026-12-01T09:30) or epoch seconds",
    )
    events.add_argument(
        "--no-follow",
        dest="follow",
        action="store_false",
        help="print what is recorded (with --since) and stop instead of waiting for more",
    )
    events.add_argument(
        "--cursor",
        action="store_true",
        help='with --json: each line also has "cursor", where the stream stands after it, and a '
        '{"cursor": ...} line follows each read (how a fleet resumes a host\'s stream)',
    )
    events.add_argument(
        "--after",
        metavar="CURSOR",
        help="go on from a cursor printed by --cursor, instead of from now or --since",
    )


def _checkin(args: argparse.Namespace) -> int:
    from orchestrator.watch import checkin

    tmux = tmux_of(args)
    digest = checkin.gather(tmux, fleet_of(tmux, args))
    if args.json:
        print(json.dumps(digest.to_json(), indent=2))
    else:
        print(digest.text())
    return 0


_AGO = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: float | None = None) -> float:
    """``--since``: a duration ago, an ISO date and time (local time unless it says), or epoch
    seconds."""
    now = time.time() if now is None else now
    value = text.strip()
    if match := _AGO.match(value):
        return now - float(match.group(1)) * _UNIT[match.group(2)]
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise OrchestratorError(
            f"--since: cannot read {text!r} as a time",
            hint="give a duration ago (10m, 2h), a date and time (2026-12-01T09:30) "
            "or epoch seconds",
        ) from None


def _events(args: argparse.Namespace) -> int:
    from orchestrator.remote import events as remote
    from orchestrator.store import history
    from orchestrator.store.db import Store
    from orchestrator.store.events import EventFeed, parse_cursor

    since = parse_since(args.since) if args.since else None
    try:
        after = parse_cursor(args.after) if args.after else None
    except ValueError:
        raise OrchestratorError(
            f"--after: {args.after!r} is not a cursor",
            hint="give a cursor as `events --json --cursor` prints it (three ids, T.P.H)",
        ) from None
    # A stream read by another machine (--cursor) is this host's own: its hosts are not in it.
    hosts = [] if args.cursor else remote.feeds(args.fleet, time.time() if since is None else since)
    lock = threading.Lock()

    def emit(events: list[Event]) -> None:
        with lock:
            _emit(events, json_lines=args.json, cursor=args.cursor)

    # SIGTERM (an SSH session closing, a supervisor) ends the stream like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with Store() as store:
        warn(history.recovery_message(store))
        feed = EventFeed(store, fleet=args.fleet, since=since, after=after)
        try:
            first = feed.read()
            if since is not None or not args.follow:
                first = sorted([*first, *remote.read_all(hosts)], key=lambda e: e.at)
            emit(first)
            _tell_cursor(feed, args)
            if not args.follow:
                return 0
            remote.follow_all(hosts, emit)
            wake = _wake_on_writes(store.path)
            while True:
                wake.wait(EVENTS_BACKSTOP)
                wake.clear()
                emit(feed.read())
                with lock:
                    _tell_cursor(feed, args)
        finally:
            for each in hosts:
                each.stop()


def _tell_cursor(feed: EventFeed, args: argparse.Namespace) -> None:
    if args.cursor and args.json:
        print(json.dumps({"cursor": feed.cursor()}), flush=True)


def _emit(events: list[Event], *, json_lines: bool, cursor: bool = False) -> None:
    for event in events:
        if not json_lines:
            print(event.text(), flush=True)
        elif cursor:
            data = {**event.to_json(), "cursor": event.cursor}
            print(json.dumps(data, ensure_ascii=False), flush=True)
        else:
            print(event.json_line(), flush=True)


def _wake_on_writes(database: Path) -> threading.Event:
    """An event set whenever the database (or its write-ahead log) is written: inotify on its
    folder, from a daemon thread; a plain timer where inotify is missing."""
    from orchestrator.watch.inotify import InotifyUnavailableError, TreeWatcher

    wake = threading.Event()
    try:
        watcher = TreeWatcher(database.parent)
    except InotifyUnavailableError:

        def tick() -> None:
            while True:
                time.sleep(POLL_EVERY)
                wake.set()

        threading.Thread(target=tick, name="events-poll", daemon=True).start()
        return wake

    def on_change(path: Path) -> None:
        if path.name.startswith(database.name):
            wake.set()

    threading.Thread(
        target=watcher.run, args=(on_change,), name="events-inotify", daemon=True
    ).start()
    return wake
