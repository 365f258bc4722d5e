"""One Claude Code transcript, read once into the few figures the report needs.

A transcript (``projects/<folder>/<session id>.jsonl``) is one JSON record per line, appended
while the conversation runs. :func:`summarise` streams it line by line (a 100 MB transcript
never sits in memory whole) and keeps only a :class:`Summary`: when the session ran, where,
how many messages, how many lines its edits changed, how it ended, and its tokens per model.
The summary is small and plain, so the cache (:mod:`orchestrator.report.cache`) stores it as
JSON and a second report reads no transcript that did not change.

What counts is written in the README's "Report" section; the rules, briefly:

- Start and end come from the ``timestamp`` of ``user`` and ``assistant`` records only.
- Claude writes one assistant reply over several records that share ``message.id`` and repeat
  its ``usage``: a reply is counted, and its tokens summed, once per id.
- An edit (``Edit``, ``MultiEdit``, ``Write``) counts once its ``tool_result`` arrives without
  ``is_error`` (a rejected or failed edit changed nothing); a call with no result counts nothing.
- A line that is not JSON, not an object, cut short (a transcript being written), or of a record
  type we do not know is skipped and counted in :attr:`Summary.skipped_lines`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

PARSER_VERSION = 2
"""Bumped whenever :func:`summarise` would read a transcript differently; the cache re-reads
every transcript summarised by another version."""

INTERRUPTED = "[Request interrupted by user"
"""How Claude Code's interruption markers (user records it writes itself) begin."""

EDIT_TOOLS = frozenset({"Edit", "MultiEdit", "Write"})
"""The tools whose calls count towards lines changed."""

KNOWN_OTHER_TYPES = frozenset(
    # Every other entry type Claude Code 2.1.197 writes to a transcript (its own table of
    # transcript entry types, read from the CLI).
    [
        "attachment",
        "system",
        "progress",
        "summary",
        "custom-title",
        "ended-by-model",
        "ai-title",
        "last-prompt",
        "tag",
        "relocated",
        "agent-name",
        "agent-color",
        "agent-setting",
        "pr-link",
        "frame-link",
        "bridge-session",
        "file-history-snapshot",
        "attribution-snapshot",
        "speculation-accept",
        "mode",
        "permission-mode",
        "isolation-latch",
        "worktree-state",
        "queue-operation",
        "marble-origami-commit",
        "marble-origami-snapshot",
        "marble-origami-reset",
        "content-replacement",
        "fork-context-ref",
    ]
)
"""Record types Claude Code writes that hold nothing the report counts; skipped silently.
Any other type is skipped *and counted*, so a new kind of record shows up in the warnings."""

TOKEN_KINDS = ("input", "cache_creation", "cache_read", "output")
"""The four token counts of a reply, in the order :attr:`Summary.tokens` lists them."""
_USAGE_KEYS = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
)


@dataclass
class Summary:
    """What the report needs from one transcript."""

    path: str
    """The transcript file."""
    session_id: str
    """The agent's session id (Claude Code's: the file's name without ``.jsonl``)."""
    agent: str = "claude"
    """Which agent wrote the file: ``claude``, ``codex``, ``gemini`` or ``aider``."""
    start: float | None = None
    """Earliest ``timestamp`` of a user or assistant record (epoch seconds); None if it has none."""
    end: float | None = None
    """Latest such ``timestamp`` (epoch seconds)."""
    cwd: str | None = None
    """The ``cwd`` of the first record that has one."""
    prompts: int = 0
    """The user's prompts: user records that are no tool result, not meta, no interruption."""
    replies: int = 0
    """Distinct assistant ``message.id`` values."""
    lines_changed: int | None = 0
    """Lines added plus removed by edits whose result was not an error; None when the agent's
    files do not record its edits in a form the report reads."""
    completed: bool | None = False
    """The last reply ended the turn (Claude: ``end_turn``) and no interruption followed it;
    None when the agent's files cannot tell."""
    tokens: dict[str, list[int]] = field(default_factory=dict)
    """Per model, the tokens of its replies: input, cache creation, cache read, output."""
    tokens_exact: bool = True
    """False when the file holds rounded figures (aider prints ``2.3k``)."""
    skipped_lines: int = 0
    """Lines not read: malformed, cut short, not an object, or of an unknown record type."""
    error: str | None = None
    """Why the file could not be read at all, if it could not (then nothing else counts)."""

    @property
    def messages(self) -> int:
        """Prompts plus replies."""
        return self.prompts + self.replies

    def to_json(self) -> bytes:
        """The summary as the cache stores it."""
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes | str) -> Summary:
        """A summary the cache stored with :meth:`to_json`."""
        raw = orjson.loads(data)
        return cls(**raw)


