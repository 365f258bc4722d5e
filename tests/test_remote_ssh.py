"""Sessions on a remote host, end to end, over a real sshd on 127.0.0.1 (marker ``ssh``).

The "remote" is this machine behind the loopback sshd of :mod:`tests.harness.sshd`: its own HOME
and tmux socket folder, this clone's ``orchestrator`` on its PATH.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import libtmux
import pytest

from orchestrator.cli.main import main
from orchestrator.tmux.client import Tmux
from orchestrator.tui.backend import TmuxBackend
from tests.harness.claude_env import ClaudeHome
from tests.harness.mock_api import MockAnthropicAPI, bash_tool_use
from tests.harness.sshd import ALIAS, SSHD, LoopbackSshd
from tests.tmux_client import attached
from tests.waiting import wait_for

pytestmark = [
    pytest.mark.ssh,
    pytest.mark.skipif(not SSHD.exists(), reason="no sshd: run `bash tests/setup.sh`"),
]
REMOTE_SOCKET = "orc-remote"


@pytest.fixture
def sshd(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LoopbackSshd]:
    """A running loopback sshd; at the end, the remote tmux server and our connections go too."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    server = LoopbackSshd(tmp_path_factory.mktemp("sshd"))
    server.start()
    yield server
    from orchestrator.remote.ssh import Connection

    Connection(ALIAS, tuple(server.ssh_options)).close()
    server.stop()
    server.remote_tmux(REMOTE_SOCKET, "kill-server")


def layout(tmp_path: Path, sshd: LoopbackSshd, sessions: str) -> Path:
    path = tmp_path / "mixed.toml"
    path.write_text(
        'name = "mixed"\n'
        "[defaults]\n"
        'agent = "shell"\n'
        f"[hosts.{ALIAS}]\n"
        f"ssh = {json.dumps(sshd.ssh_options)}\n"
        f'socket = "{REMOTE_SOCKET}"\n' + sessions
    )
    return path


def status(server: libtmux.Server) -> dict[str, dict[str, object]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["-L", str(server.socket_name), "status", "--json"]) == 0
    return {str(row["name"]): row for row in json.loads(out.getvalue())["sessions"]}


def test_local_and_remote_sessions_one_status_through_a_dropped_connection(
    server: libtmux.Server, sshd: LoopbackSshd, tmp_path: Path
) -> None:
    hostile = "it's $(touch PWNED) `touch PWNED2`; touch PWNED3 #"
    (sshd.remote_home / hostile).mkdir()
    path = layout(
        tmp_path,
        sshd,
        '[[sessions]]\nname = "here-1"\n'
        f'[[sessions]]\nname = "there-1"\nhost = "{ALIAS}"\n'
        f'[[sessions]]\nname = "there-2"\nhost = "{ALIAS}"\ncwd = {json.dumps(hostile)}\n'
        'prompt = "echo $(touch PWNED4) done"\n',
    )
    assert main(["-L", str(server.socket_name), "up", str(path), "-d"]) == 0

    def settled() -> bool:
        rows = status(server)
        return set(rows) == {"here-1", "there-1", "there-2"} and all(
            row["state"] == "idle" for row in rows.values()
        )

    wait_for(settled, timeout=40, what="all three sessions idle, local and remote")
    rows = status(server)
    assert rows["here-1"]["host"] is None
    assert rows["there-1"]["host"] == rows["there-2"]["host"] == ALIAS
    assert rows["there-2"]["cwd"] == str(sshd.remote_home / hostile)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["-L", str(server.socket_name), "explain", "there-1"]) == 0
    assert out.getvalue().startswith(f"on {ALIAS}: mixed/there-1 (shell, pane ")
    assert "verdict: idle" in out.getvalue()
    # The remote sessions run in the remote tmux, not in ours.
    remote = sshd.remote_tmux(REMOTE_SOCKET, "list-panes", "-a", "-F", "#{@orc_session}")
    assert sorted(remote.stdout.split()) == ["there-1", "there-2"]
    local = server.cmd("list-panes", "-a", "-F", "#{@orc_session}").stdout
    assert "there-1" not in local and "here-1" in local
    panes = {name: rows[name]["pane_id"] for name in ("there-1", "there-2")}
    for name in ("PWNED", "PWNED2", "PWNED3"):
        assert not (sshd.remote_home / name).exists()
        assert not (sshd.remote_home / hostile / name).exists()

    sshd.stop()  # the connection drops; the remote fleet runs on
    started = time.monotonic()
    rows = status(server)
    took = time.monotonic() - started
    assert rows["here-1"]["state"] == "idle"
    for name in ("there-1", "there-2"):
        assert rows[name]["state"] == "unknown"
        assert str(rows[name]["reason"]).startswith(f"host {ALIAS} unreachable since ")
    assert took < 30, f"status blocked {took:.1f}s on an unreachable host"
    first = rows["there-1"]["since"]
    assert status(server)["there-1"]["since"] == first  # "since" is when it was first missed

    sshd.start()  # the same port: the connection comes back
    wait_for(settled, timeout=40, what="remote states back after the reconnect")
    rows = status(server)
    assert {name: rows[name]["pane_id"] for name in panes} == panes  # nothing was restarted

    # What happened there, from the host's own history, after the reconnect.
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["-L", str(server.socket_name), "history", "--fleet", "mixed", "--json"]) == 0
    (there,) = json.loads(out.getvalue())["hosts"]
    assert (there["host"], there["error"]) == (ALIAS, None)
    told = json.dumps(there["history"])
    assert '"there-1"' in told and '"there-2"' in told and '"here-1"' not in told

    assert main(["-L", str(server.socket_name), "down", "mixed"]) == 0  # here and there
    assert sshd.remote_tmux(REMOTE_SOCKET, "has-session", "-t", "=mixed").returncode != 0


