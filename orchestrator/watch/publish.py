"""The watcher's outputs: subscribers, ``transitions.jsonl``, tmux pane options, ``state.json``.

Tmux gets the states as pane options (``@orc_state``, ``@orc_since``, ``@orc_reason``,
``@orc_source``, read by status lines, borders and ``status``) and the fleet's ``@orc_waiting``
list (sessions awaiting input or stopped on an error, longest waiting first), all in one chained
call. The dashboard reads ``state.json``, replaced atomically after each publication.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

from orchestrator.detect.model import NEEDS_USER
from orchestrator.tmux.client import Tmux, tag
from orchestrator.watch.model import SessionState, Subscriber, Transition

log = logging.getLogger(__name__)

Change = tuple[Transition | None, SessionState]
"""A state to publish, with its transition (None when only the reason changed)."""


class Publisher:
    """Publishes one fleet's changes; makes one tmux call per publication."""

    def __init__(self, tmux: Tmux, fleet: str, folder: Path) -> None:
        self.tmux = tmux
        self.fleet = fleet
        self.folder = folder
        self.subscribers: list[Subscriber] = []

    def publish(self, changes: list[Change], states: Iterable[SessionState]) -> None:
        """Tell subscribers and the log of each transition, then tmux and the snapshot of every
        change; ``states`` is every session's current state."""
        # The history and subscribers hear of a transition before tmux does: a watcher killed in
        # between leaves tmux with the old state, so its successor sees the change again, and the
        # history, which ignores a repeat of its latest state, records it once.
        log_lines = []
        for transition, state in changes:
            if transition is None:
                continue
            log_lines.append(json.dumps(asdict(transition)))
            for subscriber in self.subscribers:
                try:
                    subscriber(transition, state)
                except Exception:  # a subscriber's bug must not stop the watcher
                    log.exception("subscriber failed")
        if log_lines:
            with (self.folder / "transitions.jsonl").open("a", encoding="utf-8") as out:
                out.write("\n".join(log_lines) + "\n")
        states = list(states)
        commands: list[list[str]] = []
        for _, state in changes:
            for key, value in (
                ("state", state.state),
                ("since", f"{state.since:.3f}"),
                ("reason", " ".join(state.reason.split())),
                ("source", state.source),
            ):
                commands.append(["set-option", "-p", "-t", state.pane_id, tag(key), value])
        waiting = sorted(
            (s for s in states if s.state in NEEDS_USER),
            key=lambda s: s.since,
        )
        names = " ".join(s.name for s in waiting)
        commands.append(["set-option", "-t", f"={self.fleet}:", tag("waiting"), names])
        self.tmux.run(*commands, check=False)
        self.write_snapshot(states)

    def write_snapshot(self, states: Iterable[SessionState]) -> None:
        """Replace ``state.json`` with every session's state."""
        snapshot = {
            "fleet": self.fleet,
            "updated": time.time(),
            "watcher_pid": os.getpid(),
            "sessions": [asdict(state) for state in states],
        }
        tmp = self.folder / f".state.json.{os.getpid()}"
        tmp.write_text(json.dumps(snapshot), encoding="utf-8")
        tmp.chmod(0o600)
        tmp.replace(self.folder / "state.json")
