"""Writing Claude Code transcripts whose every figure is known by construction.

:class:`Transcript` appends records in the shapes Claude Code 2.1 writes (see a real one under
``~/.claude/projects``): user prompts, assistant replies (optionally split over several records
that repeat the reply's ``message.id`` and ``usage``, as Claude does), tool calls with their
results, interruption markers, and raw lines for the malformed cases. The report tests and the
benchmark (``benchmarks/report.py``) both build their corpora with it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

MODEL = "claude-sonnet-4-5-20250929"
USAGE = (10, 100, 1000, 50)
"""Input, cache creation, cache read, output tokens of each scripted reply by default."""


def iso(at: datetime) -> str:
    """A timestamp as Claude writes it (UTC, milliseconds, ``Z``)."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Transcript:
    """One transcript being written; every method appends one or more records at ``at``."""

    def __init__(self, cwd: str, *, session_id: str | None = None) -> None:
        self.session_id = session_id or str(uuid.uuid4())
        self.cwd = cwd
        self.lines: list[str] = []
        self._parent: str | None = None

    def _base(self, kind: str, at: datetime) -> dict[str, Any]:
        record_id = str(uuid.uuid4())
        rec = {
            "parentUuid": self._parent,
            "isSidechain": False,
            "type": kind,
            "uuid": record_id,
            "timestamp": iso(at),
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.session_id,
            "version": "2.1.197",
        }
        self._parent = record_id
        return rec

    def add(self, rec: dict[str, Any]) -> None:
        """Append any record as one JSON line."""
        self.lines.append(json.dumps(rec, separators=(",", ":")))

    def raw(self, line: str) -> None:
        """Append a line as it is (malformed ones included)."""
        self.lines.append(line)

    def prompt(self, at: datetime, text: str = "Do the thing", *, meta: bool = False) -> None:
        """A user prompt (or, with ``meta``, a meta record that is no prompt)."""
        rec = self._base("user", at)
        rec["message"] = {"role": "user", "content": text}
        if meta:
            rec["isMeta"] = True
        self.add(rec)

    def interrupt(self, at: datetime, *, for_tool: bool = False) -> None:
        """Claude's own marker that the user pressed Esc."""
        rec = self._base("user", at)
        text = "[Request interrupted by user" + (" for tool use]" if for_tool else "]")
        rec["message"] = {"role": "user", "content": [{"type": "text", "text": text}]}
        self.add(rec)

    def reply(
        self,
        at: datetime,
        blocks: list[dict[str, Any]] | None = None,
        *,
        stop: str | None = "end_turn",
        model: str = MODEL,
        usage: tuple[int, int, int, int] = USAGE,
        split: int = 1,
        step: timedelta = timedelta(seconds=1),
    ) -> None:
        """One assistant reply, written over ``split`` records ``step`` apart that each carry
        one of its blocks (the last record all remaining ones) and the same id and usage."""
        blocks = blocks or [{"type": "text", "text": "Done."}]
        message_id = "msg_" + uuid.uuid4().hex[:24]
        usage_json = {
            "input_tokens": usage[0],
            "cache_creation_input_tokens": usage[1],
            "cache_read_input_tokens": usage[2],
            "output_tokens": usage[3],
        }
        parts = [blocks[i : i + 1] for i in range(split - 1)] + [blocks[split - 1 :]]
        for i, part in enumerate(parts):
            rec = self._base("assistant", at + i * step)
            rec["message"] = {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": part or [{"type": "text", "text": "..."}],
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": usage_json,
            }
            self.add(rec)

    def tool(
        self,
        at: datetime,
        name: str,
        tool_input: dict[str, Any],
        *,
        error: bool = False,
        result: bool = True,
        usage: tuple[int, int, int, int] = USAGE,
    ) -> None:
        """A reply calling one tool, then (with ``result``) its result one second later."""
        tool_id = "toolu_" + uuid.uuid4().hex[:24]
        block = {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}
        self.reply(at, [block], stop="tool_use", usage=usage)
        if not result:
            return
        rec = self._base("user", at + timedelta(seconds=1))
        content = "The user rejected the edit." if error else "The file was updated."
        rec["message"] = {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": tool_id,
                    "content": content,
                    "is_error": error,
                }
            ],
        }
        self.add(rec)

    def other(self, kind: str, **fields: Any) -> None:
        """A record of another type (``summary``, ``system``, an unknown one)."""
        self.add({"type": kind, "sessionId": self.session_id, **fields})

    def write(self, claude_dir: Path, *, folder: str | None = None, tail: str = "\n") -> Path:
        """Write it as ``projects/<folder>/<session id>.jsonl``; ``tail`` ends the last line."""
        where = claude_dir / "projects" / (folder or self.cwd.replace("/", "-"))
        where.mkdir(parents=True, exist_ok=True)
        path = where / f"{self.session_id}.jsonl"
        path.write_text("\n".join(self.lines) + tail, encoding="utf-8")
        return path
