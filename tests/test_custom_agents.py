"""Agents of your own: ``[agents.NAME]`` in a layout or the user's ``agents.toml``, validated with
the file, line and field; and a session of one read through its rules by the real watcher."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import libtmux
import pytest

from orchestrator import paths
from orchestrator.agents import custom
from orchestrator.agents.catalog import profile_of
from orchestrator.detect.model import State
from orchestrator.detect.screen import classify
from orchestrator.errors import LayoutError
from orchestrator.fleet import up as fleet_up
from orchestrator.layout import load as layout
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import list_sessions
from orchestrator.watch import status

AGENT = """
[agents.toy]
command = ["toy-agent"]
process_names = ["toy-agent"]

[[agents.toy.rules]]
name = "ask"
state = "awaiting_input"
pattern = '^Run (.+)\\? \\[y/n\\]'
reason = "Shell: {1}"

[[agents.toy.rules]]
name = "busy"
state = "working"
pattern = '^busy'
reason = "thinking"

[[agents.toy.rules]]
name = "prompt"
state = "idle"
pattern = '^toy> *$'
reason = "at the prompt"
"""


def write(folder: Path, text: str, name: str = "fleet.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_a_layouts_own_agent_is_a_profile_with_its_rules(tmp_path: Path) -> None:
    text = f'name = "f"\n{AGENT}\n[[sessions]]\nname = "a"\nagent = "toy"\n'
    fleet = layout.load_fleet(str(write(tmp_path, text)), check_commands=False)
    plan = fleet.sessions[0]
    assert plan.agent.name == "toy"
    assert plan.argv == ("toy-agent",)
    assert plan.agent.process_names == ("toy-agent",)
    assert set(fleet.agents) == {"toy"}
    rules = plan.agent.rules()
    assert rules is not None
    match = classify("toy> hello\nbusy\nRun make test? [y/n]\n", rules)
    assert match is not None
    assert (match.state, match.reason) == (State.AWAITING_INPUT, "Shell: make test")


def test_the_users_agents_file_serves_every_layout(tmp_path: Path) -> None:
    paths.config_dir().mkdir(parents=True, exist_ok=True)
    custom.user_path().write_text(AGENT)
    text = 'name = "f"\n[[sessions]]\nname = "a"\nagent = "toy"\n'
    fleet = layout.load_fleet(str(write(tmp_path, text)), check_commands=False)
    assert fleet.sessions[0].agent.name == "toy"


BROKEN = [
    (
        ('state = "awaiting_input"', 'state = "waiting"'),
        r"line 9, agents\.toy\.rules\[0\] \(ask\)\.state: Input should be",
    ),
    (
        ("pattern = '^busy'", "pattern = '^(busy'"),
        r"line 16, agents\.toy\.rules\[1\] \(busy\)\.pattern: not a valid regular",
    ),
    (
        ('process_names = ["toy-agent"]', 'process_name = ["toy-agent"]'),
        r"line 5, agents\.toy\.process_name: unknown key",
    ),
    (("[agents.toy]", "[agents.claude]"), r"line 3, agents\.claude: 'claude' is a built-in"),
]


@pytest.mark.parametrize(("broken", "message"), BROKEN)
def test_errors_name_the_file_line_and_field(
    tmp_path: Path, broken: tuple[str, str], message: str
) -> None:
    body = AGENT.replace(*broken)
    if broken[0] == "[agents.toy]":
        body = body.replace("agents.toy.rules", "agents.claude.rules")
    text = f'name = "f"\n{body}\n[[sessions]]\nname = "a"\nagent = "shell"\n'
    path = write(tmp_path, text)
    with pytest.raises(LayoutError, match=message) as caught:
        layout.load_fleet(str(path), check_commands=False)
    assert str(path) in str(caught.value)


def test_a_broken_users_file_is_named(tmp_path: Path) -> None:
    paths.config_dir().mkdir(parents=True, exist_ok=True)
    custom.user_path().write_text(AGENT.replace('name = "busy"', 'nam = "busy"'))
    text = 'name = "f"\n[[sessions]]\nname = "a"\nagent = "shell"\n'
    where = r"(?s)agents\.toml.*line 13, agents\.toy\.rules\[1\]\.nam: unknown key"
    with pytest.raises(LayoutError, match=where):
        layout.load_fleet(str(write(tmp_path, text)), check_commands=False)


TOY = """
import sys, time
def ask(text):
    sys.stdout.write(text); sys.stdout.flush(); return sys.stdin.readline().strip()
