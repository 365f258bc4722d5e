"""The layout's workflow keys: roles told to the agent, agent options, and pipelines
(``after``/``needs``), with the errors `validate` gives for a bad pipeline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator.cli.main import main
from orchestrator.errors import LayoutError
from orchestrator.fleet.commands import pane_spec
from orchestrator.layout import load as layout

PIPELINE = """\
name = "pipe"

[defaults]
agent = "claude"
instructions = "Commit often."

[[sessions]]
name = "research-3"
role = "Study the code and write findings"
command = ["claude"]
permission_mode = "acceptEdits"
model = "sonnet"

[[sessions]]
name = "dev-1"
role = "Implement what research found"
command = ["claude"]
after = ["research-3"]
needs = ["findings.md", "./notes/../plan.md"]
instructions = "Run the tests before you stop."

[[sessions]]
name = "quiet"
command = ["claude", "--verbose"]
tell_role = false
"""


def write(tmp_path: Path, text: str, name: str = "layout.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_pipeline_and_agent_options_resolve(tmp_path: Path) -> None:
    research, dev, quiet = layout.load_fleet(
        str(write(tmp_path, PIPELINE)), check_commands=False
    ).sessions
    assert (dev.after, dev.needs, dev.waits) == (("research-3",), ("findings.md", "plan.md"), True)
    assert not research.waits
    assert (research.model, research.permission_mode) == ("sonnet", "acceptEdits")
    # Its name, role, the others and their roles, then [defaults] and its own instructions.
    assert 'You are "dev-1", one session of the agent fleet "pipe".' in dev.system_prompt
    assert "Your role: Implement what research found" in dev.system_prompt
    assert "- research-3: Study the code and write findings" in dev.system_prompt
    assert "- quiet: no role set" in dev.system_prompt
    assert "- dev-1" not in dev.system_prompt
    assert dev.system_prompt.endswith("Commit often.\n\nRun the tests before you stop.")
    assert quiet.system_prompt == "Commit often."


def test_claude_gets_name_role_model_and_mode_before_the_layout_args(tmp_path: Path) -> None:
    fleet = layout.load_fleet(str(write(tmp_path, PIPELINE)), check_commands=False)
    research, _, quiet = fleet.sessions
    argv = pane_spec(fleet, research)[1][1:]
    assert argv[0] == "claude"
    assert argv[1] == "--settings"
    flags = argv[3:]
    assert flags[:2] == ["--name", "research-3"]
    assert flags[2] == "--append-system-prompt"
    assert "Your role: Study the code" in flags[3]
    assert flags[4:] == ["--model", "sonnet", "--permission-mode", "acceptEdits"]
    quiet_argv = pane_spec(fleet, quiet)[1][1:]
    assert quiet_argv[3:] == [
        "--name", "quiet", "--append-system-prompt", "Commit often.", "--verbose"
    ]  # fmt: skip


def test_a_wrapper_command_and_a_shell_get_no_agent_flags(tmp_path: Path) -> None:
    text = (
        'name = "w"\n[[sessions]]\nname = "a"\nagent = "claude"\ncommand = "sh -c true"\n'
        '[[sessions]]\nname = "b"\nagent = "shell"\ncommand = "sleep 5"\nrole = "r"\n'
    )
    fleet = layout.load_fleet(str(write(tmp_path, text)))
    assert [pane_spec(fleet, plan)[1][1:] for plan in fleet.sessions] == [
        ["sh", "-c", "true"],
        ["sleep", "5"],
    ]


@pytest.mark.parametrize(
    ("sessions", "expected"),
    [
        (
            '[[sessions]]\nname = "a"\n[[sessions]]\nname = "b"\nafter = ["nobody"]\n',
            r"line 6, sessions\[1\] \(b\)\.after: no session is named 'nobody'; use one of: a",
        ),
        (
            '[[sessions]]\nname = "a"\nafter = ["a"]\n',
            r"line 4, sessions\[0\] \(a\)\.after: 'a' is this session",
        ),
        (
            '[[sessions]]\nname = "a"\nafter = ["c"]\n[[sessions]]\nname = "b"\nafter = ["a"]\n'
            '[[sessions]]\nname = "c"\nprompt = "x"\nafter = ["b"]\n',
            r"line 4, sessions\[0\] \(a\)\.after: `after` makes a cycle \(a -> c -> b -> a\)",
        ),
        (
            '[[sessions]]\nname = "a"\nneeds = ["../../etc/passwd"]\n',
            r"line 4, sessions\[0\] \(a\)\.needs: '\.\./\.\./etc/passwd' leaves the session's",
        ),
        (
            '[[sessions]]\nname = "a"\nneeds = ["/etc/passwd"]\n',
            r"line 4, sessions\[0\] \(a\)\.needs: '/etc/passwd' is not relative",
        ),
        (
            '[[sessions]]\nname = "a"\nneeds = ["sub/../../x"]\n',
            r"needs: 'sub/\.\./\.\./x' leaves the session's folder",
        ),
    ],
)
def test_validate_rejects_a_bad_pipeline_with_file_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sessions: str, expected: str
) -> None:
    path = write(tmp_path, 'name = "x"\n' + sessions)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert re.search(expected, err), err
    with pytest.raises(LayoutError, match=expected):
        layout.load_fleet(str(path), check_commands=False)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (
            'permission_mode = "yolo"',
            r"(?s)permission_mode: claude does not know 'yolo'.*acceptEdits",
        ),
        ('agent = "shell"\nmodel = "opus"', r"model: agent 'shell' has no model setting"),
    ],
)
def test_agent_options_the_agent_does_not_take_are_refused(
    tmp_path: Path, setting: str, expected: str
) -> None:
    path = write(tmp_path, f'name = "x"\n[[sessions]]\nname = "a"\n{setting}\n')
    with pytest.raises(LayoutError, match=expected) as info:
        layout.load_fleet(str(path), check_commands=False)
    assert "sessions[0] (a)" in str(info.value)
