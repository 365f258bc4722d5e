"""Check-ins, ``[[on]]`` commands and ``events`` end to end: the real Claude Code CLI in a real
tmux fleet, driven by the scripted API, with the watcher that ``up`` starts.

One fleet, one session, one turn: the layout's prompt gets a ``Bash`` call, so the session goes
idle -> working -> awaiting input; Esc takes it back to idle (by way of working, as Claude
prints "Interrupted"). Along the way:

- ``[[on]]`` commands run with the right arguments and environment; a failing one, a hanging one
  (killed at its timeout) and a missing program are reported in the fleet's log, and the watcher
  keeps reporting (the next transition is published and runs its command while the hanging one
  still hangs);
- a check-in digest (every 5 s here) reaches the notifier (a ``notify-send`` that records its
  arguments, on PATH) no sooner than the interval, naming the session awaiting input;
- ``events --json`` streams the prompt and every transition as JSON lines while they happen.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import libtmux
import pytest

from orchestrator.fleet import up as fleet
from orchestrator.layout import load as layout
from orchestrator.runtime import fleet_dir
from orchestrator.store.events import KEYS
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import list_sessions
from orchestrator.watch import status
from tests.harness.claude_env import ClaudeHome
from tests.harness.mock_api import MockAnthropicAPI, bash_tool_use
from tests.harness.screen import PERMISSION_QUESTION
from tests.waiting import wait_for

pytestmark = pytest.mark.claude

PROMPT = "Run the test suite"
INTERVAL = 5.0
RECORDER = (
    "import json, os, sys, time; "
    "keys = ('ORC_FLEET', 'ORC_SESSION', 'ORC_FROM', 'ORC_TO', 'ORC_REASON'); "
    "line = {'argv': sys.argv[2:], 'env': {k: os.environ.get(k) for k in keys}, 't': time.time()}; "
    "open(sys.argv[1], 'a').write(json.dumps(line) + '\\n')"
)


def _layout(claude_home: ClaudeHome, project: Path, claude_bin: Path, record: Path) -> str:
    env = {k: v for k, v in claude_home.env.items() if k != "TERM"}
    inline = ", ".join(f"{key} = {json.dumps(value)}" for key, value in env.items())
    recorder = [sys.executable, "-c", RECORDER, str(record)]
    placeholders = ["{session}", "{reason}", "{fleet}", "{from}", "{to}"]
    return (
        f'name = "claudes"\ncheckin = "{INTERVAL:g}s"\n'
        f'[defaults]\nagent = "claude"\nenv = {{ {inline} }}\n'
        f'[[sessions]]\nname = "dev-1"\ncwd = "{project}"\n'
        f"command = [{json.dumps(str(claude_bin))}]\nprompt = {json.dumps(PROMPT)}\n"
        f'[[on]]\nto = "awaiting_input"\nrun = {json.dumps([*recorder, *placeholders])}\n'
        '[[on]]\nto = "awaiting_input"\nrun = ["sh", "-c", "echo broken >&2; exit 3"]\n'
        '[[on]]\nto = "awaiting_input"\nrun = ["sleep", "60"]\ntimeout = 3\n'
        '[[on]]\nfrom = "awaiting_input"\nrun = ["/nonexistent/orc-hook"]\n'
        f'[[on]]\nfrom = ["awaiting_input", "working"]\nto = "idle"\nsession = "dev-*"\n'
        f"run = {json.dumps([*recorder, 'back', '{to}'])}\n"
    )


def _fake_notify_send(folder: Path, record: Path) -> None:
    folder.mkdir()
    script = folder / "notify-send"
    script.write_text(
        f'#!/bin/sh\n{{ date +%s.%N; printf "%s\\n" "$@"; echo ---; }} >> "{record}"\n'
    )
    script.chmod(0o755)


def _lines(
    process: subprocess.Popen[bytes],
    until: float,
    enough: Callable[[list[dict[str, object]]], bool] | None = None,
) -> list[dict[str, object]]:
    """Every JSON line ``events`` printed before ``until`` (monotonic), or until ``enough`` says
    the lines read so far are all that is awaited (a loaded machine may print them late)."""
    assert process.stdout is not None
    found: list[dict[str, object]] = []
    while (left := until - time.monotonic()) > 0:
        if enough is not None and enough(found):
            break
        if not select.select([process.stdout], [], [], left)[0]:
            break
        line = process.stdout.readline()
        if not line:
            break
        found.append(json.loads(line))
    return found


def _back_to_idle(lines: list[dict[str, object]]) -> bool:
    """dev-1's stream has come back to idle after awaiting input."""
    mine = [x for x in lines if x["session"] == "dev-1" and x["kind"] == "transition"]
    waited = [i for i, x in enumerate(mine) if x["to"] == "awaiting_input"]
    return bool(waited) and mine[-1]["to"] == "idle" and waited[0] < len(mine) - 1


