"""The agent modules' own logic, fast: Codex's hook overrides and their trust, Gemini's settings
layer, and what each agent's hook events mean (payloads as the real CLIs sent them)."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from orchestrator.agents import aider, codex, gemini
from orchestrator.agents.catalog import profile_of
from orchestrator.detect.hooks import HookEvent, parse_line
from orchestrator.detect.model import State

PATCH = (
    "*** Begin Patch\n*** Update File: src/app.py\n@@\n-print('hello')\n+print('hello, world')\n"
    "*** End Patch"
)
PATCH3 = (
    "*** Begin Patch\n*** Update File: src/app.py\n@@\n-a\n+b\n*** Add File: docs/new file.md\n"
    "+hi\n*** Delete File: old.py\n*** Update File: src/app.py\n@@\n-c\n+d\n*** End Patch"
)


def test_codex_edited_files_in_patch_order_once_each() -> None:
    assert codex.edited_files({"command": PATCH3}) == ["src/app.py", "docs/new file.md", "old.py"]
    assert codex.edited_files({"input": PATCH}) == ["src/app.py"]
    assert codex.edited_files({"command": "ls"}) == []
    assert codex.edit_reason(["a.py", "b.py"]) == "edit: a.py, b.py"


def event(name: str, **data: object) -> HookEvent:
    return HookEvent(at=1.0, name=name, session_id="s", data={"hook_event_name": name, **data})


def test_codex_trust_hash_matches_what_codex_recorded() -> None:
    # Codex 0.171.0 wrote this hash into config.toml when "Trust all" was chosen for
    # -c 'hooks.Stop=[{hooks=[{type="command",command="true",timeout=5}]}]'.
    recorded = "sha256:99551a51b888f6dc725f1199663b7b1e1ef9bb9b9cab0612d84e5e9218aca6f5"
    assert codex.trust_hash("stop", "true", timeout=5) == recorded


def test_codex_overrides_are_toml_and_trust_every_hook() -> None:
    command = "{ printf '%s' \"$(date)\"; } >> '/tmp/a b/events.jsonl'; exit 0"
    args = codex.hook_overrides(command)
    values = [args[i + 1] for i in range(0, len(args), 2)]
    assert all(flag == "-c" for flag in args[::2])
    hooks: dict[str, Any] = {}
    for value in values:
        hooks.update(tomllib.loads(value)["hooks"])
    for name, label in codex.HOOK_EVENTS.items():
        handler = hooks[name][0]["hooks"][0]
        assert handler == {"type": "command", "command": command, "timeout": codex.HOOK_TIMEOUT}
        key = f"{codex.LAYER}:{label}:0:0"
        assert hooks["state"][key]["trusted_hash"] == codex.trust_hash(label, command)


def test_codex_launch_adds_no_daemon_and_hooks_only_to_codex(tmp_path: Path) -> None:
    argv = codex.CODEX.launch_argv("f", "s", ["codex", "-m", "o3"], tmp_path)
    assert argv[:2] == ["codex", "--no-daemon"]
    assert argv[-2:] == ["-m", "o3"]
    assert any(arg.startswith("hooks.state=") for arg in argv)
    assert codex.CODEX.launch_argv("f", "s", ["my-wrapper"], tmp_path) == ["my-wrapper"]
    assert codex.CODEX.resume_args("abc") == ["resume", "abc"]
    assert codex.CODEX.resume_args(None) == []


@pytest.mark.parametrize(
    ("hook", "state", "reason"),
    [
        (event("SessionStart", source="startup"), State.IDLE, "session started (startup)"),
        (event("UserPromptSubmit", prompt="fix it"), State.WORKING, "prompt: fix it"),
        (
            event("PermissionRequest", tool_name="Bash", tool_input={"command": "npm test"}),
            State.AWAITING_INPUT,
            "Shell: npm test",
        ),
        (
            # As Codex 0.171.0 sent it for a file edit (tests/harness/record_agents.py, edit).
            event("PermissionRequest", tool_name="apply_patch", tool_input={"command": PATCH}),
            State.AWAITING_INPUT,
            "edit: src/app.py",
        ),
        (
            event("PermissionRequest", tool_name="apply_patch", tool_input={"command": PATCH3}),
            State.AWAITING_INPUT,
            "edit: src/app.py and 2 more files",
        ),
        (event("Stop"), State.IDLE, "turn finished"),
        (event("SessionEnd", reason="other"), State.EXITED, "session ended (other)"),
    ],
)
def test_codex_hook_states(hook: HookEvent, state: State, reason: str) -> None:
    assert codex.state_of(hook) == (state, reason)


def test_gemini_layer_keeps_the_users_defaults_and_hooks(tmp_path: Path) -> None:
    theirs = tmp_path / "system-defaults.json"
    mine = {"type": "command", "command": "their-hook"}
    theirs.write_text(
        json.dumps({"ui": {"theme": "x"}, "hooks": {"AfterAgent": [{"hooks": [mine]}]}})
    )
    env = {gemini.DEFAULTS_VAR: str(theirs)}
    extra = gemini.GEMINI.launch_env("f", "s", env, tmp_path)
    layer = Path(extra[gemini.DEFAULTS_VAR])
    assert layer.parent.stat().st_mode & 0o077 == 0
    document = json.loads(layer.read_text())
    assert document["ui"] == {"theme": "x"}
    after = document["hooks"]["AfterAgent"]
    assert after[0] == {"hooks": [mine]}
    assert after[1]["hooks"][0]["name"] == "orchestrator"
    assert set(document["hooks"]) >= set(gemini.HOOK_EVENTS)
    assert json.loads(theirs.read_text())["hooks"]["AfterAgent"] == [{"hooks": [mine]}]


@pytest.mark.parametrize(
    ("hook", "state", "reason"),
    [
        (event("BeforeAgent", prompt="read it"), State.WORKING, "prompt: read it"),
        (
            event(
                "Notification",
                notification_type="ToolPermission",
                message="Tool Confirm Shell Command requires execution",
                details={"type": "exec", "command": "npm test"},
            ),
            State.AWAITING_INPUT,
            "Shell: npm test",
        ),
        (event("AfterAgent"), State.IDLE, "turn finished"),
        (event("SessionEnd", reason="exit"), State.EXITED, "session ended (exit)"),
    ],
)
def test_gemini_hook_states(hook: HookEvent, state: State, reason: str) -> None:
    assert gemini.state_of(hook) == (state, reason)


def test_codex_waits_longer_before_enter() -> None:
    assert profile_of("codex").enter_delay > profile_of("claude").enter_delay


def test_aider_notification_command_appends_an_event_without_reading_stdin(
    tmp_path: Path,
) -> None:
    argv = aider.AIDER.launch_argv("f", "s", ["aider", "--no-git"], tmp_path, ["--model", "m"])
    assert argv[:3] == ["aider", "--notifications", "--notifications-command"]
    assert argv[-3:] == ["--model", "m", "--no-git"]
    command = argv[3]
    events = next(tmp_path.glob("fleets/f/s/events.jsonl"))
    # Run as aider runs it (a shell, the terminal as stdin): stdin here has text that must stay.
    done = subprocess.run(
        ["sh", "-c", command], input=b"keystrokes", capture_output=True, check=False
    )
    assert done.returncode == 0
    token = (events.parent / "token").read_text().strip()
    (line,) = events.read_bytes().splitlines()
    parsed = parse_line(line, token)
    assert parsed is not None and parsed.name == aider.EVENT
    assert aider.state_of(parsed) == (State.IDLE, "waiting for you")
    assert profile_of("aider").interrupt_key == "C-c"
    assert aider.AIDER.resume_args("anything") == []
