"""End-to-end smoke test: the real Claude Code CLI in tmux, answered by the scripted mock API."""

from __future__ import annotations

from pathlib import Path

import libtmux
import pytest

from tests.harness.claude_env import ClaudeHome
from tests.harness.mock_api import MockAnthropicAPI, TextReply
from tests.harness.screen import idle_screen, wait_for_screen

pytestmark = pytest.mark.claude


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
