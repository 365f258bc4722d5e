"""One row per session: a one-line widget each, repainted only when its text changes.

A ``DataTable`` of 50 rows refreshed at 10 Hz cost 73 % of a core; one widget per row, updated
only on change, costs a few percent. A row never changes size, so a change repaints it without a
layout pass (``Static.update`` would lay out the whole screen), and when only its age ticked
only the age cell is repainted and sent to the terminal. Ages show seconds only in their first
minute, and the dashboard ticks only when some age cell or "forgotten" flag is due to change
(:func:`next_change`), so long-idle rows cost nothing between their minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.segment import Segment
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from orchestrator.detect.model import NEEDS_USER, State
from orchestrator.tui.backend import SessionRow


@dataclass(frozen=True)
class StateLook:
    """How a state is shown: never by colour alone, always a symbol and a word too."""

    symbol: str
    word: str
    style: str


LOOKS: dict[str, StateLook] = {
    State.AWAITING_INPUT.value: StateLook("◆", "NEEDS YOU", "bold black on yellow"),
    State.WORKING.value: StateLook("●", "working", "green"),
    State.IDLE.value: StateLook("○", "idle", "blue"),
    State.ERROR.value: StateLook("▲", "ERROR", "bold white on red"),
    State.STARTING.value: StateLook("◌", "starting", "cyan"),
    State.EXITED.value: StateLook("✖", "exited", "red"),
    State.UNKNOWN.value: StateLook("?", "unknown", "magenta"),
}
FINISHED = StateLook("✔", "finished", "bold cyan")
"""Idle or exited since the user last looked: a turn ended and nobody has seen the result."""

COLUMNS: tuple[tuple[str, int], ...] = (
    ("", 3),
    ("SESSION", 14),
    ("STATE", 13),
    ("FOR", 7),
    ("REASON", 34),
    ("ROLE", 18),
    ("AGENT", 7),
    ("BRANCH", 16),
    ("FOLDER", 20),
    ("CPU", 6),
    ("MEM", 7),
)


def look(row: SessionRow) -> StateLook:
    """The look of a row's state (finished-unseen beats plain idle/exited)."""
    if row.unseen and row.state == State.IDLE.value:
        return FINISHED
    return LOOKS.get(row.state, LOOKS[State.UNKNOWN.value])


def age(since: float | None, now: float) -> str:
    """A short duration: 42s, 5m, 2h03m, 3d04h. Seconds only in the first minute: past it they
    say nothing a person acts on, and a cell that changes every second costs a repaint (and a
    tmux redraw) per row per second."""
    if since is None:
        return ""
    seconds = max(0, int(now - since))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"
    return f"{seconds // 86400}d{seconds // 3600 % 24:02d}h"


def next_change(row: SessionRow, now: float, threshold: float) -> float:
    """Seconds from ``now`` until the row's age cell or its "forgotten" flag changes (``inf``
    when neither ever will)."""
    if row.since is None:
        return float("inf")
    elapsed = max(0.0, now - row.since)
    step = 1 if elapsed < 60 else 60 if elapsed < 86400 else 3600
    due = step - elapsed % step
    if row.state == State.AWAITING_INPUT.value and elapsed < threshold:
        due = min(due, threshold - elapsed)
    return due


def memory(rss: int) -> str:
    """Resident memory, human-sized."""
    if rss <= 0:
        return ""
    if rss < 1 << 30:
        return f"{rss / (1 << 20):.0f}M"
    return f"{rss / (1 << 30):.1f}G"


def short_path(path: str) -> str:
    """A folder with the home folder as ``~`` and only its tail when long; a remote session's
    ``HOST:FOLDER`` keeps the host (up to 12 characters) and the folder's tail."""
    if not path.startswith(("/", "~")) and ":" in path:
        host, folder = path.split(":", 1)
        host = host if len(host) <= 12 else host[:11] + "…"
        room = 18 - len(host)  # the cell holds 19 characters
        return f"{host}:" + (folder if len(folder) <= room else "…" + folder[-(room - 1) :])
    home = str(Path.home())
    if path.startswith(home):
        path = "~" + path[len(home) :]
    return path if len(path) <= 20 else "…" + path[-19:]


def forgotten(row: SessionRow, now: float, threshold: float) -> bool:
    """Awaiting input for longer than ``threshold`` seconds."""
    return (
        row.state == State.AWAITING_INPUT.value
        and row.since is not None
        and now - row.since >= threshold
    )


AGE_CELL = (sum(width for _, width in COLUMNS[:3]), COLUMNS[3][1])
"""Where the age ("FOR") cell sits in a row: its first column and its width."""


