"""What counts as seen: every pane on an attached client's screen (not only the active one), kept
across a dashboard restart, and noted by the watcher when a turn ends on screen (real tmux, a real
attached client)."""

from __future__ import annotations

import time
from pathlib import Path

import libtmux

from orchestrator.runtime import fleet_dir
from orchestrator.subscribers.looks import Looks
from orchestrator.tmux.client import Tmux
from orchestrator.tui.backend import TmuxBackend
from orchestrator.watch import checkin
from orchestrator.watch.model import SessionState, Transition
from tests.tmux_client import attached, shell_layout, start_fleet
from tests.waiting import wait_for

NAMES = ("a", "b", "c")


def _fleet(server: libtmux.Server, tmp_path: Path) -> tuple[Tmux, dict[str, str]]:
    tmux = Tmux.from_server(server)
    panes = start_fleet(tmux, tmp_path, "looks", shell_layout("looks", NAMES, "exec sleep 600"))
    tmux.run(["new-window", "-d", "-t", "=looks:", "-n", "other", "sleep 600"])
    return tmux, panes


def _set_state(tmux: Tmux, panes: dict[str, str], state: str, at: float) -> None:
    tmux.run(
        *[["set-option", "-p", "-t", pane, "@orc_state", state] for pane in panes.values()],
        *[["set-option", "-p", "-t", pane, "@orc_since", f"{at:.3f}"] for pane in panes.values()],
    )


def _turn(tmux: Tmux, panes: dict[str, str], backend: TmuxBackend) -> dict[str, bool]:
    """Every session runs a turn and finishes it; which ones show as finished, not looked at.
    The turn is after the panes started and after the previous snapshot, and before this one."""
    time.sleep(0.5)
    now = time.time()
    for state, at in (("idle", now - 0.3), ("working", now - 0.2), ("idle", now - 0.1)):
        _set_state(tmux, panes, state, at)
        rows = backend.snapshot()
    return {row.name: row.unseen for row in rows}


def _clients(tmux: Tmux) -> bool:
    return bool(tmux.run(["list-clients"], check=False))


def test_every_pane_on_screen_is_seen_but_a_zoomed_window_shows_one(
    server: libtmux.Server, tmp_path: Path
) -> None:
    tmux, panes = _fleet(server, tmp_path)
    backend = TmuxBackend(tmux, "looks", runtime=tmp_path / "run")
    with attached(str(server.socket_name), "=looks:agents"):
        wait_for(lambda: _clients(tmux), what="client attached")
        # All three panes are on screen: none of them finished unseen (the active one only, before).
        assert _turn(tmux, panes, backend) == {"a": False, "b": False, "c": False}
        tmux.run(["resize-pane", "-Z", "-t", panes["b"]])  # b fills the window: a and c hidden
        assert _turn(tmux, panes, backend) == {"a": True, "b": False, "c": True}
        tmux.run(["resize-pane", "-Z", "-t", panes["b"]])
        tmux.run(["select-window", "-t", "=looks:other"])  # another window: nothing of ours
        assert _turn(tmux, panes, backend) == {"a": True, "b": True, "c": True}


def test_looks_survive_a_dashboard_restart(server: libtmux.Server, tmp_path: Path) -> None:
    tmux, panes = _fleet(server, tmp_path)
    first = TmuxBackend(tmux, "looks", runtime=tmp_path / "run")
    assert _turn(tmux, panes, first) == {"a": True, "b": True, "c": True}  # nobody attached
    first.mark_seen("a")  # previewed in the dashboard
    assert {row.name: row.unseen for row in first.snapshot()} == {"a": False, "b": True, "c": True}
    first.close()
    again = TmuxBackend(tmux, "looks", runtime=tmp_path / "run")  # the dashboard started again
    rows = {row.name: row for row in again.snapshot()}
    # It knows the turns from the states, and the look at a from the one before it.
    assert not rows["a"].unseen
    assert rows["a"].seen_at is not None


def _turn_end(name: str, pane_id: str) -> tuple[Transition, SessionState]:
    now = time.time()
    transition = Transition("looks", name, pane_id, "working", "idle", now, "screen", "quiet")
    state = SessionState("looks", name, "", "shell", pane_id, "", "idle", now, "quiet", "screen")
    return transition, state


def test_the_watcher_notes_a_turn_that_ends_on_screen(
    server: libtmux.Server, tmp_path: Path
) -> None:
    tmux, panes = _fleet(server, tmp_path)
    folder = tmp_path / "run" / "fleets" / "looks"
    folder.mkdir(parents=True)
    looks = Looks(tmux, folder)
    assert not looks.look("a", panes["a"])  # nobody attached
    with attached(str(server.socket_name), "=looks:agents"):
        wait_for(lambda: _clients(tmux), what="client attached")
        looks(*_turn_end("c", panes["c"]))  # not the active pane, but on screen
        wait_for(lambda: "c" in checkin.read_seen(folder), what="the look noted")
        tmux.run(["select-window", "-t", "=looks:other"])
        assert not looks.look("b", panes["b"])
    assert set(checkin.read_seen(folder)) == {"c"}


def test_a_running_watcher_notes_looks(server: libtmux.Server, tmp_path: Path) -> None:
    tmux = Tmux.from_server(server)
    script = "read line; echo one; sleep 0.3; echo two; exec sleep 600"
    layout = shell_layout("looks", NAMES, script)
    panes = start_fleet(tmux, tmp_path, "looks", layout, ("watcher",))
    folder = fleet_dir("looks")
    wait_for(lambda: (folder / "state.json").exists(), what="the watcher publishes")
    time.sleep(2)  # the shells' start-up output has gone quiet
    with attached(str(server.socket_name), "=looks:agents"):
        wait_for(lambda: _clients(tmux), what="client attached")
        tmux.run(["send-keys", "-t", panes["b"], "go", "Enter"])
        wait_for(lambda: "b" in checkin.read_seen(folder), what="the watcher noted the look")
