"""`new`, `send` and `rm` on a real tmux server with shell sessions: bad input refused with a
clear error, a prompt sent to a role, a removed session gone and its history kept."""

from __future__ import annotations

import json
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path

import libtmux
import pytest

from orchestrator.cli.main import main
from orchestrator.store.db import Store
from tests.waiting import wait_for

LAYOUT = """\
name = "team"
[defaults]
agent = "shell"
[[sessions]]
name = "a"
role = "writer"
command = ["sh", "-c", "while read x; do echo got: $x; done"]
"""


def cli(server: libtmux.Server, *args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["-L", str(server.socket_name), *args])
    return code, out.getvalue(), err.getvalue()


def screen(server: libtmux.Server, name: str) -> str:
    code, out, _ = cli(server, "status", "--json")
    assert code == 0
    pane = next(r["pane_id"] for r in json.loads(out)["sessions"] if r["name"] == name)
    return "\n".join(server.cmd("capture-pane", "-p", "-t", str(pane)).stdout)


@pytest.fixture
def team(server: libtmux.Server, tmp_path: Path) -> Path:
    path = tmp_path / "team.toml"
    path.write_text(LAYOUT)
    code, _, err = cli(server, "up", str(path), "--detach")
    assert code == 0, err
    return path


def test_new_send_to_a_role_and_rm(server: libtmux.Server, team: Path) -> None:
    code, out, err = cli(
        server, "new", "b", "--role", "writer", "--prompt", "hello", "--cwd", str(team.parent)
    )
    assert code == 0, err
    assert "added team/b (shell" in out
    code, out, err = cli(server, "send", "--role", "Writer", "second line")
    assert (code, out) == (0, "sent to a, b\n"), err
    wait_for(lambda: "got: second line" in screen(server, "a"), what="a got it")
    code, _, _ = cli(server, "up", str(team), "--detach")
    assert code == 0
    code, out, _ = cli(server, "status", "--json")
    assert sorted(r["name"] for r in json.loads(out)["sessions"]) == ["a", "b"]
    code, out, err = cli(server, "rm", "b")
    assert code == 0, err
    assert "its history is kept" in out
    code, out, _ = cli(server, "status", "--json")
    assert [r["name"] for r in json.loads(out)["sessions"]] == ["a"]
    with Store() as store:
        assert [p.text for p in store.prompts("b", fleet="team") if p.source == "cli"] == [
            "second line"
        ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("new", "a"), "already has a session named 'a'"),
        (("new", "bad name"), "name: String should match pattern"),
        (("new", "c", "--agent", "nope"), "unknown agent 'nope'"),
        (("new", "c", "--cwd", "/no/such/folder"), "cwd: folder /no/such/folder does not exist"),
        (("send", "nobody", "hi"), "no session named 'nobody'"),
        (("send", "--role", "tester", "hi"), "no session has the role 'tester'"),
        (("send", "--all", "a", "hi"), "either session names or --all/--role"),
        (("send", "hi"), "name the sessions to send to"),
        (("rm", "nobody"), "no session named 'nobody' in fleet team"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    server: libtmux.Server, team: Path, args: tuple[str, ...], expected: str
) -> None:
    code, _, err = cli(server, *args)
    assert code != 0
    assert expected in err
    code, out, _ = cli(server, "status", "--json")
    assert [r["name"] for r in json.loads(out)["sessions"]] == ["a"]
