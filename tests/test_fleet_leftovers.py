"""`down` ends what the agents left running: a program that outlives its pane's hang-up (as
Gemini CLI's node processes do) is ended with the fleet."""

from __future__ import annotations

import time
from pathlib import Path

import libtmux
import psutil

from orchestrator.fleet import control
from orchestrator.fleet import up as fleet_up
from orchestrator.layout import load as layout
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import list_sessions


def test_down_ends_a_process_that_ignores_the_hang_up(
    server: libtmux.Server, tmp_path: Path
) -> None:
    path = tmp_path / "stubborn.toml"
    path.write_text(
        'name = "stubborn"\n[[sessions]]\nname = "s1"\nagent = "shell"\n'
        'command = ["sh", "-c", "trap \'\' HUP; sleep 300"]\n'
    )
    tmux = Tmux.from_server(server)
    fleet_up.up(layout.load_fleet(str(path)), tmux, services=())
    pane = list_sessions(tmux, "stubborn")[0]
    assert pane.pane_pid is not None
    end = time.monotonic() + 10
    sleeper: list[psutil.Process] = []
    while not sleeper and time.monotonic() < end:
        sleeper = [p for p in psutil.Process(pane.pane_pid).children() if p.name() == "sleep"]
        time.sleep(0.05)
    assert sleeper, "the session's program did not start"
    control.down(tmux, "stubborn")
    assert not sleeper[0].is_running()
