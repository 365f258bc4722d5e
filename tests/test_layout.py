"""Layout files: validation, errors that name the line and field, lookup, schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator import paths
from orchestrator.cli.main import main
from orchestrator.errors import LayoutError
from orchestrator.layout import load as layout
from orchestrator.layout.model import json_schema

GOOD = """\
name = "team"
description = "a test fleet"
root = "."
arrange = "even-horizontal"

[env]
SHARED = "1"

[defaults]
agent = "shell"
args = ["--flag"]
env = { FROM_DEFAULTS = "yes" }

[[sessions]]
name = "dev-1"
role = "Primary implementation"
command = "sh -c 'echo hi'"

[[sessions]]
name = "test_2"
cwd = "sub"
command = ["sleep", "10"]
env = { SHARED = "2" }
prompt = "run the tests"
"""


def write(tmp_path: Path, text: str, name: str = "layout.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_layout_resolves(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    fleet = layout.load_fleet(str(write(tmp_path, GOOD)))
    assert fleet.name == "team"
    assert fleet.arrange == "even-horizontal"
    dev, test = fleet.sessions
    assert dev.argv == ("sh", "-c", "echo hi")
    assert dev.cwd == tmp_path
    assert dev.env == {"SHARED": "1", "FROM_DEFAULTS": "yes"}
    assert test.argv == ("sleep", "10")
    assert test.cwd == tmp_path / "sub"
    assert test.env["SHARED"] == "2"
    assert test.prompt == "run the tests"


def test_profile_default_command_gets_default_args(tmp_path: Path) -> None:
    text = '[defaults]\nagent = "shell"\nargs = ["-i"]\n[[sessions]]\nname = "a"\n'
    fleet = layout.load_fleet(str(write(tmp_path, 'name = "x"\n' + text)))
    assert fleet.sessions[0].argv[-1] == "-i"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'name = "x"\n[[sessions]]\nname = "a"\nagnet = "shell"\n',
            r"line 4, sessions\[0\] \(a\)\.agnet: unknown key",
        ),
        ('name = "x"\ncolour = 1\n[[sessions]]\nname = "a"\n', r"line 2, colour: unknown key"),
        (
            'name = "x"\n[[sessions]]\nname = "a"\nenv = "A=1"\n',
            r"line 4, sessions\[0\] \(a\)\.env: .*dictionary",
        ),
        (
            'name = "x"\n[[sessions]]\nname = "a"\n[[sessions]]\nname = "a"\n',
            r"line 5, sessions\[1\] \(a\)\.name: another session is already named 'a' \(line 3\)"
            r"\n  hint: .*rename one",
        ),
        (
            'name = "x"\n[[sessions]]\nname = "a b"\n',
            r"line 3, sessions\[0\] \(a b\)\.name: use only letters",
        ),
        (
            'name = "x"\n[[sessions]]\nname = "a;rm"\n',
            r"sessions\[0\] \(a;rm\)\.name: use only letters",
        ),
        ('name = "x y"\n[[sessions]]\nname = "a"\n', r"line 1, name: use only letters"),
        ('name = "x"\n', r"sessions: missing; add at least one session: a `\[\[sessions\]\]` line"),
        ('name = "x"\nsessions = []\n', r"line 2, sessions: no sessions; add at least one"),
        ('[[sessions]]\nname = "a"\n', r"  name: missing; add `name = \"my-fleet\"` at the top"),
        (
            'name = "x"\n[[sessions]]\nrole = "r"\n',
            r"line 2, sessions\[0\]\.name: missing; every \[\[sessions\]\] table needs",
        ),
        ('name = "x"\nroot = 1\n[[sessions]]\nname = "a"\n', r"line 2, root: .*string"),
        ('name = "x"\ncolor = 1\n[[sessions]]\nname = "a"\n', r"`orchestrator schema` lists"),
        ('name = "x"\n[[sessions]]\nname = "a"\ncommand = ""\n', r"command is empty"),
        (
            'name = "x"\narrange = "spiral"\n[[sessions]]\nname = "a"\n',
            r"line 2, arrange: Input should be",
        ),
        (
            'name = "x"\n[defaults]\nworktree = "maybe"\n[[sessions]]\nname = "a"\n',
            r"line 3, defaults\.worktree",
        ),
    ],
)
def test_invalid_layouts_name_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(LayoutError, match=expected) as info:
        layout.load_fleet(str(path))
    assert str(path) in str(info.value)


def test_toml_syntax_error_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "x"\n[[sessions]\nname = "a"\n')
    with pytest.raises(LayoutError, match=r"not valid TOML: .*line 2"):
        layout.load_fleet(str(path))


def test_missing_file() -> None:
    with pytest.raises(LayoutError, match=r"nope\.toml: no such layout file"):
        layout.load_fleet("nope.toml")


def test_unknown_layout_name() -> None:
    with pytest.raises(LayoutError, match="no layout named 'no-such-fleet'"):
        layout.load_fleet("no-such-fleet")


def test_missing_cwd(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "x"\n[[sessions]]\nname = "a"\nagent = "shell"\ncwd = "gone"\n')
    with pytest.raises(
        LayoutError,
        match=r"line 5, sessions\[0\] \(a\)\.cwd: folder .*gone does not exist\n  hint: create",
    ):
        layout.load_fleet(str(path))


def test_missing_cwd_from_defaults_names_its_line(tmp_path: Path) -> None:
    text = 'name = "x"\n[defaults]\nagent = "shell"\ncwd = "gone"\n[[sessions]]\nname = "a"\n'
    with pytest.raises(
        LayoutError, match=r"line 4, defaults\.cwd \(for sessions\[0\] \(a\)\): folder"
    ):
        layout.load_fleet(str(write(tmp_path, text)))


def test_unknown_agent(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "x"\n[[sessions]]\nname = "a"\nagent = "gpt"\n')
    with pytest.raises(
        LayoutError,
        match=r"line 4, sessions\[0\] \(a\)\.agent: unknown agent 'gpt'\n.*use one of: "
        r"aider, claude, codex, gemini, shell",
    ):
        layout.load_fleet(str(path))
    text = 'name = "x"\n[defaults]\nagent = "gpt"\n[[sessions]]\nname = "a"\n'
    with pytest.raises(LayoutError, match=r"line 3, defaults\.agent \(for sessions\[0\] \(a\)\)"):
        layout.load_fleet(str(write(tmp_path, text)))


def test_role_in_defaults_is_every_session_role_unless_its_own(tmp_path: Path) -> None:
    text = (
        'name = "x"\n[defaults]\nagent = "shell"\nrole = "reviewer"\n'
        '[[sessions]]\nname = "a"\n[[sessions]]\nname = "b"\nrole = "writer"\n'
        '[[sessions]]\nname = "c"\nrole = ""\n'
    )
    fleet = layout.load_fleet(str(write(tmp_path, text)))
    assert [plan.role for plan in fleet.sessions] == ["reviewer", "writer", ""]


def test_default_args_only_reach_the_defaults_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The README's own example: Claude's flags in [defaults], and a shell session beside them.
    monkeypatch.setenv("SHELL", "/bin/sh")
    text = (
        'name = "x"\n[defaults]\nagent = "claude"\nargs = ["--model", "sonnet"]\n'
        '[[sessions]]\nname = "dev"\n'
        '[[sessions]]\nname = "sh"\nagent = "shell"\n'
        '[[sessions]]\nname = "own"\ncommand = "claude --model opus"\n'
        '[[sessions]]\nname = "extra"\nagent = "shell"\nargs = ["-i"]\n'
    )
    fleet = layout.load_fleet(str(write(tmp_path, text)), check_commands=False)
    dev, shell, own, extra = (plan.argv for plan in fleet.sessions)
    assert dev[-2:] == ("--model", "sonnet")
    assert shell == ("/bin/sh",)
    assert own == ("claude", "--model", "opus")
    assert extra == ("/bin/sh", "-i")


def test_command_not_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    path = write(tmp_path, 'name = "x"\n[[sessions]]\nname = "a"\nagent = "claude"\n')
    with pytest.raises(
        LayoutError, match=r"'claude' was not found on PATH\n  hint: install Claude"
    ):
        layout.load_fleet(str(path))


def test_session_env_path_is_used_to_find_command(tmp_path: Path) -> None:
    tool = tmp_path / "bin" / "mytool"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    text = (
        'name = "x"\n[[sessions]]\nname = "a"\nagent = "shell"\ncommand = "mytool"\n'
        f'env = {{ PATH = "{tool.parent}" }}\n'
    )
    assert layout.load_fleet(str(write(tmp_path, text))).sessions[0].argv == ("mytool",)


def test_command_string_is_split_without_a_shell(tmp_path: Path) -> None:
    text = (
        'name = "x"\n[[sessions]]\nname = "a"\nagent = "shell"\n'
        """command = "echo 'a b' \\"c;d\\" $(whoami) `id` | wc"\n"""
    )
    argv = layout.load_fleet(str(write(tmp_path, text))).sessions[0].argv
    assert argv == ("echo", "a b", "c;d", "$(whoami)", "`id`", "|", "wc")


def test_root_is_relative_to_the_layout_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "proj" / "src").mkdir(parents=True)
    path = write(
        tmp_path / "proj", 'name = "x"\nroot = "src"\n[[sessions]]\nname = "a"\nagent = "shell"\n'
    )
    monkeypatch.chdir("/")
    assert layout.load_fleet(str(path)).sessions[0].cwd == tmp_path / "proj" / "src"


def test_builtin_layout_root_is_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    fleet = layout.load_fleet(None, check_commands=False)
    assert fleet.name == "parallel-5"
    assert {session.cwd for session in fleet.sessions} == {tmp_path}


def test_the_default_starts_where_up_runs_whichever_copy_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repo_root: Path
) -> None:
    # Inside a clone, `./layouts/parallel-5.toml` is found as a project layout; a copy in the
    # user's config folder is found the same way. Either way the agents start where `up` runs.
    shipped = (repo_root / "layouts" / "parallel-5.toml").read_text()
    for folder in (tmp_path / "layouts", paths.config_dir() / "layouts"):
        folder.mkdir(parents=True)
        (folder / "parallel-5.toml").write_text(shipped)
        monkeypatch.chdir(tmp_path)
        found, origin = layout.locate_layout(None)
        assert found == (folder / "parallel-5.toml").resolve(), origin
        fleet = layout.load_fleet(None, check_commands=False)
        assert {session.cwd for session in fleet.sessions} == {tmp_path}, origin
        assert fleet.root == tmp_path
        (folder / "parallel-5.toml").unlink()


def test_relative_root_means_the_layout_files_folder_wherever_it_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_dir = paths.config_dir() / "layouts"
    (user_dir / "work").mkdir(parents=True)
    write(
        user_dir,
        'name = "u"\nroot = "work"\n[[sessions]]\nname = "a"\nagent = "shell"\n',
        "u.toml",
    )
    monkeypatch.chdir(tmp_path)
    assert layout.load_fleet("u").sessions[0].cwd == (user_dir / "work").resolve()
    # Without `root`, the base is the folder the command runs in (or the one it is given).
    write(
        tmp_path, 'name = "v"\n[[sessions]]\nname = "a"\nagent = "shell"\ncwd = "sub"\n', "v.toml"
    )
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir("/")
    with pytest.raises(LayoutError, match="cwd: folder /sub does not exist"):
        layout.load_fleet(str(tmp_path / "v.toml"))
    assert layout.load_fleet(str(tmp_path / "v.toml"), here=tmp_path).sessions[0].cwd == (
        tmp_path / "sub"
    )


def test_lookup_order_project_then_user_then_builtin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    user_dir = paths.config_dir() / "layouts"
    user_dir.mkdir(parents=True)
    write(user_dir, 'name = "mine"\n[[sessions]]\nname = "u"\nagent = "shell"\n', "parallel-5.toml")
    assert layout.find_layout("parallel-5") == (user_dir / "parallel-5.toml").resolve()
    (tmp_path / "layouts").mkdir()
    write(
        tmp_path / "layouts",
        'name = "proj"\n[[sessions]]\nname = "p"\nagent = "shell"\n',
        "parallel-5.toml",
    )
    assert layout.find_layout("parallel-5") == (tmp_path / "layouts" / "parallel-5.toml").resolve()
    entries = [entry for entry in layout.list_layouts() if entry.name == "parallel-5"]
    assert [(e.origin, e.shadowed) for e in entries] == [
        ("project", False),
        ("user", True),
        ("built-in", True),
    ]


def test_default_layout_is_the_five_roles() -> None:
    fleet = layout.load_fleet(None, check_commands=False)
    assert [(s.name, s.role, s.agent.name) for s in fleet.sessions] == [
        ("dev-1", "Primary implementation", "claude"),
        ("test-2", "Testing", "claude"),
        ("research-3", "Research and exploration", "claude"),
        ("docs-4", "Documentation", "claude"),
        ("git-5", "Git operations", "claude"),
    ]


def shipped_layouts(root: Path) -> list[Path]:
    return sorted([*root.glob("layouts/*.toml"), *root.glob("examples/*.toml")])


def test_every_shipped_layout_and_example_validates(
    repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo_root)
    files = shipped_layouts(repo_root)
    assert len(files) >= 4
    for path in files:
        fleet = layout.resolve(layout.load_layout(path), path, check_commands=False)
        assert fleet.sessions, path


def test_schema_file_is_current(repo_root: Path) -> None:
    on_disk = json.loads((repo_root / "layouts" / "schema.json").read_text())
    assert on_disk == json_schema(), "run: orchestrator schema -o layouts/schema.json"


def test_schema_rejects_unknown_keys() -> None:
    schema = json_schema()
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["Session"]["additionalProperties"] is False
    assert "description" in schema["$defs"]["Session"]["properties"]["prompt"]


def test_validate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(
        tmp_path, 'name = "x"\n[[sessions]]\nname = "a"\nagent = "shell"\ncommand = "sleep 1"\n'
    )
    assert main(["validate", str(good)]) == 0
    assert "ok: fleet 'x' with 1 session(s)" in capsys.readouterr().out
    bad = write(tmp_path, 'name = "x"\n[[sessions]]\nname = "a"\nbogus = 1\n', "bad.toml")
    assert main(["validate", str(bad)]) == 2
    assert "line 4, sessions[0] (a).bogus: unknown key" in capsys.readouterr().err


def test_layouts_command_lists_builtin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["layouts"]) == 0
    out = capsys.readouterr().out
    assert "parallel-5" in out
    assert "[default]" in out
