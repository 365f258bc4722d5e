"""Typing a prompt into agent panes, the way every sender does it (first prompts, pipelines,
``orchestrator send``).

The text goes in as a bracketed paste (``paste-buffer -p``: tmux wraps it in the paste markers
when the program asked for them, as Claude Code does), and Enter follows a moment later as a key
of its own. Typed as plain keys, a long text and its Enter arrive so fast that Claude Code takes
them for one paste on a busy machine: the Enter becomes a newline in the prompt box and the
prompt is never sent. And an agent that has only just started can drop the Enter altogether
(Claude Code, seen under load right after its SessionStart): when a pane's screen has not
changed at all :data:`ENTER_CHECK` seconds after Enter, Enter is pressed again (at most
:data:`ENTER_RETRIES` times). A screen that changed means the key was read (a sent prompt, or a
new line in a shell), so it is never pressed twice after a prompt went out.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Sequence

from orchestrator.tmux.client import Tmux, TmuxCommand

ENTER_DELAY = 0.3
"""Seconds between pasting the text and pressing Enter, so that the Enter is read on its own."""
ENTER_CHECK = 1.5
"""Seconds to wait for a pane's screen to change after Enter before pressing it again."""
ENTER_RETRIES = 3
"""At most this many more Enters per pane when the screen does not move."""
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
    tmux: Tmux, pane_ids: Sequence[str], text: str, enter_delay: float = ENTER_DELAY
) -> None:
    """Paste ``text`` into every pane, wait, then press Enter in each."""
    if not pane_ids:
        return
    tmux.run(*paste_commands(pane_ids, text))
    time.sleep(enter_delay)
    pending = list(pane_ids)
    for _ in range(ENTER_RETRIES + 1):
        before = {pane: _screen(tmux, pane) for pane in pending}
        tmux.run(*enter_commands(pending))
        deadline = time.monotonic() + ENTER_CHECK
        while pending and time.monotonic() < deadline:
            time.sleep(0.1)
            pending = [pane for pane in pending if _screen(tmux, pane) == before[pane]]
        if not pending:
            return


def _screen(tmux: Tmux, pane: str) -> list[str]:
    return tmux.run(["capture-pane", "-p", "-t", pane], check=False)
