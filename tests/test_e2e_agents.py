"""Detection end to end for Codex CLI, Gemini CLI and aider: the real CLIs in real tmux panes,
started with ``up``, each driven by a scripted model server on 127.0.0.1 and by keys.

One test per agent walks its whole life: start-up idle, a streamed reply (working), the turn's end
(idle), a shell-command approval (awaiting input, the command as the reason), Esc at it (idle),
exit (exited); and for the agents that can, a restart that resumes the conversation. The
screen-to-status delays are printed (``-s`` shows them). Markers: ``codex``, ``gemini``,
``aider``, so each group runs alone.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import libtmux
import pytest

from orchestrator.agents.catalog import profile_of
from orchestrator.fleet import control, jump, restart
from orchestrator.store import history
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import fleet_names, list_sessions
from orchestrator.watch import status
from tests.harness import agent_env
from tests.harness.agent_fleet import AgentFleet, Member, start_fleet
from tests.harness.claude_env import ClaudeHome
from tests.harness.mock_api import MockAnthropicAPI, TextReply, bash_tool_use
from tests.harness.mock_llm import MockLLM, Shell, Text
from tests.harness.record_agents import PATCH
from tests.waiting import wait_for


def tail(screen: str, lines: int = 3) -> str:
    """The last non-blank lines of a screen."""
    return "\n".join([line for line in screen.splitlines() if line.strip()][-lines:])


def sentences(count: int) -> str:
    """A reply of distinct sentences (Gemini halts a reply that repeats itself as a loop)."""
    return " ".join(f"Sentence number {i} of the reply." for i in range(count))


@pytest.fixture
def mock() -> Iterator[MockLLM]:
    with MockLLM() as server:
        yield server


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


@pytest.fixture
def tmux(server: libtmux.Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tmux]:
    # Gemini skips a settings layer under a group- or world-writable folder (/tmp): the hook
    # files go where none is above them. Set before the tmux server starts (it keeps this env).
    runtime = str(agent_env.secure_runtime("e2e") / "run")
    monkeypatch.setenv("ORCHESTRATOR_RUNTIME_DIR", runtime)
    # CI=true (as CI services set it) makes Gemini CLI run without its TUI: "No input provided
    # via stdin", exit 42. A user's terminal does not have it.
    monkeypatch.delenv("CI", raising=False)
    client = Tmux.from_server(server)
    yield client
    # The fleets end as `down` ends them, with whatever their agents left running (Gemini's
    # node processes outlive the tmux server the fixture kills).
    for fleet in fleet_names(client):
        control.down(client, fleet)
    control.end_processes(agent_env.processes_with(f"ORCHESTRATOR_RUNTIME_DIR={runtime}"))
    shutil.rmtree(Path(runtime).parent, ignore_errors=True)


def member(agent: str, home: Path, mock: MockLLM, project: Path, name: str = "") -> Member:
    """One session of ``agent``, skipped when its pinned CLI is not installed."""
    binary = {
        "codex": agent_env.CODEX_BIN,
        "gemini": agent_env.GEMINI_BIN,
        "aider": agent_env.AIDER_BIN,
    }[agent]
    why = agent_env.missing(binary)
    if why:
        pytest.skip(why)
    if agent == "codex":
        env = agent_env.codex_env(home, mock, [project])
    elif agent == "gemini":
        env = agent_env.gemini_env(home, mock)
    else:
        env = agent_env.aider_env(home, mock)
    return Member(name or agent, agent, binary, env, project)


def no_process_left(marker: str) -> bool:
    """Whether no process still runs with ``marker`` in its environment."""
    return not agent_env.processes_with(marker)


def clean_exit(fleet: AgentFleet, name: str, timeout: float = 60.0) -> str:
    """The exit's reason once tmux knows the exit status, when it says a clean end; empty when it
    never did. The status can come seconds after the pane died: an agent that closed its terminal
    and lives on a moment (aider, under load) is reaped at the watcher's next nudge, and those
    back off (1, 2, 4, 8... s; orchestrator/watch/reaping.py)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        reason = str(fleet.rows()[name]["reason"])
        if "exit status 0" in reason or "session ended" in reason:
            return reason
        time.sleep(0.1)
    return ""


