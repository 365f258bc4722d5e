"""Claude Code: how it is launched with our hooks, what its hook events and its own session
registry say, and how a conversation is resumed. Its screen rules are ``claude.toml`` beside this.

``up`` starts each Claude session with ``--settings <file>``; Claude merges those hooks with the
user's own settings (which are never edited). Conversations are continued with
``claude --resume <id>``; the id comes from the SessionStart hook (the history keeps it).

Claude's session registry, ``<config>/sessions/<pid>.json``, is undocumented and written by Claude
while it runs, e.g. ``{"pid": 123, "sessionId": "...", "procStart": "204050", "status": "waiting",
"waitingFor": "permission prompt", "statusUpdatedAt": 1763800000000}``. It is used when present,
ignored when not; an entry whose ``procStart`` differs from the live process's start time belongs
to an earlier process that had the same PID, and is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.agents.profile import AgentProfile, short
from orchestrator.detect import hooks
from orchestrator.detect.hooks import HookEvent
from orchestrator.detect.model import Signal, Source, State
from orchestrator.detect.process import proc_start_ticks

HOOK_EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PermissionRequest",
    "Notification",
    "Stop",
    "StopFailure",
    "SubagentStart",
    "SubagentStop",
    "Elicitation",
    "SessionEnd",
)
"""The hook events Claude reports to us. Not PreCompact: Claude prints a compaction hook's whole
command line on screen when it completes (our token with it); the screen's "Compacting
conversation…" tells compaction at once anyway."""

KNOWN_TO_2_0 = frozenset(
    {
        "PreToolUse", "PostToolUse", "PostToolUseFailure", "Notification", "UserPromptSubmit",
        "SessionStart", "SessionEnd", "Stop", "SubagentStart", "SubagentStop", "PreCompact",
        "PermissionRequest",
    }
)  # fmt: skip
"""The hook events Claude Code 2.0.77 knows. It rejects a settings file naming any other (a
"Settings Error" dialog at start-up) and skips all of it, hooks included."""

PACKAGE = "@anthropic-ai/claude-code"
VERSION_FILE = "agent-version"
"""Beside a session's hook files: the Claude Code version its pane was launched with."""
VERSION = re.compile(r"^\d+\.\d+\.\d+")


def installed_version(command: str) -> str | None:
    """The version of the Claude Code that ``command`` runs, read from its files without running
    it (``claude --version`` takes 1-8 s): the npm package's ``package.json`` above the resolved
    binary, or a version-named file or folder (the native installer's ``versions/2.1.197``).
    None when it cannot tell."""
    found = shutil.which(command)
    if found is None:
        return None
    real = Path(found).resolve()
    for folder in real.parents:
        manifest = folder / "package.json"
        if manifest.is_file():
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(manifest.read_text("utf-8"))
                if isinstance(data, dict) and data.get("name") == PACKAGE:
                    return str(data.get("version", "")) or None
            break
    for part in (real.name, real.parent.name):
        match = VERSION.match(part)
        if match:
            return match.group(0)
    return None


def events_for(version: str | None) -> tuple[str, ...]:
    """The hook events to install for Claude Code ``version`` (all of them when unknown)."""
    if version is None:
        return HOOK_EVENTS
    with contextlib.suppress(ValueError):
        if tuple(int(n) for n in version.split(".")[:2]) < (2, 1):
            return tuple(event for event in HOOK_EVENTS if event in KNOWN_TO_2_0)
    return HOOK_EVENTS


def settings(
    events: Path, token: str, events_names: tuple[str, ...] = HOOK_EVENTS
) -> dict[str, Any]:
    """The ``--settings`` document that installs our hooks."""
    command = {"type": "command", "command": hooks.hook_command(events, token), "timeout": 5}
    return {"hooks": {name: [{"matcher": "*", "hooks": [command]}] for name in events_names}}


def _relative(path: str, cwd: str) -> str:
    with contextlib.suppress(ValueError):
        return str(Path(path).relative_to(cwd))
    return path


def tool_reason(tool: str, tool_input: Any, cwd: str = "") -> str:
    """A person's summary of what a tool wants: "Bash: npm test", "permission to write x"."""
    data = tool_input if isinstance(tool_input, dict) else {}
    if tool == "Bash" and isinstance(data.get("command"), str):
        return short(f"Bash: {data['command']}")
    if tool == "AskUserQuestion":
        questions = data.get("questions")
        if isinstance(questions, list) and questions and isinstance(questions[0], dict):
            return short(f"question: {questions[0].get('question', '')}")
        return "question"
    target = data.get("file_path") or data.get("notebook_path") or data.get("path")
    verbs = {"Write": "write", "Edit": "edit", "MultiEdit": "edit", "NotebookEdit": "edit"}
    if isinstance(target, str) and tool in verbs:
        return short(f"permission to {verbs[tool]} {_relative(target, cwd)}")
    if tool == "WebFetch" and isinstance(data.get("url"), str):
        return short(f"WebFetch: {data['url']}")
    if tool == "ExitPlanMode":
        return "plan ready for approval"
    if tool.startswith("mcp__") and tool.count("__") >= 2:
        server, name = tool[len("mcp__") :].split("__", 1)
        return short(f"permission for MCP {server}: {name}")
    return f"permission for {tool}" if tool else "permission"


