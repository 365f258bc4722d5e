"""The watcher's loop: every push it takes in gets a round, however it arrives."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from orchestrator.tmux.client import Tmux
from orchestrator.watch import watcher as watcher_mod
from orchestrator.watch.watcher import BACKSTOP, Watcher


def test_output_taken_in_while_coalescing_gets_its_round(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    watcher = Watcher(Tmux(socket_name="never-started"), "loop", runtime=tmp_path)
    rounds: list[float] = []

    def round_() -> bool:
        rounds.append(time.monotonic())
        if len(rounds) == 1:
            # Output arrives right after a round, while the loop lets output coalesce.
            watcher.events.put(("output", "%1"))
        else:
            watcher.stop()
        return True

    monkeypatch.setattr(watcher, "round", round_)
    monkeypatch.setattr(watcher, "_next_deadline", lambda: None)  # nothing else is due
    monkeypatch.setattr(watcher_mod, "BACKSTOP", 3.0)
    watcher._loop()
    assert len(rounds) == 2
    # Its round comes after the coalescing pause, not when the backstop next wakes the loop.
    assert rounds[1] - rounds[0] < 1.0 < BACKSTOP
