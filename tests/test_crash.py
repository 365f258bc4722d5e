"""Crashes: a watcher killed with SIGKILL mid-transition, the tmux server killed, a corrupt history.

The crash loop drives shell sessions through a known sequence (each pulse: a line typed into
the session makes it print for 1.6 seconds, then it is quiet), kills the watcher at random
moments of each pulse, restarts it (by ``up`` on the live fleet, or ``orchestrator watch``), and
compares the history with that sequence at the end. ``-s`` prints the figures.
``CRASH_SEED=N`` replays a run.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path

import libtmux
import psutil
import pytest

from orchestrator.cli.main import main
from orchestrator.fleet import control
from orchestrator.fleet import up as fleet
from orchestrator.layout import load as layout
from orchestrator.runtime import fleet_dir, watcher_running
from orchestrator.store.db import Store
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import list_panes, list_sessions
from tests.waiting import wait_for

pytest_plugins = ["tests.history_db"]

NAME = "crash"
SESSIONS = ("a", "b", "c")
PULSES = 7
"""Three kills per pulse: as the sessions start working, while they work, and around their
return to idle."""
TICKS = 16
"""Lines each pulse prints, 0.1 s apart: the work outlasts a watcher's restart."""


def crash_layout(tmp_path: Path) -> Path:
    script = (
        "echo ready; while read x; do i=0; "
        f"while [ $i -lt {TICKS} ]; do echo tick $i; sleep 0.1; i=$((i+1)); done; done"
    )
    text = f'name = "{NAME}"\n[defaults]\nagent = "shell"\n'
    for name in SESSIONS:
        text += f'[[sessions]]\nname = "{name}"\ncommand = ["sh", "-c", {json.dumps(script)}]\n'
    path = tmp_path / f"{NAME}.toml"
    path.write_text(text)
    return path


