"""Check-ins, the session cap and ``[[on]]`` tables: in a layout and in the user's workflow.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import LayoutError
from orchestrator.layout import load as layout
from orchestrator.layout import user
from orchestrator.layout.model import Workflow, checkin_seconds

HEAD = 'name = "x"\n[[sessions]]\nname = "a"\n'


def write(tmp_path: Path, text: str, name: str = "layout.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HEAD + '[[on]]\nto = "waiting"\nrun = ["echo"]\n', r"line 5, on\[0\]\.to: unknown state"),
        (
            HEAD + '[[on]]\nrun = ["echo"]\n[[on]]\nfrom = ["idle", "busy"]\nrun = ["x"]\n',
            r"line 7, on\[1\]\.from: unknown state 'busy'",
        ),
        (HEAD + '[[on]]\nto = "idle"\nrun = []\n', r"line 6, on\[0\]\.run: run is empty"),
        (HEAD + '[[on]]\nto = "idle"\nrun = [""]\n', r"line 6, on\[0\]\.run: run is empty"),
        (HEAD + '[[on]]\nto = "idle"\n', r"on\[0\]\.run: missing; add `run = \.\.\.`"),
        (HEAD + '[[on]]\nrun = ["x"]\nwhen = 1\n', r"line 6, on\[0\]\.when: unknown key"),
        (HEAD + '[[on]]\nrun = ["x"]\ntimeout = 0\n', r"line 6, on\[0\]\.timeout"),
        ('name = "x"\ncheckin = "soon"\n[[sessions]]\nname = "a"\n', r"line 2, checkin: not a"),
        ('name = "x"\ncheckin = "0m"\n[[sessions]]\nname = "a"\n', r"line 2, checkin: .*longer"),
        ('name = "x"\nmax_sessions = 0\n[[sessions]]\nname = "a"\n', r"line 2, max_sessions"),
    ],
)
def test_invalid_workflow_settings_name_line_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(LayoutError, match=expected):
        layout.load_layout(path)


def test_layout_workflow_settings_are_read(tmp_path: Path) -> None:
    text = (
        'name = "x"\ncheckin = "90s"\nmax_sessions = 8\n[[sessions]]\nname = "a"\n'
        '[[on]]\nto = "awaiting_input"\nfrom = ["working", "idle"]\nsession = "dev-*"\n'
        'run = ["ntfy", "{session} needs you"]\ntimeout = 3\n'
    )
    parsed = layout.load_layout(write(tmp_path, text))
    assert parsed.checkin == "90s"
    assert parsed.max_sessions == 8
    (rule,) = parsed.on
    assert rule.to == "awaiting_input"
    assert rule.from_ == ["working", "idle"]
    assert rule.run == ["ntfy", "{session} needs you"]
    assert rule.timeout == 3


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("20m", 1200.0), ("90s", 90.0), ("1h30m", 5400.0), ("2h", 7200.0), ("OFF", None)],
)
def test_checkin_durations(text: str, seconds: float | None) -> None:
    assert checkin_seconds(text) == seconds


def test_user_file_missing_is_empty(tmp_path: Path) -> None:
    assert user.load_user_workflow(tmp_path / "workflow.toml") == Workflow()


def test_user_file_invalid_names_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, 'checkin = "10m"\n\n[[on]]\nto = "idel"\nrun = ["x"]\n', "workflow.toml")
    with pytest.raises(LayoutError, match=r"workflow\.toml: the workflow settings file") as info:
        user.load_user_workflow(path)
    assert "line 4, on[0].to: unknown state 'idel'" in str(info.value)


def test_user_file_rejects_layout_keys(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "x"\n', "workflow.toml")
    with pytest.raises(LayoutError, match=r"line 1, name: unknown key"):
        user.load_user_workflow(path)


def test_layout_wins_over_user_and_rules_add_up() -> None:
    mine = Workflow.model_validate(
        {"checkin": "5m", "max_sessions": 3, "on": [{"to": "idle", "run": ["a"]}]}
    )
    theirs = Workflow.model_validate({"on": [{"to": "exited", "run": ["b"]}]})
    merged = user.settings(theirs, mine)
    assert merged.checkin == 300.0
    assert merged.max_sessions == 3
    assert [rule.run for rule in merged.rules] == [["a"], ["b"]]
    defaults = user.settings(None, None)
    assert (defaults.checkin, defaults.max_sessions, defaults.rules) == (1200.0, 5, ())
    off = user.settings(Workflow(checkin="off"), mine)
    assert off.checkin is None
