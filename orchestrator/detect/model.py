"""The states a session can be in, and the evidence behind a verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class State(StrEnum):
    """A session's state, as shown to people and printed by ``status --json``."""

    STARTING = "starting"
    WORKING = "working"
    AWAITING_INPUT = "awaiting_input"
    IDLE = "idle"
    ERROR = "error"
    """The agent stopped on an error (an API error, a usage limit) and will not go on by itself."""
    EXITED = "exited"
    UNKNOWN = "unknown"


NEEDS_USER = frozenset({State.AWAITING_INPUT.value, State.ERROR.value})
"""States in which the agent waits for the user: sorted first, named on the status line,
notified, and where ``jump --next`` goes."""


NO_STATUS = "exited (tmux has no exit status for it)"
"""The reason for a dead pane whose status tmux does not know: for a moment after every exit,
and for good after some (tmux 3.3a loses the signal of about one ``kill -9`` in ten)."""


class Source(StrEnum):
    """Where a piece of evidence came from."""

    HOOK = "hook"
    REGISTRY = "registry"
    SCREEN = "screen"
    PROCESS = "process"
    LAUNCH = "launch"


@dataclass(frozen=True)
class Signal:
    """What one source says about a session, and when it started saying it."""

    source: Source
    state: State | None
    """None when the source has nothing to say (no hook yet, no registry file, ...)."""
    reason: str = ""
    since: float | None = None
    """When this source's state last changed (epoch seconds)."""
    evidence: str = ""
    """The line or event that decided it: a screen line, a hook event name, a file."""


@dataclass(frozen=True)
class Verdict:
    """The reconciled state of a session, with the signal that decided it and all the others."""

    state: State
    reason: str
    source: Source
    signals: tuple[Signal, ...] = field(default_factory=tuple)
    note: str = ""
    """Why the decisive signal won, in words (e.g. "hook is stale: screen idle for 3s")."""
