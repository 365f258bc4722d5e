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


def sample(claude_dir: Path, db: Path, *, seed: int = 12) -> None:
    """Write the README's sample: two weeks of sessions on three projects, the latest of them
    run by a fleet ``shop`` whose waits and states are in the history database ``db``."""
    import random

    from orchestrator.store.db import Store

    rng = random.Random(seed)
    projects = ("/home/dev/src/api", "/home/dev/src/web", "/home/dev/src/infra")
    day0 = datetime(2026, 11, 16, tzinfo=UTC)
    linked: list[tuple[Transcript, datetime, datetime]] = []
    for n in range(36):
        day = day0 + timedelta(days=n * 13 // 36)
        start = day + timedelta(
            hours=rng.choice((6, 8, 9, 10, 11, 14, 16, 21)), minutes=rng.randrange(60)
        )
        t = Transcript(projects[rng.randrange(3)])
        at = start
        long_run = n % 3 == 0
        for turn in range(rng.randint(2, 6)):
            t.prompt(at, f"Step {turn}")
            at += timedelta(minutes=rng.randint(1, 5))
            t.tool(
                at,
                "Edit",
                {"file_path": "x.py", "old_string": "a\nb", "new_string": "a\nc\nd"},
                usage=(40, 3000, 40000, 700),
            )
            t.tool(
                at + timedelta(minutes=1),
                "Write",
                {"file_path": f"n{turn}.py", "content": "x\n" * rng.randint(5, 80)},
                usage=(40, 2000, 45000, 900),
            )
            at += timedelta(minutes=rng.randint(5, 150 if long_run else 25))
            t.reply(at, stop="end_turn", split=2, usage=(20, 500, 50000, 300))
        if n % 5 == 4:
            t.interrupt(at + timedelta(seconds=5))
        t.write(claude_dir)
        if n >= 30:
            linked.append((t, start, at))
    with Store(db) as store:
        for i, (t, start, end) in enumerate(linked):
            name = f"dev-{i + 1}"
            store.note_claude_session("shop", name, t.session_id, at=start.timestamp())
            at_s, end_s = start.timestamp(), end.timestamp()
            while at_s < end_s:
                for state, seconds in (
                    ("working", rng.randint(600, 2400)),
                    ("awaiting_input", rng.choice((20, 45, 90, 400, 1500))),
                    ("working", rng.randint(300, 1800)),
                    ("idle", rng.randint(60, 900)),
                ):
                    store.record_transition("shop", name, state, source="sample", at=at_s)
                    at_s += seconds
            store.record_transition("shop", name, "exited", source="sample", at=at_s)


if __name__ == "__main__":
    import sys

    sample(Path(sys.argv[1]), Path(sys.argv[2]))
