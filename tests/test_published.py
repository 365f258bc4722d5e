"""What tmux alone tells of a session: a published state belongs to the run it was entered in."""

from __future__ import annotations

import pytest

from orchestrator.fleet.published import NOT_READ_YET, describe_state
from orchestrator.tmux.panes import PaneInfo


def pane(state: str, since: float | None, started: float | None = 100.0) -> PaneInfo:
    return PaneInfo.from_row(
        {
            "@orc_fleet": "f",
            "@orc_session": "s",
            "pane_id": "%1",
            "pane_dead": "0",
            "@orc_state": state,
            "@orc_reason": "why",
            "@orc_since": "" if since is None else str(since),
            "@orc_started": "" if started is None else str(started),
        }
    )


@pytest.mark.parametrize("state", ["idle", "working", "awaiting_input", "exited"])
def test_a_state_entered_before_the_pane_started_is_the_run_befores(state: str) -> None:
    # `restart --force` of an idle session: its idle belongs to the process it killed.
    assert describe_state(pane(state, since=90.0)) == ("starting", NOT_READ_YET)


@pytest.mark.parametrize("state", ["idle", "working", "awaiting_input", "exited"])
def test_a_state_entered_in_this_run_is_shown(state: str) -> None:
    assert describe_state(pane(state, since=101.0)) == (state, "why")


def test_a_pane_from_before_start_times_were_kept_shows_its_state() -> None:
    assert describe_state(pane("idle", since=90.0, started=None)) == ("idle", "why")


def test_nothing_published_yet_is_starting() -> None:
    assert describe_state(pane("", since=None)) == ("starting", NOT_READ_YET)
