"""The rows of the history as typed records, and how a database row becomes one.

Each record is a frozen dataclass whose fields are the table's columns in order; ``*_COLUMNS``
names those columns for a ``SELECT``, and ``*_from_row`` turns the row it returns into the record.
Keeping the three side by side means a column added to a table is added here in one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


class _Record:
    """Shared behaviour of the row types."""

    def to_json(self) -> dict[str, object]:
        """The row as JSON-ready values (paths become strings)."""
        assert dataclasses.is_dataclass(self)
        return {
            f.name: str(v) if isinstance(v, Path) else v
            for f in dataclasses.fields(self)
            for v in [getattr(self, f.name)]
        }


@dataclass(frozen=True)
class FleetRecord(_Record):
    """A fleet the tool has brought up at least once."""

    name: str
    """The fleet's name (its layout's name)."""
    layout_path: Path | None
    """The layout file it was last brought up from, if known."""
    created_at: float
    """When the fleet was first recorded (epoch seconds)."""
    updated_at: float
    """When the fleet's row last changed (epoch seconds)."""


@dataclass(frozen=True)
class SessionRecord(_Record):
    """One agent session of a fleet, with its latest recorded state."""

    fleet: str
    """The fleet it belongs to."""
    name: str
    """The session's name within the fleet."""
    role: str | None
    """The role the layout gave it."""
    agent: str | None
    """The agent profile it runs (``claude``, ``shell``, ...)."""
    cwd: Path | None
    """The folder the agent runs in."""
    pane_id: str | None
    """The tmux pane it was last seen in (``%12``)."""
    claude_session_id: str | None
    """The Claude Code session id it was last seen with."""
    state: str | None
    """The latest recorded state (the ``to_state`` of its latest transition), None before any."""
    state_at: float | None
    """When that state began (epoch seconds)."""
    created_at: float
    """When the session was first recorded (epoch seconds)."""
    updated_at: float
    """When the session's row last changed (epoch seconds)."""


@dataclass(frozen=True)
class Transition(_Record):
    """A change of a session's state."""

    id: int
    """Insertion order: a later transition has a larger id."""
    fleet: str
    """The fleet of the session."""
    session: str
    """The session's name."""
    from_state: str | None
    """The state before, which is always the previous transition's ``to_state`` (None at first)."""
    to_state: str
    """The state after."""
    at: float
    """When the change was seen (epoch seconds)."""
    source: str
    """Which signal decided it: ``hook``, ``screen``, ``process``, ``registry``, ..."""
    reason: str
    """Why, in words a person reads (``permission: Bash(rm -rf build)``)."""
    key: str | None
    """The caller's unique key for the event behind it, if it gave one."""


@dataclass(frozen=True)
class Prompt(_Record):
    """A prompt sent to a session."""

    id: int
    """Insertion order."""
    fleet: str
    """The fleet of the session."""
    session: str
    """The session's name."""
    at: float
    """When it was sent (epoch seconds)."""
    text: str
    """The prompt as sent."""
    source: str
    """Who sent it: ``layout``, ``dashboard``, ``cli``, ..."""


@dataclass(frozen=True)
class ClaudeSession(_Record):
    """A Claude Code conversation seen in a session, resumable with ``claude --resume <id>``."""

    fleet: str
    """The fleet of the session."""
    session: str
    """The session's name."""
    claude_session_id: str
    """Claude Code's own session id."""
    first_seen: float
    """When it was first seen (epoch seconds)."""
    last_seen: float
    """When it was last seen (epoch seconds)."""
    transcript_path: Path | None
    """Claude Code's transcript file for it, if known."""


@dataclass(frozen=True)
class Handoff(_Record):
    """A pipeline hand-off: a waiting session got its prompt once its producers were done."""

    id: int
    """Insertion order."""
    fleet: str
    """The fleet of the session."""
    session: str
    """The consumer: the session that waited and now got its prompt."""
    at: float
    """When the prompt was handed over (epoch seconds)."""
    after: str
    """The sessions it waited for (its ``after``), comma-separated."""
    files: str
    """JSON list of the files it needed: ``{"name", "from", "to", "copied"}`` each."""
    detail: str
    """One line for people, e.g. ``findings.md copied from research-3``."""


