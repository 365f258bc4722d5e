"""Polling helpers for tmux pane screens: wait with a deadline, never a fixed sleep."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

IDLE_FOOTER = "? for shortcuts"
"""Footer of Claude Code's prompt box when nothing runs (2.1.197)."""

WORKING_FOOTER = "esc to interrupt"
"""Footer while a turn runs."""

PERMISSION_QUESTION = re.compile(r"Do you want to (proceed|create|make this edit|allow)")
"""The question above a permission menu; the wording depends on the tool."""

QUESTION_MENU_FOOTER = "Enter to select"
"""Footer of an ``AskUserQuestion`` menu."""

TRUST_DIALOG = re.compile("Yes, I trust this folder|Do you trust the files in this folder")
"""First option of the trust dialog for a folder not yet trusted (2.1), or its question (2.0).

The dialog's question (``Is this a project you created or one you trust?``) wraps at 60 columns,
so the option is the marker that survives every width.
"""

Predicate = Callable[[str], bool]


def idle_screen(screen: str) -> bool:
    """Claude's prompt box shows its idle footer and no turn is running."""
    return IDLE_FOOTER in screen and WORKING_FOOTER not in screen


def matcher(pattern: str | re.Pattern[str]) -> Predicate:
    """A predicate that is true when ``pattern`` (a plain substring or a regex) is on screen."""
    if isinstance(pattern, str):
        return lambda screen: pattern in screen
    return lambda screen: pattern.search(screen) is not None


def wait_for_screen(
    capture: Callable[[], str],
    until: str | re.Pattern[str] | Predicate,
    timeout: float = 30.0,
    stable_for: float = 0.0,
    interval: float = 0.1,
) -> str:
    """Poll ``capture`` until ``until`` holds, and the screen is unchanged for ``stable_for`` s.

    Returns the last screen; raises ``TimeoutError`` carrying that screen when the deadline passes.
    """
    predicate = until if callable(until) else matcher(until)
    deadline = time.monotonic() + timeout
    last = ""
    same_since = time.monotonic()
    while True:
        screen = capture()
        now = time.monotonic()
        if screen != last:
            last = screen
            same_since = now
        if predicate(screen) and now - same_since >= stable_for:
            return screen
        if now >= deadline:
            raise TimeoutError(
                f"screen condition not met within {timeout}s; last screen:\n{screen}"
            )
        time.sleep(interval)


def wait_until(
    condition: Callable[[], bool], timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> None:
    """Poll ``condition`` until it is true; raise ``TimeoutError`` naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what or condition!r}")
        time.sleep(interval)