while True:
    line = ask("toy> ")
    if line == "quit":
        break
    print("busy", flush=True)
    time.sleep(2)
    if line.startswith("run "):
        ask(f"Run {line[4:]}? [y/n] ")
"""


def test_a_session_of_ones_own_agent_is_read_by_its_rules(
    server: libtmux.Server, tmp_path: Path
) -> None:
    """A scripted program stands for the agent (the profile is what is under test): the real
    watcher reads it idle, working, awaiting input with the command, idle and exited."""
    script = write(tmp_path, TOY, "toy-agent")
    agent = AGENT.replace('["toy-agent"]\nprocess', f'["{sys.executable}", "{script}"]\nprocess')
    text = f'name = "toys"\n{agent}\n[[sessions]]\nname = "t1"\nagent = "toy"\n'
    tmux = Tmux.from_server(server)
    fleet_up.up(layout.load_fleet(str(write(tmp_path, text))), tmux, size=(120, 30))
    pane = list_sessions(tmux, "toys")[0]
    assert profile_of("toy", "toys").name == "toy"

    def wait(state: str, reason: str = "") -> None:
        end = time.monotonic() + 20
        row: dict[str, object] = {}
        while time.monotonic() < end:
            row = status.status_rows(tmux, "toys")[0]
            if row["state"] == state and reason in str(row["reason"]):
                return
            time.sleep(0.1)
        raise AssertionError(f"wanted {state} ({reason}), got {row}")

    def say(text: str) -> None:
        tmux.run(["send-keys", "-t", pane.pane_id, "-l", text])
        tmux.run(["send-keys", "-t", pane.pane_id, "Enter"])

    wait("idle", "at the prompt")
    say("run make test")
    wait("working", "thinking")
    wait("awaiting_input", "Shell: make test")
    say("y")
    wait("idle", "at the prompt")
    say("quit")
    wait("exited")


def test_the_shipped_example_reads_opencodes_screens(repo_root: Path) -> None:
    """Screens of opencode 1.18.33 (run here, offline) against examples/opencode.toml."""
    path = repo_root / "examples" / "opencode.toml"
    fleet = layout.resolve(layout.load_layout(path), path, check_commands=False)
    rules = fleet.sessions[0].agent.rules()
    assert rules is not None
    idle = (
        '  ┃  Ask anything… "What is the tech stack of this project?"\n'
        "  ┃  Build · Mock Mock\n"
        "                                        tab agents  ctrl+p commands\n"
        "  /tmp/agx/ocrun/proj                                        1.18.33\n"
    )
    match = classify(idle, rules)
    assert match is not None and match.state == State.IDLE
    # Captured from opencode's TUI here (blank lines dropped): idle, and a turn under way ("esc
    # interrupt" beside its progress bar, on the line of the idle footer).
    recorded = repo_root / "tests" / "screens" / "opencode-1.18.33" / "w120"
    for case, state in (("startup-idle", State.IDLE), ("working", State.WORKING)):
        match = classify((recorded / f"{case}.txt").read_text(encoding="utf-8"), rules)
        assert match is not None and match.state == state, (case, match)
    # Not recorded (opencode's TUI sent no turn to the scripted server): the prompt as seen
    # elsewhere.
    permission = "△ Permission required\n  $ npm test\n  Allow once   Allow always   Reject\n"
    match = classify(permission, rules)
    assert match is not None and match.state == State.AWAITING_INPUT


def test_recording_keeps_the_agents_recorded_before(tmp_path: Path) -> None:
    first = custom.AgentSpec(command=["one"])
    second = custom.AgentSpec(command=["two"], process_names=["two"])
    custom.record("f", {"one": first}, tmp_path)
    custom.record("f", {"two": second}, tmp_path)
    recorded = custom.recorded("f", tmp_path)
    assert set(recorded) == {"one", "two"}
    assert recorded["two"].process_names == ("two",)
    assert profile_of("two", "f", tmp_path).command == ("two",)
