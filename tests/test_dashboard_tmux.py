"""The dashboard in a real tmux pane of a real fleet: keys by send-keys, screen by capture-pane."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import libtmux
import psutil

from orchestrator.fleet import jump
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import PaneInfo, list_panes, list_sessions
from tests.tmux_client import attached, shell_layout, start_fleet
from tests.waiting import wait_for

LAYOUT = shell_layout("dash", ["dev-1", "test-2", "git-3"], "echo ready; exec sleep 600")


def set_state(tmux: Tmux, pane_id: str, state: str, since: float) -> None:
    tmux.run(
        ["set-option", "-p", "-t", pane_id, "@orc_state", state],
        ["set-option", "-p", "-t", pane_id, "@orc_since", f"{since:.3f}"],
        ["set-option", "-p", "-t", pane_id, "@orc_reason", f"{state} reason"],
    )


@contextlib.contextmanager
def attached_client(server: libtmux.Server, target: str) -> Iterator[int]:
    """A real tmux client attached to ``target`` on its own pseudo-terminal, as a user's would be.

    Yields the terminal's master end: bytes written to it are keys typed into the client.
    """
    with attached(str(server.socket_name), target, size=(120, 40)) as terminal:
        wait_for(lambda: bool(shown_by_terminals(server)), what="client attached")
        yield terminal.master


def client_panes(server: libtmux.Server) -> list[str]:
    """The pane each attached client shows."""
    return Tmux.from_server(server).run(["list-clients", "-F", "#{pane_id}"], check=False)


def shown_by_terminals(server: libtmux.Server) -> list[str]:
    """The pane each client with a terminal shows (not the watcher's control-mode client)."""
    fmt = "#{?client_control_mode,,#{pane_id}}"
    lines = Tmux.from_server(server).run(["list-clients", "-F", fmt], check=False)
    return [line for line in lines if line]


def orchestrator_without_terminal(
    server: libtmux.Server, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the command line as a script or a notification action would: no terminal at all."""
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", "-L", str(server.socket_name), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_dashboard_in_tmux_next_waiting_borders_and_status(
    server: libtmux.Server, tmp_path: Path
) -> None:
    tmux = Tmux.from_server(server)
    panes = start_fleet(tmux, tmp_path, "dash", LAYOUT, services=("dashboard",))
    dashboard = jump.dashboard_pane(tmux, "dash")

    def screen() -> str:
        return "\n".join(tmux.run(["capture-pane", "-p", "-t", dashboard]))

    wait_for(lambda: "dev-1" in screen() and "git-3" in screen())
    now = time.time()
    set_state(tmux, panes["test-2"], "awaiting_input", now - 60)
    set_state(tmux, panes["git-3"], "awaiting_input", now - 300)
    set_state(tmux, panes["dev-1"], "working", now)
    tmux.run(["set-option", "-t", "=dash:", "@orc_waiting", "git-3 test-2"])
    wait_for(lambda: screen().count("NEEDS YOU") == 2)
    assert "2 awaiting input" in screen()

    # Border titles and the status line name the states and the sessions waiting.
    def border(name: str) -> str:
        fmt = "#{E:pane-border-format}"
        return tmux.run(["display-message", "-p", "-t", panes[name], fmt])[0]

    def status() -> str:
        return tmux.run(["display-message", "-p", "-t", "=dash:", "#{E:status-right}"])[0]

    assert "test-2 [awaiting_input]" in border("test-2")
    assert "dev-1 [working]" in border("dev-1")
    assert "needs you: git-3 test-2" in status()

    def active() -> tuple[str, str]:
        rows = tmux.query(["display-message", "-p", "-t", "=dash:"], ("window_name", "pane_id"))
        return rows[0]["window_name"], rows[0]["pane_id"]

    # `n` takes us to the one waiting longest, then on to the next.
    tmux.run(["select-window", "-t", "=dash:dashboard"])
    tmux.run(["send-keys", "-t", dashboard, "n"])
    wait_for(lambda: active() == ("agents", panes["git-3"]))
    tmux.run(["select-window", "-t", "=dash:dashboard"])
    tmux.run(["send-keys", "-t", dashboard, "n"])
    wait_for(lambda: active() == ("agents", panes["test-2"]))

    # The back key is bound, and is what brings us back.
    binding = "\n".join(tmux.run(["list-keys", "-T", "prefix", jump.BACK_KEY]))
    assert "select-window -t :dashboard" in binding

    # States change: borders and status line follow.
    set_state(tmux, panes["git-3"], "idle", time.time())
    tmux.run(["set-option", "-t", "=dash:", "@orc_waiting", "test-2"])
    assert "git-3 [idle]" in border("git-3")
    assert "needs you: test-2" in status() and "git-3" not in status()
    wait_for(lambda: screen().count("NEEDS YOU") == 1)

    # Enter on the selected row jumps too; q quits and leaves the fleet running.
    tmux.run(["select-window", "-t", "=dash:dashboard"])
    tmux.run(["send-keys", "-t", dashboard, "q"])
    wait_for(lambda: not any(p.kind == "dashboard" for p in list_panes(tmux, "dash")))
    assert len(list_sessions(tmux, "dash")) == 3


def test_jump_next_from_the_command_line(server: libtmux.Server, tmp_path: Path) -> None:
    tmux = Tmux.from_server(server)
    panes = start_fleet(tmux, tmp_path, "dash", LAYOUT, services=())
    now = time.time()
    set_state(tmux, panes["dev-1"], "awaiting_input", now - 10)
    set_state(tmux, panes["git-3"], "awaiting_input", now - 100)
    listed = list_sessions(tmux, "dash")
    assert jump.next_waiting(listed) == "git-3"
    assert jump.next_waiting(listed, panes["git-3"]) == "dev-1"
    assert jump.next_waiting(listed, panes["dev-1"]) == "git-3"
    argv = jump.jump(tmux, "dash", "dev-1")
    assert argv is not None and argv[-3:] == ["attach-session", "-t", panes["dev-1"]]
    rows = tmux.query(["display-message", "-p", "-t", "=dash:"], ("pane_id",))
    assert rows[0]["pane_id"] == panes["dev-1"]


def test_jump_without_a_terminal_switches_the_attached_client(
    server: libtmux.Server, tmp_path: Path
) -> None:
    tmux = Tmux.from_server(server)
    panes = start_fleet(tmux, tmp_path, "dash", LAYOUT, services=("watcher",))
    # The watcher's control-mode client is attached too, but it is nobody's terminal.
    wait_for(lambda: bool(client_panes(server)), what="watcher's control client")
    # Its first decisions (the shells' start-up output, then idle) must not overwrite the state
    # this test sets below.
    wait_for(
        lambda: {p.state for p in list_sessions(tmux, "dash")} == {"idle"},
        what="the watcher's first decisions",
    )

    proc = orchestrator_without_terminal(server, "jump", "test-2")
    assert proc.returncode == 2
    assert "no tmux client is attached" in proc.stderr

    with attached_client(server, "=dash:"):
        proc = orchestrator_without_terminal(server, "jump", "test-2")
        assert (proc.returncode, proc.stderr) == (0, "")
        assert shown_by_terminals(server) == [panes["test-2"]]

        set_state(tmux, panes["git-3"], "awaiting_input", time.time())
        proc = orchestrator_without_terminal(server, "jump", "--next")
        assert (proc.returncode, proc.stderr) == (0, "")
        assert shown_by_terminals(server) == [panes["git-3"]]


def test_a_quit_dashboard_comes_back_by_the_back_key_and_by_jump(
    server: libtmux.Server, tmp_path: Path
) -> None:
    tmux = Tmux.from_server(server)
    start_fleet(tmux, tmp_path, "dash", LAYOUT, services=("dashboard",))

    def dashboards() -> list[PaneInfo]:
        return [p for p in list_panes(tmux, "dash") if p.kind == "dashboard"]

    def quit_dashboard() -> None:
        pane = dashboards()[0].pane_id
        wait_for(lambda: "dev-1" in "\n".join(tmux.run(["capture-pane", "-p", "-t", pane])))
        tmux.run(["send-keys", "-t", pane, "q"])
        wait_for(lambda: not dashboards(), what="dashboard quit")

    def client_window() -> list[str]:
        fmt = "#{?client_control_mode,,#{window_name}}"
        return [line for line in tmux.run(["list-clients", "-F", fmt]) if line]

    with attached_client(server, "=dash:agents") as keys:
        quit_dashboard()
        os.write(keys, b"\x02B")  # prefix B, typed into the client
        wait_for(lambda: client_window() == ["dashboard"], what="back key started the dashboard")
        tmux.run(["select-window", "-t", "=dash:agents"])
        wait_for(lambda: client_window() == ["agents"])
        os.write(keys, b"\x02B")
        wait_for(lambda: client_window() == ["dashboard"], what="back key selected the dashboard")
        assert len(dashboards()) == 1

        quit_dashboard()
        # From a shell whose environment names another runtime folder: the new dashboard
        # still reads the fleet's own (where its watcher writes).
        env = {**os.environ, "ORCHESTRATOR_RUNTIME_DIR": str(tmp_path / "elsewhere")}
        proc = orchestrator_without_terminal(server, "jump", "--dashboard", env=env)
        assert (proc.returncode, proc.stderr) == (0, "")
        assert client_window() == ["dashboard"]
        (pane,) = dashboards()
        assert pane.pane_pid is not None
        environ = psutil.Process(pane.pane_pid).environ()
        assert environ["ORCHESTRATOR_RUNTIME_DIR"] == os.environ["ORCHESTRATOR_RUNTIME_DIR"]
        wait_for(lambda: "dev-1" in "\n".join(tmux.run(["capture-pane", "-p", "-t", pane.pane_id])))
