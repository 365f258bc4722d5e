"""Notifications: which changes notify, and what a notification says (real tmux for captures)."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

import libtmux
import pytest

from orchestrator.fleet import up as fleet
from orchestrator.layout import load as layout
from orchestrator.subscribers import notify, notify_settings
from orchestrator.subscribers.notify_settings import NotifySettings
from orchestrator.tmux.client import Tmux, TmuxCommand
from orchestrator.tmux.panes import list_sessions
from orchestrator.watch.model import SessionState, Transition

LAYOUT = """
name = "ntf"
[[sessions]]
name = "test-2"
agent = "shell"
command = ["sh", "-c", "echo 'Do you want to proceed?'; exec sleep 600"]
"""


def change(old: str, new: str) -> Transition:
    return Transition("ntf", "test-2", "%0", old, new, time.time(), "screen", "Bash: rm -rf build")


def test_which_changes_notify() -> None:
    quiet = notify.Notifier(Tmux("unused"), "ntf", NotifySettings())
    assert quiet.wants(change("working", "awaiting_input"))
    assert not quiet.wants(change("working", "idle"))
    assert quiet.wants(change("working", "error"))
    finished = notify.Notifier(Tmux("unused"), "ntf", NotifySettings(turn_finished=True))
    assert finished.wants(change("working", "idle"))
    off = notify.Notifier(Tmux("unused"), "ntf", NotifySettings(enabled=False))
    assert not off.wants(change("working", "awaiting_input"))


def test_settings_file_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    path = notify_settings.settings_path()
    path.parent.mkdir(parents=True)
    path.write_text("turn_finished = true\nforgotten_after = 60\n")
    settings = notify_settings.load()
    assert settings.turn_finished and settings.forgotten_after == 60
    monkeypatch.setenv("ORCHESTRATOR_NOTIFY", "off")
    assert not notify_settings.load().enabled


def test_notification_names_session_reason_and_preview(
    server: libtmux.Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "ntf.toml"
    source.write_text(LAYOUT)
    tmux = Tmux.from_server(server)
    fleet.up(layout.load_fleet(str(source)), tmux, services=())
    pane = list_sessions(tmux, "ntf")[0]
    deadline = time.monotonic() + 10
    while "proceed" not in "".join(tmux.run(["capture-pane", "-p", "-t", pane.pane_id])):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ran: list[list[str]] = []
    monkeypatch.setattr(notify, "desktop_command", lambda note: [sys.executable, note.title])
    notifier = notify.Notifier(tmux, "ntf", NotifySettings(), run=ran.append)
    state = SessionState(
        "ntf", "test-2", "", "shell", pane.pane_id, "", "awaiting_input", time.time(),
        "Bash: rm -rf build", "screen",
    )  # fmt: skip
    note = notifier.notify(change("working", "awaiting_input"), state)
    assert note is not None
    assert note.title == "ntf/test-2 needs you"
    assert note.body.splitlines()[0] == "Bash: rm -rf build"
    assert "Do you want to proceed?" in note.body
    assert ran == [[sys.executable, "ntf/test-2 needs you"]]


class CountingTmux(Tmux):
    """A real tmux client that counts the tmux processes it starts."""

    calls = 0

    def _run_once(self, commands: Sequence[TmuxCommand], check: bool) -> list[str]:
        self.calls += 1
        return super()._run_once(commands, check)


def test_changes_that_pile_up_share_one_look_at_clients_and_switch(
    server: libtmux.Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many sessions changing at once (a fleet of 200 in lockstep) cost two tmux calls between
    them when nothing is sent, not two each; a query is one tmux call, not two."""
    source = tmp_path / "ntf.toml"
    source.write_text(LAYOUT)
    fleet.up(layout.load_fleet(str(source)), Tmux.from_server(server), services=())
    tmux = CountingTmux(socket_name=server.socket_name)
    tmux.run(["set-option", "-t", "=ntf:", notify_settings.SWITCH, "off"])
    tmux.calls = 0
    pane = list_sessions(Tmux.from_server(server), "ntf")[0]
    notifier = notify.Notifier(tmux, "ntf", NotifySettings(), run=lambda _: None)
    changes = []
    for index in range(20):
        state = SessionState(
            "ntf", f"s{index}", "", "shell", pane.pane_id if index == 0 else f"%{900 + index}",
            "", "awaiting_input", time.time(), "Bash: npm test", "screen",
        )  # fmt: skip
        changes.append((change("working", "awaiting_input"), state))
    assert notifier.notify_all(changes) == []  # switched off
    assert tmux.calls == 2
