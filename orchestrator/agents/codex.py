"""Codex CLI (``@openai/codex``): launched with our hooks as ``-c`` overrides, its hook events,
and ``codex resume <id>``. Its screen rules are ``codex.toml`` beside this.

Hooks reach Codex without touching the user's ``$CODEX_HOME/config.toml``: each event gets a
``-c hooks.<Event>=[...]`` override running the same tiny ``sh`` writer Claude's hooks run.
Codex only runs a hook it trusts, and otherwise opens a "Hooks need review" screen at start; the
trust is given in the same command line, ``-c hooks.state={...}``, keyed by Codex's name for the
command-line layer (``/<session-flags>/config.toml:<event>:0:0``) and holding the hash Codex
computes itself: sha256 over the compact, key-sorted JSON of the event's label and its handler.
Only our own hooks are trusted this way; the user's hooks keep whatever trust they had.

Codex's TUI otherwise starts a background ``app-server`` daemon that outlives the pane (and its
tmux server): ``--no-daemon`` keeps everything in the pane's process tree, so it ends with the
session. Codex takes typed input that arrives fast as a paste, so a prompt's Enter is sent half
a second after its text (:attr:`AgentProfile.enter_delay`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.agents.profile import AgentProfile, short
from orchestrator.detect import hooks
from orchestrator.detect.hooks import HookEvent
from orchestrator.detect.model import State

HOOK_EVENTS = {
    "SessionStart": "session_start",
    "UserPromptSubmit": "user_prompt_submit",
    "PreToolUse": "pre_tool_use",
    "PermissionRequest": "permission_request",
    "PostToolUse": "post_tool_use",
    "Stop": "stop",
    "SessionEnd": "session_end",
}
"""The hook events Codex reports to us, with the label Codex uses for each in trust keys."""
HOOK_TIMEOUT = 3
"""Seconds Codex gives our hook (3 is the most it allows for SessionEnd; ours takes ~5 ms)."""
LAYER = "/<session-flags>/config.toml"
"""Codex's name for the command-line (``-c``) layer in hook trust keys."""
NO_DAEMON = "--no-daemon"


def _toml(text: str) -> str:
    """A TOML basic string (JSON's escaping is valid TOML for these characters)."""
    return json.dumps(text, ensure_ascii=False)


def trust_hash(label: str, command: str, timeout: int = HOOK_TIMEOUT) -> str:
    """The hash Codex records when a user trusts this command as the only hook of ``label``."""
    handler = {"async": False, "command": command, "timeout": timeout, "type": "command"}
    identity = {"event_name": label, "hooks": [handler]}
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def hook_overrides(command: str) -> list[str]:
    """The ``-c`` arguments that install ``command`` as every hook, trusted."""
    args: list[str] = []
    states = []
    for event, label in HOOK_EVENTS.items():
        handler = f'{{type="command",command={_toml(command)},timeout={HOOK_TIMEOUT}}}'
        args += ["-c", f"hooks.{event}=[{{hooks=[{handler}]}}]"]
        key = _toml(f"{LAYER}:{label}:0:0")
        states.append(f"{key}={{trusted_hash={_toml(trust_hash(label, command))}}}")
    args += ["-c", "hooks.state={" + ",".join(states) + "}"]
    return args


def settings(events: Path, token: str) -> dict[str, Any]:
    """What the session folder's settings file records: the overrides Codex was given."""
    return {"codex_overrides": hook_overrides(hooks.hook_command(events, token))}


def command_of(tool_input: Any) -> str:
    """The shell command in a Codex tool input (``command`` as a string or argv, or ``cmd``)."""
    data = tool_input if isinstance(tool_input, dict) else {}
    command = data.get("command", data.get("cmd"))
    if isinstance(command, list):
        command = " ".join(str(part) for part in command)
    return str(command) if command else ""


