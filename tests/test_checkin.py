"""Check-in digests: who needs a look, sorted and worded (pure, no tmux)."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.watch import checkin
from orchestrator.watch.checkin import Seen, compose

NOW = 1_700_000_000.0


def test_digest_sorts_sessions_into_its_lists() -> None:
    sessions = [
        Seen("dev-1", "working", NOW - 2 * 3600),
        Seen("test-2", "awaiting_input", NOW - 95, "Bash: pytest"),
        Seen("git-5", "awaiting_input", NOW - 420, "Which branch?"),
        Seen("docs-4", "idle", NOW - 30, turn_ended=NOW - 30),
        Seen("research-3", "idle", NOW - 3600, turn_ended=NOW - 3600, seen_at=NOW - 60),
        Seen("fresh", "idle", NOW - 10),
        Seen("busy", "working", NOW - 600),
        Seen("gone", "exited", NOW - 120, "exit status 1", turn_ended=NOW - 120),
    ]
    digest = compose("team", sessions, NOW)
    assert [(e.name, e.seconds) for e in digest.awaiting] == [("git-5", 420), ("test-2", 95)]
    assert [e.name for e in digest.finished] == ["gone", "docs-4"]
    assert [e.name for e in digest.working_long] == ["dev-1"]
    assert [e.name for e in digest.idle_long] == ["research-3"]  # seen after its turn ended
    assert digest.lines() == [
        "awaiting input: git-5 (7m): Which branch?, test-2 (1m): Bash: pytest",
        "finished, not looked at: gone (2m), docs-4 (30s)",
        "working for over 1h: dev-1 (2h00m)",
        "idle for over 30m: research-3 (1h00m)",
    ]
    assert not digest.empty


def test_a_look_after_the_turn_ended_clears_finished() -> None:
    seen_before = Seen("a", "idle", NOW - 50, turn_ended=NOW - 50, seen_at=NOW - 100)
    seen_after = Seen("b", "idle", NOW - 50, turn_ended=NOW - 50, seen_at=NOW - 10)
    digest = compose("team", [seen_before, seen_after], NOW)
    assert [e.name for e in digest.finished] == ["a"]
    assert digest.idle_long == []


def test_quiet_fleet_has_an_empty_digest() -> None:
    digest = compose("team", [Seen("a", "idle", NOW - 60), Seen("b", "working", NOW - 60)], NOW)
    assert digest.empty
    assert digest.text() == "check-in team\nnothing needs you"
    assert json.loads(json.dumps(digest.to_json()))["awaiting"] == []


def test_seen_file_keeps_the_latest_look(tmp_path: Path) -> None:
    checkin.note_seen(tmp_path, {"a": 10.0, "b": 20.0})
    checkin.note_seen(tmp_path, {"a": 5.0, "c": 1.0})
    assert checkin.read_seen(tmp_path) == {"a": 10.0, "b": 20.0, "c": 1.0}
    (tmp_path / checkin.SEEN_FILE).write_text("not json")
    assert checkin.read_seen(tmp_path) == {}
