"""End-to-end smoke test: the real Claude Code CLI in tmux, answered by the scripted mock API."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import libtmux
import pytest

from tests.harness.claude_env import ClaudeHome
from tests.harness.mock_api import (
    DEFAULT_FINAL_TEXT,
    SIDE_REQUEST_TEXT,
    MockAnthropicAPI,
    TextReply,
    bash_tool_use,
)
from tests.harness.screen import idle_screen, wait_for_screen


def _post(api: MockAnthropicAPI, body: dict[str, Any]) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        api.base_url + "/v1/messages",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    return [
        json.loads(line.removeprefix("data: "))
        for line in text.splitlines()
        if line.startswith("data: ")
    ]


def test_mock_api_streams_scripted_replies_then_a_closing_text() -> None:
    with MockAnthropicAPI() as api:
        api.enqueue(bash_tool_use("npm test"))
        main_turn = {"stream": True, "tools": [{"name": "Bash"}], "messages": []}

        first = _post(api, main_turn)
        second = _post(api, main_turn)
        side = _post(api, {"stream": True, "messages": []})

    assert first[0]["type"] == "message_start"
    assert [e["type"] for e in first][-2:] == ["message_delta", "message_stop"]
    assert first[-2]["delta"]["stop_reason"] == "tool_use"
    tool_json = "".join(
        e["delta"]["partial_json"]
        for e in first
        if e["type"] == "content_block_delta" and e["delta"]["type"] == "input_json_delta"
    )
    assert json.loads(tool_json) == {"command": "npm test", "description": "Run the test suite"}
    texts = [
        "".join(e["delta"].get("text", "") for e in r if e["type"] == "content_block_delta")
        for r in (second, side)
    ]
    assert texts == [DEFAULT_FINAL_TEXT, SIDE_REQUEST_TEXT]
    assert second[-2]["delta"]["stop_reason"] == "end_turn"
    assert [r.is_main_turn for r in api.requests] == [True, True, False]


@pytest.mark.claude
def test_claude_shows_the_scripted_reply(
    server: libtmux.Server,
    mock_api: MockAnthropicAPI,
    claude_home: ClaudeHome,
    claude_project: Path,
    claude_bin: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.delenv("TMUX_PANE", raising=False)
    mock_api.enqueue(TextReply("Hello from the scripted mock API."))
    session = server.new_session(
        session_name="claude-smoke",
        window_command=claude_home.shell_command([claude_bin], cwd=claude_project),
        x=120,
        y=40,
    )
    pane = session.active_window.active_pane
    assert pane is not None

    def capture() -> str:
        return "\n".join(pane.capture_pane() or [])

    wait_for_screen(capture, idle_screen, timeout=60, stable_for=0.5)
    pane.send_keys("Say hello", enter=False, literal=True)
    wait_for_screen(capture, "Say hello", timeout=10)
    pane.send_keys("Enter", enter=False)

    screen = wait_for_screen(
        capture,
        lambda s: "Hello from the scripted mock API." in s and idle_screen(s),
        timeout=60,
    )

    assert "❯ Say hello" in screen
    [request] = mock_api.main_turn_requests()
    assert request.user_texts()[-1] == "Say hello"