PATCH_FILE = re.compile(r"^\*\*\* (?:Add|Update|Delete) File: (.+?)\s*$", re.MULTILINE)
"""A file an ``apply_patch`` patch touches (its ``*** Update File: <path>`` lines)."""


def edited_files(tool_input: Any) -> list[str]:
    """The files a Codex ``apply_patch`` call edits, in the patch's order (the patch text is the
    tool input's ``command``, or ``input`` / ``patch``)."""
    data = tool_input if isinstance(tool_input, dict) else {}
    patch = data.get("command", data.get("input", data.get("patch", "")))
    if isinstance(patch, list):
        patch = "\n".join(str(part) for part in patch)
    return list(dict.fromkeys(PATCH_FILE.findall(str(patch))))


def edit_reason(files: list[str]) -> str:
    """``edit: src/app.py`` (``edit: a.py, b.py``, ``edit: a.py and 3 more files``)."""
    if len(files) <= 2:
        return "edit: " + ", ".join(files)
    return f"edit: {files[0]} and {len(files) - 1} more files"


def state_of(event: HookEvent) -> tuple[State, str] | None:
    """The state a Codex hook event announces, with its reason."""
    data = event.data
    tool = str(data.get("tool_name", ""))
    match event.name:
        case "SessionStart":
            return State.IDLE, f"session started ({data.get('source', 'startup')})"
        case "UserPromptSubmit":
            return State.WORKING, short("prompt: " + str(data.get("prompt", "")))
        case "PreToolUse" | "PostToolUse":
            return State.WORKING, tool or "working"
        case "PermissionRequest":
            files = edited_files(data.get("tool_input")) if tool == "apply_patch" else []
            if files:
                return State.AWAITING_INPUT, short(edit_reason(files))
            if tool == "apply_patch":
                return State.AWAITING_INPUT, "edit: files"
            command = command_of(data.get("tool_input"))
            if command:
                return State.AWAITING_INPUT, short(f"Shell: {command}")
            return State.AWAITING_INPUT, f"permission for {tool}" if tool else "permission"
        case "Stop":
            return State.IDLE, "turn finished"
        case "SessionEnd":
            return State.EXITED, short(f"session ended ({data.get('reason', '')})")
        case _:
            return None


@dataclass(frozen=True)
class Codex(AgentProfile):
    """Codex CLI: hooks and their trust as ``-c`` overrides, ``--no-daemon``, ``resume <id>``."""

    def launch_argv(
        self,
        fleet: str,
        session: str,
        argv: Sequence[str],
        runtime: Path | None = None,
        options: Sequence[str] = (),
    ) -> list[str]:
        """Codex itself gets ``--no-daemon``, our hooks and the session's options (model,
        approval policy) before the layout's own ``args``; a wrapper command is left alone."""
        args = list(argv)
        if not self.runs_itself(args):
            return args
        files = hooks.prepare(fleet, session, runtime, settings=settings)
        extra = [] if NO_DAEMON in args else [NO_DAEMON]
        command = hooks.hook_command(files.events, files.token)
        return [args[0], *extra, *hook_overrides(command), *options, *args[1:]]

    def resume_args(self, conversation: str | None) -> list[str]:
        """``resume <id>``: Codex continues a conversation through its subcommand."""
        return ["resume", conversation] if conversation else []

    def hook_state(self, event: HookEvent) -> tuple[State, str] | None:
        """See :func:`state_of`."""
        return state_of(event)


CODEX = Codex(
    name="codex",
    command=("codex",),
    process_names=("codex",),
    install_hint=(
        "install Codex CLI (`npm install -g @openai/codex`), or give its full path in `command`"
    ),
    hooks=True,
    resume_flag="resume",
    enter_delay=0.5,
    option_flags=(("model", "--model"), ("permission_mode", "--ask-for-approval")),
    # As `codex --help` (0.171.0) lists the choices of --ask-for-approval.
    permission_modes=("never", "on-request"),
)
