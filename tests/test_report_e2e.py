"""``orchestrator report --fleet`` end to end, with the real Claude Code CLI.

A fleet of two real Claude sessions (brought up with ``up``, so our watcher records their
history) each gets a Bash permission prompt from the scripted API: one is answered within about
a second, the other after a measured wait. The report for the fleet then shows both
conversations, their tokens exactly as the scripted API reported them (summed over the replies
each transcript holds, once per message id), and the two waits with their lengths.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

from orchestrator.cli.main import main
from tests.harness.claude_env import ClaudeHome
from tests.harness.mock_api import MockAnthropicAPI, bash_tool_use
from tests.harness.screen import idle_screen
from tests.test_e2e_claude import ClaudeFleet, launch, permission_on_screen

pytest_plugins = ["tests.history_db"]
pytestmark = pytest.mark.claude

__all__ = ["launch"]  # the fixture, shared with the detection tests

SLOW_WAIT = 6.0
"""Seconds the second session is left waiting at its permission prompt."""
TOLERANCE = 1.0
"""How far outside the measured bounds a recorded wait may fall (seconds): the watcher sees a
prompt and its answer within a fraction of a second each."""


def wait_then_answer(
    claudes: ClaudeFleet, mock_api: MockAnthropicAPI, session: str, wait: float
) -> tuple[float, float]:
    """Prompt ``session`` into a Bash permission prompt and answer Yes ``wait`` seconds after
    status reported it awaiting input. Returns the bounds of the wait the history can have
    seen: from status reporting it to the answer (at least), from the prompt to the answer
    (at most)."""
    mock_api.enqueue(bash_tool_use(f"touch made-by-{session}", "Make a file"))
    sent = time.monotonic()
    claudes.prompt(session, f"Run the check for {session}")
    claudes.expect(session, "awaiting_input", permission_on_screen)
    seen = time.monotonic()
    time.sleep(wait)
    claudes.keys(session, "Enter")  # "1. Yes"
    answered = time.monotonic()
    claudes.expect(session, "idle", lambda s: not permission_on_screen(s) and idle_screen(s))
    return answered - seen, answered - sent


def report_json(history_db: Path) -> dict[str, Any]:
    out = StringIO()
    with redirect_stdout(out):
        assert main(["--db", str(history_db), "report", "--fleet", "claudes", "--json"]) == 0
    data: dict[str, Any] = json.loads(out.getvalue())
    return data


def settled_report(history_db: Path, timeout: float = 15.0) -> dict[str, Any]:
    """The fleet's report once both transcripts hold their last reply.

    Claude Code paints its idle screen before it appends the reply that ended the turn to its
    transcript; on a loaded machine the report can run in between and rightly call the turn
    unfinished. So read again until every conversation ended its turn, or give the last read
    to the assertions after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        data = report_json(history_db)
        ended = [row.get("outcome") == "completed" for row in data["list"]]
        if (len(ended) == 2 and all(ended)) or time.monotonic() > deadline:
            return data
        time.sleep(0.5)


def reply_ids(transcript: Path) -> set[str]:
    ids = set()
    for line in transcript.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("type") == "assistant":
            ids.add(rec["message"]["id"])
    return ids


def test_report_shows_the_fleets_conversations_tokens_and_waits(
    launch: Callable[..., ClaudeFleet],
    mock_api: MockAnthropicAPI,
    claude_home: ClaudeHome,
    history_db: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    claudes = launch("quick", "slow")
    for name in ("quick", "slow"):
        claudes.expect(name, "idle", idle_screen)
    measured = {
        "quick": wait_then_answer(claudes, mock_api, "quick", 0.5),
        "slow": wait_then_answer(claudes, mock_api, "slow", SLOW_WAIT),
    }
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(claude_home.home / ".claude"))
    data = settled_report(history_db)
    rows = {row["name"]: row for row in data["list"]}
    assert sorted(rows) == ["quick", "slow"]
    assert {row["fleet"] for row in rows.values()} == {"claudes"}
    usage = mock_api.reported_usage()
    for name, row in rows.items():  # shown with -s
        low, high = measured[name]
        print(f"{name}: wait {low:.2f}-{high:.2f}s, report {row['waits']}, {row['tokens']}")
    for row in rows.values():
        ids = reply_ids(Path(row["path"]))
        assert ids and ids <= set(usage)
        assert row["tokens"] == {
            "input": sum(usage[i].get("input_tokens", 0) for i in ids),
            "cache_creation": sum(usage[i].get("cache_creation_input_tokens", 0) for i in ids),
            "cache_read": sum(usage[i].get("cache_read_input_tokens", 0) for i in ids),
            "output": sum(usage[i].get("output_tokens", 0) for i in ids),
        }
        assert row["outcome"] == "completed"
        assert row["messages"] == 1 + len(ids)  # one prompt; the tool result is no prompt
    for name, (low, high) in measured.items():
        waits = rows[name]["waits"]
        assert len(waits) == 1, (name, waits)
        assert low - TOLERANCE <= waits[0]["seconds"] <= high + TOLERANCE, (name, waits, low, high)
    assert rows["slow"]["waits"][0]["seconds"] > rows["quick"]["waits"][0]["seconds"] + 3
    attention = data["attention"]
    assert attention["waits"] == 2
    assert attention["forgotten"] == 0
    total = sum(w["seconds"] for row in rows.values() for w in row["waits"])
    assert attention["awaiting_input_hours"] == round(total / 3600, 4)
    assert data["sessions"]["total"] == 2
    # Every record the real CLI wrote is of a type the report knows.
    assert data["sessions"]["skipped_lines"] == 0
