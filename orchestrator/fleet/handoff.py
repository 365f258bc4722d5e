"""Pipeline hand-offs between sessions: finding the files a waiting session ``needs``, and
handing them over.

A needed file is looked up in the consumer's own folder first, then in the folders of the
sessions it comes ``after`` (worktree sessions each have their own folder). A file found only in
a producer's folder is copied into the consumer's folder, at the same relative path, before the
consumer gets its prompt. A path that leads out of its folder (through ``..`` or a symbolic link)
is never read.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.tmux.client import TmuxCommand, tag

TAG = "waiting_for"
"""The pane tag (``@orc_waiting_for``) holding what a session still waits for, as a JSON list."""


@dataclass(frozen=True)
class Found:
    """Where a needed file was found."""

    name: str
    """The path as the layout's ``needs`` gives it (relative)."""
    source: Path
    """The file found."""
    producer: str | None
    """The ``after`` session whose folder held it; None when it is in the consumer's own."""


def inside(folder: Path, name: str) -> Path | None:
    """``folder/name`` if it is a file that stays inside ``folder`` once links are followed."""
    candidate = folder / name
    try:
        resolved = candidate.resolve(strict=True)
        if not resolved.is_relative_to(folder.resolve()) or not resolved.is_file():
            return None
    except (OSError, RuntimeError):
        return None
    return candidate


def locate(name: str, own: Path, producers: Mapping[str, Path]) -> Found | None:
    """Find needed file ``name``: in ``own`` folder, else in a producer's (in ``after`` order)."""
    if (path := inside(own, name)) is not None:
        return Found(name, path, None)
    for producer, folder in producers.items():
        if folder.resolve() == own.resolve():
            continue
        if (path := inside(folder, name)) is not None:
            return Found(name, path, producer)
    return None


def hand_over(found: Sequence[Found], own: Path) -> list[dict[str, object]]:
    """Copy every file found only in a producer's folder into ``own``; what was done, per file
    (the history's ``files`` entries)."""
    done: list[dict[str, object]] = []
    for item in found:
        target = own / item.name
        copied = item.producer is not None
        if copied:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(item.source, target)
        done.append(
            {
                "name": item.name,
                "from": str(item.source),
                "to": str(target),
                "copied": copied,
                "producer": item.producer,
            }
        )
    return done


def describe(after: Sequence[str], files: Sequence[Mapping[str, object]]) -> str:
    """One line for people about a hand-off, e.g. ``after research-3; findings.md copied from
    research-3``."""
    parts = [f"after {', '.join(after)}"] if after else []
    for entry in files:
        how = f"copied from {entry['producer']}" if entry.get("copied") else "in place"
        parts.append(f"{entry['name']} {how}")
    return "; ".join(parts) or "nothing to wait for"


def encode(waiting: Sequence[str]) -> str:
    """The tag value for what a session waits for (empty when nothing)."""
    return json.dumps(list(waiting)) if waiting else ""


def tag_command(target: str, waiting: Sequence[str]) -> TmuxCommand:
    """The tmux command that sets (or clears) a pane's ``@orc_waiting_for``."""
    if not waiting:
        return ["set-option", "-p", "-u", "-t", target, tag(TAG)]
    return ["set-option", "-p", "-t", target, tag(TAG), encode(waiting)]
