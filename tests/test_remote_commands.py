"""send, restart, rm and new on sessions of a remote host, from the command line and from the
dashboard's backend, over the real loopback sshd (marker ``ssh``); see :mod:`tests.test_remote_ssh`.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import libtmux
import pytest

from orchestrator.cli.main import main
from orchestrator.errors import OrchestratorError
from orchestrator.remote.ssh import Connection
from orchestrator.runtime import fleet_dir
from orchestrator.tmux.client import Tmux
from orchestrator.tui.backend import TmuxBackend
from tests.harness.sshd import ALIAS, SSHD, LoopbackSshd
from tests.test_remote_ssh import REMOTE_SOCKET, layout, sshd, status
from tests.waiting import wait_for

__all__ = ["sshd"]  # the fixture, shared with test_remote_ssh

pytestmark = [
    pytest.mark.ssh,
    pytest.mark.skipif(not SSHD.exists(), reason="no sshd: run `bash tests/setup.sh`"),
]
HOSTILE = 'it\'s $(touch PWNED) `touch PWNED2`; touch PWNED3 # "q"'


def run(server: libtmux.Server, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["-L", str(server.socket_name), *argv])
    return code, out.getvalue(), err.getvalue()


def there(sshd: LoopbackSshd) -> dict[str, dict[str, object]]:
    """``status mixed --json`` as the host itself answers it."""
    command = ["orchestrator", "-L", REMOTE_SOCKET, "status", "mixed", "--json"]
    done = Connection(ALIAS, tuple(sshd.ssh_options)).run(command)
    rows = json.loads(done.stdout)["sessions"] if done.returncode == 0 else []
    return {str(row["name"]): row for row in rows}


def screen(sshd: LoopbackSshd, pane: object) -> str:
    return sshd.remote_tmux(REMOTE_SOCKET, "capture-pane", "-p", "-t", str(pane)).stdout


def dead(sshd: LoopbackSshd, name: str) -> bool:
    """Whether the session's pane on the host is dead (its agent gone, the pane kept)."""
    fmt = "#{@orc_session} #{pane_dead}"
    return f"{name} 1" in sshd.remote_tmux(REMOTE_SOCKET, "list-panes", "-a", "-F", fmt).stdout


def recorded(fleet: str) -> list[str]:
    hosts = json.loads((fleet_dir(fleet) / "hosts.json").read_text())
    return [session["name"] for host in hosts for session in host["sessions"]]


def test_session_commands_reach_a_remote_host(
    server: libtmux.Server, sshd: LoopbackSshd, tmp_path: Path
) -> None:
    path = layout(
        tmp_path,
        sshd,
        '[[sessions]]\nname = "here-1"\n'
        f'[[sessions]]\nname = "there-1"\nhost = "{ALIAS}"\n'
        f'[[sessions]]\nname = "there-2"\nhost = "{ALIAS}"\n'
        'command = ["sh", "-c", "echo READY; exec cat"]\n',
    )
    assert run(server, "up", str(path), "-d")[0] == 0

    def states(name: str, state: str) -> bool:
        both = status(server)[name]["state"] == state and there(sshd)[name]["state"] == state
        return both and (state != "exited" or dead(sshd, name))

    wait_for(lambda: states("there-1", "idle"), timeout=40, what="there-1 idle on both sides")
    wait_for(lambda: "READY" in screen(sshd, there(sshd)["there-2"]["pane_id"]), what="cat")

    # send: the text on ssh's standard input, arriving verbatim; nothing run by a shell.
    code, out, _ = run(server, "send", "there-2", HOSTILE)
    assert (code, out) == (0, f"on {ALIAS}: sent to there-2\n")
    pane_2 = there(sshd)["there-2"]["pane_id"]
    wait_for(lambda: screen(sshd, pane_2).count(HOSTILE) == 2, what="cat echoed the text")
    assert not list(sshd.remote_home.glob("PWNED*"))

    # send + restart: the remote shell exits, then starts again.
    assert run(server, "send", "there-1", "exit")[0] == 0
    wait_for(lambda: states("there-1", "exited"), timeout=30, what="there-1 exited")
    code, out, err = run(server, "restart", "there-1")
    assert code == 0, err
    assert out.startswith(f"on {ALIAS}: restarted mixed/there-1 in pane ")
    wait_for(lambda: states("there-1", "idle"), timeout=40, what="there-1 idle again")

    # new on the host: a hostile role arrives verbatim; a hostile name is refused there.
    code, out, _ = run(server, "new", "there-3", "--host", ALIAS, "--role", HOSTILE)
    assert code == 0 and out.startswith(f"on {ALIAS}: added mixed/there-3 (shell, pane ")
    wait_for(lambda: states("there-3", "idle"), timeout=40, what="there-3 idle on both sides")
    assert status(server)["there-3"]["host"] == ALIAS
    assert there(sshd)["there-3"]["role"] == HOSTILE
    assert "there-3" in recorded("mixed")
    code, _, err = run(server, "new", "--host", ALIAS, "--", f"-x{HOSTILE}")
    assert code == 2 and err.startswith(f"on {ALIAS}: ") and "-x" in err
    assert "-x" not in json.dumps(there(sshd))
    code, _, err = run(server, "new", "there-4", "--host", "elsewhere")
    assert code == 1 and f"has no host 'elsewhere' (its hosts: {ALIAS})" in err
    assert not list(sshd.remote_home.glob("PWNED*"))

    # rm on the host: gone there, here, and from this machine's record.
    code, out, _ = run(server, "rm", "there-3")
    assert code == 0 and out.startswith(f"on {ALIAS}: removed mixed/there-3 ")
    assert "there-3" not in there(sshd) and "there-3" not in status(server)
    assert recorded("mixed") == ["there-1", "there-2"]

    # The dashboard's r and x on remote rows go the same way.
    backend = TmuxBackend(Tmux.from_server(server), "mixed")
    try:
        assert run(server, "send", "there-1", "exit")[0] == 0
        wait_for(lambda: states("there-1", "exited"), timeout=30, what="there-1 exited")
        backend.restart("there-1")
        wait_for(lambda: states("there-1", "idle"), timeout=40, what="restarted from the backend")
        backend.end("there-2")
        assert "there-2" not in there(sshd) and "there-2" not in status(server)
        assert recorded("mixed") == ["there-1"]

        # The host unreachable: a clear error naming it, non-zero, nothing changed here.
        sshd.stop()
        for argv in (
            ["send", "there-1", "hello"],
            ["restart", "there-1", "--force"],
            ["rm", "there-1"],
            ["new", "there-5", "--host", ALIAS],
        ):
            code, out, err = run(server, *argv)
            assert code == 2 and out == "", argv
            assert err.startswith(f"orchestrator: error: host {ALIAS} unreachable ("), argv
            assert "nothing was changed here" in err
        with pytest.raises(OrchestratorError, match=f"host {ALIAS} unreachable"):
            backend.end("there-1")
        assert recorded("mixed") == ["there-1"]
        assert status(server)["here-1"]["state"] == "idle"
    finally:
        backend.close()
