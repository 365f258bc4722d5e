"""One row per session: a one-line widget each, repainted only when its text changes.

A ``DataTable`` of 50 rows refreshed at 10 Hz cost 73 % of a core; one widget per row, updated
only on change, costs a few percent. A row never changes size, so a change repaints it without a
layout pass (``Static.update`` would lay out the whole screen), and when only its age ticked
(every second for every row) only the age cell is repainted and sent to the terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual.geometry import Region
from textual.widget import Widget

from orchestrator.backend import SessionRow
from orchestrator.detect.model import State


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
    """A short duration: 42s, 5m07s, 2h03m."""
    if since is None:
        return ""
    seconds = max(0, int(now - since))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


def memory(rss: int) -> str:
    """Resident memory, human-sized."""
    if rss <= 0:
        return ""
    if rss < 1 << 30:
        return f"{rss / (1 << 20):.0f}M"
    return f"{rss / (1 << 30):.1f}G"


def short_path(path: str) -> str:
    """A folder with the home folder as ``~`` and only its tail when long."""
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

    def render(self) -> Text:
        """The row's line, as last shown."""
        return self._shown

    def show(
        self, row: SessionRow, *, marked: bool, selected: bool, threshold: float, now: float
    ) -> None:
        """Repaint when the text or the highlight changes, and only then: only the age cell when
        nothing else changed."""
        self.row = row
        text = render_row(row, now=now, marked=marked, threshold=threshold)
        self.set_class(row.state == State.AWAITING_INPUT.value, "-awaiting")
        self.set_class(forgotten(row, now, threshold), "-forgotten")
        self.set_class(selected, "-selected")
        shown = self._shown
        if text.plain == shown.plain and text.spans == shown.spans:
            return
        self._shown = text
        start, width = AGE_CELL
        end = start + width
        if (
            text.spans == shown.spans
            and len(text.plain) == len(shown.plain)
            and text.plain[:start] == shown.plain[:start]
            and text.plain[end:] == shown.plain[end:]
        ):
            self.refresh(Region(start, 0, width, 1))
        else:
            self.refresh()


def _css_id(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
