"""When the watcher's loop runs a round: a session's deadline (its idle prompt becomes still) is
served even when the round before it ran a moment too early, and a working pane's spinner waits
for its pace while anything else gets a round at once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from orchestrator.agents.catalog import profile_of
from orchestrator.detect.model import State
from orchestrator.detect.reconcile import STILL
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import PaneInfo
from orchestrator.watch.sessions import WORKING_RECAPTURE, Pacing, Watched, due_times, served
from orchestrator.watch.watcher import Watcher

IDLE_SCREEN = "\n".join(["─" * 80, "❯ ", "─" * 80, "  ? for shortcuts"])


def watched_at_idle_prompt(drawn: float) -> Watched:
    """A Claude pane whose idle prompt was drawn at ``drawn`` and read right after."""
    pane = PaneInfo.from_row(
        {"@orc_session": "dev", "@orc_agent": "claude", "pane_id": "%1", "pane_pid": "1"}
    )
    profile = profile_of("claude")
    watched = Watched(pane=pane, agent=profile, tracker=profile.tracker(drawn - 60), reader=None)
    watched.tracker.see_screen(IDLE_SCREEN, drawn + 0.1, printed=drawn)
    assert watched.tracker.match is not None and watched.tracker.match.state == State.IDLE
    watched.dirty = False
    return watched


def test_a_deadline_that_passes_between_rounds_is_kept_until_served() -> None:
    drawn = 1000.0
    watched = watched_at_idle_prompt(drawn)
    assert due_times([watched], drawn + 0.2) == [drawn + STILL]
    # A round runs just before the deadline: nothing is due for this pane yet.
    assert not watched.capture_due(drawn + STILL - 0.01)
    assert served([watched], drawn + STILL - 0.01) == set()
    # The loop computes its next wake-up just after the deadline passed: it is still there,
    # so the next round reads the pane again and decides it.
    assert due_times([watched], drawn + STILL + 0.01) == [drawn + STILL]
    assert watched.capture_due(drawn + STILL + 0.02)
    assert served([watched], drawn + STILL + 0.02) == {"dev"}
    # Served: the pane has no deadline left (its idle prompt is still).
    assert due_times([watched], drawn + STILL + 0.03) == []
    assert not watched.capture_due(drawn + STILL + 0.03)


def test_a_deadline_still_ahead_follows_the_tracker() -> None:
    watched = watched_at_idle_prompt(1000.0)
    due_times([watched], 1000.2)
    # The screen changed again (a new draw): the deadline moves with it.
    watched.tracker.see_screen(IDLE_SCREEN + "\nmore", 1000.9, printed=1000.8)
    assert due_times([watched], 1001.0) == [1000.8 + STILL]


WORKING_SCREEN = "\n".join(
    ["✻ Brewing… (3s · ↓ 20 tokens)", "─" * 80, "❯ ", "─" * 80, "  esc to interrupt"]
)


def test_a_working_panes_output_waits_for_its_pace_and_anything_else_does_not() -> None:
    working = watched_at_idle_prompt(1000.0)
    working.tracker.see_screen(WORKING_SCREEN, 1001.0, printed=1001.0)
    assert working.throttled
    pacing = Pacing()
    pacing.urgent = False
    pacing.note(working)  # its spinner moved: read it again WORKING_RECAPTURE after the last read
    assert not pacing.urgent
    deadline = pacing.take(1010.0)
    assert deadline == 1001.0 + WORKING_RECAPTURE
    assert pacing.may_wait(deadline, 1001.1)
    assert not pacing.may_wait(deadline, deadline)
    assert pacing.take(1010.0) == 1010.0  # taken once
    idle = watched_at_idle_prompt(1000.0)
    pacing.note(idle)  # a pane that is not working printed: a round now
    assert pacing.urgent and not pacing.may_wait(1010.0, 1001.1)
    pacing.urgent = False
    pacing.note(None)  # a hook event, a layout change...
    assert pacing.urgent


def test_one_output_event_names_every_pane_that_printed(tmp_path: Path) -> None:
    watcher = Watcher(Tmux(socket_name="never-started"), "notes", runtime=tmp_path)
    one, two = watched_at_idle_prompt(1000.0), watched_at_idle_prompt(1000.0)
    two.pane = dataclasses.replace(two.pane, pane_id="%2")
    watcher._by_pane = {"%1": one, "%2": two}
    watcher.inputs.output_at.update({"%1": 1001.0, "%2": 1001.5})
    watcher.pacing.urgent = False
    watcher._note("output", "%1 %2")
    assert one.dirty and two.dirty
    assert (one.printed, two.printed) == (1001.0, 1001.5)
    assert watcher.pacing.urgent  # idle panes that print need a round now
