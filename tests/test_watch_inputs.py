"""The watcher's control-mode reader (orchestrator.watch.inputs) on a real tmux server: output,
windows coming and going, and the end of the session reach the watcher's queue, with busy panes
costing one event per chunk read, not one per line they print."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import libtmux

from orchestrator.tmux.client import Tmux
from orchestrator.watch.inputs import PushSources

CHATTY = "for i in $(seq 400); do echo line $i; sleep 0.002; done; exec sleep 60"
"""A pane that prints 400 times, a few milliseconds apart (tmux forwards each as it comes)."""


def drain(events: queue.Queue[tuple[str, str]], until: float) -> list[tuple[str, str]]:
    found = []
    while (left := until - time.monotonic()) > 0:
        try:
            found.append(events.get(timeout=left))
        except queue.Empty:
            break
    return found


def test_control_stream_events(server: libtmux.Server, tmp_path: Path) -> None:
    session = server.new_session(session_name="inp", window_command="exec sleep 60")
    tmux = Tmux.from_server(server)
    events: queue.Queue[tuple[str, str]] = queue.Queue()
    stop = threading.Event()
    sources = PushSources(tmux, "inp", tmp_path, events, stop)
    sources._start_control_client()
    try:
        time.sleep(0.5)
        drain(events, time.monotonic() + 0.2)
        started = time.time()
        window = session.new_window(window_name="chatty", window_shell=CHATTY, attach=False)
        pane_id = window.panes[0].pane_id
        assert pane_id is not None
        found = drain(events, time.monotonic() + 5.0)
        assert ("layout", "") in found
        outputs = [pane for kind, value in found if kind == "output" for pane in value.split()]
        assert pane_id in outputs
        # 400 prints, a chunk read every 50 ms or so: one event per chunk.
        assert len(outputs) < 200
        assert started <= sources.output_at[pane_id] <= time.time()
        session.kill()
        assert ("exit", "") in drain(events, time.monotonic() + 3.0)
    finally:
        stop.set()
        sources._stop_control_client()
