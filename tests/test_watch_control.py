"""Reading panes through the watcher's control-mode client (orchestrator.watch.control)."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import libtmux

from orchestrator.tmux.client import Tmux
from orchestrator.watch.control import Blocks, quote
from orchestrator.watch.inputs import PushSources


def test_blocks_take_answers_and_leave_notifications() -> None:
    blocks = Blocks()
    stream = [
        b"%begin 1 10 0",  # the attach's own answer: not ours, dropped
        b"%end 1 10 0",
        b"%output %3 hello",
        b"%begin 1 11 1",
        b"line one",
        b"%end 1 99 1",  # another number inside the answer: text of the pane
        b"%output %4 in a screen line",
        b"%end 1 11 1",
        b"%begin 1 12 1",
        b"can't find pane: %9",
        b"%error 1 12 1",
        b"%layout-change @1 abc",
    ]
    left = [line for line in stream if not blocks.feed(line)]
    assert left == [b"%output %3 hello", b"%layout-change @1 abc"]
    assert blocks.answers.get_nowait() == (
        True,
        [b"line one", b"%end 1 99 1", b"%output %4 in a screen line"],
    )
    assert blocks.answers.get_nowait() == (False, [b"can't find pane: %9"])
    assert blocks.answers.empty()


def test_quote_refuses_what_tmux_cannot_take_single_quoted() -> None:
    assert quote("@@mark %1 #{pane_dead}") == "'@@mark %1 #{pane_dead}'"
    assert quote("a;") == "'a;'"
    assert quote("it's") is None
    assert quote("two\nlines") is None


def test_commands_are_answered_through_the_control_client(
    server: libtmux.Server, tmp_path: Path
) -> None:
    server.new_session(
        session_name="ctl", window_command="printf 'caf\\303\\251 ready\\n'; exec sleep 60"
    )
    tmux = Tmux.from_server(server)
    events: queue.Queue[tuple[str, str]] = queue.Queue()
    sources = PushSources(tmux, "ctl", tmp_path, events, threading.Event())
    sources._start_control_client()
    try:
        channel = sources.channel
        deadline = time.monotonic() + 10
        while "café ready" not in "\n".join(channel.run(["capture-pane", "-p", "-t", "=ctl:"])):
            assert time.monotonic() < deadline, "the screen never showed"
            time.sleep(0.1)
        sent = channel.sent
        pane = channel.run(["display-message", "-p", "-t", "=ctl:", "#{pane_id} x;"])
        assert len(pane) == 1 and pane[0].startswith("%") and pane[0].endswith(" x;")
        # A failing command gives nothing and does not stop the next one.
        out = channel.run(
            ["capture-pane", "-p", "-t", "%999"], ["display-message", "-p", "-t", "=ctl:", "ok"]
        )
        assert out == ["ok"]
        assert channel.run_one(["list-panes", "-t", "=nosuch:"]) is None
        rows = channel.query(["list-panes", "-s", "-t", "=ctl:"], ["pane_id", "pane_dead"])
        assert rows == [{"pane_id": pane[0].split()[0], "pane_dead": "0"}]
        assert channel.sent == sent + 5, "every command went through the control client"
        # What cannot be quoted goes to a tmux process, with the same answer.
        assert channel.run(["display-message", "-p", "-t", "=ctl:", "it's"]) == ["it's"]
        assert channel.sent == sent + 5
    finally:
        sources.stop_event.set()
        sources._stop_control_client()
