"""aider's chat history in a project folder, read into the report's sessions (one per start).

aider appends every session to ``.aider.chat.history.md`` in the folder it runs in, and every
line the user typed to ``.aider.input.history``. What aider 0.86.2 writes (recorded in
``tests/report-samples/aider``), and how the report reads it:

- ``# aider chat started at YYYY-MM-DD HH:MM:SS`` opens a session: its start, in the local time
  of the machine that ran it (no zone is written; the report reads it as local).
- ``> Model: <name> with <format> edit format``: the session's model.
- ``#### <text>``: a line the user sent (a multi-line message is one ``####`` line per line).
  A *prompt* is a message that is not a command (``/exit``, ``/add`` ...), except the commands
  that ask the model (``/ask``, ``/code``, ``/architect``).
- ``> Tokens: 2.3k sent, 1.1k cache write, 500 cache hit, 112 received.``: one model call's
  tokens as aider printed them: the server's usage when it reported one, else aider's own count,
  rounded (``2.3k``) above 999. Each such line is one *reply*. ``sent`` includes cache writes.
- ``.aider.input.history``: ``# YYYY-MM-DD HH:MM:SS.ffffff`` before each typed line. A session's
  *end* is its last typed line's time (before the next session starts); aider writes no time
  for replies, so a reply after the last typed line is not in the session's hours.

Not known from these files: the outcome (aider writes no turn end or interruption marker), lines
changed (edits are written as SEARCH/REPLACE text, not as results), the session id (aider has
none: the report names a session ``aider@<start>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from orchestrator.report.transcript import Summary

PARSER_VERSION = 1
"""Bumped whenever :func:`summarise` would read a history differently."""

CHAT_FILE = ".aider.chat.history.md"
"""The chat history aider writes in its folder."""
INPUT_FILE = ".aider.input.history"
"""The typed-input history aider writes beside it."""
MODEL_ASKING = ("/ask", "/code", "/architect")
"""Commands whose text goes to the model: they count as prompts."""

_STARTED = re.compile(r"^# aider chat started at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s*$")
_MODEL = re.compile(r"^> Model: (\S+)")
_TOKENS = re.compile(r"^> Tokens: (.*)$")
_FIGURE = re.compile(r"^([\d.]+)(k?)\s+(sent|cache write|cache hit|received)$")
_TYPED_AT = re.compile(r"^# (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)\s*$")


def figure(text: str) -> int:
    """aider's printed token count (``112``, ``2.3k``, ``23k``) as a number."""
    return round(float(text.rstrip("k")) * (1000 if text.endswith("k") else 1))


def token_line(text: str) -> list[int] | None:
    """``2.3k sent, 112 received.`` as input, cache creation, cache read, output."""
    found: dict[str, int] = {}
    for part in text.rstrip(". ").split(","):
        match = _FIGURE.match(part.strip())
        if match is None:
            continue
        found[match[3]] = figure(match[1] + match[2])
    if "sent" not in found and "received" not in found:
        return None
    written = found.get("cache write", 0)
    return [max(0, found.get("sent", 0) - written), written, found.get("cache hit", 0),
            found.get("received", 0)]  # fmt: skip


@dataclass
class _Session:
    start: float
    model: str = "unknown"
    prompts: int = 0
    tokens: list[list[int]] = field(default_factory=list)
    in_message: bool = False


def _local(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp()  # naive: local time
    except ValueError:
        return None


def typed_times(folder: Path) -> list[float]:
    """When each line of ``.aider.input.history`` was typed, in file order."""
    try:
        lines = (folder / INPUT_FILE).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        match = _TYPED_AT.match(line)
        at = _local(match[1]) if match else None
        if at is not None:
            found.append(at)
    return found


def _read(lines: list[str]) -> tuple[list[_Session], int]:
    sessions: list[_Session] = []
    skipped = 0
    for line in lines:
        started = _STARTED.match(line)
        if started:
            at = _local(started[1])
            if at is None:
                skipped += 1
                continue
            sessions.append(_Session(at))
            continue
        if not sessions:
            continue
        current = sessions[-1]
        if line.startswith("#### "):
            text = line[5:].strip()
            if not current.in_message and (
                not text.startswith("/") or text.startswith(MODEL_ASKING)
            ):
                current.prompts += 1
            current.in_message = True
            continue
        current.in_message = False
        model, tokens = _MODEL.match(line), _TOKENS.match(line)
        if model and current.model == "unknown":
            current.model = model[1]
        elif tokens:
            counts = token_line(tokens[1])
            if counts is None:
                skipped += 1
            else:
                current.tokens.append(counts)
    return sessions, skipped


def summarise(path: Path) -> list[Summary]:
    """Every session in one ``.aider.chat.history.md``; one summary with ``error`` when the file
    cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return [Summary(str(path), "aider", agent="aider", error=exc.strerror or str(exc))]
    sessions, skipped = _read(text.splitlines())
    typed = typed_times(path.parent)
    out: list[Summary] = []
    for index, session in enumerate(sessions):
        until = sessions[index + 1].start if index + 1 < len(sessions) else float("inf")
        mine = [t for t in typed if session.start <= t < until]
        totals = [sum(c[i] for c in session.tokens) for i in range(4)]
        summary = Summary(
            path=str(path),
            session_id=f"aider@{datetime.fromtimestamp(session.start).isoformat()}",
            agent="aider",
            start=session.start,
            end=max([session.start, *mine]),
            cwd=str(path.parent),
            prompts=session.prompts,
            replies=len(session.tokens),
            lines_changed=None,
            completed=None,
            tokens={session.model: totals} if any(totals) else {},
            tokens_exact=False,
            skipped_lines=skipped if index == 0 else 0,
        )
        out.append(summary)
    return out
