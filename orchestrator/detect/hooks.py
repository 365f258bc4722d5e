"""Hook files: a session's private folder, the hook command that appends events, and reading them.

An agent that takes hooks (Claude Code through ``--settings``) gets a settings document, written
here, whose every hook runs one tiny ``sh`` command that appends the event to the session's private
``events.jsonl`` (about 5 ms; a Python hook would cost 35-90 ms in the agent's path). The command
always exits 0, so a full disk or a removed folder never blocks or fails the agent. What an event
means is the agent module's business (``orchestrator/agents/``).

Trust: the folder is 0700 and its files 0600, and each line starts with a random token that only
this session's settings file knows, so a line written by anything else is ignored; an event whose
``session_id`` is not the one this pane's Claude announced (SessionStart) is ignored too.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import paths

MAX_LINE = 65536
"""Longer event lines are cut by the hook command (and then fail to parse, and are ignored)."""
MAX_READ = 4 * 1024 * 1024
"""At most this much is read from an events file in one go, so a flood cannot stall the watcher."""


def session_dir(fleet: str, session: str, runtime: Path | None = None) -> Path:
    """The private folder of one session's hook files."""
    return (runtime or paths.runtime_dir()) / "fleets" / fleet / session


def hook_command(events: Path, token: str) -> str:
    """The shell command every hook runs: stamp, flatten, cap and append the event; exit 0."""
    # JSON needs no newline to be valid, so deleting them makes one event one line; `cut` caps
    # the line while still draining stdin (Claude never sees a broken pipe).
    return (
        f"{{ printf '%s %s ' {shlex.quote(token)} \"$(date +%s.%N)\"; "
        f"tr -d '\\n\\r' | cut -b 1-{MAX_LINE}; }} 2>/dev/null >> {shlex.quote(str(events))}; "
        "exit 0"
    )


@dataclass(frozen=True)
class HookFiles:
    """Where one session's hook files are."""

    folder: Path
    settings: Path
    events: Path
    token: str


SettingsDocument = Callable[[Path, str], dict[str, Any]]
"""Builds an agent's settings document from the events file and the token its hooks use."""


def prepare(
    fleet: str, session: str, runtime: Path | None = None, *, settings: SettingsDocument
) -> HookFiles:
    """Create (or reuse) a session's private hook folder and token, and write its settings file
    (the document ``settings`` builds)."""
    folder = session_dir(fleet, session, runtime)
    # Every level is made private, not just the leaf: the runtime folder may be new too.
    for level in (folder.parents[2], folder.parents[1], folder.parent, folder):
        paths.ensure_private_dir(level)
    token_file = folder / "token"
    try:
        token = token_file.read_text("ascii").strip()
    except (OSError, UnicodeDecodeError):
        token = ""
    if len(token) < 32:
        token = secrets.token_hex(16)
        _write_private(token_file, token)
    events = folder / "events.jsonl"
    if not events.exists():
        _write_private(events, "")
    settings_file = folder / "settings.json"
    _write_private(settings_file, json.dumps(settings(events, token), indent=2))
    return HookFiles(folder, settings_file, events, token)


def read_token(folder: Path) -> str | None:
    """The token of a prepared session folder, or None."""
    try:
        token = (folder / "token").read_text("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return token or None


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, readable by its owner only."""
    _write_private(path, text)


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    tmp.replace(path)


# ---------------------------------------------------------------------------------------------
# Events


@dataclass(frozen=True)
class HookEvent:
    """One hook event as written by the hook command."""

    at: float
    name: str
    session_id: str
    data: dict[str, Any] = field(repr=False)


def parse_line(line: bytes, token: str) -> HookEvent | None:
    """Parse one events line; None for anything that is not a well-formed event of ours."""
    parts = line.split(b" ", 2)
    if len(parts) != 3 or not secrets.compare_digest(parts[0], token.encode()):
        return None
    try:
        at = float(parts[1])
        data = json.loads(parts[2])
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    name = data.get("hook_event_name")
    session_id = data.get("session_id", "")
    if not isinstance(name, str) or not isinstance(session_id, str):
        return None
    return HookEvent(at=at, name=name, session_id=session_id, data=data)


@dataclass
class EventReader:
    """Reads a session's events file incrementally, from where it last stopped."""

    path: Path
    token: str
    offset: int = 0
    session_id: str = ""
    """The Claude session this pane runs, from its latest SessionStart."""
    rejected: int = 0

    def read(self) -> list[HookEvent]:
        """New events since the last call (a partial last line waits for the next call)."""
        try:
            with self.path.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size < self.offset:  # truncated or replaced: start over
                    self.offset = 0
                handle.seek(self.offset)
                chunk = handle.read(MAX_READ)
        except OSError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            if len(chunk) >= MAX_READ:  # one enormous line: skip it
                self.offset += len(chunk)
            return []
        self.offset += end + 1
        events: list[HookEvent] = []
        for line in chunk[:end].split(b"\n"):
            event = parse_line(line, self.token) if line else None
            if event is None:
                self.rejected += bool(line)
                continue
            if event.name == "SessionStart":
                self.session_id = event.session_id
            elif self.session_id and event.session_id != self.session_id:
                self.rejected += 1
                continue
            events.append(event)
        return events