def cli(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def watcher_process() -> psutil.Process | None:
    """The process holding the fleet's watcher lock (it writes its pid there)."""
    try:
        pid = int((fleet_dir(NAME) / "watcher.lock").read_text().split()[0])
        process = psutil.Process(pid)
    except (OSError, ValueError, IndexError, psutil.NoSuchProcess):
        return None
    return process if alive(process) and "watch" in process.cmdline() else None


def control_clients(socket: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "-C" in cmdline and socket in cmdline and alive(process):
            found.append(process)
    return found


def published(tmux: Tmux) -> dict[str, str]:
    return {pane.name: pane.state for pane in list_sessions(tmux, NAME)}


def watcher_started(pid: int) -> float:
    """When watcher ``pid`` logged its start (after Python's start-up and imports)."""
    for line in (fleet_dir(NAME) / "watcher.log").read_text().splitlines():
        parts = line.split()
        if len(parts) > 4 and parts[2] == str(pid) and parts[4] == "watching":
            stamp, millis = f"{parts[0]} {parts[1]}".split(",")
            return time.mktime(time.strptime(stamp, "%Y-%m-%d %H:%M:%S")) + int(millis) / 1000
    raise AssertionError(f"watcher {pid} did not log its start")


def snapshot_of(pid: int) -> dict[str, object] | None:
    try:
        data = json.loads((fleet_dir(NAME) / "state.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("watcher_pid") != pid:
        return None
    return data


@pytest.fixture
def foreground_watchers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=5)


@pytest.mark.slow
def test_watcher_killed_mid_transition_neither_loses_nor_doubles(
    server: libtmux.Server,
    tmp_path: Path,
    history_db: Path,
    foreground_watchers: list[subprocess.Popen[bytes]],
) -> None:
    seed = int(os.environ.get("CRASH_SEED", random.randrange(1 << 30)))
    print(f"crash loop seed: CRASH_SEED={seed}")
    rng = random.Random(seed)
    tmux = Tmux.from_server(server)
    socket = str(server.socket_name)
    plan = layout.load_fleet(str(crash_layout(tmp_path)))
    fleet.up(plan, tmux)
    wait_for(lambda: set(published(tmux).values()) == {"idle"}, what="first idle")
    with Store(history_db) as store:
        before = {name: len(store.transitions(name, fleet=NAME)) for name in SESSIONS}
    panes = [pane.pane_id for pane in list_sessions(tmux, NAME)]
    readopt_total: list[float] = []
    readopt_inside: list[float] = []
    leftovers = 0
    rounds = 0

    def kill_and_restart() -> None:
        nonlocal rounds, leftovers
        victim = watcher_process()
        assert victim is not None, "no watcher runs"
        children = victim.children(recursive=True)
        assert any("-C" in child.cmdline() for child in children), "no control client"
        victim.send_signal(signal.SIGKILL)
        wait_for(lambda: not alive(victim), timeout=5, what="watcher dead")
        for proc in foreground_watchers:
            if proc.pid == victim.pid:
                proc.wait(timeout=5)
        _gone, still = psutil.wait_procs(children, timeout=3)
        leftovers += sum(1 for child in still if alive(child))
        assert not watcher_running(NAME), "the lock outlived its watcher"
        wait_for(
            lambda: not any(p.kind == "watcher" for p in list_panes(tmux, NAME)),
            what="watcher window closed",
        )
        started = time.monotonic()
        if rounds % 2 == 0:
            report = fleet.up(plan, tmux)
            assert report.services["watcher"] == "started"
        else:
            argv = [sys.executable, "-m", "orchestrator", "-L", socket, "watch", NAME]
            foreground_watchers.append(
                subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        successor: list[psutil.Process] = []

        def adopted() -> bool:
            process = successor[0] if successor else watcher_process()
            if process is None:
                return False
            successor[:] = [process]
            data = snapshot_of(process.pid)
            sessions = data.get("sessions") if data else None
            return isinstance(sessions, list) and len(sessions) == len(SESSIONS)

        wait_for(adopted, timeout=10, what="re-adoption")
        readopt_total.append(time.monotonic() - started)
        data = snapshot_of(successor[0].pid)
        assert data is not None and isinstance(data["updated"], float)
        readopt_inside.append(data["updated"] - watcher_started(successor[0].pid))
        rounds += 1

    for _ in range(PULSES):
        tmux.run(*[["send-keys", "-t", pane, "go", "Enter"] for pane in panes])
        # Often between the history and tmux of idle -> working: the work has just begun.
        time.sleep(rng.uniform(0.05, 0.4))
        kill_and_restart()
        time.sleep(rng.uniform(0.0, 0.8))  # while working, or as the work ends
        kill_and_restart()
        time.sleep(rng.uniform(0.0, 1.5))  # around the return to idle (1.5 s after the work)
        kill_and_restart()
        wait_for(lambda: set(published(tmux).values()) == {"idle"}, what="idle after pulse")

    with Store(history_db) as store:
        after = {name: store.transitions(name, fleet=NAME) for name in SESSIONS}
    truth = [("idle", "working"), ("working", "idle")] * PULSES
    missing = duplicated = 0
    for name in SESSIONS:
        seen = [(t.from_state, t.to_state) for t in after[name][before[name] :]]
        missing += max(0, len(truth) - len(seen))
        duplicated += max(0, len(seen) - len(truth))
        assert seen == truth, f"{name}: history {seen}"
        chain = after[name]
        assert all(a.to_state == b.from_state for a, b in itertools.pairwise(chain))
    control.down(tmux, NAME)
    wait_for(lambda: not watcher_running(NAME), what="watcher ended with the fleet")
    wait_for(lambda: not control_clients(socket), what="no control client left")
    for proc in foreground_watchers:
        assert proc.wait(timeout=5) is not None
    print(
        f"crash loop: {rounds} rounds (SIGKILLs), {len(truth) * len(SESSIONS)} transitions "
        f"expected, {missing} missing, {duplicated} duplicated, {leftovers} processes left "
        f"behind; re-adoption from the restart command: median "
        f"{statistics.median(readopt_total):.2f} s, max {max(readopt_total):.2f} s; of which "
        f"inside the watcher (from its start to publishing every session): median "
        f"{statistics.median(readopt_inside):.2f} s, max {max(readopt_inside):.2f} s"
    )
    assert rounds >= 20
    assert leftovers == 0


def test_tmux_server_killed_then_status_is_clear_and_up_recreates(
    server: libtmux.Server, tmp_path: Path, history_db: Path
) -> None:
    tmux = Tmux.from_server(server)
    socket = str(server.socket_name)
    path = crash_layout(tmp_path)
    fleet.up(layout.load_fleet(str(path)), tmux)
    wait_for(lambda: watcher_running(NAME), what="watcher")
    server.kill()
    wait_for(lambda: not watcher_running(NAME), what="watcher gone with the server")
    wait_for(lambda: not control_clients(socket), what="control client gone")
    code, out, err = cli("-L", socket, "status")
    assert (code, err) == (0, "")
    assert "no sessions found" in out
    code, out, _ = cli("-L", socket, "status", "--json")
    assert code == 0
    assert json.loads(out) == {"sessions": []}
    code, out, _ = cli("-L", socket, "up", str(path), "--detach")
    assert code == 0, out
    assert "started 3 session(s)" in out
    wait_for(lambda: set(published(tmux).values()) == {"idle"}, what="recreated fleet idle")
    code, out, _ = cli("-L", socket, "history", "a", "--fleet", NAME, "--json")
    assert code == 0
    # The history spans both lives of the fleet: the session's chain goes on, unbroken.
    chain = json.loads(out)["transitions"]
    assert len(chain) >= 2
    assert all(a["to_state"] == b["from_state"] for a, b in itertools.pairwise(chain))


def test_corrupt_history_is_moved_aside_and_reported(
    server: libtmux.Server, tmp_path: Path, history_db: Path
) -> None:
    with Store(history_db) as store:
        store.record_transition(NAME, "a", "idle", source="test")
    history_db.write_bytes(b"this is not a database" * 100)
    code, out, err = cli("history")
    assert code == 0
    assert "moved aside to" in err
    assert "no history recorded yet" in out
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("history.sqlite3.corrupt")]
    assert aside, list(tmp_path.iterdir())
    assert aside[0].read_bytes().startswith(b"this is not a database")
    # The watcher says so too (in its log, and on its window), and goes on recording.
    history_db.write_bytes(b"garbage again" * 100)
    tmux = Tmux.from_server(server)
    fleet.up(layout.load_fleet(str(crash_layout(tmp_path))), tmux)
    wait_for(lambda: set(published(tmux).values()) == {"idle"}, what="idle")
    log = (fleet_dir(NAME) / "watcher.log").read_text()
    assert "moved aside to" in log
    with Store(history_db) as store:
        assert {t.session for t in store.transitions(fleet=NAME)} == set(SESSIONS)


def test_history_command_prints_transitions_and_prompts(history_db: Path) -> None:
    from orchestrator.store.history import record_prompt

    with Store(history_db) as store:
        store.record_transition(NAME, "a", "starting", source="launch", at=100.0)
        store.record_transition(NAME, "a", "idle", source="screen", reason="quiet", at=101.0)
        store.record_transition(NAME, "b", "working", source="screen", at=102.0)
    record_prompt(NAME, "a", "Read the\nREADME", source="dashboard")
    code, out, _ = cli("history", "a")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "FLEET", "SESSION", "EVENT", "SOURCE", "DETAIL"]
    assert "starting -> idle" in lines[2]
    assert "quiet" in lines[2]
    assert "prompt" in lines[3]
    assert "Read the README" in lines[3]
    code, out, _ = cli("history", "a", "--json")
    data = json.loads(out)
    assert [t["to_state"] for t in data["transitions"]] == ["starting", "idle"]
    assert [p["text"] for p in data["prompts"]] == ["Read the\nREADME"]
    code, _, err = cli("history", "nobody")
    assert code == 1
    assert "nothing about session 'nobody'" in err
    code, out, _ = cli("--db", str(history_db.parent / "other.sqlite3"), "history")
    assert (code, out.strip()) == (0, "no history recorded yet")


def test_restart_refuses_a_running_session_and_restarts_an_exited_shell(
    server: libtmux.Server, tmp_path: Path, history_db: Path
) -> None:
    tmux = Tmux.from_server(server)
    socket = str(server.socket_name)
    fleet.up(layout.load_fleet(str(crash_layout(tmp_path))), tmux)
    wait_for(lambda: set(published(tmux).values()) == {"idle"}, what="idle")
    code, _, err = cli("-L", socket, "restart", "a")
    assert code == 2
    assert "still running" in err
    pane = next(p for p in list_sessions(tmux, NAME) if p.name == "a")
    tmux.run(["send-keys", "-t", pane.pane_id, "C-d"])  # end of input: the loop ends
    wait_for(lambda: published(tmux)["a"] == "exited", what="exited")
    code, out, _ = cli("-L", socket, "restart", "a")
    assert code == 0, out
    assert "a fresh start" in out
    wait_for(lambda: published(tmux)["a"] == "idle", what="idle again")
    again = next(p for p in list_sessions(tmux, NAME) if p.name == "a")
    assert again.pane_id == pane.pane_id
    assert not again.dead
    assert again.resumed == ""
    with Store(history_db) as store:
        states = [t.to_state for t in store.transitions("a", fleet=NAME)]
    assert states[-1] == "idle"
    assert "exited" in states[-3:-1]
    code, out, _ = cli("-L", socket, "restart", "a", "--force")
    assert code == 0


def test_up_after_the_server_died_offers_to_resume_claude_conversations(
    server: libtmux.Server, tmp_path: Path, history_db: Path, fake_claude: Path
) -> None:
    socket = str(server.socket_name)
    path = tmp_path / "team.toml"
    path.write_text(
        'name = "team"\n[[sessions]]\nname = "dev-1"\n[[sessions]]\nname = "dev-2"\n'
        '[[sessions]]\nname = "sh"\nagent = "shell"\ncommand = ["sleep", "600"]\n'
    )
    code, _, _ = cli("-L", socket, "up", str(path), "--detach")
    assert code == 0
    with Store(history_db) as store:
        store.note_claude_session("team", "dev-1", "11111111-aaaa")
        store.note_claude_session("team", "sh", "not-a-claude-session")
    server.kill()

    # Not a terminal and no flag: new conversations, and the way to resume is printed.
    code, out, _ = cli("-L", socket, "up", str(path), "--detach")
    assert code == 0
    # Every printed command names this server and this layout, so it works as printed.
    assert f"`orchestrator -L {socket} up {path} --detach --resume`" in out
    assert f"`orchestrator -L {socket} restart NAME --fleet team --force`" in out
    assert "dev-1" in out
    wait_for(lambda: (fake_claude / "dev-1.argv").exists(), what="dev-1 started")
    assert "--resume" not in (fake_claude / "dev-1.argv").read_text().split()
    server.kill()
    (fake_claude / "dev-1.argv").unlink()
    (fake_claude / "dev-2.argv").unlink()

    code, out, _ = cli("-L", socket, "up", str(path), "--detach", "--resume")
    assert code == 0
    wait_for(lambda: (fake_claude / "dev-1.argv").exists(), what="dev-1 resumed")
    wait_for(lambda: (fake_claude / "dev-2.argv").exists(), what="dev-2 started")
    assert (fake_claude / "dev-1.argv").read_text().split()[-2:] == ["--resume", "11111111-aaaa"]
    assert "--resume" not in (fake_claude / "dev-2.argv").read_text().split()
    tmux = Tmux.from_server(server)
    resumed = {p.name: p.resumed for p in list_sessions(tmux, "team")}
    assert resumed == {"dev-1": "11111111-aaaa", "dev-2": "", "sh": ""}