SUBAGENT_TOOLS = ("Agent", "Task")
"""The tool that starts a subagent (``Task`` before 2.1)."""


def background_reason(tasks: Any) -> str:
    """ "1 background task running" for a Stop payload's ``background_tasks`` ("" when none)."""
    if not isinstance(tasks, list) or not tasks:
        return ""
    return (
        "1 background task running" if len(tasks) == 1 else f"{len(tasks)} background tasks running"
    )


ERROR_KINDS = {
    "authentication_failed": "authentication failed",
    "oauth_org_not_allowed": "organisation not allowed",
    "billing_error": "billing error",
    "rate_limit": "rate limit",
    "overloaded": "API overloaded",
    "invalid_request": "invalid request",
    "model_not_found": "model not found",
    "server_error": "API server error",
    "max_output_tokens": "output token limit",
}
"""StopFailure's ``error`` values (Claude Code 2.1.x), in words."""


USAGE_LIMIT = re.compile(r"You.ve hit your ((?:\S+ )*?limit)(?: · resets (.*)|(.*))")
"""A subscriber's usage limit as Claude words it: "You've hit your session limit · resets 12:25am
(UTC)" reads "session limit until 12:25am (UTC)", short enough for the status columns."""


def failure_reason(data: dict[str, Any]) -> str:
    """Why a turn ended on an error, from a StopFailure payload: the kind of error, then what
    Claude told the user (its last message carries the API's message or the limit's reset time)."""
    kind = str(data.get("error") or "unknown")
    words = ERROR_KINDS.get(kind, "API error" if kind == "unknown" else kind)
    detail = str(data.get("last_assistant_message") or data.get("error_details") or "")
    detail = detail.removeprefix("API Error: ").strip()
    if limit := USAGE_LIMIT.match(detail):  # a subscriber's limit: keep the reset time in view
        if limit[2]:
            return short(f"{limit[1]} until {limit[2]}", 100)
        return short(f"{limit[1]} reached{limit[3]}", 100)
    return short(f"{words}: {detail}" if detail else words, 100)


def state_of(event: HookEvent) -> tuple[State, str] | None:
    """The state a hook event announces, with its reason; None for events that say nothing."""
    data = event.data
    tool = str(data.get("tool_name", ""))
    cwd = str(data.get("cwd", ""))
    tool_input = data.get("tool_input")
    match event.name:
        case "SessionStart":
            if data.get("source") == "compact":
                return State.IDLE, "conversation compacted"
            return State.IDLE, f"session started ({data.get('source', 'startup')})"
        case "UserPromptSubmit":
            return State.WORKING, short("prompt: " + str(data.get("prompt", "")))
        case "PreToolUse" | "PostToolUse" if data.get("agent_id"):
            # A subagent's own tools: the session is still "subagent: <its task>".
            return None
        case "PreToolUse" if tool in SUBAGENT_TOOLS:
            description = tool_input.get("description") if isinstance(tool_input, dict) else ""
            return State.WORKING, short(f"subagent: {description or tool}")
        case "PreToolUse" | "PostToolUse":
            if tool == "AskUserQuestion" and event.name == "PreToolUse":
                return State.AWAITING_INPUT, tool_reason(tool, tool_input, cwd)
            return State.WORKING, short(f"{tool}") if tool else "working"
        case "PermissionRequest":
            return State.AWAITING_INPUT, tool_reason(tool, tool_input, cwd)
        case "Elicitation":
            server = data.get("mcp_server_name") or "an MCP server"
            return State.AWAITING_INPUT, short(f"MCP {server} asks: {data.get('message', '')}")
        case "Notification" if data.get("notification_type") == "elicitation_dialog":
            return State.AWAITING_INPUT, "an MCP server asks for input"
        case "Notification":
            # permission_prompt notifications arrive seconds late, even after the prompt was
            # dismissed, so they would flip a session back to awaiting: PermissionRequest is the
            # edge we use. Notifications stay in the log as evidence only.
            return None
        case "Stop":
            return State.IDLE, background_reason(data.get("background_tasks")) or "turn finished"
        case "PreCompact":
            return State.WORKING, "compacting"
        case "StopFailure":
            return State.ERROR, failure_reason(data)
        case "SessionEnd":
            return State.EXITED, short(f"session ended ({data.get('reason', '')})")
        case _:
            return None


# ---------------------------------------------------------------------------------------------
# The session registry