def test_up_stops_when_the_remote_orchestrator_is_missing(
    server: libtmux.Server,
    sshd: LoopbackSshd,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sshd.path_file.write_text("/nonexistent")
    path = layout(
        tmp_path,
        sshd,
        f'[[sessions]]\nname = "here-1"\n[[sessions]]\nname = "there-1"\nhost = "{ALIAS}"\n',
    )
    assert main(["-L", str(server.socket_name), "up", str(path), "-d"]) == 2
    err = capsys.readouterr().err
    assert f"host {ALIAS}: `orchestrator` is not installed there" in err
    assert "nothing was started" in err
    assert "install.sh" in err or "pipx install" in err
    assert not server.has_session("mixed")  # nothing half-built here
    assert sshd.remote_tmux(REMOTE_SOCKET, "has-session").returncode != 0  # nor there


def test_jump_shows_a_remote_session_in_a_window_attached_over_ssh(
    server: libtmux.Server, sshd: LoopbackSshd, tmp_path: Path
) -> None:
    path = layout(
        tmp_path,
        sshd,
        '[[sessions]]\nname = "here-1"\n'
        f'[[sessions]]\nname = "there-1"\nhost = "{ALIAS}"\n'
        'command = ["sh", "-c", "echo REMOTE-ONE; exec cat"]\n'
        f'[[sessions]]\nname = "there-2"\nhost = "{ALIAS}"\n'
        'command = ["sh", "-c", "echo REMOTE-TWO; exec cat"]\n',
    )
    socket = ["-L", str(server.socket_name)]
    assert main([*socket, "up", str(path), "-d"]) == 0
    wait_for(lambda: status(server)["there-2"]["pane_id"] != "", timeout=30, what="remote up")
    remote_panes = {name: str(status(server)[name]["pane_id"]) for name in ("there-1", "there-2")}

    backend = TmuxBackend(Tmux.from_server(server), "mixed")  # what the dashboard lists
    try:
        names = {"here-1", "there-1", "there-2"}
        wait_for(lambda: {r.name for r in backend.snapshot()} == names, what="dashboard rows")
        rows = {row.name: row for row in backend.snapshot()}
        assert rows["there-1"].cwd == f"{ALIAS}:{sshd.remote_home}"
        assert rows["there-1"].state in {"starting", "working", "idle"}
        assert "REMOTE-ONE" in backend.preview("there-1")  # the preview, read over ssh
        hostile = "hello $(touch PWNED) 'x'; touch PWNED2"
        backend.send_prompt(["there-1"], hostile)  # on stdin, typed into the remote pane
        wait_for(lambda: backend.preview("there-1").count(hostile) == 2, what="cat echoed it")
        assert not any((sshd.remote_home / name).exists() for name in ("PWNED", "PWNED2"))
        backend.interrupt(["there-2"])  # the shell profile's key, Esc: cat's terminal echoes ^[
        wait_for(lambda: "^[" in backend.preview("there-2"), what="Esc reached there-2")
    finally:
        backend.close()

    def shown() -> list[str]:
        lines = server.cmd("list-clients", "-F", "#{?client_control_mode,,#{pane_id}}").stdout
        return [line for line in lines if line]

    with attached(str(server.socket_name), "=mixed:", size=(160, 48)):
        wait_for(lambda: bool(shown()), what="a client attached here")
        for name in ("there-2", "there-1"):
            assert main([*socket, "jump", name]) == 0
            (view,) = shown()
            tags = server.cmd("display-message", "-p", "-t", view, "#{@orc_kind} #{@orc_host}")
            assert tags.stdout == [f"remote {ALIAS}"]
            active = sshd.remote_tmux(REMOTE_SOCKET, "display-message", "-p", "#{pane_id}")
            assert active.stdout.strip() == remote_panes[name]
            word = "REMOTE-ONE" if name == "there-1" else "REMOTE-TWO"

            def on_screen(pane: str = view, word: str = word) -> bool:
                return word in "\n".join(server.cmd("capture-pane", "-p", "-t", pane).stdout)

            wait_for(on_screen, timeout=20, what=f"{name}'s screen through ssh")
        # One window per host: the second jump reused it.
        kinds = server.cmd("list-panes", "-s", "-t", "=mixed:", "-F", "#{@orc_kind}").stdout
        assert kinds.count("remote") == 1
        assert main([*socket, "jump", "here-1"]) == 0
        assert shown() == [str(status(server)["here-1"]["pane_id"])]


@pytest.mark.claude
def test_jump_next_reaches_a_remote_claude_awaiting_input(
    server: libtmux.Server,
    sshd: LoopbackSshd,
    tmp_path: Path,
    claude_bin: Path,
    claude_home: ClaudeHome,
    claude_project: Path,
    mock_api: MockAnthropicAPI,
) -> None:
    env = {k: v for k, v in claude_home.env.items() if k != "TERM"}
    inline = ", ".join(f"{key} = {json.dumps(value)}" for key, value in env.items())
    path = layout(
        tmp_path,
        sshd,
        '[[sessions]]\nname = "here-1"\n'
        f'[[sessions]]\nname = "claude-there"\nhost = "{ALIAS}"\nagent = "claude"\n'
        f"cwd = {json.dumps(str(claude_project))}\ncommand = [{json.dumps(str(claude_bin))}]\n"
        f'env = {{ {inline} }}\nprompt = "Run the tests"\n',
    )
    mock_api.enqueue(bash_tool_use("npm test"))
    socket = ["-L", str(server.socket_name)]
    assert main([*socket, "up", str(path), "-d"]) == 0

    def waiting() -> bool:
        return status(server)["claude-there"]["state"] == "awaiting_input"

    wait_for(waiting, timeout=90, what="the remote Claude awaiting input")
    row = status(server)["claude-there"]
    assert (row["host"], row["reason"]) == (ALIAS, "Bash: npm test")
    assert status(server)["here-1"]["state"] == "idle"

    with attached(str(server.socket_name), "=mixed:", size=(200, 50)):
        wait_for(lambda: bool(_shown(server)), what="a client attached here")
        assert main([*socket, "jump", "--next"]) == 0
        (view,) = _shown(server)
        tags = server.cmd("display-message", "-p", "-t", view, "#{@orc_host} #{@orc_viewing}")
        assert tags.stdout == [f"{ALIAS} claude-there"]
        active = sshd.remote_tmux(REMOTE_SOCKET, "display-message", "-p", "#{pane_id}")
        assert active.stdout.strip() == row["pane_id"]

        def prompt_shown() -> bool:
            return "npm test" in "\n".join(server.cmd("capture-pane", "-p", "-t", view).stdout)

        wait_for(prompt_shown, timeout=20, what="the permission prompt through ssh")


def _shown(server: libtmux.Server) -> list[str]:
    lines = server.cmd("list-clients", "-F", "#{?client_control_mode,,#{pane_id}}").stdout
    return [line for line in lines if line]
