"""Claude Code hook plumbing: settings, the sh hook command, and reading events safely."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from orchestrator.agents import claude
from orchestrator.agents.claude import CLAUDE
from orchestrator.detect import hooks
from orchestrator.detect.model import State


def run_hook(files: hooks.HookFiles, payload: bytes) -> subprocess.CompletedProcess[bytes]:
    settings = json.loads(files.settings.read_text())
    command = settings["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    return subprocess.run(["sh", "-c", command], input=payload, capture_output=True, check=False)


@pytest.fixture
def files(tmp_path: Path) -> hooks.HookFiles:
    return hooks.prepare("fleet", "dev-1", tmp_path / "run", settings=claude.settings)


def event(name: str, session_id: str = "s-1", **data: object) -> bytes:
    return json.dumps({"hook_event_name": name, "session_id": session_id, **data}).encode()


def test_files_are_private(files: hooks.HookFiles, tmp_path: Path) -> None:
    for folder in (
        tmp_path / "run",
        tmp_path / "run" / "fleets",
        files.folder.parent,
        files.folder,
    ):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for path in (files.settings, files.events, files.folder / "token"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_settings_install_every_event(files: hooks.HookFiles) -> None:
    settings = json.loads(files.settings.read_text())
    assert set(settings["hooks"]) == set(claude.HOOK_EVENTS)
    assert "python" not in files.settings.read_text()


def test_prepare_again_keeps_the_token(files: hooks.HookFiles, tmp_path: Path) -> None:
    again = hooks.prepare("fleet", "dev-1", tmp_path / "run", settings=claude.settings)
    assert again.token == files.token
    assert len(files.token) == 32


def test_hook_command_appends_one_line_per_event(files: hooks.HookFiles) -> None:
    pretty = json.dumps(
        {"hook_event_name": "PermissionRequest", "session_id": "s-1", "tool_name": "Bash"}, indent=2
    ).encode()
    assert run_hook(files, event("SessionStart")).returncode == 0
    assert run_hook(files, pretty).returncode == 0
    reader = hooks.EventReader(files.events, files.token)
    events = reader.read()
    assert [e.name for e in events] == ["SessionStart", "PermissionRequest"]
    assert events[1].data["tool_name"] == "Bash"
    assert events[0].at <= events[1].at


def test_hook_never_fails_claude(files: hooks.HookFiles) -> None:
    settings = files.settings.read_text()
    shutil.rmtree(files.folder)  # the fleet's folder is gone: the append must fail quietly
    files.folder.parent.mkdir(parents=True, exist_ok=True)
    replaced = files.folder.parent / "settings.json"
    replaced.write_text(settings)
    proc = run_hook(
        hooks.HookFiles(files.folder, replaced, files.events, files.token), event("Stop")
    )
    assert not files.events.exists()
    assert proc.returncode == 0
    assert proc.stderr == b""


def test_garbage_and_enormous_lines_are_ignored(files: hooks.HookFiles) -> None:
    reader = hooks.EventReader(files.events, files.token)
    run_hook(files, event("SessionStart"))
    run_hook(files, b"\x00\xff not json at all {{{")
    run_hook(files, b'{"hook_event_name": "Stop", "session_id": ' + b'"x' * 200_000 + b'"}')
    run_hook(files, b"[1, 2, 3]")
    run_hook(files, event("Stop"))
    assert [e.name for e in reader.read()] == ["SessionStart", "Stop"]
    assert reader.rejected == 3
    line_lengths = [len(line) for line in files.events.read_bytes().split(b"\n")]
    assert max(line_lengths) < hooks.MAX_LINE + 100


def test_lines_without_our_token_are_ignored(files: hooks.HookFiles) -> None:
    reader = hooks.EventReader(files.events, files.token)
    with files.events.open("ab") as out:
        out.write(b"wrongtoken 1.0 " + event("PermissionRequest", tool_name="Bash") + b"\n")
        out.write(b"1.0 " + event("PermissionRequest") + b"\n")
    assert reader.read() == []
    assert reader.rejected == 2


def test_events_of_another_claude_session_are_ignored(files: hooks.HookFiles) -> None:
    reader = hooks.EventReader(files.events, files.token)
    run_hook(files, event("SessionStart", session_id="mine"))
    run_hook(files, event("PermissionRequest", session_id="someone-else", tool_name="Bash"))
    run_hook(files, event("Stop", session_id="mine"))
    assert [(e.name, e.session_id) for e in reader.read()] == [
        ("SessionStart", "mine"),
        ("Stop", "mine"),
    ]


def test_hostile_events_leave_the_state_unchanged(files: hooks.HookFiles) -> None:
    tracker = CLAUDE.tracker(started=0.0)
    reader = hooks.EventReader(files.events, files.token)
    run_hook(files, event("SessionStart", session_id="mine"))
    run_hook(files, event("Stop", session_id="mine"))
    tracker.see_hooks(reader.read())
    before = tracker.decide(1e12)[0]
    assert before.state == State.IDLE
    run_hook(files, b"garbage")
    run_hook(files, event("PermissionRequest", session_id="other", tool_name="Bash"))
    with files.events.open("ab") as out:
        out.write(b"forged 1.0 " + event("PermissionRequest", session_id="mine") + b"\n")
    tracker.see_hooks(reader.read())
    after = tracker.decide(1e12)[0]
    assert after.state == State.IDLE
    assert after.reason == before.reason


def test_partial_last_line_waits(files: hooks.HookFiles) -> None:
    reader = hooks.EventReader(files.events, files.token)
    line = f"{files.token} 1.5 ".encode() + event("Stop")
    with files.events.open("ab") as out:
        out.write(line[:20])
    assert reader.read() == []
    with files.events.open("ab") as out:
        out.write(line[20:] + b"\n")
    assert [e.name for e in reader.read()] == ["Stop"]


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        (
            "PermissionRequest",
            {"tool_name": "Bash", "tool_input": {"command": "npm test"}},
            (State.AWAITING_INPUT, "Bash: npm test"),
        ),
        (
            "PermissionRequest",
            {"tool_name": "Write", "cwd": "/p", "tool_input": {"file_path": "/p/notes/plan.md"}},
            (State.AWAITING_INPUT, "permission to write notes/plan.md"),
        ),
        (
            "PermissionRequest",
            {
                "tool_name": "AskUserQuestion",
                "tool_input": {"questions": [{"question": "Which database?"}]},
            },
            (State.AWAITING_INPUT, "question: Which database?"),
        ),
        (
            "PreToolUse",
            {"tool_name": "AskUserQuestion", "tool_input": {"questions": [{"question": "Which?"}]}},
            (State.AWAITING_INPUT, "question: Which?"),
        ),
        ("PreToolUse", {"tool_name": "Read"}, (State.WORKING, "Read")),
        ("UserPromptSubmit", {"prompt": "fix the bug"}, (State.WORKING, "prompt: fix the bug")),
        ("Stop", {}, (State.IDLE, "turn finished")),
        (
            "SessionEnd",
            {"reason": "prompt_input_exit"},
            (State.EXITED, "session ended (prompt_input_exit)"),
        ),
        ("Notification", {"notification_type": "permission_prompt"}, None),
        # The harder moments, with the fields Claude Code 2.1.197 sends (tests/hook-samples)
        (
            "PermissionRequest",
            {"tool_name": "ExitPlanMode", "tool_input": {"plan": "# Plan"}},
            (State.AWAITING_INPUT, "plan ready for approval"),
        ),
        (
            "PermissionRequest",
            {"tool_name": "mcp__deployer__deploy", "tool_input": {}},
            (State.AWAITING_INPUT, "permission for MCP deployer: deploy"),
        ),
        (
            "PreToolUse",
            {"tool_name": "Agent", "tool_input": {"description": "Survey the auth module"}},
            (State.WORKING, "subagent: Survey the auth module"),
        ),
        (
            "PreToolUse",
            {"tool_name": "Task", "tool_input": {"description": "x"}},
            (State.WORKING, "subagent: x"),
        ),
        ("PreToolUse", {"tool_name": "Read", "agent_id": "a5ed"}, None),
        ("SubagentStart", {"agent_id": "a5ed", "agent_type": "general-purpose"}, None),
        ("SubagentStop", {"agent_id": "a5ed", "agent_type": "general-purpose"}, None),
        ("Stop", {"background_tasks": []}, (State.IDLE, "turn finished")),
        (
            "Stop",
            {"background_tasks": [{"id": "b1", "command": "sleep 600"}]},
            (State.IDLE, "1 background task running"),
        ),
        ("Stop", {"background_tasks": [{}, {}]}, (State.IDLE, "2 background tasks running")),
        ("PreCompact", {"trigger": "manual"}, (State.WORKING, "compacting")),
        ("SessionStart", {"source": "compact"}, (State.IDLE, "conversation compacted")),
        (
            "StopFailure",
            {
                "error": "server_error",
                "last_assistant_message": "API Error: 500 Internal server error.",
            },
            (State.ERROR, "API server error: 500 Internal server error."),
        ),
        (
            "StopFailure",
            {"error": "authentication_failed", "last_assistant_message": "Invalid API key"},
            (State.ERROR, "authentication failed: Invalid API key"),
        ),
        ("StopFailure", {"error": "rate_limit"}, (State.ERROR, "rate limit")),
        (
            "StopFailure",  # a subscriber's usage limit (a claude.ai login): the reset time stays
            {
                "error": "rate_limit",
                "last_assistant_message": "You've hit your session limit · resets 12:06am (UTC)",
            },
            (State.ERROR, "session limit until 12:06am (UTC)"),
        ),
        (
            "StopFailure",
            {
                "error": "rate_limit",
                "last_assistant_message": "You've hit your weekly limit · resets Dec 5, 3pm (UTC)",
            },
            (State.ERROR, "weekly limit until Dec 5, 3pm (UTC)"),
        ),
        (
            "StopFailure",
            {
                "error": "rate_limit",
                "last_assistant_message": "You've hit your monthly spend limit · raise it at "
                "claude.ai/settings/usage",
            },
            (State.ERROR, "monthly spend limit reached · raise it at claude.ai/settings/usage"),
        ),
        (
            "Elicitation",
            {"mcp_server_name": "deployer", "message": "Which environment?"},
            (State.AWAITING_INPUT, "MCP deployer asks: Which environment?"),
        ),
        (
            "Notification",
            {"notification_type": "elicitation_dialog"},
            (State.AWAITING_INPUT, "an MCP server asks for input"),
        ),
    ],
)
def test_state_of_events(
    name: str, data: dict[str, object], expected: tuple[State, str] | None
) -> None:
    parsed = hooks.HookEvent(
        at=1.0, name=name, session_id="s", data={"hook_event_name": name, **data}
    )
    assert claude.state_of(parsed) == expected


def test_hook_events_follow_the_installed_version(tmp_path: Path) -> None:
    """2.0.77 refuses a settings file naming a hook event it does not know (and drops every hook
    in it): the events installed follow the version found beside the binary."""
    package = tmp_path / "node_modules" / "@anthropic-ai" / "claude-code"
    package.mkdir(parents=True)
    (package / "package.json").write_text(
        '{"name": "@anthropic-ai/claude-code", "version": "2.0.77"}'
    )
    binary = package / "cli.js"
    binary.write_text("")
    binary.chmod(0o755)
    assert claude.installed_version(str(binary)) == "2.0.77"
    old = claude.events_for("2.0.77")
    assert "StopFailure" not in old and "Elicitation" not in old
    assert set(old) <= claude.KNOWN_TO_2_0
    assert "PermissionRequest" in old
    assert claude.events_for("2.1.197") == claude.events_for(None) == claude.HOOK_EVENTS
    native = tmp_path / "versions" / "2.1.197"
    native.parent.mkdir()
    native.write_text("")
    native.chmod(0o755)
    assert claude.installed_version(str(native)) == "2.1.197"
    assert claude.installed_version(str(tmp_path / "missing")) is None
