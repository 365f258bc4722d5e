"""up / down / status against a real tmux server on a private socket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import libtmux
import pytest

from orchestrator.cli.main import main
from orchestrator.errors import OrchestratorError
from orchestrator.fleet import published, restart
from orchestrator.fleet import up as fleet
from orchestrator.layout import load as layout
from orchestrator.runtime import fleet_dir, fleet_lock
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import list_panes, list_sessions
from tests.waiting import wait_for


def status_json(
    server: libtmux.Server, capsys: pytest.CaptureFixture[str]
) -> list[dict[str, object]]:
    capsys.readouterr()
    assert main(["-L", str(server.socket_name), "status", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    sessions: list[dict[str, object]] = data["sessions"]
    return sessions


def test_default_layout_gives_five_tagged_panes(
    server: libtmux.Server,
    fake_claude: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    work = tmp_path / "project"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("SHOULD_REACH_PANES", "from-server-env")
    assert main(["-L", str(server.socket_name), "up", "--detach"]) == 0
    assert "fleet parallel-5: started 5 session(s)" in capsys.readouterr().out

    session = server.sessions.get(session_name="parallel-5")
    assert session is not None
    assert [w.window_name for w in session.windows] == ["dashboard", "agents", "watcher"]
    agents = session.windows.get(window_name="agents")
    assert agents is not None
    names = ["dev-1", "test-2", "research-3", "docs-4", "git-5"]
    assert [pane.pane_title for pane in agents.panes] == names
    assert agents.show_option("remain-on-exit") is True

    wait_for(lambda: all((fake_claude / f"{name}.env").exists() for name in names))
    for name in names:
        assert (fake_claude / f"{name}.cwd").read_text().strip() == str(work)
        env = (fake_claude / f"{name}.env").read_text().splitlines()
        assert f"ORCHESTRATOR_SESSION={name}" in env
        assert "ORCHESTRATOR_FLEET=parallel-5" in env
        assert (fake_claude / f"{name}.argv").exists()

    rows = status_json(server, capsys)
    assert [row["name"] for row in rows] == names
    pane_ids = {pane.pane_id for pane in agents.panes}
    assert {row["pane_id"] for row in rows} == pane_ids
    assert {row["fleet"] for row in rows} == {"parallel-5"}
    assert rows[0]["role"] == "Primary implementation"
    assert rows[0]["agent"] == "claude"
    assert rows[0]["cwd"] == str(work)
    assert set(rows[0]) == {
        "fleet",
        "name",
        "role",
        "agent",
        "pane_id",
        "state",
        "since",
        "reason",
        "cwd",
        "waiting_for",
        "branch",
        "base",
        "ahead",
        "behind",
        "changed",
        "host",
    }
    keys = ("branch", "base", "ahead", "behind", "changed", "host")
    assert {rows[0][key] for key in keys} == {None}
    assert rows[0]["waiting_for"] == []


def shell_layout(tmp_path: Path, name: str = "team", extra: str = "") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'name = "{name}"\n[defaults]\nagent = "shell"\n'
        '[[sessions]]\nname = "one"\ncommand = ["sleep", "3600"]\n'
        '[[sessions]]\nname = "two"\ncommand = ["sleep", "3600"]\n' + extra
    )
    return path


def test_up_twice_duplicates_nothing_and_restarts_dead(
    server: libtmux.Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = shell_layout(tmp_path, extra='[[sessions]]\nname = "brief"\ncommand = ["true"]\n')
    socket = ["-L", str(server.socket_name)]
    assert main([*socket, "up", str(path), "-d"]) == 0
    tmux = Tmux.from_server(server)
    wait_for(lambda: any(p.dead for p in list_sessions(tmux, "team")))
    rows = status_json(server, capsys)
    assert {str(r["name"]): r["state"] for r in rows}["brief"] == "exited"
    assert {str(r["name"]): r["reason"] for r in rows}["brief"] == "exit status 0"

    capsys.readouterr()
    assert main([*socket, "up", str(path), "-d"]) == 0
    out = capsys.readouterr().out
    assert "fleet team is already up" in out
    assert "running: one, two" in out
    assert "restarted: brief" in out
    panes = list_panes(tmux, "team")
    assert sorted(p.name for p in panes if p.kind == "agent") == ["brief", "one", "two"]
    assert len([p for p in panes if p.kind == "dashboard"]) == 1
    assert len(server.sessions) == 1


def test_up_adds_missing_session_and_dashboard(server: libtmux.Server, tmp_path: Path) -> None:
    path = shell_layout(tmp_path)
    tmux = Tmux.from_server(server)
    fleet.up(layout.load_fleet(str(path)), tmux)
    one = next(p for p in list_sessions(tmux, "team") if p.name == "one")
    dash = next(p for p in list_panes(tmux, "team") if p.kind == "dashboard")
    tmux.run(["kill-pane", "-t", one.pane_id], ["kill-pane", "-t", dash.pane_id])
    report = fleet.up(layout.load_fleet(str(path)), tmux)
    assert report.started == ["one"]
    assert report.running == ["two"]
    assert report.services["dashboard"] == "started"
    assert report.services["watcher"] == "running"
    panes = list_panes(tmux, "team")
    assert sorted(p.name for p in panes if p.kind == "agent") == ["one", "two"]
    assert [p.kind for p in panes].count("dashboard") == 1


def test_down_ends_only_that_fleet(
    server: libtmux.Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.new_session(session_name="unrelated")
    socket = ["-L", str(server.socket_name)]
    assert main([*socket, "up", str(shell_layout(tmp_path, "alpha")), "-d"]) == 0
    assert main([*socket, "up", str(shell_layout(tmp_path, "beta")), "-d"]) == 0
    assert main([*socket, "down", "alpha"]) == 0
    assert "fleet alpha ended (2 session(s): one, two)" in capsys.readouterr().out
    assert sorted(str(s.session_name) for s in server.sessions) == ["beta", "unrelated"]
    assert main([*socket, "down", "alpha"]) == 1
    assert "no fleet named 'alpha'" in capsys.readouterr().err
    assert main([*socket, "down", "unrelated"]) == 1


def test_up_refuses_a_foreign_session_of_the_same_name(
    server: libtmux.Server, tmp_path: Path
) -> None:
    server.new_session(session_name="team")
    with pytest.raises(OrchestratorError, match="already exists and is not an orchestrator fleet"):
        fleet.up(layout.load_fleet(str(shell_layout(tmp_path))), Tmux.from_server(server))


def test_failure_half_way_leaves_nothing(
    server: libtmux.Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.new_session(session_name="keep")

    def broken(target: str) -> list[list[str]]:
        return [["set-option", "-w", "-t", target, "no-such-option", "x"]]

    monkeypatch.setattr(fleet, "window_options", broken)
    with pytest.raises(OrchestratorError, match="nothing was left behind"):
        fleet.up(layout.load_fleet(str(shell_layout(tmp_path))), Tmux.from_server(server))
    assert [s.session_name for s in server.sessions] == ["keep"]


def test_hostile_names_and_commands_are_passed_safely(
    server: libtmux.Server, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    out = tmp_path / "out.txt"
    folder = tmp_path / "dir with 'quotes' #{pane_id} $(touch pwned)"
    folder.mkdir()
    evil = f"$(touch {marker}); `touch {marker}` ; touch {marker} #"
    path = tmp_path / "evil.toml"
    script = 'printf "%s|%s|%s" "$1" "$EVIL" "$PWD" > "$0";'
    command = json.dumps(["sh", "-c", script, str(out), evil])
    path.write_text(
        'name = "evil_1-x"\n[[sessions]]\nname = "s-1"\nagent = "shell"\n'
        f"cwd = {json.dumps(str(folder))}\n"
        f"command = {command}\n"
        f"env = {{ EVIL = {json.dumps(evil)} }}\n"
        f"role = {json.dumps(evil)}\n"
    )
    tmux = Tmux.from_server(server)
    fleet.up(layout.load_fleet(str(path)), tmux)
    wait_for(out.exists)
    wait_for(lambda: out.read_text().count("|") == 2)
    assert out.read_text() == f"{evil}|{evil}|{folder}"
    assert not marker.exists()
    assert list_sessions(tmux)[0].role == evil


def test_status_with_no_server(server: libtmux.Server, capsys: pytest.CaptureFixture[str]) -> None:
    assert status_json(server, capsys) == []
    assert main(["-L", str(server.socket_name), "status"]) == 0
    assert "no sessions found" in capsys.readouterr().out


def test_socket_from_environment(
    server: libtmux.Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_SOCKET", str(server.socket_name))
    assert main(["up", str(shell_layout(tmp_path)), "-d"]) == 0
    assert server.sessions.get(session_name="team") is not None


def test_bad_input_launches_nothing(
    server: libtmux.Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    socket = ["-L", str(server.socket_name)]
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[[sessions]]\nname = "a"\nagent = "shell"\ncwd = "missing"\n')
    assert main([*socket, "up", str(bad), "-d"]) == 2
    assert "cwd: folder" in capsys.readouterr().err
    monkeypatch.setenv("PATH", str(tmp_path))  # neither claude nor tmux can be found
    assert main([*socket, "up", "parallel-5", "-d"]) == 2
    assert "'claude' was not found on PATH" in capsys.readouterr().err
    assert not server.is_alive()


def test_tmux_missing_or_too_old(
    server: libtmux.Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = shell_layout(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sleep",):
        (bin_dir / tool).symlink_to(f"/bin/{tool}")
    monkeypatch.setenv("PATH", str(bin_dir))
    assert main(["-L", str(server.socket_name), "up", str(path), "-d"]) == 2
    assert "tmux was not found on PATH" in capsys.readouterr().err
    old = bin_dir / "tmux"
    old.write_text("#!/bin/sh\necho 'tmux 3.1c'\n")
    old.chmod(0o755)
    assert main(["-L", str(server.socket_name), "up", str(path), "-d"]) == 2
    assert "tmux 3.1c is too old: orchestrator needs tmux 3.2 or newer" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [[], ["up"], ["down"], ["status"], ["layouts"], ["validate"], ["schema"], ["dashboard"]],
)
def test_every_command_has_help(command: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", *command, "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert "usage: orchestrator" in proc.stdout
    assert "--socket-name" in proc.stdout


def test_version() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("orchestrator 0.")


def test_session_env_stays_in_its_own_pane(server: libtmux.Server, tmp_path: Path) -> None:
    script = 'env > "$0"; exec sleep 3600'
    path = tmp_path / "env.toml"
    first = json.dumps(["sh", "-c", script, f"{tmp_path}/first.env"])
    second = json.dumps(["sh", "-c", script, f"{tmp_path}/second.env"])
    path.write_text(
        'name = "envs"\n[env]\nSHARED = "all"\n[defaults]\nagent = "shell"\n'
        f'[[sessions]]\nname = "first"\ncommand = {first}\nenv = {{ ONLY_FIRST = "1" }}\n'
        f'[[sessions]]\nname = "second"\ncommand = {second}\nenv = {{ ONLY_SECOND = "2" }}\n'
    )
    tmux = Tmux.from_server(server)
    fleet.up(layout.load_fleet(str(path)), tmux)
    files = [tmp_path / "first.env", tmp_path / "second.env"]
    wait_for(lambda: all(f.exists() and f.read_text() for f in files))
    env_first, env_second = (f.read_text().splitlines() for f in files)
    assert "ONLY_FIRST=1" in env_first
    assert "ONLY_SECOND=2" in env_second
    assert "ONLY_FIRST=1" not in env_second
    assert "ONLY_SECOND=2" not in env_first
    assert "SHARED=all" in env_first
    assert "SHARED=all" in env_second
    environment = tmux.run(["show-environment", "-t", "=envs:"])
    assert not any(line.startswith("ONLY_") for line in environment)


def test_layout_path_finds_the_program_and_reaches_the_pane(
    server: libtmux.Server, tmp_path: Path
) -> None:
    tools = tmp_path / "opt tools" / "bin"
    tools.mkdir(parents=True)
    program = tools / "only-here"
    program.write_text(f'#!/bin/sh\nprintf %s "$PATH" > "{tmp_path}/$ORCHESTRATOR_SESSION.path"\n')
    program.chmod(0o755)
    layout_path = f"{tools}:/usr/bin:/bin"
    session_path = f"{tools}:/bin"
    path = tmp_path / "path.toml"
    path.write_text(
        f'name = "paths"\n[env]\nPATH = {json.dumps(layout_path)}\n[defaults]\nagent = "shell"\n'
        '[[sessions]]\nname = "word"\ncommand = "only-here"\n'
        '[[sessions]]\nname = "args"\ncommand = ["only-here", "x"]\n'
        f"env = {{ PATH = {json.dumps(session_path)} }}\n"
    )
    tmux = Tmux.from_server(server)
    fleet.up(layout.load_fleet(str(path)), tmux, services=())
    wait_for(lambda: all(p.dead for p in list_sessions(tmux, "paths")))
    assert [p.dead_status for p in list_sessions(tmux, "paths")] == [0, 0]
    assert (tmp_path / "word.path").read_text() == layout_path
    assert (tmp_path / "args.path").read_text() == session_path


def test_status_line_shows_the_whole_fleet_name(server: libtmux.Server, tmp_path: Path) -> None:
    name = "a-fleet-name-longer-than-ten"
    tmux = Tmux.from_server(server)
    fleet.up(layout.load_fleet(str(shell_layout(tmp_path, name))), tmux, services=())
    target = f"={name}:"
    left = tmux.run(["display-message", "-p", "-t", target, "#{E:status-left}"])[0]
    assert name in left
    length = tmux.run(["display-message", "-p", "-t", target, "#{status-left-length}"])[0]
    assert int(length) >= len(left)


def test_a_layout_without_root_keeps_the_folder_up_ran_in(
    server: libtmux.Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `up`, then `up` again or `restart` from another folder: the sessions start where the
    # fleet was brought up, not where the later command runs.
    path = shell_layout(tmp_path)
    first, elsewhere = tmp_path / "first", tmp_path / "elsewhere"
    first.mkdir()
    elsewhere.mkdir()
    socket = ["-L", str(server.socket_name)]
    monkeypatch.chdir(first)
    assert main([*socket, "up", str(path), "-d"]) == 0
    tmux = Tmux.from_server(server)
    assert {p.cwd for p in list_sessions(tmux, "team")} == {str(first)}
    one = next(p for p in list_sessions(tmux, "team") if p.name == "one")
    tmux.run(["kill-pane", "-t", one.pane_id])
    monkeypatch.chdir(elsewhere)
    assert main([*socket, "up", str(path), "-d"]) == 0
    assert main([*socket, "restart", "two", "--force"]) == 0
    panes = list_sessions(tmux, "team")
    assert sorted(p.name for p in panes) == ["one", "two"]
    assert {p.cwd for p in panes} == {str(first)}
    wait_for(lambda: {_pane_path(tmux, p.pane_id) for p in panes} == {str(first)})


def _pane_path(tmux: Tmux, pane_id: str) -> str:
    rows = tmux.query(["display-message", "-p", "-t", pane_id], ("pane_current_path",))
    return rows[0]["pane_current_path"] if rows else ""


def test_up_brings_service_windows_back_in_their_places(
    server: libtmux.Server, tmp_path: Path
) -> None:
    # Both service windows gone (the dashboard quit, the watcher killed): `up` puts them back
    # where they were, so `prefix 0` opens the dashboard again.
    path = shell_layout(tmp_path)
    tmux = Tmux.from_server(server)
    fleet.up(layout.load_fleet(str(path)), tmux)

    def windows() -> list[tuple[str, str]]:
        rows = tmux.query(["list-windows", "-t", "=team:"], ("window_index", "window_name"))
        return [(row["window_index"], row["window_name"]) for row in rows]

    assert windows() == [("0", "dashboard"), ("1", "agents"), ("2", "watcher")]
    tmux.run(["kill-window", "-t", "=team:dashboard"], ["kill-window", "-t", "=team:watcher"])
    report = fleet.up(layout.load_fleet(str(path)), tmux)
    assert report.services == {"dashboard": "started", "watcher": "started"}
    assert windows() == [("0", "dashboard"), ("1", "agents"), ("2", "watcher")]


def test_up_does_not_claim_a_watcher_that_cannot_start(
    server: libtmux.Server,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Another watcher (say `orchestrator watch` in a terminal) holds the fleet's lock: a new
    # watcher window would exit at once, so `up` must not say it started one.
    monkeypatch.setattr(fleet, "LOCK_WAIT", 0.3)  # a lock held this long is another watcher
    path = shell_layout(tmp_path)
    socket = ["-L", str(server.socket_name)]
    tmux = Tmux.from_server(server)
    fleet.up(layout.load_fleet(str(path)), tmux, services=("dashboard",))
    with fleet_lock(fleet_dir("team")):
        capsys.readouterr()
        assert main([*socket, "up", str(path), "-d"]) == 0
        out = capsys.readouterr().out
        assert "watcher: started" not in out
        assert f"watcher: not started: another watcher (pid {os.getpid()}) holds" in out
        assert [p.kind for p in list_panes(tmux, "team")].count("watcher") == 0
        # The same for a fleet made afresh.
        assert main([*socket, "down", "team"]) == 0
        capsys.readouterr()
        assert main([*socket, "up", str(path), "-d"]) == 0
        assert "watcher: not started: another watcher" in capsys.readouterr().out
    assert main([*socket, "up", str(path), "-d"]) == 0
    assert "watcher: started" in capsys.readouterr().out


def test_restart_waits_for_a_session_shown_exited_to_leave_its_pane(
    server: libtmux.Server, tmp_path: Path
) -> None:
    """Claude reports its end before its process is gone: a session already shown as exited is
    restarted without --force once its agent has left the pane, not refused as still running."""
    path = tmp_path / "ending.toml"
    path.write_text(
        'name = "ending"\n[[sessions]]\nname = "a"\nagent = "shell"\n'
        'command = ["sh", "-c", "trap \'sleep 1; exit 0\' TERM; while :; do sleep 0.1; done"]\n'
    )
    tmux = Tmux.from_server(server)
    fleet.up(layout.load_fleet(str(path)), tmux, services=())
    pane = list_sessions(tmux, "ending")[0]
    assert pane.pane_pid is not None and pane.started is not None
    # What the watcher publishes when the agent's SessionEnd hook arrives, its process still up.
    tmux.run(["set-option", "-p", "-t", pane.pane_id, "@orc_state", "exited"])
    tmux.run(["set-option", "-p", "-t", pane.pane_id, "@orc_since", f"{pane.started + 1:.3f}"])
    os.kill(pane.pane_pid, 15)  # it takes a second to go
    report = restart.restart_session(tmux, "ending", "a")
    assert report.pane_id == pane.pane_id
    again = list_sessions(tmux, "ending")[0]
    assert not again.dead and again.pane_pid != pane.pane_pid


def test_up_waits_for_the_watcher_of_a_vanished_fleet_to_let_go(
    server: libtmux.Server, tmp_path: Path
) -> None:
    # Right after the tmux server died, its watcher may hold the lock a moment longer: `up`
    # waits for it rather than leaving the new fleet without a watcher.
    path = shell_layout(tmp_path)
    held, release = threading.Event(), threading.Event()

    def old_watcher() -> None:
        with fleet_lock(fleet_dir("team")):
            held.set()
            release.wait(5)

    thread = threading.Thread(target=old_watcher)
    thread.start()
    held.wait(5)
    threading.Timer(0.5, release.set).start()
    report = fleet.up(layout.load_fleet(str(path)), Tmux.from_server(server))
    thread.join()
    assert report.services == {"dashboard": "started", "watcher": "started"}


def test_restart_force_shows_the_new_run_as_starting(
    server: libtmux.Server, tmp_path: Path
) -> None:
    """Issue 12 item 3: right after `restart --force` of an idle session, status says starting
    (with a reason), not the idle its killed run published."""
    path = tmp_path / "forced.toml"
    path.write_text('name = "forced"\n[[sessions]]\nname = "a"\nagent = "shell"\n')
    tmux = Tmux.from_server(server)
    fleet.up(layout.load_fleet(str(path)), tmux, services=())
    pane = list_sessions(tmux, "forced")[0]
    assert pane.started is not None
    for key, value in (("state", "idle"), ("reason", "quiet"), ("since", f"{pane.started + 1}")):
        tmux.run(["set-option", "-p", "-t", pane.pane_id, f"@orc_{key}", value])
    assert published.describe_state(list_sessions(tmux, "forced")[0]) == ("idle", "quiet")
    restart.restart_session(tmux, "forced", "a", force=True)
    state = published.describe_state(list_sessions(tmux, "forced")[0])
    assert state == ("starting", restart.RESTARTED)
