"""Resume end to end: the real Claude Code CLI gets its layout prompt, exits, and ``restart``
brings its conversation back (the scripted API sees the earlier messages)."""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import libtmux
import psutil
import pytest

from orchestrator.cli.main import main
from orchestrator.fleet import up as fleet
from orchestrator.layout import load as layout
from orchestrator.store.db import Store
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import list_sessions
from orchestrator.watch import status
from tests.harness.claude_env import ClaudeHome
from tests.harness.mock_api import MockAnthropicAPI, TextReply
from tests.harness.screen import idle_screen
from tests.waiting import wait_for as _wait_for

pytestmark = pytest.mark.claude

FIRST = "Remember the word PINEAPPLE."
SECOND = "Which word did I ask you to remember?"


def test_restart_resumes_an_exited_claude_conversation(
    server: libtmux.Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    claude_bin: Path,
    claude_home: ClaudeHome,
    claude_project: Path,
    mock_api: MockAnthropicAPI,
) -> None:
    db = tmp_path / "history.sqlite3"
    monkeypatch.setenv("ORCHESTRATOR_DB", str(db))
    tmux = Tmux.from_server(server)
    socket = str(server.socket_name)
    env = {k: v for k, v in claude_home.env.items() if k != "TERM"}
    inline = ", ".join(f"{key} = {json.dumps(value)}" for key, value in env.items())
    path = tmp_path / "claudes.toml"
    path.write_text(
        f'name = "claudes"\n[defaults]\nagent = "claude"\nenv = {{ {inline} }}\n'
        f'[[sessions]]\nname = "dev-1"\ncwd = "{claude_project}"\n'
        f"command = [{json.dumps(str(claude_bin))}]\nprompt = {json.dumps(FIRST)}\n"
    )
    mock_api.enqueue(TextReply("I will remember it."))
    fleet.up(layout.load_fleet(str(path)), tmux, size=(200, 50))
    pane_id = list_sessions(tmux, "claudes")[0].pane_id

    def screen() -> str:
        return "\n".join(tmux.run(["capture-pane", "-p", "-t", pane_id]))

    def state() -> str:
        rows = status.status_rows(tmux, "claudes")
        return str(rows[0]["state"]) if rows else ""

    def prompt(text: str) -> None:
        tmux.run(["send-keys", "-t", pane_id, "-l", "--", text])
        time.sleep(0.2)  # Claude reads a fast paste and Enter as one paste otherwise
        tmux.run(["send-keys", "-t", pane_id, "Enter"])

    # The watcher types the layout's prompt once Claude is first idle, and records it.
    first = mock_api.wait_for_main_turns(1)[0]
    assert FIRST in first.user_texts()
    wait_for(lambda: state() == "idle" and idle_screen(screen()), what="idle after the reply")
    with Store(db) as store:
        assert [(p.text, p.source) for p in store.prompts("dev-1")] == [(FIRST, "layout")]
        conversation = store.latest_claude_session("claudes", "dev-1")
    assert conversation is not None
    prompt("/exit")
    wait_for(lambda: state() == "exited", what="exited")

    out = StringIO()
    with redirect_stdout(out):
        assert main(["-L", socket, "restart", "dev-1"]) == 0
    assert f"continuing conversation {conversation.claude_session_id}" in out.getvalue()
    pane = list_sessions(tmux, "claudes")[0]
    assert pane.pane_id == pane_id
    assert pane.resumed == conversation.claude_session_id
    assert pane.pane_pid is not None
    cmdline = psutil.Process(pane.pane_pid).cmdline()
    assert cmdline[-2:] == ["--resume", conversation.claude_session_id]
    wait_for(lambda: state() == "idle" and idle_screen(screen()), what="idle after restart")

    mock_api.enqueue(TextReply("PINEAPPLE."))
    prompt(SECOND)
    turns = mock_api.wait_for_main_turns(2)
    texts = turns[-1].user_texts()
    # The continued conversation carries the earlier exchange, and the layout prompt was not
    # typed a second time into the resumed session.
    assert FIRST in texts
    assert SECOND in texts
    assert texts.count(FIRST) == 1
    with Store(db) as store:
        assert [p.source for p in store.prompts("dev-1")] == ["layout"]
        states = [t.to_state for t in store.transitions("dev-1", fleet="claudes")]
    assert "exited" in states
    assert states.index("exited") < len(states) - 1


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """This module's default wait."""
    _wait_for(predicate, timeout, what)