def _cell(text: str, width: int) -> str:
    if len(text) > width - 1:
        text = text[: width - 2] + "…"
    return text.ljust(width)


def header_text() -> Text:
    """The column titles."""
    return Text("".join(_cell(title, width) for title, width in COLUMNS), style="bold")


def render_row(row: SessionRow, *, now: float, marked: bool, threshold: float) -> Text:
    """One session as a line of text."""
    state = look(row)
    flag = forgotten(row, now, threshold)
    text = Text()
    text.append(("▸" if marked else " ") + ("⚑" if flag else " ") + " ", style="bold yellow")
    text.append(_cell(row.name, 14), style="bold")
    text.append(_cell(f"{state.symbol} {state.word}", 13), style=state.style)
    text.append(_cell(age(row.since, now), 7), style="bold red" if flag else "")
    if row.waiting_for:
        text.append(_cell("waiting for " + ", ".join(row.waiting_for), 34), style="cyan")
    else:
        text.append(_cell(" ".join(row.reason.split()), 34))
    text.append(_cell(row.role, 18), style="dim")
    text.append(_cell(row.agent, 7), style="dim")
    text.append(_cell(row.branch, 16), style="magenta")
    text.append(_cell(short_path(row.cwd), 20), style="dim")
    text.append(_cell(f"{row.cpu:.0f}%" if row.rss else "", 6))
    text.append(_cell(memory(row.rss), 7))
    return text


class SessionRowView(Widget):
    """One session's row."""

    DEFAULT_CSS = """
    SessionRowView {
        height: 1;
        width: 100%;
        text-wrap: nowrap;
        text-overflow: clip;
    }
    SessionRowView.-awaiting { background: $warning 20%; }
    SessionRowView.-forgotten { background: $error 25%; }
    SessionRowView.-selected { background: $accent 40%; }
    """

    def __init__(self, row: SessionRow) -> None:
        super().__init__(id=f"row-{_css_id(row.name)}")
        self.row = row
        self._shown = Text()
        self._inputs: tuple[object, ...] = ()
        self._age_patch: str | None = None
        """The age cell's new text, when nothing else changed since the row was rendered."""
        self._line: tuple[object, Strip] | None = None

    def render(self) -> Text:
        """The row's line, as last shown."""
        if self._age_patch is not None:
            start, width = AGE_CELL
            shown = self._shown
            patch = shown[start : start + width]
            patch.plain = self._age_patch
            self._shown = shown[:start] + patch + shown[start + width :]
            self._age_patch = None
        return self._shown

    def show(
        self, row: SessionRow, *, marked: bool, selected: bool, threshold: float, now: float
    ) -> None:
        """Repaint when the text or the highlight changes, and only then: only the age cell when
        nothing else changed (every second, for every row)."""
        inputs = (row, marked, selected, threshold, forgotten(row, now, threshold))
        start, width = AGE_CELL
        if inputs == self._inputs:
            # Only the time moved: the age cell is all that can have changed.
            cell = _cell(age(row.since, now), width)
            if cell != (self._age_patch or self._shown.plain[start : start + width]):
                self._age_patch = cell
                self.refresh(Region(start, 0, width, 1))
            return
        self.render()  # take in a pending age change before comparing
        self._inputs = inputs
        self.row = row
        text = render_row(row, now=now, marked=marked, threshold=threshold)
        self.set_class(row.state in NEEDS_USER, "-awaiting")
        self.set_class(forgotten(row, now, threshold), "-forgotten")
        self.set_class(selected, "-selected")
        if text.plain != self._shown.plain or text.spans != self._shown.spans:
            self._shown = text
            self.refresh()

    def render_line(self, y: int) -> Strip:
        """The row's line. After an age-only change, the line last rendered with the new age
        spliced in, in the style the age cell had (its spans did not change), instead of
        rendering the whole row again; anything else renders the row afresh."""
        patch = self._age_patch
        key = (self.size, self.visual_style)
        start, width = AGE_CELL
        old = self._line[1] if self._line is not None and self._line[0] == key else None
        if patch is not None and old is not None and old.cell_length >= start + width:
            segments = list(old.crop(start, start + width))
            style = segments[0].style if segments else None
            cell = Strip([Segment(patch, style)])
            line = Strip.join([old.crop(0, start), cell, old.crop(start + width)])
        else:
            self.render()
            # The dirty regions an age-only change leaves make Textual render the row afresh.
            line = super().render_line(y)
        self._line = (key, line)
        return line


def _css_id(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