def test_checkin_on_commands_and_events_with_claude(
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
    notes, record = tmp_path / "notes.txt", tmp_path / "on.jsonl"
    _fake_notify_send(tmp_path / "bin", notes)
    # The tmux server starts with this PATH, and the watcher inherits it from there.
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    tmux = Tmux.from_server(server)
    path = tmp_path / "claudes.toml"
    path.write_text(_layout(claude_home, claude_project, claude_bin, record))

    events = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "events", "--json", "--fleet", "claudes"],
        stdout=subprocess.PIPE,
        bufsize=0,
    )
    try:
        mock_api.enqueue(bash_tool_use("npm test"))
        started = time.time()
        fleet.up(layout.load_fleet(str(path)), tmux, size=(200, 50))
        pane_id = list_sessions(tmux, "claudes")[0].pane_id

        def state() -> str:
            return str(status.status_rows(tmux, "claudes")[0]["state"])

        def screen() -> str:
            return "\n".join(tmux.run(["capture-pane", "-p", "-t", pane_id]))

        # The layout prompt -> the Bash call -> a permission prompt: awaiting input.
        wait_for(lambda: state() == "awaiting_input", timeout=45, what="awaiting input")
        wait_for(lambda: bool(PERMISSION_QUESTION.search(screen())), what="the prompt on screen")
        wait_for(record.exists, what="the [[on]] command for awaiting_input ran")
        first = json.loads(record.read_text().splitlines()[0])
        assert first["argv"] == ["dev-1", "Bash: npm test", "claudes", "working", "awaiting_input"]
        assert first["env"] == {
            "ORC_FLEET": "claudes",
            "ORC_SESSION": "dev-1",
            "ORC_FROM": "working",
            "ORC_TO": "awaiting_input",
            "ORC_REASON": "Bash: npm test",
        }

        # A check-in names the session awaiting input, through the notifier.
        wait_for(
            lambda: notes.exists() and "awaiting input: dev-1" in notes.read_text(),
            timeout=3 * INTERVAL,
            what="a check-in notification",
        )
        blocks = [block.splitlines() for block in notes.read_text().split("---\n")]
        sent = next(b for b in blocks if b[2:3] == ["claudes: check-in"])
        assert sent[1:3] == ["--app-name=orchestrator", "claudes: check-in"]
        assert sent[3].startswith("awaiting input: dev-1 (") and sent[3].endswith(
            "): Bash: npm test"
        )
        print(f"first check-in notification {float(sent[0]) - started:.1f}s after up")
        assert float(sent[0]) - started >= INTERVAL

        # Esc while the hanging command still hangs: the watcher reports idle, and runs the
        # next command (the failing, hanging and missing ones went to the fleet's log).
        tmux.run(["send-keys", "-t", pane_id, "Escape"])
        wait_for(lambda: state() == "idle", timeout=20, what="idle after Esc")
        wait_for(lambda: len(record.read_text().splitlines()) == 2, what="the idle command")
        back = json.loads(record.read_text().splitlines()[1])
        assert back["argv"] == ["back", "idle"]
        assert back["env"]["ORC_TO"] == "idle"
        log = fleet_dir("claudes") / "watcher.log"
        wait_for(lambda: "timed out after 3s" in log.read_text(), what="the hanging command")
        text = log.read_text()
        assert "failed: exit status 3: broken" in text
        assert "cannot run '/nonexistent/orc-hook'" in text

        # events --json streamed it all, one JSON object per line with every key.
        lines = _lines(events, time.monotonic() + 40, _back_to_idle)  # past its 30 s backstop
        lines += _lines(events, time.monotonic() + 1)  # and nothing after it
        assert all(tuple(line) == KEYS for line in lines)
        told = [(x["kind"], x["from"], x["to"]) for x in lines if x["session"] == "dev-1"]
        assert ("prompt", "layout", None) in told
        changes = [(f, t) for kind, f, t in told if kind == "transition"]
        # Esc at the prompt: Claude shows "Interrupted" (working, briefly) on its way to idle.
        assert ("working", "awaiting_input") in changes, told
        assert changes[-1][1] == "idle", told
        assert changes.index(("working", "awaiting_input")) < len(changes) - 1
        prompt = next(x for x in lines if x["kind"] == "prompt")
        assert prompt["reason"] == PROMPT
    finally:
        events.terminate()
        assert events.wait(timeout=10) == 0