def test_the_printed_resume_advice_resumes(
    server: libtmux.Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    claude_bin: Path,
    claude_home: ClaudeHome,
    claude_project: Path,
    mock_api: MockAnthropicAPI,
) -> None:
    """Issue 12 item 2: the tmux server dies; a non-interactive `up` starts new conversations
    and prints how to continue the old ones. Each printed command, run exactly as printed, brings
    back the conversation that holds the work (not the empty one that `up` just started)."""
    db = tmp_path / "history.sqlite3"
    monkeypatch.setenv("ORCHESTRATOR_DB", str(db))
    # A layout without `root`, brought up in the project: its sessions start there.
    monkeypatch.chdir(claude_project)
    tmux = Tmux.from_server(server)
    socket = str(server.socket_name)
    env = {k: v for k, v in claude_home.env.items() if k != "TERM"}
    inline = ", ".join(f"{key} = {json.dumps(value)}" for key, value in env.items())
    path = tmp_path / "claudes.toml"
    path.write_text(
        f'name = "claudes"\n[defaults]\nagent = "claude"\nenv = {{ {inline} }}\n'
        f'[[sessions]]\nname = "dev-1"\ncommand = [{json.dumps(str(claude_bin))}]\n'
    )
    session = Session(tmux)

    def run(*argv: str) -> str:
        out = StringIO()
        with redirect_stdout(out):
            assert main(list(argv)) == 0, out.getvalue()
        return out.getvalue()

    run("-L", socket, "up", str(path), "--detach")
    session.wait_idle("the first start")
    mock_api.enqueue(TextReply("I will remember it."))
    session.prompt(FIRST)
    mock_api.wait_for_main_turns(1)
    session.wait_idle("idle after the reply")
    with Store(db) as store:
        first = store.latest_claude_session("claudes", "dev-1")
    assert first is not None
    assert first.transcript_path is not None
    wait_for(first.transcript_path.is_file, what="the transcript")

    server.kill()  # the tmux server dies, and the fleet with it
    # It is brought up again from another folder (a subfolder, which Claude trusts too): its new
    # conversations start there, while the one with the work ran in the project.
    elsewhere = claude_project / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    advice = run("-L", socket, "up", str(path), "--detach")
    session.wait_idle("a new conversation")
    # The empty conversation this `up` started is in the history now, newer than the first.
    wait_for(lambda: len(claude_sessions(db)) == 2, what="the new conversation recorded")
    up_again, restart_force = re.findall(r"`(orchestrator [^`]+)`", advice)
    assert f"-L {socket}" in up_again
    assert str(path) in up_again
    # The printed commands are run later, from yet another folder.
    monkeypatch.chdir(tmp_path)

    # `restart NAME --force`, as printed (NAME filled in).
    out = run(*shlex.split(restart_force.replace("NAME", "dev-1"))[1:])
    assert f"continuing conversation {first.claude_session_id}" in out
    assert list_sessions(tmux, "claudes")[0].cwd == str(claude_project)
    session.wait_idle("idle after restart --force")
    mock_api.enqueue(TextReply("PINEAPPLE."))
    session.prompt(SECOND)
    texts = mock_api.wait_for_main_turns(2)[-1].user_texts()
    assert FIRST in texts
    assert SECOND in texts
    session.wait_idle("idle after the second reply")

    # `down`, then `up --resume`, as printed: the conversation goes on with both exchanges.
    run("-L", socket, "down", "claudes")
    out = run(*shlex.split(up_again)[1:])
    assert "started 1 session(s)" in out
    assert f"dev-1 continues its conversation in {claude_project}" in out
    pane = list_sessions(tmux, "claudes")[0]
    assert pane.cwd == str(claude_project)
    assert pane.resumed
    assert pane.pane_pid is not None
    assert psutil.Process(pane.pane_pid).cmdline()[-2:] == ["--resume", pane.resumed]
    session.wait_idle("idle after up --resume")
    mock_api.enqueue(TextReply("Still PINEAPPLE."))
    session.prompt("And again?")
    texts = mock_api.wait_for_main_turns(3)[-1].user_texts()
    assert FIRST in texts
    assert SECOND in texts


class Session:
    """The fleet's one Claude session, found again after each restart."""

    def __init__(self, tmux: Tmux) -> None:
        self.tmux = tmux

    def pane(self) -> str:
        panes = list_sessions(self.tmux, "claudes")
        return panes[0].pane_id if panes else ""

    def screen(self) -> str:
        return "\n".join(self.tmux.run(["capture-pane", "-p", "-t", self.pane()], check=False))

    def wait_idle(self, what: str) -> None:
        wait_for(lambda: bool(self.pane()) and idle_screen(self.screen()), what=what)

    def prompt(self, text: str) -> None:
        self.tmux.run(["send-keys", "-t", self.pane(), "-l", "--", text])
        time.sleep(0.2)  # Claude reads a fast paste and Enter as one paste otherwise
        self.tmux.run(["send-keys", "-t", self.pane(), "Enter"])


def claude_sessions(db: Path) -> list[str]:
    with Store(db) as store:
        return [c.claude_session_id for c in store.claude_sessions("claudes", "dev-1")]