def walk_life(
    fleet: AgentFleet, mock: MockLLM, name: str, *, idle: str, working: str, approval: str
) -> None:
    """Start-up idle, streamed reply, idle, approval with the command, Esc, idle."""
    fleet.expect(name, "idle", lambda s: idle in s, f"{name} start-up idle")
    mock.enqueue(Text(sentences(14), chunk_delay=0.4, first_delay=3.0))
    fleet.prompt(name, "say something")
    row = fleet.expect(name, "working", lambda s: working in s, f"{name} working")
    assert row["state"] == "working"
    fleet.expect(name, "idle", lambda s: "Sentence number 13" in s, f"{name} turn finished")
    mock.enqueue(Shell("npm test"))
    fleet.prompt(name, "run the tests")
    row = fleet.expect(name, "awaiting_input", lambda s: approval in s, f"{name} approval")
    assert "npm test" in str(row["reason"]), row
    fleet.keys(name, profile_of(fleet.agents[name]).interrupt_key)
    fleet.expect(name, "idle", lambda s: approval not in tail(s), f"{name} esc at approval")


@pytest.mark.codex
def test_codex_life(tmux: Tmux, tmp_path: Path, mock: MockLLM, project: Path) -> None:
    fleet = start_fleet(tmux, tmp_path, [member("codex", tmp_path / "home", mock, project)])
    try:
        walk_life(
            fleet,
            mock,
            "codex",
            idle="? for shortcuts",
            working="esc to interrupt",
            approval="Would you like to run the following command?",
        )
        # A file edit (apply_patch): awaiting input, the file named; approved, the edit lands.
        (project / "src").mkdir()
        app = project / "src" / "app.py"
        app.write_text("print('hello')\n")
        mock.enqueue(Shell(PATCH, "I'll edit it."))
        fleet.prompt("codex", "fix the greeting")
        edits = "Would you like to make the following edits?"
        row = fleet.expect("codex", "awaiting_input", lambda s: edits in s, "codex edit approval")
        assert row["reason"] == "edit: src/app.py", row  # as `status --json` prints it
        fleet.keys("codex", "Enter")
        fleet.expect("codex", "idle", lambda s: edits not in tail(s, 12), "codex edit approved")
        wait_for(lambda: "world" in app.read_text(), timeout=20, what="the approved edit")
        fleet.prompt("codex", "/quit")
        fleet.expect("codex", "exited", lambda s: "codex resume" in s, "codex exit")
        assert clean_exit(fleet, "codex")
        # Nothing of it is left running (no managed daemon outlives the session).
        assert no_process_left(str(tmp_path / "home" / ".codex"))
        # Restart continues the conversation: `codex resume <id>`, the old turns on screen.
        conversation = history.resume_id("agents", "codex")
        assert conversation, "the SessionStart hook's session id is in the history"
        report = restart.restart_session(tmux, "agents", "codex", conversation)
        assert report.resumed == conversation
        assert report.argv[-2:] == ["resume", conversation]
        fleet.expect("codex", "idle", lambda s: "say something" in s, "codex resumed idle")
    finally:
        fleet.report()


@pytest.mark.gemini
def test_gemini_life(tmux: Tmux, tmp_path: Path, mock: MockLLM, project: Path) -> None:
    fleet = start_fleet(tmux, tmp_path, [member("gemini", tmp_path / "home", mock, project)])
    try:
        walk_life(
            fleet,
            mock,
            "gemini",
            idle="Type your message",
            working="esc to cancel",
            approval="Allow execution of",
        )
        fleet.prompt("gemini", "/quit")
        fleet.expect("gemini", "exited", lambda s: "gemini --resume" in s, "gemini exit")
        assert clean_exit(fleet, "gemini")
        conversation = history.resume_id("agents", "gemini")
        assert conversation, "the SessionStart hook's session id is in the history"
        report = restart.restart_session(tmux, "agents", "gemini", conversation)
        assert report.argv[-2:] == ["--resume", conversation]
        fleet.expect("gemini", "idle", lambda s: "Sentence number 13" in s, "gemini resumed idle")
    finally:
        fleet.report()