STATUS = {"busy": State.WORKING, "idle": State.IDLE, "waiting": State.AWAITING_INPUT}


@dataclass(frozen=True)
class RegistryEntry:
    """What Claude's registry says about one process."""

    path: Path
    pid: int
    session_id: str
    status: str
    waiting_for: str
    updated: float | None
    version: str

    @property
    def state(self) -> State | None:
        """The state this entry stands for, if its status is one we know."""
        return STATUS.get(self.status)


def config_dir(environ: dict[str, str]) -> Path | None:
    """Claude's config folder for a process with this environment."""
    if environ.get("CLAUDE_CONFIG_DIR"):
        return Path(environ["CLAUDE_CONFIG_DIR"])
    home = environ.get("HOME") or os.environ.get("HOME")
    return Path(home) / ".claude" if home else None


def read_entry(folder: Path, pid: int) -> RegistryEntry | None:
    """The registry entry of a live process, or None (missing, unreadable, or a reused PID)."""
    path = folder / "sessions" / f"{pid}.json"
    try:
        data: Any = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("pid") not in (pid, str(pid)):
        return None
    recorded = data.get("procStart")
    if recorded is not None and str(recorded) != proc_start_ticks(pid):
        return None
    updated = data.get("statusUpdatedAt")
    return RegistryEntry(
        path=path,
        pid=pid,
        session_id=str(data.get("sessionId", "")),
        status=str(data.get("status", "")),
        waiting_for=str(data.get("waitingFor", "")),
        updated=float(updated) / 1000 if isinstance(updated, int | float) else None,
        version=str(data.get("version", "")),
    )


def registry_signal(entry: RegistryEntry | None) -> Signal | None:
    """The registry's word on a process, as a signal (None when there is no usable entry)."""
    if entry is None or entry.state is None:
        return None
    reason = entry.waiting_for or entry.status
    return Signal(
        Source.REGISTRY, entry.state, reason, entry.updated, f"{entry.path.name}: {entry.status}"
    )


# ---------------------------------------------------------------------------------------------
# The profile


@dataclass(frozen=True)
class ClaudeCode(AgentProfile):
    """Claude Code: hooks through ``--settings``, ``--resume <id>``, a session registry."""

    def launch_argv(
        self,
        fleet: str,
        session: str,
        argv: Sequence[str],
        runtime: Path | None = None,
        options: Sequence[str] = (),
    ) -> list[str]:
        """Claude itself gets our hooks through ``--settings`` and the session's options (name,
        role, model, permission mode) before the layout's own ``args``; a wrapper command is left
        alone."""
        args = list(argv)
        if self.runs_itself(args):
            version = installed_version(args[0])
            events = events_for(version)
            files = hooks.prepare(
                fleet, session, runtime, settings=lambda log, token: settings(log, token, events)
            )
            hooks.write_private(files.folder / VERSION_FILE, version or "")
            args = [args[0], "--settings", str(files.settings), *options, *args[1:]]
        return args

    def prompt_pending(self, screen: Sequence[str], text: str) -> bool | None:
        """Whether ``text`` is still in the prompt box: the lines between the screen's last two
        rules (``────``), the first starting with ``❯``."""
        rules = [i for i, line in enumerate(screen) if line.strip().startswith("──")]
        if len(rules) < 2:
            return None
        box = " ".join(" ".join(screen[rules[-2] + 1 : rules[-1]]).split())
        start = " ".join(text.split())[:40]
        return bool(start) and start in box

    def version_seen(self, folder: Path) -> str:
        """``Claude Code 2.1.197``, as found when the session was launched."""
        try:
            version = (folder / VERSION_FILE).read_text("utf-8").strip()
        except OSError:
            return ""
        return f"Claude Code {version or '(version not known)'}"

    def hook_state(self, event: HookEvent) -> tuple[State, str] | None:
        """See :func:`state_of`."""
        return state_of(event)

    def status_folder(self, environ: dict[str, str]) -> Path | None:
        """Claude's config folder for a process with this environment."""
        return config_dir(environ)

    def status_signal(self, folder: Path, pid: int) -> Signal | None:
        """The session registry's word on ``pid``."""
        return registry_signal(read_entry(folder, pid))


CLAUDE = ClaudeCode(
    name="claude",
    command=("claude",),
    process_names=("claude",),
    install_hint=(
        "install Claude Code (`npm install -g @anthropic-ai/claude-code`), or use "
        '`agent = "shell"` with a `command`'
    ),
    hooks=True,
    resume_flag="--resume",
    option_flags=(
        ("name", "--name"),
        ("system_prompt", "--append-system-prompt"),
        ("model", "--model"),
        ("permission_mode", "--permission-mode"),
    ),
    # As `claude --help` (2.1.197) lists the choices of --permission-mode.
    permission_modes=("acceptEdits", "auto", "bypassPermissions", "default", "dontAsk", "plan"),
)
