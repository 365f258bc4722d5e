"""The session cap: ``up`` warns past ``max_sessions`` agent sessions on the server (real tmux)."""

from __future__ import annotations

from pathlib import Path

import libtmux
import pytest

from orchestrator import paths
from orchestrator.cli.main import main
from orchestrator.fleet import sprawl
from orchestrator.tmux.client import Tmux


def layout(tmp_path: Path, name: str, count: int, extra: str = "") -> Path:
    path = tmp_path / f"{name}.toml"
    sessions = "".join(
        f'[[sessions]]\nname = "s{i}"\ncommand = ["sleep", "3600"]\n' for i in range(count)
    )
    path.write_text(f'name = "{name}"\n{extra}[defaults]\nagent = "shell"\n{sessions}')
    return path


def test_up_warns_past_the_cap_counting_every_fleet(
    server: libtmux.Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    socket = ["-L", str(server.socket_name)]
    assert main([*socket, "up", str(layout(tmp_path, "alpha", 2)), "-d"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert main([*socket, "up", str(layout(tmp_path, "beta", 2, "max_sessions = 3\n")), "-d"]) == 0
    err = capsys.readouterr().err
    assert "4 agent sessions on this tmux server, past the cap of 3 (max_sessions)" in err
    assert sprawl.agent_sessions(Tmux(socket_name=server.socket_name)) == 4


def test_user_config_sets_the_cap_and_an_invalid_one_stops_up(
    server: libtmux.Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    socket = ["-L", str(server.socket_name)]
    config = paths.config_dir() / "workflow.toml"
    config.parent.mkdir(parents=True)
    config.write_text("max_sessions = 1\n")
    assert main([*socket, "up", str(layout(tmp_path, "alpha", 2)), "-d"]) == 0
    assert "past the cap of 1" in capsys.readouterr().err
    config.write_text('max_sessions = 1\n[[on]]\nto = "done"\nrun = ["x"]\n')
    assert main([*socket, "up", str(layout(tmp_path, "beta", 1)), "-d"]) == 2
    err = capsys.readouterr().err
    assert f"{config}: the workflow settings file is not valid" in err
    assert "line 3, on[0].to: unknown state 'done'" in err
    assert not server.sessions.filter(session_name="beta")


def test_new_warns_past_the_cap(
    server: libtmux.Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    socket = ["-L", str(server.socket_name)]
    assert main([*socket, "up", str(layout(tmp_path, "alpha", 2, "max_sessions = 2\n")), "-d"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert main([*socket, "new", "extra", "--agent", "shell", "--fleet", "alpha"]) == 0
    assert "3 agent sessions on this tmux server, past the cap of 2" in capsys.readouterr().err
