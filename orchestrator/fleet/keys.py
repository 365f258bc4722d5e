"""Typing a prompt into agent panes, the way every sender does it (first prompts, pipelines,
``orchestrator send``).

The text goes in as a bracketed paste (``paste-buffer -p``: tmux wraps it in the paste markers
when the program asked for them, as Claude Code does), and Enter follows a moment later as a key
of its own. Typed as plain keys, a long text and its Enter arrive so fast that Claude Code takes
them for one paste on a busy machine: the Enter becomes a newline in the prompt box and the
prompt is never sent. And an agent that has only just started can drop the Enter altogether
(Claude Code, seen under load right after its SessionStart hook): Enter is pressed again while
the agent's profile still sees the text unsent in its input box (for an agent whose screen says
nothing of it: while the screen has not moved at all), for up to :data:`ENTER_PATIENCE` seconds.
An Enter in an empty prompt box does nothing, so a prompt is never sent twice. Once every
prompt looks sent, one more look a second later catches a text the agent painted late.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Sequence

from orchestrator.agents.catalog import profile_of
from orchestrator.tmux.client import Tmux, TmuxCommand
from orchestrator.tmux.panes import PaneInfo

ENTER_DELAY = 0.3
"""Seconds between pasting the text and pressing Enter, so that the Enter is read on its own
(longer where an agent's profile asks for more: its ``enter_delay``)."""
ENTER_CHECK = 1.0
"""Seconds between two looks at whether the prompt went out."""
ENTER_PATIENCE = 15.0
"""Seconds to keep pressing Enter while the prompt stays unsent (a slow start under load)."""
_buffers = itertools.count()


def paste_commands(pane_ids: Sequence[str], text: str) -> list[TmuxCommand]:
    """The commands that paste ``text`` into each pane (through a buffer of our own, deleted
    after the last paste)."""
    if not pane_ids:
        return []
    buffer = f"orc-prompt-{os.getpid()}-{next(_buffers)}"
    commands: list[TmuxCommand] = [["set-buffer", "-b", buffer, "--", text]]
    for index, pane in enumerate(pane_ids):
        last = ["-d"] if index == len(pane_ids) - 1 else []
        commands.append(["paste-buffer", "-p", *last, "-b", buffer, "-t", pane])
    return commands


def enter_commands(pane_ids: Sequence[str]) -> list[TmuxCommand]:
    """The commands that press Enter in each pane."""
    return [["send-keys", "-t", pane, "Enter"] for pane in pane_ids]


def type_prompt(
    tmux: Tmux, panes: Sequence[PaneInfo], text: str, enter_delay: float = ENTER_DELAY
) -> None:
    """Paste ``text`` into every pane, wait, press Enter in each, and again where it did not
    take."""
    if not panes:
        return
    tmux.run(*paste_commands([pane.pane_id for pane in panes], text))
    time.sleep(
        max(enter_delay, *(profile_of(pane.agent, pane.fleet).enter_delay for pane in panes))
    )
    pending = list(panes)
    deadline = time.monotonic() + ENTER_PATIENCE
    while pending and time.monotonic() < deadline:
        before = {pane.pane_id: _screen(tmux, pane.pane_id) for pane in pending}
        tmux.run(*enter_commands([pane.pane_id for pane in pending]))
        time.sleep(ENTER_CHECK)
        pending = [pane for pane in pending if _unsent(tmux, pane, text, before[pane.pane_id])]
        if not pending:
            # Look once more: on a loaded machine the agent may paint the pasted text only
            # after the first look, the Enter before it having been dropped.
            time.sleep(ENTER_CHECK)
            pending = [pane for pane in panes if _still_unsent(tmux, pane, text)]


def _unsent(tmux: Tmux, pane: PaneInfo, text: str, before: list[str]) -> bool:
    screen = _screen(tmux, pane.pane_id)
    said = profile_of(pane.agent, pane.fleet).prompt_pending(screen, text)
    return screen == before if said is None else said


def _still_unsent(tmux: Tmux, pane: PaneInfo, text: str) -> bool:
    return (
        profile_of(pane.agent, pane.fleet).prompt_pending(_screen(tmux, pane.pane_id), text) is True
    )


def _screen(tmux: Tmux, pane: str) -> list[str]:
    return tmux.run(["capture-pane", "-p", "-t", pane], check=False)
