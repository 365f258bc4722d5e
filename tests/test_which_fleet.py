"""Which tmux server and which fleet a command means, on real tmux servers (issue 12, items 4-6).

Commands run where a user runs them: in a pane of the fleet's own (named) server, from a key
binding's ``run-shell``, from a shell outside tmux; never with ``-L`` where the user would not
type it.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from pathlib import Path

import libtmux
import pytest

from orchestrator.cli.main import main
from orchestrator.tmux.client import Tmux
from tests.tmux_client import attached, shell_layout, start_fleet
from tests.waiting import wait_for

SCRIPT = "echo ready; exec sleep 600"


def in_pane(tmux: Tmux, target: str, args: list[str], out: Path) -> tuple[int, str]:
    """Run ``orchestrator ARGS`` in a new window of tmux session ``target``, as a user typing it
    in a pane there would (``$TMUX`` and ``$TMUX_PANE`` set by tmux, no ``-L``); return its exit
    status and what it printed."""
    command = [sys.executable, "-m", "orchestrator", *args]
    line = f"{shlex.join(command)} > {out} 2>&1; echo $? > {out}.rc"
    # The server's environment may hold no ORCHESTRATOR_SOCKET (as a user's would not).
    tmux.run(["new-window", "-d", "-t", f"={target}:", "--", "sh", "-c", line])
    status = Path(f"{out}.rc")
    # The status is written after the output is complete; wait until it is there in full.
    wait_for(lambda: status.is_file() and status.read_text().endswith("\n"), what=str(args))
    return int(status.read_text()), out.read_text()


def set_waiting(tmux: Tmux, pane_id: str, since: float) -> None:
    tmux.run(
        ["set-option", "-p", "-t", pane_id, "@orc_state", "awaiting_input"],
        ["set-option", "-p", "-t", pane_id, "@orc_since", f"{since:.3f}"],
    )


def shown(tmux: Tmux) -> list[str]:
    """The pane each attached client with a terminal shows."""
    fmt = "#{?client_control_mode,,#{pane_id}}"
    return [line for line in tmux.run(["list-clients", "-F", fmt], check=False) if line]


def test_inside_a_named_server_commands_default_to_it(
    server: libtmux.Server, tmp_path: Path
) -> None:
    tmux = Tmux.from_server(server)
    start_fleet(tmux, tmp_path, "team", shell_layout("team", ["dev-1", "test-2"], SCRIPT))
    rc, out = in_pane(tmux, "team", ["status", "--json"], tmp_path / "status.out")
    assert rc == 0, out
    assert [row["name"] for row in json.loads(out)["sessions"]] == ["dev-1", "test-2"]

    # -L still says otherwise: a server with no fleet.
    rc, out = in_pane(tmux, "team", ["-L", "nothing-here", "status"], tmp_path / "other.out")
    assert (rc, out.strip()) == (0, "no sessions found (start a fleet with `orchestrator up`)")


def test_the_readme_key_binding_jumps_to_the_next_waiting_session(
    server: libtmux.Server, tmp_path: Path
) -> None:
    tmux = Tmux.from_server(server)
    panes = start_fleet(tmux, tmp_path, "team", shell_layout("team", ["dev-1", "test-2"], SCRIPT))
    other = start_fleet(tmux, tmp_path, "other", shell_layout("other", ["dev-1"], SCRIPT))
    set_waiting(tmux, panes["test-2"], time.time())
    set_waiting(tmux, other["dev-1"], time.time() - 60)  # waiting longer, but in another fleet
    # The README's binding, with this interpreter for `orchestrator`; no -L, as in the README.
    jump = shlex.join([sys.executable, "-m", "orchestrator", "jump", "--next"])
    tmux.run(["bind-key", "-T", "prefix", "N", "run-shell", jump])
    tmux.run(["select-pane", "-t", panes["dev-1"]])
    with attached(str(server.socket_name), "=team:agents", size=(120, 40)) as terminal:
        wait_for(lambda: shown(tmux) == [panes["dev-1"]], what="client attached")
        os.write(terminal.master, b"\x02N")  # prefix N, typed into the client
        wait_for(lambda: shown(tmux) == [panes["test-2"]], what="jump --next from the binding")


def test_several_fleets_hint_names_the_fleet_and_a_fleets_pane_needs_none(
    server: libtmux.Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tmux = Tmux.from_server(server)
    start_fleet(tmux, tmp_path, "aa", shell_layout("aa", ["dev-1"], SCRIPT))
    start_fleet(tmux, tmp_path, "bb", shell_layout("bb", ["dev-1", "solo"], SCRIPT))
    socket = ["-L", str(server.socket_name)]
    for args in (["jump", "--next"], ["checkin"], ["watch"], ["dashboard"]):
        capsys.readouterr()
        assert main([*socket, *args]) == 2
        err = capsys.readouterr().err
        assert "several fleets are running (aa, bb)" in err
        assert "down" not in err
        positional = args[0] in {"checkin", "watch", "dashboard"}
        named = ["aa"] if positional else ["--fleet", "aa"]
        assert f"`{shlex.join(['orchestrator', *socket, *args, *named])}`" in err

    # Inside a pane of fleet bb, its own fleet is meant: no question asked.
    rc, out = in_pane(tmux, "bb", ["checkin", "--json"], tmp_path / "checkin.out")
    assert rc == 0, out
    assert json.loads(out)["fleet"] == "bb"


def test_a_session_name_two_fleets_share_is_refused_unless_the_fleet_is_known(
    server: libtmux.Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tmux = Tmux.from_server(server)
    start_fleet(tmux, tmp_path, "aa", shell_layout("aa", ["dev-1"], SCRIPT))
    start_fleet(tmux, tmp_path, "bb", shell_layout("bb", ["dev-1", "solo"], SCRIPT))
    socket = ["-L", str(server.socket_name)]
    for args in (["explain", "dev-1"], ["jump", "dev-1"], ["restart", "dev-1", "--force"]):
        capsys.readouterr()
        assert main([*socket, *args]) == 2, args
        err = capsys.readouterr().err
        assert "several fleets have a session named 'dev-1' (aa, bb)" in err
        assert f"`{shlex.join(['orchestrator', *socket, *args, '--fleet', 'aa'])}`" in err

    # A name only one fleet has needs no --fleet, although two fleets run.
    capsys.readouterr()
    assert main([*socket, "explain", "solo"]) == 0
    assert capsys.readouterr().out.startswith("bb/solo ")
    assert main([*socket, "explain", "dev-1", "--fleet", "aa"]) == 0
    assert capsys.readouterr().out.startswith("aa/dev-1 ")

    # In a pane of fleet aa, dev-1 is aa's.
    rc, out = in_pane(tmux, "aa", ["explain", "dev-1"], tmp_path / "explain.out")
    assert rc == 0, out
    assert out.startswith("aa/dev-1 ")


def test_outside_tmux_without_a_socket_the_default_server_is_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from orchestrator.cli.common import tmux_of
    from orchestrator.cli.main import build_parser

    def server(*argv: str) -> list[str]:
        return tmux_of(build_parser().parse_args([*argv, "status"])).base_args()

    assert server() == ["tmux"]
    monkeypatch.setenv("TMUX", "/elsewhere/sock,1,0")
    assert server() == ["tmux", "-S", "/elsewhere/sock"]
    assert server("-L", "mine") == ["tmux", "-L", "mine"]
    monkeypatch.setenv("ORCHESTRATOR_SOCKET", "env")
    assert server() == ["tmux", "-L", "env"]
