"""The watcher against a real tmux server: captures, pushes, history, no leaked processes."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import libtmux
import psutil
import pytest

from orchestrator.detect.reconcile import STILL
from orchestrator.fleet import control, published, restart, services
from orchestrator.fleet import up as fleet
from orchestrator.layout import load as layout
from orchestrator.runtime import fleet_dir, watcher_running
from orchestrator.store.db import Store
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import list_sessions
from orchestrator.watch import status
from orchestrator.watch import watcher as watcher_mod
from orchestrator.watch.watcher import Watcher
from tests.tmux_client import attached
from tests.waiting import wait_for

pytest_plugins = ["tests.history_db"]


def shell_fleet(tmp_path: Path, count: int, name: str = "many") -> Path:
    path = tmp_path / f"{name}.toml"
    text = f'name = "{name}"\n[defaults]\nagent = "shell"\n'
    for index in range(count):
        script = f"echo session {index} ready; exec sleep 3600"
        text += f'[[sessions]]\nname = "s{index}"\ncommand = ["sh", "-c", {json.dumps(script)}]\n'
    path.write_text(text)
    return path


def up_shell_fleet(
    server: libtmux.Server,
    tmp_path: Path,
    count: int,
    name: str = "many",
    services: tuple[str, ...] = services.SERVICES,
) -> Tmux:
    """Start a fleet of ``count`` shell sessions on ``server``; its tmux."""
    tmux = Tmux.from_server(server)
    fleet.up(layout.load_fleet(str(shell_fleet(tmp_path, count, name))), tmux, services=services)
    return tmux


def states(tmux: Tmux, name: str) -> dict[str, str]:
    return {str(row["name"]): str(row["state"]) for row in status.status_rows(tmux, name)}


@pytest.mark.usefixtures("history_db")
def test_every_pane_is_captured_and_settles_idle(server: libtmux.Server, tmp_path: Path) -> None:
    tmux = up_shell_fleet(server, tmp_path, 8)
    wait_for(lambda: watcher_running("many"))
    wait_for(lambda: set(states(tmux, "many").values()) == {"idle"})
    log = (fleet_dir("many") / "transitions.jsonl").read_text().splitlines()
    transitions = [json.loads(line) for line in log]
    assert {t["session"] for t in transitions if t["new"] == "idle"} == {f"s{i}" for i in range(8)}
    with Store() as store:
        recorded = store.transitions(fleet="many")
    assert {t.session for t in recorded if t.to_state == "idle"} == {f"s{i}" for i in range(8)}


@pytest.mark.usefixtures("history_db")
def test_exit_is_pushed_and_recorded(server: libtmux.Server, tmp_path: Path) -> None:
    tmux = up_shell_fleet(server, tmp_path, 2)
    wait_for(lambda: set(states(tmux, "many").values()) == {"idle"})
    pane = next(p for p in list_sessions(tmux, "many") if p.name == "s1")
    assert pane.pane_pid is not None
    psutil.Process(pane.pane_pid).terminate()
    wait_for(lambda: states(tmux, "many")["s1"] == "exited", timeout=5)
    row = next(r for r in status.status_rows(tmux, "many") if r["name"] == "s1")
    assert str(row["reason"]).startswith(("killed by signal 15", "exited"))


def test_watcher_and_its_control_client_end_with_the_fleet(
    server: libtmux.Server, tmp_path: Path
) -> None:
    tmux = up_shell_fleet(server, tmp_path, 2, "short")
    wait_for(lambda: watcher_running("short"))
    socket = str(server.socket_name)

    def control_clients() -> list[psutil.Process]:
        return [
            p
            for p in psutil.process_iter(["cmdline"])
            if "-C" in (p.info["cmdline"] or []) and socket in (p.info["cmdline"] or [])
        ]

    wait_for(lambda: len(control_clients()) == 1)
    control.down(tmux, "short")
    wait_for(lambda: not watcher_running("short"))
    wait_for(lambda: not control_clients())


@pytest.mark.usefixtures("history_db")
def test_idle_is_reported_when_the_screen_settles(server: libtmux.Server, tmp_path: Path) -> None:
    # Nothing but the passing of time turns output into idle: the watcher must wake for it.
    path = tmp_path / "ticks.toml"
    script = "for i in 1 2 3; do echo tick $i; sleep 4.5; done; exec sleep 3600"
    path.write_text(
        'name = "ticks"\n[[sessions]]\nname = "t"\nagent = "shell"\n'
        f"command = {json.dumps(['sh', '-c', script])}\n"
    )
    tmux = Tmux.from_server(server)
    fleet.up(layout.load_fleet(str(path)), tmux)
    log = fleet_dir("ticks") / "transitions.jsonl"

    def idles() -> list[dict[str, float]]:
        if not log.exists():
            return []
        rows = [json.loads(line) for line in log.read_text().splitlines()]
        return [row for row in rows if row["new"] == "idle"]

    wait_for(lambda: len(idles()) >= 3, timeout=25)
    # The state began when the output stopped; it is reported once the screen has been still
    # for 1.5 s, give or take a round, not at the next process pass or backstop.
    delays = [row["reported"] - row["at"] for row in idles()[:3]]
    assert all(1.4 <= delay < 2.2 for delay in delays), delays


def test_status_without_a_watcher_probes_the_panes(server: libtmux.Server, tmp_path: Path) -> None:
    tmux = up_shell_fleet(server, tmp_path, 2, "bare", services=())
    assert not watcher_running("bare")
    # Nothing published these: each row's state comes from reading the panes now.
    wait_for(lambda: set(states(tmux, "bare").values()) == {"idle"})
    assert {pane.state for pane in list_sessions(tmux, "bare")} == {""}


@pytest.mark.usefixtures("history_db")
def test_a_restarted_session_is_starting_then_read_without_waiting_for_the_backstop(
    server: libtmux.Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12 item 3: right after `up`, and right after `restart` (of an exited session, or
    of a running one with --force), a session is `starting` with a reason, never `unknown` with
    none; the watcher reads the new process at once, not at its next periodic listing."""
    monkeypatch.setattr(watcher_mod, "BACKSTOP", 600.0)  # only a push can bring a relisting
    tmux = up_shell_fleet(server, tmp_path, 2, services=())
    fresh = published.status_rows(tmux, "many")
    assert {(row["state"], row["reason"]) for row in fresh} == {
        ("starting", published.NOT_READ_YET)
    }
    watcher = Watcher(tmux, "many")
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: set(states(tmux, "many").values()) == {"idle"})
        pane = next(p for p in list_sessions(tmux, "many") if p.name == "s1")
        assert pane.pane_pid is not None
        psutil.Process(pane.pane_pid).kill()
        wait_for(lambda: states(tmux, "many")["s1"] == "exited")
        restarted_at = time.time()
        restart.restart_session(tmux, "many", "s1")
        row = next(r for r in published.status_rows(tmux, "many") if r["name"] == "s1")
        # Starting, or already read by the watcher (it may be that quick; or, for the moment
        # until it reads the new process, the state it last published for the run before, if
        # it had not yet published the exit): never unknown, never that exit, always a reason.
        assert row["state"] not in {"unknown", "exited"}, row
        assert row["reason"], row
        wait_for(
            lambda: (
                watcher.states["s1"].state == "idle" and watcher.states["s1"].since > restarted_at
            ),
            timeout=20,
        )
        # A running session restarted with --force: the watcher takes up the new process.
        forced_at = time.time()
        report = restart.restart_session(tmux, "many", "s1", force=True)
        pane = next(p for p in list_sessions(tmux, "many") if p.name == "s1")
        assert report.pane_id == pane.pane_id
        wait_for(lambda: watcher.sessions["s1"].pane.pane_pid == pane.pane_pid, timeout=20)
        # Idle again as decided for the new process (the old run's idle stays published for
        # the moment it takes the watcher to read the new one).
        wait_for(
            lambda: watcher.states["s1"].state == "idle" and watcher.states["s1"].since > forced_at,
            timeout=20,
        )
    finally:
        watcher.stop()
        thread.join(timeout=10)
    log = (fleet_dir("many") / "transitions.jsonl").read_text().splitlines()
    seen = [t["new"] for t in map(json.loads, log) if t["session"] == "s1"]
    assert "unknown" not in seen
    assert seen[-1] == "idle"


