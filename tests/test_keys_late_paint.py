"""Typing a prompt: an agent that paints the pasted text only after the sender's first look.

Seen in CI on a loaded machine: Claude Code dropped the first Enter and showed the pasted text a
moment after the sender had looked at an empty prompt box and called the prompt sent; the text
stayed a draft. The sender looks once more before it believes it.
"""

from __future__ import annotations

import pytest

from orchestrator.fleet import keys
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import PaneInfo

RULE = "─" * 40


def box(text: str) -> list[str]:
    return ["Claude Code", RULE, f"❯ {text}", RULE, "  ? for shortcuts"]


def pane() -> PaneInfo:
    return PaneInfo(
        fleet="f", name="dev", kind="agent", role="", agent="claude", cwd="/", pane_id="%1",
        pane_pid=1, dead=False, dead_status=None, dead_signal=None, title="",
        current_command="claude", width=80, height=24, window="agents", active=True,
        window_active=True, started=None, state="idle", since=None, reason="", source="",
    )  # fmt: skip


class Screens:
    """A pane whose screen is empty until it has been looked at ``late`` times, then shows the
    text until an Enter arrives after it showed."""

    def __init__(self, late: int) -> None:
        self.looks = 0
        self.late = late
        self.enters = 0
        self.shown = False
        self.sent = False

    def screen(self, _tmux: Tmux, _pane: str) -> list[str]:
        self.looks += 1
        if not self.sent and self.looks > self.late:
            self.shown = True
        return box("Fix the tests" if self.shown and not self.sent else "")

    def run(self, *commands: list[str], check: bool = True) -> list[str]:
        del check
        for command in commands:
            if command[0] == "send-keys":
                self.enters += 1
                if self.shown:
                    self.sent = True
        return []


@pytest.mark.parametrize("late", [0, 2])
def test_a_prompt_painted_late_is_sent(monkeypatch: pytest.MonkeyPatch, late: int) -> None:
    screens = Screens(late)
    monkeypatch.setattr(keys, "_screen", screens.screen)
    monkeypatch.setattr(keys, "ENTER_CHECK", 0.01)
    monkeypatch.setattr(keys, "ENTER_DELAY", 0.0)
    tmux = Tmux(socket_name="never-started")
    monkeypatch.setattr(tmux, "run", screens.run)
    keys.type_prompt(tmux, [pane()], "Fix the tests", enter_delay=0.0)
    assert screens.sent, f"left as a draft after {screens.enters} Enter(s)"
