"""Remote hosts in a layout: validation with file, line and field; the host's generated layout;
ssh command lines built from quoted arguments."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path

import pytest

from orchestrator.errors import LayoutError
from orchestrator.layout.load import load_fleet
from orchestrator.layout.model import Layout
from orchestrator.remote.ssh import Connection


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "team.toml"
    path.write_text('name = "team"\n[defaults]\nagent = "shell"\n' + text)
    return path


def test_remote_sessions_are_split_off_with_their_own_layout(tmp_path: Path) -> None:
    hostile = "x'; touch /tmp/pwned #"
    path = write(
        tmp_path,
        '[hosts."me@box"]\nssh = ["-p", "2222"]\nsocket = "agents"\n'
        '[[sessions]]\nname = "here"\n'
        f'[[sessions]]\nname = "there"\nhost = "me@box"\ncwd = "{hostile}"\n'
        'prompt = "say \\"$(rm -rf ~)\\"\\nthen stop"\nenv = { A = "1" }\n',
    )
    fleet = load_fleet(str(path))  # the remote cwd does not exist here: it is the host's
    assert [plan.name for plan in fleet.sessions] == ["here"]
    (part,) = fleet.remote
    assert (part.host, part.ssh, part.socket) == ("me@box", ("-p", "2222"), "agents")
    assert [s.name for s in part.sessions] == ["there"]
    generated = Layout.model_validate(tomllib.loads(part.layout))
    (session,) = generated.sessions
    assert session.cwd == hostile
    assert session.prompt == 'say "$(rm -rf ~)"\nthen stop'
    assert session.env == {"A": "1"} and session.host is None
    assert generated.hosts == {} and generated.defaults.agent == "shell"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[sessions]]\nname = "a"\nhost = "-oProxyCommand=touch /tmp/x"\n',
            "line 6, sessions[0] (a).host: not an SSH destination",
        ),
        (
            '[hosts.box]\nssh = ["-o", "StrictHostKeyChecking=no"]\n[[sessions]]\nname = "a"\n',
            "hosts.box.ssh: StrictHostKeyChecking=no turns off host key checking",
        ),
        (
            '[hosts.box]\nsocket = "a b"\n[[sessions]]\nname = "a"\n',
            "line 5, hosts.box.socket: use only letters",
        ),
        (
            '[hosts.box]\nport = 22\n[[sessions]]\nname = "a"\n',
            "line 5, hosts.box.port: unknown key",
        ),
        (
            '[[sessions]]\nname = "a"\nhost = "box"\n[[sessions]]\nname = "b"\nafter = ["a"]\n',
            "'a' runs on box, this session on this machine",
        ),
        (
            '[[sessions]]\nname = "a;rm"\nhost = "box"\n',
            "line 5, sessions[0] (a;rm).name: use only letters",
        ),
    ],
)
def test_bad_hosts_are_refused_naming_line_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(LayoutError, match=r"team\.toml") as caught:
        load_fleet(str(write(tmp_path, text)))
    assert expected in str(caught.value)


def test_remote_command_lines_are_quoted_argument_by_argument() -> None:
    connection = Connection("box", ("-p", "2222"))
    argv = ["orchestrator", "status", "a'b; touch x", "$(id)"]
    line = connection.command_argv(argv)
    assert shlex.split(line[-1]) == argv  # the remote shell gets back exactly these arguments
    assert line[line.index("--") + 1] == "box"  # the host can never be read as an option
    assert "BatchMode=yes" in line and "StrictHostKeyChecking=no" not in line
    assert line.index("BatchMode=yes") < line.index("2222")  # ours first: ssh keeps the first


def test_the_dashboards_questions_to_an_unreachable_host_back_off() -> None:
    from orchestrator.remote.poll import EVERY, LONGEST, backoff

    assert backoff(0) == EVERY
    assert [backoff(n) for n in (1, 2, 3)] == [2 * EVERY, 4 * EVERY, 8 * EVERY]
    assert backoff(50) == LONGEST