@pytest.mark.usefixtures("history_db")
def test_attaching_a_client_records_no_work(server: libtmux.Server, tmp_path: Path) -> None:
    """Issue 12 item 17: a client attaching resizes the window and every shell redraws its
    prompt; that is no work (it was recorded as working -> idle, with a turn_finished
    notification)."""
    path = tmp_path / "shells.toml"
    path.write_text(
        'name = "shells"\n[defaults]\nagent = "shell"\nenv = { PS1 = "$ " }\n'
        + "".join(
            f'[[sessions]]\nname = "s{i}"\ncommand = ["bash", "--norc", "--noprofile", "-i"]\n'
            for i in range(2)
        )
    )
    tmux = Tmux.from_server(server)
    fleet.up(layout.load_fleet(str(path)), tmux, services=())
    watcher = Watcher(tmux, "shells")
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    log = fleet_dir("shells") / "transitions.jsonl"
    try:
        wait_for(lambda: set(states(tmux, "shells").values()) == {"idle"})
        before = log.read_text().splitlines()
        with attached(str(server.socket_name), "shells:agents", size=(120, 30)):
            resized_at = time.time()

            def settled() -> bool:
                panes = list(watcher.sessions.values())
                return all(
                    w.pane.width == 120 and not w.settle_at and w.tracker.screen_seen > resized_at
                    for w in panes
                )

            wait_for(settled, what="the watcher took in the new size and read the panes")
            time.sleep(STILL)  # a working state would be decided (and logged) by now
            assert set(states(tmux, "shells").values()) == {"idle"}
        assert log.read_text().splitlines() == before
    finally:
        watcher.stop()
        thread.join(timeout=10)
