"""The history as people and scripts read it, prompts sent, and conversations to resume.

Everything here goes through :class:`orchestrator.store.db.Store`; nothing needs tmux. A store
opened here reports a corrupt database it moved aside (:func:`recovery_message`), so a command
that opens one can say so instead of silently starting afresh.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.errors import NotFoundError
from orchestrator.store.db import Store
from orchestrator.store.records import ClaudeSession, Handoff, Prompt, Transition

if TYPE_CHECKING:
    from orchestrator.layout.plan import Fleet


def recovery_message(store: Store) -> str | None:
    """What to tell the user when opening ``store`` found its file corrupt and moved it aside."""
    if store.recovered_from is None:
        return None
    why = f" ({store.recovery_reason})" if store.recovery_reason else ""
    return (
        f"the history database {store.path} was corrupt{why}; "
        f"moved aside to {store.recovered_from}, and a fresh one started"
    )


def record_prompt(
    fleet: str,
    session: str,
    text: str,
    *,
    source: str = "dashboard",
    db: Path | str | None = None,
) -> Prompt:
    """Record in the history that ``text`` is being sent to ``session`` of ``fleet``.

    Call it just before typing the prompt into the pane. It opens the database (``db``, else
    ``$ORCHESTRATOR_DB``, else the state folder's), writes one committed row and closes it, so it
    is safe from any thread or process, a worker thread included.
    """
    with Store(db, check=False) as store:
        return store.add_prompt(fleet, session, text, source=source)


@dataclass(frozen=True)
class History:
    """What the history holds about some sessions."""

    transitions: list[Transition]
    prompts: list[Prompt]
    claude_sessions: list[ClaudeSession]
    handoffs: list[Handoff] = field(default_factory=list)
    """Pipeline hand-offs: a waiting session got its prompt (see ``subscribers/pipeline.py``)."""

    def to_json(self, store: Store) -> dict[str, object]:
        """The document ``history --json`` prints."""
        return {
            "database": str(store.path),
            "recovered_from": None if store.recovered_from is None else str(store.recovered_from),
            "transitions": [t.to_json() for t in self.transitions],
            "prompts": [p.to_json() for p in self.prompts],
            "claude_sessions": [c.to_json() for c in self.claude_sessions],
            "handoffs": [h.to_json() for h in self.handoffs],
        }


def read(
    store: Store, name: str | None = None, *, fleet: str | None = None, limit: int | None = None
) -> History:
    """The transitions and prompts of one session (in any fleet unless ``fleet``), or of all.

    Raises :class:`NotFoundError` when a session or fleet is named that the history never saw.
    """
    known = [s for s in store.sessions(fleet) if name is None or s.name == name]
    if not known and (name is not None or fleet is not None):
        what = f"session {name!r}" if name else f"fleet {fleet!r}"
        where = f" of fleet {fleet!r}" if name and fleet else ""
        raise NotFoundError(
            f"the history has nothing about {what}{where} ({store.path})",
            hint="`orchestrator history` lists every session it knows",
        )
    claude = [c for s in known for c in store.claude_sessions(s.fleet, s.name)]
    return History(
        transitions=store.transitions(name, fleet=fleet, limit=limit),
        prompts=store.prompts(name, fleet=fleet, limit=limit),
        claude_sessions=sorted(claude, key=lambda c: c.first_seen),
        handoffs=store.handoffs(name, fleet=fleet, limit=limit),
    )


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) + f".{int(at * 1000) % 1000:03d}"


def table(history: History) -> str:
    """Transitions and prompts, oldest first, one per line, for people."""
    rows: list[tuple[float, int, tuple[str, ...]]] = []
    for t in history.transitions:
        event = f"{t.from_state or '-'} -> {t.to_state}"
        rows.append((t.at, t.id, (_when(t.at), t.fleet, t.session, event, t.source, t.reason)))
    for p in history.prompts:
        text = " ".join(p.text.split())
        rows.append((p.at, p.id, (_when(p.at), p.fleet, p.session, "prompt", p.source, text)))
    for h in history.handoffs:
        rows.append(
            (h.at, h.id, (_when(h.at), h.fleet, h.session, "hand-off", "pipeline", h.detail))
        )
    if not rows:
        return "no history recorded yet"
    rows.sort(key=lambda row: (row[0], row[1]))
    headers = ("TIME", "FLEET", "SESSION", "EVENT", "SOURCE", "DETAIL")
    body = [(*cells[:5], cells[5][:70]) for _, _, cells in rows]
    widths = [max(len(line[i]) for line in [headers, *body]) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [headers, *body]
    ]
    for c in history.claude_sessions:
        lines.append(f"claude conversation of {c.fleet}/{c.session}: {c.claude_session_id}")
    return "\n".join(lines)


def last_active(conversation: ClaudeSession) -> float:
    """When a conversation was last active: its transcript's last write (Claude appends every
    message to it), else when the history last saw it start."""
    if conversation.transcript_path is not None:
        try:
            return max(conversation.transcript_path.stat().st_mtime, conversation.last_seen)
        except OSError:
            pass
    return conversation.last_seen


def _can_resume(conversation: ClaudeSession) -> bool:
    # Claude writes a conversation's transcript with its first message: a conversation that
    # never got one (started, then left) has none, and `claude --resume` cannot continue it.
    path = conversation.transcript_path
    return path is None or path.is_file()


def resumable_conversation(store: Store, fleet: str, session: str) -> ClaudeSession | None:
    """The conversation of a session to continue: the most recently active one that can be
    resumed. An empty conversation started later (say by an `up` that did not resume) does not
    hide an earlier one that holds work."""
    found = [c for c in store.claude_sessions(fleet, session) if _can_resume(c)]
    return max(found, key=last_active, default=None)


def conversation_folder(conversation: ClaudeSession) -> Path | None:
    """The folder a conversation ran in, as its transcript records it (each message carries
    its ``cwd``); None when the transcript does not say. ``claude --resume`` finds a
    conversation only from that folder."""
    path = conversation.transcript_path
    if path is None:
        return None
    try:
        with path.open("rb") as transcript:
            for line in itertools.islice(transcript, 200):
                found = _CWD.search(line)
                if found is not None:
                    return Path(json.loads(b'"' + found.group(1) + b'"'))
    except (OSError, ValueError):
        return None
    return None


_CWD = re.compile(rb'"cwd":\s*"((?:[^"\\]|\\.)*)"')


def resume_id(fleet: str, session: str, db: Path | str | None = None) -> str | None:
    """The Claude conversation to continue in a session with ``--resume`` (None when it has
    none that can be)."""
    with Store(db) as store:
        found = resumable_conversation(store, fleet, session)
    return None if found is None else found.claude_session_id


def resumable(store: Store, fleet: Fleet) -> dict[str, ClaudeSession]:
    """The conversation each Claude session of ``fleet`` would continue, if it has one."""
    found: dict[str, ClaudeSession] = {}
    for plan in fleet.sessions:
        if not plan.agent.resume_flag:
            continue
        conversation = resumable_conversation(store, fleet.name, plan.name)
        if conversation is not None:
            found[plan.name] = conversation
    return found