def parse_timestamp(value: object) -> float | None:
    """An ISO 8601 time as epoch seconds; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def diff_lines(old: str, new: str) -> int:
    """Lines added plus lines removed by a line diff of ``old`` against ``new``."""
    if old == new:
        return 0
    a = old.splitlines()
    b = new.splitlines()
    if not a or not b:
        return len(a) + len(b)
    changed = 0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            changed += (i2 - i1) + (j2 - j1)
    return changed


def edit_lines(tool: str, tool_input: Mapping[str, Any]) -> int:
    """The lines one Edit, MultiEdit or Write call changes, were it to succeed."""
    if tool == "Write":
        content = tool_input.get("content")
        return len(content.splitlines()) if isinstance(content, str) else 0
    if tool == "Edit":
        edits: list[Any] = [tool_input]
    else:
        listed = tool_input.get("edits")
        edits = listed if isinstance(listed, list) else []
    total = 0
    for edit in edits:
        if not isinstance(edit, Mapping):
            continue
        old, new = edit.get("old_string", ""), edit.get("new_string", "")
        if isinstance(old, str) and isinstance(new, str):
            total += diff_lines(old, new)
    return total


class _Reader:
    """The running state of one pass over a transcript."""

    def __init__(self, summary: Summary) -> None:
        self.summary = summary
        self.usage: dict[str, tuple[str, list[int]]] = {}
        self.pending_edits: dict[str, int] = {}
        self.last_stop: str | None = None
        self.interrupted = False

    def record(self, rec: dict[str, Any]) -> bool:
        """Take in one record; False when its type is unknown."""
        kind = rec.get("type")
        s = self.summary
        if s.cwd is None:
            cwd = rec.get("cwd")
            if isinstance(cwd, str) and cwd:
                s.cwd = cwd
        if kind == "assistant":
            self._stamp(rec)
            self._assistant(rec)
        elif kind == "user":
            self._stamp(rec)
            self._user(rec)
        elif kind not in KNOWN_OTHER_TYPES:
            return False
        return True

    def _stamp(self, rec: dict[str, Any]) -> None:
        at = parse_timestamp(rec.get("timestamp"))
        if at is None:
            return
        s = self.summary
        if s.start is None or at < s.start:
            s.start = at
        if s.end is None or at > s.end:
            s.end = at

    def _assistant(self, rec: dict[str, Any]) -> None:
        message = rec.get("message")
        if not isinstance(message, dict):
            return
        mid = message.get("id")
        key = mid if isinstance(mid, str) and mid else f"uuid:{rec.get('uuid')}"
        if key not in self.usage:
            # A new reply: whatever interruption followed the previous one is behind it now.
            self.last_stop = None
            self.interrupted = False
        stop = message.get("stop_reason")
        if isinstance(stop, str):
            self.last_stop = stop
        model = str(message.get("model") or "unknown")
        usage = message.get("usage")
        counts = [0, 0, 0, 0]
        if isinstance(usage, dict):
            for i, name in enumerate(_USAGE_KEYS):
                value = usage.get(name)
                counts[i] = value if isinstance(value, int) and value > 0 else 0
        # The records of one reply repeat its usage; the last one holds the final figures.
        self.usage[key] = (model, counts)
        content = message.get("content")
        if isinstance(content, list):
            for block in content:
                if (
                    isinstance(block, dict)
                    and block.get("type") == "tool_use"
                    and block.get("name") in EDIT_TOOLS
                    and isinstance(block.get("input"), dict)
                ):
                    self.pending_edits[str(block.get("id"))] = edit_lines(
                        str(block["name"]), block["input"]
                    )

    def _user(self, rec: dict[str, Any]) -> None:
        message = rec.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        texts: list[str] = []
        tool_result = False
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            for block in content:
                if not isinstance(block, dict):
                    continue
                if block.get("type") == "tool_result":
                    tool_result = True
                    self._result(block)
                elif block.get("type") == "text" and isinstance(block.get("text"), str):
                    texts.append(block["text"])
        if any(text.startswith(INTERRUPTED) for text in texts):
            self.interrupted = True
            return
        if not tool_result and not rec.get("isMeta") and content is not None:
            self.summary.prompts += 1

    def _result(self, block: dict[str, Any]) -> None:
        lines = self.pending_edits.pop(str(block.get("tool_use_id")), None)
        if lines is not None and not block.get("is_error"):
            self.summary.lines_changed = (self.summary.lines_changed or 0) + lines

    def finish(self) -> None:
        s = self.summary
        s.replies = len(self.usage)
        s.completed = self.last_stop == "end_turn" and not self.interrupted
        for model, counts in self.usage.values():
            if not any(counts):
                continue
            total = s.tokens.setdefault(model, [0, 0, 0, 0])
            for i, value in enumerate(counts):
                total[i] += value


def json_records(path: Path, summary: Summary) -> Iterator[dict[str, Any]]:
    """Each JSON object of a JSON-lines file, streamed; a line that is not one (malformed, cut
    short, not an object) is counted in ``summary.skipped_lines``. Raises OSError."""
    with path.open("rb", buffering=1 << 16) as f:
        for line in f:
            if len(line) < 3 and not line.strip():  # strip() would copy every long line
                continue
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                summary.skipped_lines += 1
                continue
            if isinstance(rec, dict):
                yield rec
            else:
                summary.skipped_lines += 1


def summarise(path: Path) -> Summary:
    """Read one transcript into its :class:`Summary`; never raises for a bad or missing file."""
    summary = Summary(path=str(path), session_id=path.stem)
    reader = _Reader(summary)
    try:
        for rec in json_records(path, summary):
            if not reader.record(rec):
                summary.skipped_lines += 1
    except OSError as exc:
        return Summary(path=str(path), session_id=path.stem, error=exc.strerror or str(exc))
    reader.finish()
    return summary