@pytest.mark.aider
def test_aider_life(tmux: Tmux, tmp_path: Path, mock: MockLLM, project: Path) -> None:
    fleet = start_fleet(tmux, tmp_path, [member("aider", tmp_path / "home", mock, project)])
    try:
        walk_life(
            fleet,
            mock,
            "aider",
            idle="diff>",
            working="Waiting for openai/mock-model",
            approval="Run shell command?",
        )
        # Text typed at the prompt and not sent: idle (a draft), never working.
        fleet.keys("aider", "a draft, not sent", literal=True)
        fleet.expect("aider", "idle", lambda s: "> a draft, not sent" in tail(s, 1), "draft")
        states: list[str] = []
        shown = time.monotonic()
        end, settled = shown + 30, 0.0
        while time.monotonic() < (settled or end):
            row = fleet.rows()["aider"]
            states.append(f"{row['state']}: {row['reason']}")
            if not settled and states[-1] == "idle: at the prompt (a draft)":
                fleet.latencies.append(("aider draft reason", time.monotonic() - shown))
                settled = time.monotonic() + 2  # and it stays so
            time.sleep(0.1)
        assert states[-1] == "idle: at the prompt (a draft)", states
        assert not [s for s in states if s.startswith("working")], states
        fleet.keys("aider", "C-u")
        fleet.expect("aider", "idle", lambda s: tail(s, 1).rstrip().endswith("diff>"), "draft gone")
        fleet.prompt("aider", "/exit")
        fleet.expect("aider", "exited", label="aider exit (from /exit)")
        assert clean_exit(fleet, "aider")
    finally:
        fleet.report()


@pytest.mark.claude
@pytest.mark.codex
@pytest.mark.gemini
@pytest.mark.aider
def test_mixed_fleet_is_read_alike(
    tmux: Tmux,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    claude_bin: Path,
    claude_home: ClaudeHome,
    claude_project: Path,
    mock_api: MockAnthropicAPI,
) -> None:
    """dev-1 on Claude, review-2 on Codex, research-3 on Gemini, fix-4 on aider, in one `up`:
    all working at once, all awaiting input with their command, `n` goes through all four, and a
    notification names each."""
    # The notifier runs `notify-send` when there is one: this one writes down what it was told.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    told = tmp_path / "told.txt"
    notifier = bin_dir / "notify-send"
    notifier.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {told}\n')
    notifier.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    servers = {name: MockLLM().__enter__() for name in ("review-2", "research-3", "fix-4")}
    try:
        claude_env = {k: v for k, v in claude_home.env.items() if k != "TERM"}
        members = [
            Member("dev-1", "claude", claude_bin, claude_env, claude_project),
            member("codex", tmp_path / "codex", servers["review-2"], claude_project, "review-2"),
            member(
                "gemini", tmp_path / "gemini", servers["research-3"], claude_project, "research-3"
            ),
            member("aider", tmp_path / "aider", servers["fix-4"], claude_project, "fix-4"),
        ]
        fleet = start_fleet(tmux, tmp_path, members, name="mixed")
        names = [m.name for m in members]
        for name in names:
            fleet.expect(name, "idle", label=f"{name} start-up idle (from up)", deadline=90)
        mock_api.enqueue(TextReply(sentences(14), chunk_delay=0.4))
        for name in names[1:]:
            servers[name].enqueue(Text(sentences(14), chunk_delay=0.4, first_delay=3.0))
        for name in names:
            fleet.prompt(name, "say something")
        rows = {
            name: fleet.expect(name, "working", label=f"{name} working (from the prompt)")
            for name in names
        }
        assert all(row["state"] == "working" for row in rows.values())
        for name in names:
            fleet.expect(name, "idle", lambda s: "Sentence number 13" in s, f"{name} finished")
        mock_api.enqueue(bash_tool_use("npm test"))
        for name in names[1:]:
            servers[name].enqueue(Shell("npm test"))
        for name in names:
            fleet.prompt(name, "run the tests")
        for name in names:
            row = fleet.expect(name, "awaiting_input", label=f"{name} approval (from the prompt)")
            assert "npm test" in str(row["reason"]), row
        # status --json: one row per session, the same fields whatever the agent.
        listed = {str(r["name"]): r for r in status.status_rows(tmux, "mixed")}
        assert {str(r["agent"]) for r in listed.values()} == {"claude", "codex", "gemini", "aider"}
        assert len({tuple(sorted(r)) for r in listed.values()}) == 1
        assert {str(r["state"]) for r in listed.values()} == {"awaiting_input"}
        # `n` goes through every session that needs the user, whatever its agent.
        panes = list_sessions(tmux, "mixed")
        seen: list[str] = []
        current: str | None = None
        for _ in names:
            chosen = jump.next_waiting(panes, current)
            assert chosen is not None
            seen.append(chosen)
            current = fleet.panes[chosen]
        assert sorted(seen) == sorted(names)
        # A notification names each session that needs the user.
        end = time.monotonic() + 20
        while time.monotonic() < end and not all(
            f"mixed/{n} needs you" in (told.read_text() if told.exists() else "") for n in names
        ):
            time.sleep(0.2)
        text = told.read_text() if told.exists() else ""
        for name in names:
            assert f"mixed/{name} needs you" in text, text
        fleet.report()
    finally:
        for server in servers.values():
            server.__exit__(None, None, None)
