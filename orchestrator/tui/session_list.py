"""The dashboard's list of sessions: one row widget per session, repainted only where it changed.

The rows in view are repainted when their data changes or their age ticks; rows out of view are
brought up to date when they scroll into view. The order (awaiting input first, longest waiting
on top) and the words around the list are plain functions, so tests can check them directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.containers import VerticalScroll

from orchestrator.detect.model import NEEDS_USER, State
from orchestrator.fleet.jump import next_in
from orchestrator.tui.backend import SessionRow
from orchestrator.tui.rows import SessionRowView


@dataclass(frozen=True)
class RowLook:
    """How the rows are shown right now."""

    selected: str | None
    marked: frozenset[str]
    threshold: float
    """Seconds awaiting input after which a session is flagged as forgotten."""
    now: float


def display_order(rows: Sequence[SessionRow], *, waiting_first: bool) -> list[SessionRow]:
    """Rows in display order: awaiting input first (longest waiting first) when sorting, else
    in pane order."""
    if not waiting_first:
        return list(rows)
    waiting = [r for r in rows if r.state in NEEDS_USER]
    waiting.sort(key=lambda r: r.since or 0.0)
    return waiting + [r for r in rows if r.state not in NEEDS_USER]


def next_waiting(rows: Sequence[SessionRow], last: str | None) -> str | None:
    """The session to go to next among those awaiting input, the one waiting longest first,
    after ``last`` (the previous jump)."""
    waiting = sorted(
        (r for r in rows if r.state in NEEDS_USER),
        key=lambda r: (r.since or 0.0, r.name),
    )
    return next_in([r.name for r in waiting], last)


def title_text(fleet: str, rows: Sequence[SessionRow]) -> str:
    """The dashboard's title line: the fleet, its sessions, how many await input."""
    waiting = sum(1 for r in rows if r.state == State.AWAITING_INPUT.value)
    errors = sum(1 for r in rows if r.state == State.ERROR.value)
    title = f"fleet {fleet}: {len(rows)} session(s)"
    if waiting:
        title += f", {waiting} awaiting input"
    return title + (f", {errors} stopped on an error" if errors else "")


class SessionList(VerticalScroll):
    """The scrolling list of session rows."""

    def views(self) -> list[SessionRowView]:
        """The row widgets, in display order."""
        return [v for v in self.children if isinstance(v, SessionRowView)]

    def in_view(self, count: int) -> range:
        """Positions of the rows shown (all ``count`` of them before the first layout)."""
        first, height = int(self.scroll_y), self.size.height
        return range(first, first + height) if height else range(count)

    @staticmethod
    def _show(view: SessionRowView, row: SessionRow, look: RowLook) -> None:
        view.show(
            row,
            marked=row.name in look.marked,
            selected=row.name == look.selected,
            threshold=look.threshold,
            now=look.now,
        )

    def tick(self, rows: Sequence[SessionRow], look: RowLook) -> None:
        """Repaint the rows in view with their latest data (their ages move on)."""
        views = self.views()
        by_name = {row.name: row for row in rows}
        for index in self.in_view(len(rows)):
            if index < len(views):
                view = views[index]
                self._show(view, by_name.get(view.row.name, view.row), look)

    def paint(self, ordered: Sequence[SessionRow], look: RowLook) -> None:
        """Show ``ordered``: rows come and go, move into order, and those in view repaint."""
        views = {view.row.name: view for view in self.query(SessionRowView)}
        for name in set(views) - {row.name for row in ordered}:
            views.pop(name).remove()
        wanted: list[SessionRowView] = []
        in_view = self.in_view(len(ordered))
        for index, row in enumerate(ordered):
            view = views.get(row.name) or SessionRowView(row)
            wanted.append(view)
            if view.parent is None:
                self.mount(view)
                self._show(view, row, look)
            elif index in in_view:
                self._show(view, row, look)
        if [v.row.name for v in self.views()] != [v.row.name for v in wanted]:
            for index, view in enumerate(wanted):
                if index and view.parent is not None:
                    self.move_child(view, after=wanted[index - 1])

    def scroll_to_row(self, name: str) -> bool:
        """Scroll the row of session ``name`` into view; False when there is none."""
        for view in self.query(SessionRowView):
            if view.row.name == name:
                self.scroll_to_widget(view, animate=False)
                return True
        return False
