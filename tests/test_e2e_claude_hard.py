"""Claude Code's harder moments, end to end: the real CLI in a fleet, each session with its own
scripted API on 127.0.0.1, and ``status --json`` asserted for every row of issue 15's table.

One fleet of four sessions serves every row (a plan-mode session, one for subagents and a
background task, one for API errors and retries, one for compaction, drafts, Esc, resizing and
an MCP server). The delay from the screen showing a moment to ``status`` reporting it is printed
(``pytest -s``) and kept in the README.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import libtmux
import pytest

from orchestrator.fleet import up as fleet
from orchestrator.layout import load as layout
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import list_sessions
from orchestrator.watch import status
from tests.harness import mcp_server
from tests.harness.claude_env import ClaudeHome
from tests.harness.mock_api import (
    ErrorReply,
    MockAnthropicAPI,
    TextReply,
    ToolUseReply,
    bash_tool_use,
    usage_limit_error,
)
from tests.harness.record_hard import PLAN, SUBAGENT_TASK, api_error, slow, subagent_tool_use
from tests.harness.screen import PERMISSION_QUESTION, idle_screen
from tests.test_e2e_claude import DEADLINE, ClaudeFleet

pytestmark = pytest.mark.claude

SESSIONS = ("plan-1", "dev-2", "err-3", "misc-4")
LATENCIES: list[tuple[str, float]] = []


class HardFleet(ClaudeFleet):
    """The fleet, one scripted API per session."""

    apis: dict[str, MockAnthropicAPI]

    def seen(
        self, session: str, state: str, on_screen: Callable[[str], bool], label: str,
        reason: Callable[[str], bool] = lambda _: True,
    ) -> str:  # fmt: skip
        """Wait until the screen shows it and ``status`` reports ``state`` with a reason
        ``reason`` accepts; record the delay from the screen; return the reason."""
        deadline = time.monotonic() + DEADLINE
        seen_at: float | None = None
        row: dict[str, object] = {}
        while time.monotonic() < deadline:
            if seen_at is None and on_screen(self.screen(session)):
                seen_at = time.monotonic()
            row = self.rows().get(session, {})
            if seen_at is not None and row.get("state") == state and reason(str(row["reason"])):
                LATENCIES.append((label, time.monotonic() - seen_at))
                return str(row["reason"])
            time.sleep(0.05)
        raise AssertionError(
            f"{session}: wanted {state}, status says {row.get('state')} ({row.get('reason')}); "
            f"screen shown: {seen_at is not None}\n{self.screen(session)}"
        )

    def holds(self, session: str, state: str, seconds: float) -> list[str]:
        """Sample ``status`` for ``seconds``: every sample must say ``state``; their reasons."""
        reasons = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            row = self.rows()[session]
            assert row["state"] == state, (row["state"], row["reason"], self.screen(session))
            reasons.append(str(row["reason"]))
            time.sleep(0.2)
        return reasons


@pytest.fixture
def hard_fleet(
    server: libtmux.Server, tmp_path: Path, claude_bin: Path, claude_home: ClaudeHome,
    claude_project: Path,
) -> Iterator[HardFleet]:  # fmt: skip
    apis = {name: MockAnthropicAPI().start() for name in SESSIONS}
    mcp_config = tmp_path / "mcp.json"
    mcp_config.write_text(json.dumps(mcp_server.config(sys.executable, mcp_config)))
    args = {
        "plan-1": ["--permission-mode", "plan"],
        "misc-4": ["--mcp-config", str(mcp_config), "--strict-mcp-config"],
    }
    env = {k: v for k, v in claude_home.env.items() if k != "TERM"}
    env["CLAUDE_CODE_MAX_RETRIES"] = "2"  # a failing request gives up in seconds
    inline = ", ".join(f"{key} = {json.dumps(value)}" for key, value in env.items())
    text = f'name = "hard"\narrange = "tiled"\n[defaults]\nagent = "claude"\nenv = {{ {inline} }}\n'
    for name in SESSIONS:
        text += (
            f'[[sessions]]\nname = "{name}"\ncwd = "{claude_project}"\n'
            f"command = [{json.dumps(str(claude_bin))}]\n"
            f"args = {json.dumps(args.get(name, []))}\n"
            f'env = {{ ANTHROPIC_BASE_URL = "{apis[name].base_url}"'
            + (', CLAUDE_CODE_MAX_RETRIES = "3"' if name == "err-3" else "")
            + " }\n"
        )
    path = tmp_path / "hard.toml"
    path.write_text(text)
    tmux = Tmux.from_server(server)
    fleet.up(layout.load_fleet(str(path)), tmux, size=(240, 60))
    running = HardFleet(tmux, "hard")
    running.apis = apis
    running.panes = {pane.name: pane.pane_id for pane in list_sessions(tmux, "hard")}
    try:
        yield running
    finally:
        for label, seconds in LATENCIES:
            print(f"latency screen->status: {label}: {seconds:.2f}s")
        LATENCIES.clear()
        for api in apis.values():
            api.stop()


def answered(text: str) -> Callable[[str], bool]:
    """The screen shows ``text`` and the idle prompt."""
    return lambda screen: text in screen and idle_screen(screen)


def test_harder_moments(hard_fleet: HardFleet) -> None:
    claudes = hard_fleet
    api = claudes.apis
    for name in ("dev-2", "err-3", "misc-4"):
        claudes.seen(name, "idle", idle_screen, f"{name} start-up")
    claudes.seen("plan-1", "idle", lambda s: "plan mode on" in s, "plan-mode start-up")

    # A subagent working for a while; the plan is looked at meanwhile.
    api["dev-2"].enqueue(subagent_tool_use(), slow(25), TextReply("The subagent is done."))
    claudes.prompt("dev-2", "Look into auth")
    claudes.seen("dev-2", "working", lambda s: SUBAGENT_TASK in s and "esc to interrupt" in s,
                 "subagent", lambda reason: reason == f"subagent: {SUBAGENT_TASK}")  # fmt: skip

    plan = ToolUseReply(name="ExitPlanMode", input={"plan": PLAN}, text="Here is my plan.")
    api["plan-1"].enqueue(plan)
    claudes.prompt("plan-1", "Plan the fix")
    reason = claudes.seen("plan-1", "awaiting_input", lambda s: "Exit plan mode?" in s, "plan")
    assert reason == "plan ready for approval"
    assert claudes.status_json()["plan-1"]["state"] == "awaiting_input"
    claudes.keys("plan-1", "Escape")
    claudes.seen("plan-1", "idle", lambda s: "Exit plan mode?" not in s, "plan rejected (Esc)")

    # The subagent is still at work, and still named.
    assert set(claudes.holds("dev-2", "working", 2.0)) == {f"subagent: {SUBAGENT_TASK}"}
    claudes.seen("dev-2", "idle", lambda s: "The subagent is done." in s, "subagent finished")

    # A background shell after the turn: idle, with the task counted.
    background = ToolUseReply(
        name="Bash",
        input={"command": "sleep 600", "description": "Wait", "run_in_background": True},
        text="I'll start it in the background.",
    )
    api["dev-2"].enqueue(background, TextReply("It runs in the background."))
    claudes.prompt("dev-2", "Start the long job")  # `sleep` needs no permission
    claudes.seen("dev-2", "idle", lambda s: "1 shell ·" in s, "background task, idle",
                 lambda reason: reason == "1 background task running")  # fmt: skip
    assert claudes.status_json()["dev-2"]["reason"] == "1 background task running"

    # API errors: one that ends the turn at once, retries, one that gives up, a usage limit.
    errors = api["err-3"]
    errors.failing = ErrorReply(400, "invalid_request_error", "messages: content must be non-empty")
    claudes.prompt("err-3", "Go on")
    reason = claudes.seen("err-3", "error", lambda s: "API Error: 400" in s, "API error 400")
    # The screen's error line, or (once the StopFailure hook is in) the hook's kind and message.
    assert "400" in reason and "content must be non-empty" in reason
    errors.failing = api_error(529)
    errors.enqueue(slow(4))
    claudes.prompt("err-3", "Try again")
    claudes.seen("err-3", "working", lambda s: "Retrying in" in s, "retrying after 529",
                 lambda reason: reason.startswith("API error, retrying (attempt "))  # fmt: skip
    errors.failing = None
    claudes.seen("err-3", "idle", idle_screen, "retry succeeded")
    errors.clear_script()
    errors.failing = api_error(500)
    claudes.prompt("err-3", "Once more")
    reason = claudes.seen("err-3", "error", lambda s: "API Error: 500" in s, "API error 500")
    assert "500 Internal server error" in reason
    errors.failing = usage_limit_error(time.time() + 3 * 3600)
    claudes.prompt("err-3", "And again")
    reason = claudes.seen("err-3", "error", lambda s: "Request rejected (429)" in s, "429 limit")
    assert "429" in reason
    errors.failing = None
    last = claudes.status_json()["err-3"]
    assert (last["state"], last["reason"]) == ("error", reason)

    # Compaction, after a few exchanges (too early it says "Not enough messages to compact").
    misc = api["misc-4"]
    for prompt in ("Hello", "Explain the layout"):
        misc.enqueue(TextReply(f"Answer to {prompt}. " * 5))
        claudes.prompt("misc-4", prompt)
        claudes.seen("misc-4", "idle", answered(f"Answer to {prompt}"), f"turn: {prompt}")
    misc.compaction_reply = slow(8)
    claudes.prompt("misc-4", "/compact")
    claudes.seen("misc-4", "working", lambda s: "Compacting conversation" in s, "compacting",
                 lambda reason: reason == "compacting")  # fmt: skip
    claudes.seen("misc-4", "idle", lambda s: "Compacted" in s and idle_screen(s), "compacted")

    # A draft at the prompt: idle all along, never working.
    for word in ["a", "draft", "I", "have", "not", "sent"]:
        claudes.keys("misc-4", word + " ", literal=True)
        claudes.holds("misc-4", "idle", 0.4)
    claudes.keys("misc-4", "C-u")

    # Esc while working.
    misc.enqueue(slow(30))
    claudes.prompt("misc-4", "Explain it slowly")
    # (Esc before any output puts the prompt back in the box, as a draft: wait for the reply.)
    claudes.seen("misc-4", "working", lambda s: "A slow answer" in s, "working")
    claudes.keys("misc-4", "Escape")
    claudes.seen("misc-4", "idle", lambda s: "Interrupted" in s, "Esc while working",
                 lambda reason: reason == "interrupted")  # fmt: skip

    # A permission prompt in a pane resized to 40 columns, then to 10 rows.
    misc.enqueue(bash_tool_use("npm test"))
    claudes.prompt("misc-4", "Run the tests")
    reason = claudes.seen("misc-4", "awaiting_input", lambda s: PERMISSION_QUESTION.search(s)
                          is not None, "permission")  # fmt: skip
    assert reason == "Bash: npm test"
    pane = claudes.panes["misc-4"]
    claudes.tmux.run(["resize-pane", "-Z", "-t", pane])  # the pane alone fills its window
    for window, pane_size in (("40x60", "40x59"), ("240x11", "240x10")):  # a status line
        width, height = window.split("x")
        claudes.tmux.run(["resize-window", "-t", pane, "-x", width, "-y", height])
        size = claudes.tmux.run(["display", "-p", "-t", pane, "#{pane_width}x#{pane_height}"])
        assert size == [pane_size]
        assert set(claudes.holds("misc-4", "awaiting_input", 3.0)) == {"Bash: npm test"}
    claudes.tmux.run(["resize-window", "-t", pane, "-x", "240", "-y", "60"])
    claudes.tmux.run(["resize-pane", "-Z", "-t", pane])
    claudes.keys("misc-4", "Escape")
    claudes.seen("misc-4", "idle", lambda s: not PERMISSION_QUESTION.search(s), "Esc at prompt")

    # An MCP tool: Claude's permission prompt, then the server's question (elicitation).
    tool = ToolUseReply(name=f"mcp__{mcp_server.NAME}__deploy", input={}, text="Deploying.")
    misc.enqueue(tool, TextReply("Deployed."))
    claudes.prompt("misc-4", "Deploy it")
    reason = claudes.seen("misc-4", "awaiting_input", lambda s: "(MCP)" in s, "MCP permission")
    assert reason == f"permission for MCP {mcp_server.NAME}: deploy"
    claudes.keys("misc-4", "Enter")
    reason = claudes.seen("misc-4", "awaiting_input", lambda s: "requests your input" in s,
                          "MCP elicitation")  # fmt: skip
    assert mcp_server.NAME in reason
    assert claudes.status_json()["misc-4"]["state"] == "awaiting_input"
    explained = status.explain(claudes.tmux, "err-3")
    assert "agent: Claude Code 2.1.197" in explained
