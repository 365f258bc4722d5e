"""A pane whose terminal closes before tmux knows how its process ended.

tmux marks a pane dead when its terminal closes and runs the ``pane-died`` hook only once it
has reaped the process. Between the two (a process that closes its terminal and lives on, or
one whose SIGCHLD tmux lost: see :mod:`orchestrator.watch.reaping`) the watcher must still see the
exit, and must get tmux to reap without listing the panes ten times a second for ever.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import libtmux
import pytest

from orchestrator.fleet import up as fleet
from orchestrator.layout import load as layout
from orchestrator.runtime import fleet_dir, watcher_running
from orchestrator.tmux.client import Tmux
from orchestrator.watch import reaping
from orchestrator.watch.watcher import Watcher
from tests.waiting import wait_for

pytest_plugins = ["tests.history_db"]

CLOSES_ITS_TERMINAL = (
    "trap '' HUP; echo ready; sleep 1; echo bye; exec </dev/null >/dev/null 2>&1; sleep 30"
)
"""Prints, then closes the terminal and lives on (deaf to the hangup tmux's closing the
terminal sends): tmux has the pane dead, with no status."""


def one_session(
    tmp_path: Path, server: libtmux.Server, script: str, services: tuple[str, ...] | None = None
) -> Tmux:
    path = tmp_path / "closer.toml"
    path.write_text(
        'name = "closer"\n[[sessions]]\nname = "c"\nagent = "shell"\n'
        f"command = {json.dumps(['sh', '-c', script])}\n"
    )
    tmux = Tmux.from_server(server)
    if services is None:
        fleet.up(layout.load_fleet(str(path)), tmux)
    else:
        fleet.up(layout.load_fleet(str(path)), tmux, services=services)
    return tmux


def exits_reported(name: str) -> list[dict[str, object]]:
    log = fleet_dir(name) / "transitions.jsonl"
    if not log.exists():
        return []
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    return [row for row in rows if row["new"] == "exited"]


@pytest.mark.usefixtures("history_db")
def test_a_closed_terminal_is_an_exit_without_the_pane_died_hook(
    server: libtmux.Server, tmp_path: Path
) -> None:
    one_session(tmp_path, server, CLOSES_ITS_TERMINAL)
    wait_for(lambda: watcher_running("closer"))
    # Neither the hook (tmux has no status) nor the backstop listing (10 s) nor the quiet
    # process pass (12 s) says it: the capture that read its last words sees the pane dead.
    wait_for(lambda: bool(exits_reported("closer")), timeout=5, what="exit reported")
    row = exits_reported("closer")[0]
    assert float(str(row["reported"])) - float(str(row["at"])) < 3.0, row


def test_a_missing_exit_status_is_nudged_with_a_backoff(
    server: libtmux.Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmux = one_session(tmp_path, server, CLOSES_ITS_TERMINAL, services=())
    watcher = Watcher(tmux, "closer")
    watcher.folder.mkdir(parents=True, exist_ok=True)  # run() makes it, with its lock
    nudges: list[float] = []
    listings: list[float] = []
    real_nudge, real_list = watcher.missing.nudge, watcher._list_panes

    def counted_nudge() -> None:
        nudges.append(time.monotonic())
        real_nudge()

    def counted_list(now: float) -> bool:
        listings.append(time.monotonic())
        return real_list(now)

    monkeypatch.setattr(watcher.missing, "nudge", counted_nudge)
    monkeypatch.setattr(watcher, "_list_panes", counted_list)
    monkeypatch.setattr(reaping, "STATUS_NUDGE_MAX", 4.0)
    dead_at: float | None = None
    started = time.monotonic()
    while time.monotonic() - started < 12.0:
        watcher.round()
        pane = watcher.pane("c")
        if dead_at is None and pane is not None and pane.dead:
            dead_at = time.monotonic()
        deadline = watcher._next_deadline()
        time.sleep(max(0.0, min(0.5, (deadline or time.time() + 0.5) - time.time())))
    assert dead_at is not None, "the pane never showed dead"
    # The first nudge 0.3 s after the watcher saw the pane dead (this loop notes it after
    # the round that saw it, later on a loaded machine), then 0.3 s, 0.6 s, 1.2 s... 4 s apart.
    assert nudges, "tmux was never nudged"
    assert 0.1 <= nudges[0] - dead_at <= 3.0, nudges[0] - dead_at
    gaps = [b - a for a, b in itertools.pairwise(nudges)]
    assert gaps and gaps[0] >= 0.25, gaps
    assert all(
        later >= earlier * 1.8 or later >= 3.9 for earlier, later in itertools.pairwise(gaps)
    )
    assert max(gaps) <= 4.5, gaps
    # Between nudges it lists once when one is due and once to see its effect, no more.
    after = [at for at in listings if at > nudges[0]]
    assert len(after) <= 2 * len(nudges) + 1, (len(after), len(nudges))
