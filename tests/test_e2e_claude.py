"""Detection end to end: the real Claude Code CLI in real tmux panes, driven by a scripted API.

Each test launches a fleet with ``up`` (so Claude runs with our hook settings and the watcher
runs in its window), drives Claude through the scripted Messages API on 127.0.0.1 and keys sent
to its pane, and asserts the state that ``status --json`` reports. The delay between the screen
showing a state and ``status`` reporting it is measured and printed (``-s`` shows it).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import libtmux
import pytest

from orchestrator.cli.main import main
from orchestrator.detect.model import NO_STATUS
from orchestrator.fleet import up as fleet
from orchestrator.layout import load as layout
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import list_sessions
from orchestrator.watch import status
from tests.harness.claude_env import ClaudeHome
from tests.harness.mock_api import (
    MockAnthropicAPI,
    TextReply,
    ToolUseReply,
    ask_user_question_tool_use,
    bash_tool_use,
    write_tool_use,
)
from tests.harness.screen import PERMISSION_QUESTION, idle_screen

pytestmark = pytest.mark.claude

DEADLINE = 30.0
LATENCIES: list[tuple[str, float]] = []


@dataclass
class ClaudeFleet:
    """A running fleet of real Claude sessions."""

    tmux: Tmux
    name: str
    panes: dict[str, str] = field(default_factory=dict)

    def screen(self, session: str) -> str:
        return "\n".join(self.tmux.run(["capture-pane", "-p", "-t", self.panes[session]]))

    def keys(self, session: str, *keys: str, literal: bool = False) -> None:
        flag = ["-l"] if literal else []
        self.tmux.run(["send-keys", "-t", self.panes[session], *flag, *keys])

    def prompt(self, session: str, text: str) -> None:
        self.keys(session, text, literal=True)
        time.sleep(0.2)  # Claude reads a fast paste and Enter as one paste otherwise
        self.keys(session, "Enter")

    def rows(self) -> dict[str, dict[str, object]]:
        return {str(row["name"]): row for row in status.status_rows(self.tmux, self.name)}

    def expect(
        self, session: str, state: str, on_screen: Callable[[str], bool], label: str = ""
    ) -> dict[str, object]:
        """Wait until the screen shows it and status reports ``state``; record the delay."""
        deadline = time.monotonic() + DEADLINE
        seen_at: float | None = None
        row: dict[str, object] = {}
        while time.monotonic() < deadline:
            if seen_at is None and on_screen(self.screen(session)):
                seen_at = time.monotonic()
            row = self.rows().get(session, {})
            if row.get("state") == state and seen_at is not None:
                LATENCIES.append((label or f"{session} {state}", time.monotonic() - seen_at))
                return row
            time.sleep(0.05)
        raise AssertionError(
            f"{session}: wanted {state}, status says {row.get('state')} ({row.get('reason')}); "
            f"screen shown: {seen_at is not None}\n{self.screen(session)}"
        )

    def settled_reason(self, session: str, expected: str, timeout: float = 5.0) -> str:
        """The reason once it is ``expected`` (an exit's status arrives a moment after it)."""
        deadline = time.monotonic() + timeout
        reason = ""
        while time.monotonic() < deadline:
            reason = str(self.rows()[session]["reason"])
            if reason == expected:
                break
            time.sleep(0.05)
        return reason

    def tmux_exit_facts(self, session: str) -> str:
        """What tmux itself recorded about how the pane's process ended."""
        fmt = "#{pane_dead_status}#{pane_dead_signal}"
        return "".join(self.tmux.run(["display-message", "-p", "-t", self.panes[session], fmt]))

    def status_json(self) -> dict[str, dict[str, object]]:
        """What the command line prints, for the final word of each test."""
        from contextlib import redirect_stdout
        from io import StringIO

        out = StringIO()
        with redirect_stdout(out):
            assert main(["-L", str(self.tmux.socket_name), "status", "--json"]) == 0
        return {str(row["name"]): row for row in json.loads(out.getvalue())["sessions"]}


@pytest.fixture
def launch(
    server: libtmux.Server,
    tmp_path: Path,
    claude_bin: Path,
    claude_home: ClaudeHome,
    claude_project: Path,
) -> Iterator[Callable[..., ClaudeFleet]]:
    tmux = Tmux.from_server(server)

    def start(*sessions: str, untrusted: tuple[str, ...] = ()) -> ClaudeFleet:
        env = {k: v for k, v in claude_home.env.items() if k != "TERM"}
        inline = ", ".join(f"{key} = {json.dumps(value)}" for key, value in env.items())
        text = f'name = "claudes"\n[defaults]\nagent = "claude"\nenv = {{ {inline} }}\n'
        for name in sessions:
            cwd = claude_project
            if name in untrusted:
                cwd = tmp_path / f"untrusted-{name}"
                cwd.mkdir()
            text += (
                f'[[sessions]]\nname = "{name}"\ncwd = "{cwd}"\n'
                f"command = [{json.dumps(str(claude_bin))}]\n"
            )
        path = tmp_path / "claudes.toml"
        path.write_text(text)
        fleet.up(layout.load_fleet(str(path)), tmux, size=(240, 60))
        running = ClaudeFleet(tmux, "claudes")
        running.panes = {pane.name: pane.pane_id for pane in list_sessions(tmux, "claudes")}
        return running

    yield start
    for label, seconds in LATENCIES:
        print(f"latency screen->status: {label}: {seconds:.2f}s")
    LATENCIES.clear()


def question_on_screen(screen: str) -> bool:
    return "Enter to select" in screen


def permission_on_screen(screen: str) -> bool:
    return PERMISSION_QUESTION.search(screen) is not None


def permission_then_esc(
    claudes: ClaudeFleet,
    mock_api: MockAnthropicAPI,
    session: str,
    tool_use: ToolUseReply,
    prompt: str,
    reason: str,
    labels: tuple[str, str, str],
) -> None:
    """From start-up idle, ``prompt`` gets ``tool_use``: awaiting with ``reason``; Esc: idle.

    ``labels`` name the three latencies: start-up idle, the permission, and idle after Esc.
    """
    claudes.expect(session, "idle", idle_screen, labels[0])
    mock_api.enqueue(tool_use)
    claudes.prompt(session, prompt)
    row = claudes.expect(session, "awaiting_input", permission_on_screen, labels[1])
    assert row["reason"] == reason
    # Esc at the prompt fires no hook: the screen must correct the stale hook state.
    claudes.keys(session, "Escape")
    claudes.expect(session, "idle", lambda s: not permission_on_screen(s), labels[2])


def test_startup_idle_bash_permission_then_esc(
    launch: Callable[..., ClaudeFleet], mock_api: MockAnthropicAPI
) -> None:
    claudes = launch("dev-1")
    permission_then_esc(
        claudes, mock_api, "dev-1", bash_tool_use("npm test"), "Run the tests", "Bash: npm test",
        labels=("start-up idle", "bash permission", "esc at permission"),
    )  # fmt: skip
    assert claudes.status_json()["dev-1"]["state"] == "idle"


def test_write_permission_and_question(
    launch: Callable[..., ClaudeFleet], mock_api: MockAnthropicAPI
) -> None:
    claudes = launch("docs-4")
    permission_then_esc(
        claudes, mock_api, "docs-4", write_tool_use("notes/plan.md"), "Write the plan",
        "permission to write notes/plan.md", labels=("", "write permission", ""),
    )  # fmt: skip
    mock_api.enqueue(ask_user_question_tool_use("Which database should the service use?"))
    claudes.prompt("docs-4", "Pick a database")
    row = claudes.expect("docs-4", "awaiting_input", question_on_screen, "question")
    assert str(row["reason"]).startswith("question: Which database")
    assert claudes.status_json()["docs-4"]["state"] == "awaiting_input"


def test_long_reply_is_working_then_idle(
    launch: Callable[..., ClaudeFleet], mock_api: MockAnthropicAPI
) -> None:
    claudes = launch("research-3")
    claudes.expect("research-3", "idle", idle_screen)
    mock_api.enqueue(TextReply("All good here. " * 40, chunk_delay=0.15, chunk_chars=8))
    claudes.prompt("research-3", "Explain the layout")
    claudes.expect("research-3", "working", lambda s: "esc to interrupt" in s, "streamed reply")
    assert claudes.status_json()["research-3"]["state"] == "working"
    claudes.expect("research-3", "idle", idle_screen, "turn finished")
    assert claudes.status_json()["research-3"]["state"] == "idle"


def test_trust_dialog_for_an_untrusted_folder(launch: Callable[..., ClaudeFleet]) -> None:
    claudes = launch("test-2", untrusted=("test-2",))
    row = claudes.expect("test-2", "awaiting_input", lambda s: "one you trust" in s, "trust dialog")
    assert "trust" in str(row["reason"])


def test_exit_and_kill_nine(launch: Callable[..., ClaudeFleet]) -> None:
    claudes = launch("git-5", "dev-1")
    claudes.expect("git-5", "idle", idle_screen)
    claudes.expect("dev-1", "idle", idle_screen)
    claudes.prompt("git-5", "/exit")
    claudes.expect("git-5", "exited", lambda s: True, "/exit")
    reason = claudes.settled_reason("git-5", "exit status 0")
    if claudes.tmux_exit_facts("git-5"):
        assert reason == "exit status 0"
    else:
        # tmux 3.3a sometimes records no exit status; then the SessionEnd hook tells the story,
        # if Claude ran it to the end before leaving (it does not always wait for it).
        assert reason in ("session ended (prompt_input_exit)", NO_STATUS)
    pane = next(p for p in list_sessions(claudes.tmux, "claudes") if p.name == "dev-1")
    assert pane.pane_pid is not None
    os.kill(pane.pane_pid, signal.SIGKILL)  # no hook fires for this
    claudes.expect("dev-1", "exited", lambda s: True, "kill -9")
    reason = claudes.settled_reason("dev-1", "killed by signal 9")
    if claudes.tmux_exit_facts("dev-1"):
        assert reason == "killed by signal 9"
    else:
        # tmux 3.3a sometimes records neither status nor signal for a SIGKILLed pane.
        assert reason == NO_STATUS
    final = claudes.status_json()
    assert final["git-5"]["state"] == final["dev-1"]["state"] == "exited"


def test_five_sessions_in_five_states(
    launch: Callable[..., ClaudeFleet], mock_api: MockAnthropicAPI
) -> None:
    names = ("dev-1", "test-2", "research-3", "docs-4", "git-5")
    claudes = launch(*names, untrusted=("test-2",))
    for name in ("dev-1", "research-3", "docs-4", "git-5"):
        claudes.expect(name, "idle", idle_screen, f"{name} start-up")
    claudes.expect("test-2", "awaiting_input", lambda s: "one you trust" in s, "test-2 trust")
    mock_api.enqueue(bash_tool_use("npm test"))
    claudes.prompt("dev-1", "Run the tests")
    claudes.expect("dev-1", "awaiting_input", permission_on_screen, "dev-1 permission")
    mock_api.enqueue(TextReply("Reading. " * 200, chunk_delay=0.2, chunk_chars=6))
    claudes.prompt("research-3", "Survey the code")
    claudes.expect("research-3", "working", lambda s: "esc to interrupt" in s, "research-3 working")
    claudes.prompt("git-5", "/exit")
    claudes.expect("git-5", "exited", lambda s: True, "git-5 exited")
    final = claudes.status_json()
    assert {name: final[name]["state"] for name in names} == {
        "dev-1": "awaiting_input",
        "test-2": "awaiting_input",
        "research-3": "working",
        "docs-4": "idle",
        "git-5": "exited",
    }
    assert final["dev-1"]["reason"] == "Bash: npm test"
    explained = status.explain(claudes.tmux, "dev-1")
    assert "verdict: awaiting_input: Bash: npm test" in explained
    assert "PermissionRequest" in explained
