"""A subscriber's usage limit with its reset time, and the permission modes' footers, end to end:
the real Claude Code in a fleet, each session with its own scripted API on 127.0.0.1, and
``status --json`` asserted.

- ``sub-1`` is logged in as a claude.ai subscriber (a fake OAuth token: Claude Code then sends
  ``Authorization: Bearer`` to the scripted API and reads its unified rate-limit headers). A 429
  with ``anthropic-ratelimit-unified-status: rejected`` and a reset time shows "You've hit your
  session limit · resets 12:25am (UTC)" and a menu: ``error``, "session limit until 12:25am
  (UTC)".
- ``edits-2`` starts in accept-edits mode (the layout's ``permission_mode``), whose footer
  ("⏵⏵ accept edits on") replaces "? for shortcuts": idle, working, idle; a command still asks.

The delay from the screen showing a moment to ``status`` reporting it is printed (``pytest -s``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import libtmux
import pytest

from orchestrator.fleet import up as fleet
from orchestrator.layout import load as layout
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import list_sessions
from tests.harness.claude_env import ClaudeHome, RefusingProxy, with_subscription_login
from tests.harness.mock_api import MockAnthropicAPI, TextReply, bash_tool_use, usage_limit_error
from tests.harness.record_hard import slow
from tests.harness.screen import PERMISSION_QUESTION
from tests.test_e2e_claude_hard import LATENCIES, HardFleet

pytestmark = pytest.mark.claude

SESSIONS = ("sub-1", "edits-2")
RESETS = re.compile(r"^session limit until \d{1,2}(?::\d\d)?[ap]m \([^)]+\)$")
"""The reason of a subscriber's usage limit, from "You've hit your session limit · resets 12:25am
(UTC)" (the StopFailure hook's message or the screen's line), reset time included."""
MODE_FOOTER = "accept edits on"


@pytest.fixture
def limits_fleet(
    server: libtmux.Server, tmp_path: Path, claude_bin: Path, claude_home: ClaudeHome,
    claude_project: Path,
) -> Iterator[tuple[HardFleet, RefusingProxy]]:  # fmt: skip
    apis = {name: MockAnthropicAPI().start() for name in SESSIONS}
    with RefusingProxy() as proxy:
        subscriber = with_subscription_login(claude_home, proxy.url).env
        plain = {k: v for k, v in claude_home.env.items() if k != "TERM"}
        envs = {
            "sub-1": {k: v for k, v in subscriber.items() if k != "TERM"},
            "edits-2": plain,
        }
        text = 'name = "limits"\narrange = "tiled"\n[defaults]\nagent = "claude"\n'
        for name in SESSIONS:
            env = {**envs[name], "ANTHROPIC_BASE_URL": apis[name].base_url}
            inline = ", ".join(f"{key} = {json.dumps(value)}" for key, value in env.items())
            text += (
                f'[[sessions]]\nname = "{name}"\ncwd = "{claude_project}"\n'
                f"command = [{json.dumps(str(claude_bin))}]\nenv = {{ {inline} }}\n"
            )
            if name == "edits-2":
                text += 'permission_mode = "acceptEdits"\n'
        path = tmp_path / "limits.toml"
        path.write_text(text)
        tmux = Tmux.from_server(server)
        fleet.up(layout.load_fleet(str(path)), tmux, size=(200, 50))
        running = HardFleet(tmux, "limits")
        running.apis = apis
        running.panes = {pane.name: pane.pane_id for pane in list_sessions(tmux, "limits")}
        try:
            yield running, proxy
        finally:
            for label, seconds in LATENCIES:
                print(f"latency screen->status: {label}: {seconds:.2f}s")
            LATENCIES.clear()
            for api in apis.values():
                api.stop()


def test_usage_limit_and_accept_edits_mode(limits_fleet: tuple[HardFleet, RefusingProxy]) -> None:
    claudes, proxy = limits_fleet
    sub, edits = claudes.apis["sub-1"], claudes.apis["edits-2"]
    claudes.seen("sub-1", "idle", lambda s: "? for shortcuts" in s, "subscriber start-up")
    claudes.seen("edits-2", "idle", lambda s: MODE_FOOTER in s, "accept-edits start-up")
    # Claude's start-up hook says idle at once; the still screen then names the mode.
    mode_reason = "at the prompt (accept edits on)"
    assert claudes.settled_reason("edits-2", mode_reason, timeout=20) == mode_reason

    # A subscriber's usage limit: the error line and Claude's menu (wait, or upgrade).
    sub.failing = usage_limit_error(time.time() + 3 * 3600)
    claudes.prompt("sub-1", "Go on")
    reason = claudes.seen("sub-1", "error", lambda s: "Stop and wait for limit" in s,
                          "usage limit (menu)", lambda r: RESETS.search(r) is not None)  # fmt: skip
    turns = sub.main_turn_requests()
    assert turns and all(r.headers.get("Authorization", "").startswith("Bearer ") for r in turns)
    claudes.keys("sub-1", "Enter")  # 1. Stop and wait for limit to reset
    claudes.seen("sub-1", "error", lambda s: "Stop and wait" not in s and "resets" in s,
                 "usage limit (at the prompt)", lambda r: r == reason)  # fmt: skip
    assert set(claudes.holds("sub-1", "error", 2.0)) == {reason}
    row = claudes.status_json()["sub-1"]
    assert (row["state"], row["reason"]) == ("error", reason)

    # Accept-edits mode meanwhile: idle, working, idle; a command still asks.
    edits.enqueue(slow(8))
    claudes.prompt("edits-2", "Explain the project")
    claudes.seen("edits-2", "working", lambda s: "esc to interrupt" in s, "accept-edits working")
    assert claudes.holds("edits-2", "working", 2.0)  # the mode's footer never reads idle mid-turn
    at_mode_prompt = lambda s: "esc to interrupt" not in s and MODE_FOOTER in s  # noqa: E731
    claudes.seen("edits-2", "idle", at_mode_prompt, "accept-edits idle")
    assert claudes.settled_reason("edits-2", mode_reason, timeout=20) == mode_reason
    edits.enqueue(bash_tool_use("npm test"), TextReply("Tests ran."))
    claudes.prompt("edits-2", "Run the tests")
    asking = lambda s: PERMISSION_QUESTION.search(s) is not None  # noqa: E731
    reason = claudes.seen("edits-2", "awaiting_input", asking, "accept-edits permission")
    assert reason == "Bash: npm test"
    claudes.keys("edits-2", "Escape")
    claudes.seen(
        "edits-2", "idle", lambda s: PERMISSION_QUESTION.search(s) is None, "accept-edits Esc"
    )

    # The limit is over: the next turn ends the error.
    sub.failing = None
    sub.enqueue(TextReply("Back at work."))
    claudes.prompt("sub-1", "Try again")
    claudes.seen("sub-1", "idle", lambda s: "Back at work." in s, "after the limit")
    rows = claudes.status_json()
    assert rows["sub-1"]["state"] == "idle" and rows["edits-2"]["state"] == "idle"
    assert proxy.attempts == []  # nothing tried to leave 127.0.0.1
