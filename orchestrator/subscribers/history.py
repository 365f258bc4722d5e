"""The history subscriber: the watcher's transitions and Claude session ids, kept in the store.

It also lends the watcher the history's memory (``recorded_state``): the history is written
before tmux, so after a crash between the two it says what was last announced.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.detect import hooks
from orchestrator.store.db import Store
from orchestrator.watch.model import SessionState, Transition, WatcherHandle


def record_history(watcher: WatcherHandle, store: Store) -> None:
    """Keep the watcher's transitions and Claude session ids in the history database."""

    def on_transition(transition: Transition, state: SessionState) -> None:
        store.upsert_session(
            transition.fleet,
            transition.session,
            role=state.role,
            agent=state.agent,
            cwd=Path(state.cwd) if state.cwd else None,
            pane_id=state.pane_id,
        )
        store.record_transition(
            transition.fleet,
            transition.session,
            transition.new,
            source=transition.source,
            reason=transition.reason,
            at=transition.at,
        )

    def on_session_start(session: str, event: hooks.HookEvent) -> None:
        transcript = event.data.get("transcript_path")
        store.note_claude_session(
            watcher.fleet,
            session,
            event.session_id,
            transcript_path=Path(transcript) if isinstance(transcript, str) else None,
            at=event.at,
        )

    def recorded_state(session: str) -> str | None:
        record = store.session(watcher.fleet, session)
        return record.state if record is not None else None

    watcher.subscribe(on_transition)
    watcher.session_listeners.append(on_session_start)
    watcher.recorded_state = recorded_state
