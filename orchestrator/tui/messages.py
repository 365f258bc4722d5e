"""What the dashboard's workers tell its UI thread."""

from __future__ import annotations

from textual.message import Message

from orchestrator.tui.backend import SessionRow
from orchestrator.tui.notes import Notes


class RowsChanged(Message):
    """A new snapshot of the sessions, from the worker."""

    def __init__(self, rows: list[SessionRow]) -> None:
        super().__init__()
        self.rows = rows


class PreviewCaptured(Message):
    """The screen of a session's pane, from the worker."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__()
        self.name = name
        self.text = text


class SeenChanged(Message):
    """Someone started or stopped seeing the dashboard, from the worker."""

    def __init__(self, seen: bool) -> None:
        super().__init__()
        self.seen = seen


class NotesChanged(Message):
    """The session count against the cap, and the latest check-in, from the worker."""

    def __init__(self, notes: Notes) -> None:
        super().__init__()
        self.notes = notes
