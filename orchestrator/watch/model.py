"""What the watcher tells the world: session states, transitions, and how subscribers hear them.

Subscribers (notifications, first prompts, the history, ...) import this module only, never the
watcher itself: they register through a :class:`WatcherHandle`, which the watcher satisfies.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from orchestrator.detect.hooks import HookEvent
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import PaneInfo


@dataclass(frozen=True)
class SessionIdentity:
    """Which session a record is about, and where it runs (as its pane's tags say)."""

    fleet: str
    """The fleet (tmux session) it belongs to."""
    name: str
    """The session's name in its layout."""
    role: str
    """Its role in the layout (free text, may be empty)."""
    agent: str
    """The agent profile it runs (``claude``, ``shell``...)."""
    pane_id: str
    """Its tmux pane (``%12``)."""
    cwd: str
    """The folder it was started in."""


@dataclass(frozen=True)
class SessionState(SessionIdentity):
    """What the watcher publishes about one session (a row of ``state.json``)."""

    state: str
    """One of :class:`orchestrator.detect.model.State`'s values."""
    since: float
    """When the session entered its state (epoch seconds)."""
    reason: str
    """Why: the command awaiting permission, the question asked, the exit status."""
    source: str
    """The signal that decided the state (hook, screen, process...)."""
    note: str = ""
    """Why the decisive signal won, in words (e.g. "hook is stale: screen idle for 3s")."""
    cpu: float = 0.0
    """Percent of one core used by the agent's process tree."""
    rss: int = 0
    """Resident memory of the agent's process tree, bytes."""
    pid: int | None = None
    """The agent's process, when one was found under the pane."""


@dataclass(frozen=True)
class Transition:
    """A change of state, as subscribers and the history see it."""

    fleet: str
    session: str
    pane_id: str
    old: str
    new: str
    at: float
    """When the state began, as told by the signal that decided it."""
    source: str
    reason: str
    reported: float = 0.0
    """When the watcher published it (``at`` to ``reported`` is the detection delay)."""


Subscriber = Callable[[Transition, SessionState], None]
"""Called on every change of state, from the watcher's loop (so it must not block)."""
SessionListener = Callable[[str, HookEvent], None]
"""Called with (session name, event) for every SessionStart hook (Claude session ids)."""
RecordedState = Callable[[str], str | None]
"""The last state recorded for a session, by name (None: none recorded)."""


class WatcherHandle(Protocol):
    """The watcher as a subscriber sees it: what it watches, and where to register."""

    fleet: str
    tmux: Tmux
    session_listeners: list[SessionListener]
    recorded_state: RecordedState | None

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber`` on every state change."""

    def pane(self, name: str) -> PaneInfo | None:
        """The pane of a watched session, as last listed (None: not watched)."""


_T = TypeVar("_T")


def take_batch(waiting: queue.Queue[_T]) -> list[_T]:
    """The next item (waiting for it) and every item already queued behind it: a subscriber's
    thread handles what piled up at once (many sessions changing together) in one go."""
    batch = [waiting.get()]
    while True:
        try:
            batch.append(waiting.get_nowait())
        except queue.Empty:
            return batch
