"""One Gemini CLI chat file, read into the report's :class:`Summary`.

Gemini CLI writes each conversation to ``<home>/.gemini/tmp/<project>/chats/session-<time>-<id8>
.jsonl``, a journal rather than a plain list. What Gemini CLI 0.61.0 writes (recorded in
``tests/report-samples/gemini``), and how the report reads it:

- A header line ``{"sessionId", "projectHash", "startTime", "lastUpdated", "kind"}``, written
  again when the conversation is resumed.
- Message records ``{"id", "timestamp", "type": "user" | "gemini" | "info" | ..., "content"}``,
  appended as they happen. A record whose ``id`` came before replaces it (a reply gains its
  ``toolCalls`` once they finish). ``gemini`` records carry ``model`` and ``tokens``
  (``input``, ``output``, ``cached``, ``thoughts``, ``tool``, ``total``).
- ``{"$set": {...}}`` patches: ``lastUpdated``, or the whole ``messages`` list when Gemini
  rebuilds its history (after a cancelled turn, on resume). A rebuilt history is what Gemini
  will send next, not what happened, so the report counts appended records only.

So: a *prompt* is an appended ``user`` record that is not Gemini's own ``<session_context>``
set-up text (a rebuilt history restates the first prompt inside one); a *reply* is a distinct
``gemini`` record id that carries ``tokens`` (the copy of an old reply in a rebuilt history has
none). Start and end are the earliest and latest timestamps of those records. Tokens: Gemini's
``input`` includes the cached ones; plain input = input - cached + tool-use prompt tokens, cache
read = cached, output = output + thoughts (thinking is billed as output). The turn *completed*
when the last such record is a reply with tokens whose tool calls all succeeded, with no
"Request cancelled." notice after it. The folder is the ``.project_root`` file Gemini keeps
beside ``chats/``. Lines changed are not counted (the report says "-").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.report.transcript import Summary, json_records, parse_timestamp

PARSER_VERSION = 1
"""Bumped whenever :func:`summarise` would read a chat file differently."""

CONTEXT = "<session_context>"
"""How the set-up text Gemini sends as the first user message begins."""
CANCELLED = "Request cancelled."
"""The ``info`` record Gemini writes when the user cancels a turn."""


def _int(tokens: dict[str, Any], key: str) -> int:
    value = tokens.get(key)
    return value if isinstance(value, int) and value > 0 else 0


def token_counts(tokens: dict[str, Any]) -> list[int]:
    """A Gemini reply's ``tokens`` as input, cache creation, cache read, output."""
    cached = _int(tokens, "cached")
    plain = max(0, _int(tokens, "input") - cached) + _int(tokens, "tool")
    return [plain, 0, cached, _int(tokens, "output") + _int(tokens, "thoughts")]


def _texts(content: object) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        parts = [p for p in content if isinstance(p, dict)]
        return [p["text"] for p in parts if isinstance(p.get("text"), str)]
    return []


def _succeeded(reply: dict[str, Any]) -> bool:
    calls = reply.get("toolCalls")
    if not isinstance(calls, list):
        return True
    return all(isinstance(c, dict) and c.get("status") == "success" for c in calls)


class _Reader:
    def __init__(self, summary: Summary) -> None:
        self.summary = summary
        self.replies: dict[str, tuple[str, list[int]]] = {}
        self.prompt_ids: set[str] = set()
        self.last: dict[str, Any] | None = None
        """The latest prompt, reply or cancellation notice (its latest version)."""

    def record(self, rec: dict[str, Any]) -> None:
        s = self.summary
        if "$set" in rec:
            return
        if "sessionId" in rec and "type" not in rec:
            if isinstance(rec["sessionId"], str) and rec["sessionId"]:
                s.session_id = rec["sessionId"]
            return
        kind, ident = rec.get("type"), str(rec.get("id"))
        if kind == "user":
            texts = _texts(rec.get("content"))
            if not texts or any(t.startswith(CONTEXT) for t in texts):
                return
            if ident not in self.prompt_ids:
                self.prompt_ids.add(ident)
                s.prompts += 1
        elif kind == "gemini":
            tokens = rec.get("tokens")
            if not isinstance(tokens, dict):
                return
            self.replies[ident] = (str(rec.get("model") or "unknown"), token_counts(tokens))
        elif kind == "info" and rec.get("content") == CANCELLED:
            self.last = rec
            return
        else:
            return
        self.last = rec
        at = parse_timestamp(rec.get("timestamp"))
        if at is not None:
            s.start = at if s.start is None else min(s.start, at)
            s.end = at if s.end is None else max(s.end, at)

    def finish(self) -> None:
        s = self.summary
        s.replies = len(self.replies)
        last = self.last
        s.completed = last is not None and last.get("type") == "gemini" and _succeeded(last)
        for model, counts in self.replies.values():
            if any(counts):
                total = s.tokens.setdefault(model, [0, 0, 0, 0])
                for i, value in enumerate(counts):
                    total[i] += value


def project_root(path: Path) -> str | None:
    """The folder Gemini ran in, from the ``.project_root`` file beside ``chats/``."""
    try:
        text = (path.parent.parent / ".project_root").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def summarise(path: Path) -> Summary:
    """Read one chat file into its :class:`Summary`; never raises for a bad or missing file."""
    summary = Summary(path=str(path), session_id=path.stem, agent="gemini", lines_changed=None)
    reader = _Reader(summary)
    try:
        for rec in json_records(path, summary):
            reader.record(rec)
    except OSError as exc:
        return Summary(str(path), path.stem, agent="gemini", error=exc.strerror or str(exc))
    reader.finish()
    summary.cwd = project_root(path)
    return summary
