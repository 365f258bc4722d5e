"""``orchestrator events``: the history as a stream, missing nothing, ending cleanly."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.cli.observe import parse_since
from orchestrator.errors import OrchestratorError
from orchestrator.store.db import Store
from orchestrator.store.events import KEYS, EventFeed, parse_cursor


def test_feed_returns_each_row_once_in_order(tmp_path: Path) -> None:
    with Store(tmp_path / "h.sqlite3") as store:
        store.record_transition("team", "a", "idle", source="hook")
        feed = EventFeed(store)
        assert feed.read() == []  # only what is recorded from now on
        store.record_transition("team", "a", "working", source="hook", reason="Bash: ls")
        store.add_prompt("team", "a", "go on", source="send")
        store.record_transition("other", "b", "idle", source="screen")
        first = feed.read()
        assert [(e.kind, e.session, e.old, e.new) for e in first] == [
            ("transition", "a", "idle", "working"),
            ("prompt", "a", "send", None),
            ("transition", "b", None, "idle"),
        ]
        assert feed.read() == []
        store.record_transition("team", "a", "awaiting_input", source="hook", reason="Bash: rm")
        (event,) = feed.read()
        assert event.to_json() == {
            "at": event.at,
            "fleet": "team",
            "session": "a",
            "kind": "transition",
            "from": "working",
            "to": "awaiting_input",
            "reason": "Bash: rm",
            "host": None,
        }
        assert tuple(event.to_json()) == KEYS


def test_feed_includes_handoffs(tmp_path: Path) -> None:
    with Store(tmp_path / "h.sqlite3") as store:
        feed = EventFeed(store, fleet="team")
        store.add_handoff(
            "team", "dev-1", after=["research-3"], detail="findings.md copied from research-3"
        )
        (event,) = feed.read()
        assert event.to_json() | {"at": 0} == {
            "at": 0,
            "fleet": "team",
            "session": "dev-1",
            "kind": "handoff",
            "from": "research-3",
            "to": None,
            "reason": "findings.md copied from research-3",
            "host": None,
        }


def test_feed_since_replays_and_fleet_filters(tmp_path: Path) -> None:
    with Store(tmp_path / "h.sqlite3") as store:
        store.record_transition("team", "a", "idle", source="hook", at=100.0)
        store.record_transition("team", "a", "working", source="hook", at=200.0)
        store.record_transition("other", "b", "idle", source="hook", at=300.0)
        replay = EventFeed(store, fleet="team", since=150.0).read()
        assert [(e.at, e.new) for e in replay] == [(200.0, "working")]


def test_a_feed_after_a_cursor_goes_on_from_exactly_there(tmp_path: Path) -> None:
    with Store(tmp_path / "h.sqlite3") as store:
        store.record_transition("team", "a", "idle", source="hook", at=100.0)
        store.add_prompt("team", "a", "go", source="send", at=150.0)
        store.record_transition("team", "a", "working", source="hook", at=200.0)
        store.record_transition("team", "a", "idle", source="hook", at=300.0)
        seen = EventFeed(store, since=0.0).read()
        assert [e.cursor for e in seen] == ["1.0.0", "1.1.0", "2.1.0", "3.1.0"]
        # A reader that stopped after the second event goes on with the third, once.
        rest = EventFeed(store, after=parse_cursor(str(seen[1].cursor))).read()
        assert [(e.at, e.kind) for e in rest] == [(200.0, "transition"), (300.0, "transition")]
        feed = EventFeed(store)
        assert feed.cursor() == "3.1.0"
        store.record_transition("team", "a", "working", source="hook", at=400.0)
        assert [e.new for e in EventFeed(store, after=parse_cursor(feed.cursor())).read()] == [
            "working"
        ]
    with pytest.raises(ValueError, match="not a cursor"):
        parse_cursor("1.2")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10m", 1000.0 - 600), ("2h", 1000.0 - 7200), ("1.5s", 998.5), ("12345", 12345.0)],
)
def test_parse_since(text: str, expected: float) -> None:
    assert parse_since(text, now=1000.0) == expected


def test_parse_since_rejects_nonsense() -> None:
    with pytest.raises(OrchestratorError, match="--since: cannot read 'soonish'"):
        parse_since("soonish")


def _events_process(db: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ORCHESTRATOR_DB": str(db)}
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "events", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        bufsize=0,  # select() must see every line: nothing may wait in a Python buffer
    )


def _read_line(process: subprocess.Popen[bytes], timeout: float = 10.0) -> dict[str, object]:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, "no event line arrived"
    return dict(json.loads(process.stdout.readline()))


def _started(db: Path, process: subprocess.Popen[bytes]) -> None:
    # The stream starts at "now": wait until the command has its cursors (it printed nothing,
    # so probe by writing until a row shows up).
    with Store(db) as store:
        deadline = time.monotonic() + 20
        assert process.stdout is not None
        while time.monotonic() < deadline:
            store.record_transition("probe", "p", f"s{time.monotonic()}", source="test")
            if select.select([process.stdout], [], [], 0.3)[0]:
                while select.select([process.stdout], [], [], 0.5)[0]:
                    process.stdout.readline()  # every probe that made it
                return
        pytest.fail("events never started")


def test_events_streams_rows_written_by_another_process_then_ends_on_sigterm(
    tmp_path: Path,
) -> None:
    db = tmp_path / "h.sqlite3"
    Store(db).close()
    process = _events_process(db)
    try:
        _started(db, process)
        with Store(db) as store:
            store.record_transition("team", "a", "working", source="hook", reason="r1")
            store.add_prompt("team", "a", "two\nlines", source="send")
        lines = [_read_line(process), _read_line(process)]
        assert [(x["kind"], x["to"], x["reason"]) for x in lines] == [
            ("transition", "working", "r1"),
            ("prompt", None, "two\nlines"),
        ]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()


def test_events_ends_when_its_reader_goes_away(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    Store(db).close()
    process = _events_process(db)
    try:
        _started(db, process)
        assert process.stdout is not None
        process.stdout.close()
        with Store(db) as store:
            store.record_transition("team", "a", "working", source="hook")
        assert process.wait(timeout=10) == 141
        assert process.stderr is not None
        assert b"Traceback" not in process.stderr.read()
    finally:
        process.kill()
        process.wait()


def test_a_host_feed_keeps_the_cursor_and_says_when_the_host_goes_and_comes_back() -> None:
    from orchestrator.remote.events import HostFeed, backoff
    from orchestrator.remote.fleet import Host

    feed = HostFeed("team", Host("box", (), None, "orchestrator", ()), since=50.0)
    assert feed._argv(follow=False)[-5:] == ["--fleet", "team", "--since", "50.0", "--no-follow"]
    line = {"at": 60.0, "fleet": "team", "session": "a", "kind": "transition", "from": None}
    event = feed.take(
        json.dumps({**line, "to": "idle", "reason": "", "host": None, "cursor": "4.0.1"})
    )
    assert event is not None and (event.host, event.new, feed.cursor) == ("box", "idle", "4.0.1")
    assert feed.take('{"cursor": "5.0.1"}') is None and feed.cursor == "5.0.1"
    assert "--after" in feed._argv(follow=True) and "5.0.1" in feed._argv(follow=True)
    (gone,) = feed.lost("Connection refused")
    assert (gone.kind, gone.host, gone.new) == ("host", "box", "unreachable")
    assert feed.lost("again") == []  # said once
    (back,) = feed.answered()
    assert back.new == "back" and feed.answered() == []
    assert [backoff(n) for n in range(1, 7)] == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
