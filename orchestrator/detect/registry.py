"""Claude Code's own session registry: ``<config>/sessions/<pid>.json``.

Undocumented and written by Claude while it runs, e.g.
``{"pid": 123, "sessionId": "...", "procStart": "204050", "status": "waiting",
"waitingFor": "permission prompt", "statusUpdatedAt": 1763800000000}``. Used when present, ignored
when not; an entry whose ``procStart`` differs from the live process's start time belongs to an
earlier process that had the same PID, and is ignored.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.detect.model import State
from orchestrator.detect.process import proc_start_ticks

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
