"""``[[on]]`` rules: which transitions match, what the command gets, and how failures end."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import pytest

from orchestrator.layout.model import OnRule
from orchestrator.subscribers import on_commands
from orchestrator.subscribers.on_commands import Event, OnCommands, argv, matches, run_command
from orchestrator.watch.model import SessionState, Transition

EVENT = Event("team", "dev-1", "working", "awaiting_input", "Bash: rm -rf build")


def rule(**fields: object) -> OnRule:
    return OnRule.model_validate({"run": ["true"], **fields})


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, True),
        ({"to": "awaiting_input"}, True),
        ({"to": "idle"}, False),
        ({"to": ["idle", "awaiting_input"]}, True),
        ({"from": "working"}, True),
        ({"from": "idle"}, False),
        ({"session": "dev-*"}, True),
        ({"session": ["test-?", "docs-4"]}, False),
        ({"fleet": "team"}, True),
        ({"fleet": "other"}, False),
        ({"to": "awaiting_input", "session": "test-2"}, False),
    ],
)
def test_matchers(fields: dict[str, object], expected: bool) -> None:
    assert matches(rule(**fields), EVENT) is expected


def test_placeholders_fill_arguments_without_a_shell() -> None:
    filled = argv(
        rule(run=["ntfy", "{session} needs you: {reason}", "{fleet}{from}>{to}", "$HOME"]), EVENT
    )
    assert filled == [
        "ntfy",
        "dev-1 needs you: Bash: rm -rf build",
        "teamworking>awaiting_input",
        "$HOME",
    ]


def test_command_gets_the_values_in_its_environment(tmp_path: Path) -> None:
    out = tmp_path / "env.txt"
    script = (
        "import os, sys; open(sys.argv[1], 'w').write(' '.join("
        "os.environ[k] for k in ('ORC_FLEET', 'ORC_SESSION', 'ORC_FROM', 'ORC_TO', 'ORC_REASON')))"
    )
    outcome = run_command([sys.executable, "-c", script, str(out)], EVENT.environment(), 10)
    assert outcome.problem == ""
    assert out.read_text() == "team dev-1 working awaiting_input Bash: rm -rf build"


def test_failures_are_described() -> None:
    failed = run_command([sys.executable, "-c", "print('boom'); raise SystemExit(3)"], {}, 10)
    assert failed.returncode == 3
    assert failed.problem == "exit status 3: boom"
    missing = run_command(["/nonexistent/notify-me"], {}, 10)
    assert missing.returncode is None
    assert "cannot run '/nonexistent/notify-me'" in missing.problem


def test_a_hanging_command_is_killed_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = f"sleep 60 & echo $! > {pid_file}; wait"
    outcome = run_command(["sh", "-c", script], {}, 0.5)
    assert outcome.problem == "timed out after 0.5s (killed)"
    child = int(pid_file.read_text())
    for _ in range(50):
        try:
            Path(f"/proc/{child}/stat").read_text()
        except FileNotFoundError:
            break
        if Path(f"/proc/{child}/stat").read_text().split()[2] == "Z":
            break
        time.sleep(0.05)
    else:
        pytest.fail("the hanging command's child outlived its timeout")


def transition(new: str, old: str = "working") -> tuple[Transition, SessionState]:
    t = Transition("team", "dev-1", "%1", old, new, time.time(), "hook", "why")
    state = SessionState("team", "dev-1", "", "claude", "%1", "/", new, time.time(), "why", "hook")
    return t, state


def test_subscriber_never_waits_and_logs_failures(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=on_commands.__name__)
    commands = OnCommands(
        [
            rule(to="idle", run=["sleep", "30"], timeout=1),
            rule(to="idle", run=[sys.executable, "-c", "raise SystemExit(7)"]),
            rule(to="exited", run=["true"]),
        ]
    )
    started = time.monotonic()
    commands(*transition("idle"))
    assert time.monotonic() - started < 0.5  # queued, not run, on the watcher's thread
    outcomes = [future.result(timeout=20) for future in commands.started]
    assert [o.problem.split(":")[0] for o in outcomes] == [
        "timed out after 1s (killed)",
        "exit status 7",
    ]
    assert "timed out after 1s" in caplog.text
    assert "exit status 7" in caplog.text
