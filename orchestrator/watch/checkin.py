"""Check-ins: one digest of a fleet that says who needs a look, every ``checkin`` interval.

The workflow asks for a look at every session every 15-30 minutes. A digest lists, per fleet:

- who is awaiting input, and for how long;
- who finished a turn that nobody has looked at since (the dashboard's ``✔ finished``);
- who has been working for over :data:`LONG_WORK` (stuck, or a task too big);
- who has sat idle for over :data:`LONG_IDLE` (forgotten, or free for more work).

:func:`compose` is pure (sessions in, digest out); :func:`gather` reads what it needs: the states
the watcher published on the panes (one tmux call), the end of each session's latest turn from the
watcher's ``transitions.jsonl`` (:class:`~orchestrator.watch.turns.Turns`), and when each session
was last looked at: ``seen.json`` in the fleet's runtime folder, which the dashboard writes when it
sees a finished session (and the watcher when a turn ends on screen), plus the panes on attached
clients' screens right now.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from orchestrator.detect.model import NEEDS_USER, State
from orchestrator.fleet import jump, published
from orchestrator.runtime import fleet_dir
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import list_sessions
from orchestrator.watch.turns import DONE, Turns

LONG_WORK = 3600.0
"""Seconds of uninterrupted work after which a session is listed as working long."""
LONG_IDLE = 1800.0
"""Seconds idle after which a session is listed as sitting idle."""
SEEN_FILE = "seen.json"
"""In the fleet's runtime folder: when each session was last looked at (by name)."""
DIGEST_FILE = "checkin.json"
"""In the fleet's runtime folder: the latest check-in, for the dashboard's banner."""


@dataclass(frozen=True)
class Seen:
    """One session as a check-in weighs it."""

    name: str
    state: str
    since: float | None
    """When it entered its state (epoch seconds)."""
    reason: str = ""
    turn_ended: float | None = None
    """When its latest turn ended, while it is idle or exited after one."""
    seen_at: float | None = None
    """When someone last looked at it (None: not known)."""


@dataclass(frozen=True)
class Entry:
    """A session in one of the digest's lists."""

    name: str
    seconds: float
    """How long: awaiting input, since the turn ended, working, or idle."""
    reason: str = ""


@dataclass(frozen=True)
class Digest:
    """One check-in of a fleet."""

    fleet: str
    at: float
    awaiting: list[Entry] = field(default_factory=list)
    finished: list[Entry] = field(default_factory=list)
    working_long: list[Entry] = field(default_factory=list)
    idle_long: list[Entry] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing to look at."""
        return not (self.awaiting or self.finished or self.working_long or self.idle_long)

    def lines(self) -> list[str]:
        """The digest for people, one line per list that has someone in it."""
        parts = [
            ("awaiting input", self.awaiting, True),
            ("finished, not looked at", self.finished, False),
            (f"working for over {LONG_WORK / 3600:g}h", self.working_long, False),
            (f"idle for over {LONG_IDLE / 60:g}m", self.idle_long, False),
        ]
        lines = []
        for title, entries, with_reason in parts:
            if entries:
                items = [_item(entry, with_reason) for entry in entries]
                lines.append(f"{title}: " + ", ".join(items))
        return lines or ["nothing needs you"]

    def text(self) -> str:
        """The whole digest: a title line, then :meth:`lines`."""
        return "\n".join([f"check-in {self.fleet}", *self.lines()])

    def to_json(self) -> dict[str, object]:
        """The digest as ``checkin --json`` prints it and ``checkin.json`` holds it: the lists,
        ``empty``, and ``lines`` (the text, one line per list that has someone)."""
        return {**asdict(self), "empty": self.empty, "lines": [] if self.empty else self.lines()}


def _item(entry: Entry, with_reason: bool) -> str:
    text = f"{entry.name} ({age(entry.seconds)})"
    return f"{text}: {entry.reason}" if with_reason and entry.reason else text


def age(seconds: float) -> str:
    """A duration for people: ``45s``, ``12m``, ``1h05m``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


def compose(fleet: str, sessions: Iterable[Seen], now: float) -> Digest:
    """Sort a fleet's sessions into the digest's lists (longest first in each)."""
    digest = Digest(fleet, now)
    for session in sessions:
        spent = now - session.since if session.since else 0.0
        if session.state in NEEDS_USER:  # awaiting input, or stopped on an error
            digest.awaiting.append(Entry(session.name, spent, session.reason))
        elif (
            session.state in DONE
            and session.turn_ended is not None
            and (session.seen_at is None or session.seen_at < session.turn_ended)
        ):
            digest.finished.append(Entry(session.name, now - session.turn_ended))
        elif session.state == State.WORKING.value and spent > LONG_WORK:
            digest.working_long.append(Entry(session.name, spent))
        elif session.state == State.IDLE.value and spent > LONG_IDLE:
            digest.idle_long.append(Entry(session.name, spent))
    for entries in (digest.awaiting, digest.finished, digest.working_long, digest.idle_long):
        entries.sort(key=lambda entry: -entry.seconds)
    return digest


def read_seen(folder: Path) -> dict[str, float]:
    """When each session was last looked at, as ``seen.json`` says (empty: no file)."""
    try:
        data = json.loads((folder / SEEN_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float)}


def note_seen(folder: Path, seen: Mapping[str, float]) -> None:
    """Merge ``seen`` (name -> when) into ``seen.json``, keeping the later time of each. The
    dashboard and the watcher both write it: a lock keeps one's merge from undoing the other's."""
    with (folder / f".{SEEN_FILE}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        merged = read_seen(folder)
        for name, at in seen.items():
            merged[name] = max(at, merged.get(name, 0.0))
        write_json(folder / SEEN_FILE, merged)


def write_json(path: Path, data: object) -> None:
    """Replace ``path`` atomically with ``data`` as JSON (private file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)


def gather(tmux: Tmux, fleet: str, *, runtime: Path | None = None) -> Digest:
    """The fleet's digest now, from tmux, the watcher's log and ``seen.json``."""
    folder = fleet_dir(fleet, runtime)
    now = time.time()
    turns = Turns(folder / "transitions.jsonl")
    turns.read_log()
    seen = read_seen(folder)
    viewed = jump.visible_panes(tmux)
    sessions = []
    for pane in list_sessions(tmux, fleet):
        state, reason = published.describe_state(pane)
        since = pane.since or pane.started
        ended = turns.note(pane.name, pane.pane_id, state, since, pane.started or 0.0)
        seen_at = now if pane.pane_id in viewed else seen.get(pane.name)
        sessions.append(Seen(pane.name, state, since, reason, ended, seen_at))
    return compose(fleet, sessions, now)
