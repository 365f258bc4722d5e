"""The dashboard's preview of the selected pane: one line widget per screen line, and only the
lines that changed are rendered again.

A working agent's screen changes in a line or two between captures (its spinner, a count), so
only those lines are rendered again. (With fifty sessions working, turning the preview off saved
about 0.85 % of a core of the dashboard's 2 %, capture included; drawing only changed lines
measured within the run-to-run noise.) The captured text is decoded as a whole (colours can run
on from one line to the next in ``capture-pane -e``), then compared line by line with what is
shown.
"""

from __future__ import annotations

from rich.ansi import AnsiDecoder
from rich.text import Text
from textual.containers import Vertical
from textual.widgets import Static


class PreviewLines(Vertical):
    """A pane's screen, its bottom lines when it is taller than the widget."""

    DEFAULT_CSS = """
    PreviewLines { height: 1fr; }
    PreviewLines > Static { height: 1; width: 100%; text-wrap: nowrap; text-overflow: clip; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: list[tuple[str, tuple[object, ...]]] = []

    def show(self, text: str) -> None:
        """Show ``text`` (with ANSI colours), repainting only the lines that changed."""
        height = self.size.height or 20
        decoded = list(AnsiDecoder().decode(text.rstrip("\n")))[-height:]
        decoded += [Text()] * (height - len(decoded))
        lines = list(self.query_children(Static))
        if len(lines) < height:
            more = [Static() for _ in range(height - len(lines))]
            self.mount(*more)
            lines += more
            self._shown += [("", ())] * len(more)
        for index, (widget, line) in enumerate(zip(lines, decoded, strict=False)):
            key = (line.plain, tuple(line.spans))
            if self._shown[index] != key:
                self._shown[index] = key
                widget.update(line, layout=False)

    def line_texts(self) -> list[str]:
        """The plain text of each line shown (for tests)."""
        return [plain for plain, _ in self._shown]
