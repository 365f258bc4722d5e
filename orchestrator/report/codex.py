"""One Codex CLI rollout, read into the report's :class:`Summary`.

Codex writes each conversation to ``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl``:
one ``{"timestamp", "type", "payload"}`` record per line. What the report takes from it, as
Codex CLI 0.171.0 writes it (recorded in ``tests/report-samples/codex``):

- ``session_meta``: the conversation id and the ``cwd`` it ran in.
- ``turn_context``: the model of the turn that follows.
- ``response_item``: the conversation's items (messages, function calls and their output); their
  timestamps give the session's start and end.
- ``event_msg`` ``item_completed`` with a ``UserMessage`` item: one prompt the user typed (the
  ``response_item`` user messages also carry what Codex injects: environment, instructions,
  the "turn aborted" notice); with an ``AgentMessage`` item: one reply.
- ``token_usage_record``: one model response's usage, once per ``response_id``. Codex's
  ``input_tokens`` include the cached ones (its ``total_tokens`` is input plus output), so
  plain input is input minus cached minus cache-write tokens.
- ``event_msg`` ``task_complete`` / ``turn_aborted``: how the last turn ended.

Lines changed are not counted: Codex edits through ``apply_patch`` calls, whose result the
recorded version did not show us (the summary says None, the report "-").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.report.transcript import Summary, json_records, parse_timestamp

PARSER_VERSION = 1
"""Bumped whenever :func:`summarise` would read a rollout differently."""


def _count(usage: dict[str, Any], key: str) -> int:
    value = usage.get(key)
    return value if isinstance(value, int) and value > 0 else 0


def usage_counts(usage: dict[str, Any]) -> list[int]:
    """A Codex usage record as input, cache creation, cache read, output."""
    cached = _count(usage, "cached_input_tokens")
    written = _count(usage, "cache_write_input_tokens")
    plain = max(0, _count(usage, "input_tokens") - cached - written)
    return [plain, written, cached, _count(usage, "output_tokens")]


class _Reader:
    def __init__(self, summary: Summary) -> None:
        self.summary = summary
        self.model = "unknown"
        self.usage: dict[str, tuple[str, list[int]]] = {}
        self.replies: set[str] = set()
        self.ended: bool | None = None

    def record(self, rec: dict[str, Any]) -> None:
        kind = rec.get("type")
        payload = rec.get("payload")
        if not isinstance(payload, dict):
            return
        s = self.summary
        if kind == "session_meta":
            ident, cwd = payload.get("id"), payload.get("cwd")
            if isinstance(ident, str) and ident:
                s.session_id = ident
            if s.cwd is None and isinstance(cwd, str) and cwd:
                s.cwd = cwd
        elif kind == "turn_context":
            model = payload.get("model")
            if isinstance(model, str) and model:
                self.model = model
        elif kind == "response_item":
            self._stamp(rec)
        elif kind == "token_usage_record":
            usage = payload.get("usage")
            key = str(payload.get("response_id") or len(self.usage))
            if isinstance(usage, dict):
                self.usage[key] = (self.model, usage_counts(usage))
        elif kind == "event_msg":
            self._event(rec, payload)

    def _event(self, rec: dict[str, Any], payload: dict[str, Any]) -> None:
        event = payload.get("type")
        if event == "item_completed":
            item = payload.get("item")
            if not isinstance(item, dict):
                return
            self._stamp(rec)
            if item.get("type") == "UserMessage":
                self.summary.prompts += 1
                self.ended = None
            elif item.get("type") == "AgentMessage":
                self.replies.add(str(item.get("id")))
        elif event == "task_started":
            self.ended = None
        elif event == "task_complete":
            self.ended = True
        elif event == "turn_aborted":
            self.ended = False

    def _stamp(self, rec: dict[str, Any]) -> None:
        at = parse_timestamp(rec.get("timestamp"))
        if at is None:
            return
        s = self.summary
        s.start = at if s.start is None else min(s.start, at)
        s.end = at if s.end is None else max(s.end, at)

    def finish(self) -> None:
        s = self.summary
        s.replies = len(self.replies)
        # A turn still running (or killed with Codex) ended neither way: not completed.
        s.completed = self.ended is True
        for model, counts in self.usage.values():
            if any(counts):
                total = s.tokens.setdefault(model, [0, 0, 0, 0])
                for i, value in enumerate(counts):
                    total[i] += value


def summarise(path: Path) -> Summary:
    """Read one rollout into its :class:`Summary`; never raises for a bad or missing file."""
    # The file name ends with the conversation id; session_meta names it again.
    summary = Summary(path=str(path), session_id=path.stem[-36:], agent="codex", lines_changed=None)
    reader = _Reader(summary)
    try:
        for rec in json_records(path, summary):
            reader.record(rec)
    except OSError as exc:
        return Summary(str(path), path.stem, agent="codex", error=exc.strerror or str(exc))
    reader.finish()
    return summary
