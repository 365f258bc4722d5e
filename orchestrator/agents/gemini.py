"""Gemini CLI (``@google/gemini-cli``): launched with our hooks in a per-session settings layer,
its hook events, and ``--resume <id>``. Its screen rules are ``gemini.toml`` beside this.

Gemini reads settings from four layers: system defaults, the user's ``~/.gemini/settings.json``,
the workspace's ``.gemini/settings.json`` and system settings; hook lists are concatenated across
them. Our hooks go in the lowest layer, *system defaults*, whose path Gemini takes from
``GEMINI_CLI_SYSTEM_DEFAULTS_PATH``: the session's pane gets that variable pointing at a file in
its private folder holding our hooks, merged over a copy of whatever system-defaults file the user
already had (which is read, never written). The user's own settings files are not touched, and
every setting in them still wins over ours. Gemini skips a settings file when any folder above it
is writable by group or others (``/tmp`` is): the runtime folder must not be under one (the
default, ``$XDG_RUNTIME_DIR`` or ``~/.local/state``, is not); the screen alone reads it otherwise.

The hooks that carry state: ``BeforeAgent`` (a prompt was sent), ``BeforeTool``/``AfterTool``,
``Notification`` with ``notification_type: ToolPermission`` (an approval dialog opened),
``AfterAgent`` (the turn ended), ``SessionStart`` and ``SessionEnd``. ``AfterModel`` fires once
per streamed chunk and is left out (it would slow Gemini down for nothing).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.agents.profile import AgentProfile, short
from orchestrator.detect import hooks
from orchestrator.detect.hooks import HookEvent
from orchestrator.detect.model import State

HOOK_EVENTS = (
    "SessionStart",
    "BeforeAgent",
    "BeforeTool",
    "AfterTool",
    "Notification",
    "AfterAgent",
    "SessionEnd",
)
"""The hook events Gemini reports to us."""
DEFAULTS_VAR = "GEMINI_CLI_SYSTEM_DEFAULTS_PATH"
SETTINGS_VAR = "GEMINI_CLI_SYSTEM_SETTINGS_PATH"
OVERLAY = "gemini-system-defaults.json"
"""The per-session settings layer, in the session's private hook folder."""


def users_defaults(env: Mapping[str, str]) -> dict[str, Any]:
    """The system-defaults settings Gemini would read without us (empty when there are none)."""
    path = env.get(DEFAULTS_VAR) or os.environ.get(DEFAULTS_VAR)
    if not path:
        system = env.get(SETTINGS_VAR) or os.environ.get(SETTINGS_VAR)
        path = str(Path(system).parent / "system-defaults.json") if system else ""
        path = path or "/etc/gemini-cli/system-defaults.json"
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(Path(path).read_text("utf-8"))
        if isinstance(data, dict):
            return data
    return {}


def overlay(command: str, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``base`` (the user's system defaults) with our hook appended to each event's list."""
    document = dict(base or {})
    existing = document.get("hooks") if isinstance(document.get("hooks"), dict) else {}
    merged: dict[str, Any] = dict(existing or {})
    # The name is what Gemini shows while a hook runs ("Executing Hook: orchestrator").
    handler = {"name": "orchestrator", "type": "command", "command": command, "timeout": 5000}
    ours = {"matcher": "*", "hooks": [handler]}
    for event in HOOK_EVENTS:
        current = merged.get(event)
        merged[event] = [*(current if isinstance(current, list) else []), ours]
    document["hooks"] = merged
    config = document.get("hooksConfig")
    document["hooksConfig"] = {
        "notifications": False,
        **(config if isinstance(config, dict) else {}),
    }
    return document


def _tool_reason(data: Mapping[str, Any]) -> str:
    details = data.get("details") if isinstance(data.get("details"), dict) else {}
    tool_input = data.get("tool_input")
    for source in (tool_input, details):
        if isinstance(source, dict) and isinstance(source.get("command"), str):
            return short(f"Shell: {source['command']}")
    message = data.get("message")
    if isinstance(message, str) and message:
        return short(message)
    tool = data.get("tool_name")
    return f"permission for {tool}" if tool else "permission"


def state_of(event: HookEvent) -> tuple[State, str] | None:
    """The state a Gemini hook event announces, with its reason."""
    data = event.data
    tool = str(data.get("tool_name", ""))
    match event.name:
        case "SessionStart":
            return State.IDLE, f"session started ({data.get('source', 'startup')})"
        case "BeforeAgent":
            return State.WORKING, short("prompt: " + str(data.get("prompt", "")))
        case "BeforeTool" | "AfterTool":
            return State.WORKING, tool or "working"
        case "Notification":
            if data.get("notification_type") == "ToolPermission":
                return State.AWAITING_INPUT, _tool_reason(data)
            return None
        case "AfterAgent":
            return State.IDLE, "turn finished"
        case "SessionEnd":
            return State.EXITED, short(f"session ended ({data.get('reason', '')})")
        case _:
            return None


@dataclass(frozen=True)
class Gemini(AgentProfile):
    """Gemini CLI: hooks through a per-session system-defaults layer, ``--resume <id>``."""

    def launch_env(
        self, fleet: str, session: str, env: Mapping[str, str], runtime: Path | None = None
    ) -> dict[str, str]:
        """``GEMINI_CLI_SYSTEM_DEFAULTS_PATH`` pointing at the session's settings layer."""
        base = users_defaults(env)

        def settings(events: Path, token: str) -> dict[str, Any]:
            return overlay(hooks.hook_command(events, token), base)

        files = hooks.prepare(fleet, session, runtime, settings=settings)
        layer = files.folder / OVERLAY
        files.settings.replace(layer)
        return {DEFAULTS_VAR: str(layer)}

    def launch_argv(
        self,
        fleet: str,
        session: str,
        argv: Sequence[str],
        runtime: Path | None = None,
        options: Sequence[str] = (),
    ) -> list[str]:
        """Gemini itself gets the session's options (model, approval mode) before the layout's
        own ``args`` (its hooks come through the environment); a wrapper command is left alone."""
        del fleet, session, runtime
        args = list(argv)
        if self.runs_itself(args):
            args = [args[0], *options, *args[1:]]
        return args

    def hook_state(self, event: HookEvent) -> tuple[State, str] | None:
        """See :func:`state_of`."""
        return state_of(event)


GEMINI = Gemini(
    name="gemini",
    command=("gemini",),
    process_names=("gemini",),
    install_hint=(
        "install Gemini CLI (`npm install -g @google/gemini-cli`), or give its full path in "
        "`command`"
    ),
    hooks=True,
    resume_flag="--resume",
    option_flags=(("model", "--model"), ("permission_mode", "--approval-mode")),
    # As `gemini --help` (0.61.0) lists the choices of --approval-mode.
    permission_modes=("auto_edit", "default", "plan", "yolo"),
)
