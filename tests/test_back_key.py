"""The back key (prefix B) when the key asked for is already bound: said, never silently skipped
(issue 12, item 19)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import libtmux
import pytest

from orchestrator.tmux.client import Tmux
from orchestrator.tui.app import Dashboard
from orchestrator.tui.screens import HelpScreen
from tests.dashboard_fake import FakeBackend
from tests.tmux_client import shell_layout


def up(server: libtmux.Server, layout: Path, back_key: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ORCHESTRATOR_BACK_KEY": back_key}
    argv = [sys.executable, "-m", "orchestrator", "-L", str(server.socket_name)]
    return subprocess.run(
        [*argv, "up", str(layout), "--detach"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_a_key_tmux_binds_by_default_is_left_alone_and_up_says_so(
    server: libtmux.Server, tmp_path: Path
) -> None:
    layout = tmp_path / "keys.toml"
    layout.write_text(shell_layout("keys", ["dev-1"], "exec sleep 600"))
    tmux = Tmux.from_server(server)
    server.cmd("start-server")  # tmux's own bindings exist once a server runs

    proc = up(server, layout, "M")
    assert proc.returncode == 0, proc.stderr
    assert (
        "the back key is not bound: prefix M already does `select-pane -M` (your binding or one "
        "of tmux's own); set ORCHESTRATOR_BACK_KEY to a free key, or unbind M first"
    ) in proc.stderr
    assert tmux.run(["list-keys", "-T", "prefix", "M"]) == ["bind-key -T prefix M select-pane -M"]

    # A free key is bound, and nothing is said.
    proc = up(server, layout, "F12")
    assert (proc.returncode, proc.stderr) == (0, "")
    assert "@orc_fleet" in "\n".join(tmux.run(["list-keys", "-T", "prefix", "F12"]))


@pytest.mark.anyio
async def test_the_dashboard_says_why_the_back_key_is_not_bound() -> None:
    notice = "the back key is not bound: prefix M already does `select-pane -M` [x]"
    app = Dashboard(FakeBackend(), notice=notice)
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause(0.1)
        assert [n.message for n in app._notifications] == [
            "the back key is not bound: prefix M already does `select-pane -M` \\[x]"
        ]
        await pilot.press("question_mark")
        await pilot.pause(0.1)
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(str(static.render()) for static in app.screen.query("Static"))
        assert notice in text
        assert "brings" not in text