FLEET_COLUMNS = "name, layout_path, created_at, updated_at"
"""The ``fleets`` columns :func:`fleet_from_row` reads, in its order."""
SESSION_COLUMNS = (
    "fleet, name, role, agent, cwd, pane_id, claude_session_id, state, state_at,"
    " created_at, updated_at"
)
"""The ``sessions`` columns :func:`session_from_row` reads, in its order."""
TRANSITION_COLUMNS = "id, fleet, session, from_state, to_state, at, source, reason, key"
"""The ``transitions`` columns :func:`transition_from_row` reads, in its order."""
PROMPT_COLUMNS = "id, fleet, session, at, text, source"
"""The ``prompts`` columns :func:`prompt_from_row` reads, in its order."""
CLAUDE_COLUMNS = "fleet, session, claude_session_id, first_seen, last_seen, transcript_path"
"""The ``claude_sessions`` columns :func:`claude_session_from_row` reads, in its order."""
HANDOFF_COLUMNS = "id, fleet, session, at, after, files, detail"
"""The ``handoffs`` columns :func:`handoff_from_row` reads, in its order."""


def fleet_from_row(row: Sequence[object]) -> FleetRecord:
    """The fleet in a row of :data:`FLEET_COLUMNS`."""
    name, layout_path, created_at, updated_at = row
    return FleetRecord(str(name), _opt_path(_s(layout_path)), _f(created_at), _f(updated_at))


def session_from_row(row: Sequence[object]) -> SessionRecord:
    """The session in a row of :data:`SESSION_COLUMNS`."""
    fleet, name, role, agent, cwd, pane_id, cid, state, state_at, created, updated = row
    return SessionRecord(
        str(fleet),
        str(name),
        _s(role),
        _s(agent),
        _opt_path(_s(cwd)),
        _s(pane_id),
        _s(cid),
        _s(state),
        None if state_at is None else _f(state_at),
        _f(created),
        _f(updated),
    )


def transition_from_row(row: Sequence[object]) -> Transition:
    """The transition in a row of :data:`TRANSITION_COLUMNS`."""
    id_, fleet, session, from_state, to_state, at, source, reason, key = row
    return Transition(
        _i(id_),
        str(fleet),
        str(session),
        _s(from_state),
        str(to_state),
        _f(at),
        str(source),
        str(reason),
        _s(key),
    )


def prompt_from_row(row: Sequence[object]) -> Prompt:
    """The prompt in a row of :data:`PROMPT_COLUMNS`."""
    id_, fleet, session, at, text, source = row
    return Prompt(_i(id_), str(fleet), str(session), _f(at), str(text), str(source))


def claude_session_from_row(row: Sequence[object]) -> ClaudeSession:
    """The Claude Code session in a row of :data:`CLAUDE_COLUMNS`."""
    fleet, session, cid, first_seen, last_seen, transcript = row
    return ClaudeSession(
        str(fleet), str(session), str(cid), _f(first_seen), _f(last_seen), _opt_path(_s(transcript))
    )


def handoff_from_row(row: Sequence[object]) -> Handoff:
    """The hand-off in a row of :data:`HANDOFF_COLUMNS`."""
    id_, fleet, session, at, after, files, detail = row
    return Handoff(_i(id_), str(fleet), str(session), _f(at), str(after), str(files), str(detail))


def path_column(value: Path | str | None) -> str | None:
    """A path as the text a column stores (None stays NULL)."""
    return None if value is None else str(value)


def _opt_path(value: str | None) -> Path | None:
    return None if value is None else Path(value)


def _s(value: object) -> str | None:
    return None if value is None else str(value)


def _f(value: object) -> float:
    assert isinstance(value, int | float)
    return float(value)


def _i(value: object) -> int:
    assert isinstance(value, int)
    return value
