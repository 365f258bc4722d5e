"""Hook settings that log every Claude Code hook payload, and a reader for that log."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOOK_EVENTS: tuple[str, ...] = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PermissionDenied",
    "PostToolUse",
    "PostToolUseFailure",
    "Notification",
    "Stop",
    "StopFailure",
    "SubagentStart",
    "SubagentStop",
    "PreCompact",
    "PostCompact",
    "Elicitation",
    "SessionEnd",
)
"""Events Claude Code 2.1.197 accepts in ``settings.hooks`` that matter for session state."""

EVENTS_SINCE_2_1 = frozenset({"StopFailure", "PostCompact", "PermissionDenied", "Elicitation"})
"""Events Claude Code 2.0.77 does not know: it rejects a settings file naming them ("Settings
Error ... Invalid key in record") and skips the whole file."""


def events_known_to(version: str) -> tuple[str, ...]:
    """:data:`HOOK_EVENTS` that Claude Code ``version`` accepts."""
    major_minor = tuple(int(part) for part in version.split(".")[:2])
    if major_minor >= (2, 1):
        return HOOK_EVENTS
    return tuple(event for event in HOOK_EVENTS if event not in EVENTS_SINCE_2_1)


TOOL_EVENTS = frozenset(
    {"PreToolUse", "PermissionRequest", "PermissionDenied", "PostToolUse", "PostToolUseFailure"}
)
"""Events whose hook groups take a tool-name ``matcher``."""


def logging_command(log_file: Path) -> str:
    """A ``sh`` hook command appending ``{"t": <epoch s>, "payload": <stdin JSON>}`` as one line.

    One ``printf`` per payload keeps lines whole when two hooks fire at once.
    """
    target = shlex.quote(str(log_file))
    return 'p=$(cat); printf \'{"t":%s,"payload":%s}\\n\' "$(date +%s.%N)" "$p" >> ' + target


def hook_settings(log_file: Path, events: Sequence[str] = HOOK_EVENTS) -> dict[str, Any]:
    """A settings object (for ``claude --settings FILE``) whose hooks log every payload."""
    command = {"type": "command", "command": logging_command(log_file), "timeout": 10}
    hooks: dict[str, Any] = {}
    for event in events:
        group: dict[str, Any] = {"hooks": [command]}
        if event in TOOL_EVENTS:
            group = {"matcher": "*", **group}
        hooks[event] = [group]
    return {"hooks": hooks}


def write_hook_settings(
    settings_file: Path, log_file: Path, events: Sequence[str] = HOOK_EVENTS
) -> Path:
    """Write :func:`hook_settings` to ``settings_file`` and return it."""
    settings_file.parent.mkdir(parents=True, exist_ok=True)
    settings_file.write_text(json.dumps(hook_settings(log_file, events), indent=2) + "\n")
    return settings_file


@dataclass(frozen=True)
class HookRecord:
    """One logged hook call."""

    t: float
    """Epoch seconds when the hook command ran."""
    payload: dict[str, Any]
    """The JSON Claude Code wrote to the hook's stdin."""

    @property
    def event(self) -> str:
        """``hook_event_name`` of the payload."""
        return str(self.payload.get("hook_event_name", "?"))


def read_hook_log(log_file: Path) -> list[HookRecord]:
    """Every complete record in ``log_file``, in the order written (missing file: none)."""
    if not log_file.exists():
        return []
    records: list[HookRecord] = []
    for line in log_file.read_text().splitlines():
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError:
            continue
        records.append(HookRecord(t=float(raw["t"]), payload=dict(raw["payload"])))
    return records
