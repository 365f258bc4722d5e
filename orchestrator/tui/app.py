"""The dashboard: every session of a fleet, a live preview, and keys to act on them.

The UI thread never waits on tmux, git or psutil: a worker thread takes snapshots from the backend
(woken by the watcher's pushes) and posts them; the preview is captured in another worker; every
action runs in a worker too. Rows repaint only when their text changes.

While nobody sees it (no attached client shows its window, and no key came lately) the dashboard
does almost nothing: one snapshot every :data:`HIDDEN_POLL` seconds (states only; the same tmux
call says whether someone sees it now), no preview, no ticking ages. Coming back is pushed: the
fleet turns tmux's ``focus-events`` on, so tmux tells the dashboard's pane the moment a client
shows it (attach, select-window, switch-client), and that focus event, like any key, wakes it at
once. Focus alone never hides it (an unfocused terminal may still be on screen): tmux's list of
clients decides.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from typing import ClassVar

from rich.markup import escape
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from orchestrator.detect.model import State
from orchestrator.subscribers.notify_settings import SettingsFile
from orchestrator.tui.actions import KEYS, SessionActions
from orchestrator.tui.backend import Backend, SessionRow
from orchestrator.tui.messages import NotesChanged, PreviewCaptured, RowsChanged, SeenChanged
from orchestrator.tui.notes import Notes
from orchestrator.tui.preview import PreviewLines
from orchestrator.tui.rows import header_text, next_change
from orchestrator.tui.session_list import (
    RowLook,
    SessionList,
    next_waiting,
    title_text,
)

MIN_REFRESH = 0.5
"""Seconds between two snapshots at the most: bursts of changes are coalesced (with every
session working the watcher publishes several times a second)."""
PREVIEW_EVERY = 1.0
"""Seconds between two captures of the selected pane while it works (only while someone sees
the dashboard)."""
PREVIEW_AFTER_MOVE = 0.1
"""Seconds after the selection moved before the newly selected pane is captured: moving through
the rows (a key held down) does not capture and draw every pane passed over."""
PREVIEW_STILL_EVERY = 3.0
"""Seconds between two captures of the selected pane while it is not working (its screen seldom
changes; selecting a session captures it at once)."""
SNAPSHOT_EVERY = 4.0
"""Seconds between two snapshots while someone sees the dashboard and the watcher pushes
nothing (states arrive by push; this catches what only tmux tells: who looks at which pane)."""
HIDDEN_POLL = 10.0
"""Seconds between two snapshots while nobody sees the dashboard: its screen is kept roughly
current, and this catches a client showing it without a focus event (``focus-events`` off)."""
INPUT_GRACE = 10.0
"""Seconds after a key during which the dashboard counts as seen (keys sent by ``send-keys``
come from someone, even with no client attached)."""


UNLISTED = frozenset({"cursor_down", "cursor_up", "mark", "add_session"})
"""Actions left out of the footer (its room is short): the help screen and palette list them."""


class Dashboard(SessionActions):
    """The fleet's dashboard."""

    TITLE = "orchestrator"
    CSS = """
    #title { height: 1; background: $primary; color: $text; padding: 0 1; }
    #header { height: 1; padding: 0 0; color: $text-muted; }
    #checkin { height: auto; padding: 0 1; background: $warning 30%; display: none; }
    #rows { height: auto; max-height: 50%; }
    #preview-box { border: round $primary; height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(key, action, label, show=action not in UNLISTED) for key, action, label, _ in KEYS
    ]

    def __init__(
        self,
        backend: Backend,
        *,
        forgotten_after: float = 300.0,
        settings: SettingsFile | None = None,
        live: bool = True,
        clock: Callable[[], float] = time.time,
        notice: str | None = None,
    ) -> None:
        super().__init__()
        self.backend = backend
        self.notice = notice
        """Said once on start, and in the help screen (e.g. why the back key is not bound)."""
        self.forgotten_after = forgotten_after
        """Seconds awaiting input before a row is flagged (``notify.toml``'s, when ``settings``
        is given: read again whenever the file changes)."""
        self.settings = settings
        self.live = live
        """Run the snapshot and preview workers (snapshot tests drive the app by hand)."""
        self.clock = clock
        self.rows: list[SessionRow] = []
        self.selected: str | None = None
        self.marked: set[str] = set()
        self.waiting_first = True
        self.last_jump: str | None = None
        self.preview_text = ""
        self.on_screen = True
        """Someone sees the dashboard: ages tick and the preview is captured."""
        self._input_at = -INPUT_GRACE
        self._wake = threading.Event()
        self._title = ""
        self._previewed_at = 0.0
        self._preview_soon: Timer | None = None
        self._tick_due = (0.0, 0.0)
        """When an age or "forgotten" flag next changes (epoch seconds), for which threshold."""
        self.notes: Notes | None = None
        """The session count against the cap, and the latest check-in (its banner)."""

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        yield Static(id="checkin")
        yield Static(header_text(), id="header")
        yield SessionList(id="rows")
        with Vertical(id="preview-box"):
            yield PreviewLines(id="preview")
        yield Footer()

    def on_mount(self) -> None:
        """Start the workers; repaint ages once a second."""
        self.query_one("#title", Static).update(f"fleet {self.backend.fleet}")
        if self.notice:
            self.notify(escape(self.notice), severity="warning", timeout=30)
        self._ticker = self.set_interval(1.0, self._tick)
        self._previewer = self.set_interval(PREVIEW_EVERY, self._capture_preview)
        if self.live:
            self._watch_states()
        else:
            self._previewer.pause()

    async def on_event(self, event: events.Event) -> None:
        """A key, or the focus coming back (tmux reports it when a client shows the pane),
        means someone is here: wake the snapshot worker."""
        if isinstance(event, events.Key | events.AppFocus):
            self._input_at = time.monotonic()
            self._wake.set()
        await super().on_event(event)

    # -- workers ---------------------------------------------------------------------------

    def _someone_here(self) -> bool:
        if time.monotonic() - self._input_at < INPUT_GRACE:
            return True
        try:
            return self.backend.visible()
        except Exception:  # tmux gone for a moment: assume someone looks
            return True

    @work(thread=True, exclusive=True, group="states")
    def _watch_states(self) -> None:
        worker = get_current_worker()
        shown = True
        while not worker.is_cancelled:
            started = time.monotonic()
            try:
                self.post_message(RowsChanged(self.backend.snapshot()))
                self.post_message(NotesChanged(self.backend.notes()))
            except Exception as exc:  # tmux gone for a moment: say so, keep trying
                self.call_from_thread(self.notify, str(exc), severity="error")
            here = self._someone_here()  # the snapshot has just learned it: no extra call
            if here != shown:
                shown = here
                self.post_message(SeenChanged(here))
            if here:
                self.backend.wait_for_change(SNAPSHOT_EVERY)
                time.sleep(max(0.0, MIN_REFRESH - (time.monotonic() - started)))
            else:
                self._wake.wait(HIDDEN_POLL)
                self._wake.clear()

    def _capture_preview(self) -> None:
        if self.selected is None or not self.on_screen:
            return
        row = next((r for r in self.rows if r.name == self.selected), None)
        still = row is None or row.state != State.WORKING.value
        if still and time.monotonic() - self._previewed_at < PREVIEW_STILL_EVERY:
            return
        self._preview_worker(self.selected, self.app_focus)

    @work(thread=True, exclusive=True, group="preview")
    def _preview_worker(self, name: str, looking: bool) -> None:
        self._previewed_at = time.monotonic()
        text = self.backend.preview(name)
        if looking:
            self.backend.mark_seen(name)
        self.post_message(PreviewCaptured(name, text))

    # -- updates ---------------------------------------------------------------------------

    def on_rows_changed(self, message: RowsChanged) -> None:
        """Take a snapshot (only the latest matters)."""
        if message.rows != self.rows or not self.rows:
            self.set_rows(message.rows)

    def on_notes_changed(self, message: NotesChanged) -> None:
        """Show the count against the cap in the title, and the latest check-in's banner."""
        if message.notes == self.notes:
            return
        self.notes = message.notes
        banner = self.query_one("#checkin", Static)
        banner.update(message.notes.banner())
        banner.display = bool(message.notes.banner())
        self._repaint()

    def on_seen_changed(self, message: SeenChanged) -> None:
        """Tick ages and capture the preview only while someone sees the dashboard."""
        self.on_screen = message.seen
        if message.seen:
            self._ticker.resume()
            self._previewer.resume()
            self._repaint()
            self._capture_preview()
        else:
            self._ticker.pause()
            self._previewer.pause()

    def set_rows(self, rows: list[SessionRow]) -> None:
        """Show these sessions (also used by tests and the screenshot)."""
        self.rows = rows
        names = {row.name for row in rows}
        self.marked &= names
        if self.selected not in names:
            self.selected = self.ordered()[0].name if rows else None
        self._repaint()

    def on_preview_captured(self, message: PreviewCaptured) -> None:
        """Show a captured screen when it is still the selected session's."""
        # A capture can arrive before the widgets are mounted, or after they are gone.
        if message.name == self.selected and self.query("#preview-box"):
            self.show_preview(message.text)

    def show_preview(self, text: str) -> None:
        """Show a pane's screen, its bottom lines when it is taller than the preview."""
        box = self.query_one("#preview-box")
        if text == self.preview_text and box.border_title == (self.selected or ""):
            return
        self.preview_text = text
        self.query_one("#preview", PreviewLines).show(text)
        box.border_title = f"{self.selected}" if self.selected else ""

    def _look(self) -> RowLook:
        if self.settings is not None:  # one stat; the file is read again when it changed
            found = self.settings.current()
            self.forgotten_after = found.settings.forgotten_after
            if found.error is not None:
                self.notify(
                    f"{found.error}\n(kept the previous settings)", severity="warning", timeout=20
                )
        return RowLook(self.selected, frozenset(self.marked), self.forgotten_after, self.clock())

    def _tick(self, *, force: bool = False) -> None:
        """Ages move on, or rows came into view: repaint the rows in view. The one-second timer
        does nothing until some age or "forgotten" flag is due to change."""
        look = self._look()
        due = self._tick_due
        if not force and look.now < due[0] and look.threshold == due[1]:
            return
        self.query_one("#rows", SessionList).tick(self.rows, look)
        wait = min((next_change(row, look.now, look.threshold) for row in self.rows), default=60)
        self._tick_due = (look.now + wait, look.threshold)

    def _repaint(self) -> None:
        self.query_one("#rows", SessionList).paint(self.ordered(), self._look())
        self._tick_due = (0.0, 0.0)  # rows changed: the next tick works out when it is due
        title = title_text(self.backend.fleet, self.rows)
        if self.notes is not None:
            title += f" · {self.notes.cap_text()}"
        if title != self._title:
            self._title = title
            self.query_one("#title", Static).update(title, layout=False)

    # -- selection -------------------------------------------------------------------------

    def select(self, name: str | None) -> None:
        """Select a session by name and scroll it into view."""
        if name == self.selected:
            return
        self.selected = name
        self._repaint()
        if name is not None:
            if self.query_one("#rows", SessionList).scroll_to_row(name):
                self.call_after_refresh(self._tick, force=True)
            if self.live:
                if self._preview_soon is not None:
                    self._preview_soon.stop()
                self._preview_soon = self.set_timer(PREVIEW_AFTER_MOVE, self._preview_selected)

    def _preview_selected(self) -> None:
        self._preview_soon = None
        if self.selected is not None:
            self._preview_worker(self.selected, self.app_focus)

    def _move(self, step: int) -> None:
        names = [row.name for row in self.ordered()]
        if not names:
            return
        index = names.index(self.selected) if self.selected in names else -step
        self.select(names[max(0, min(len(names) - 1, index + step))])

    def action_cursor_down(self) -> None:
        """Select the next row."""
        self._move(1)

    def action_cursor_up(self) -> None:
        """Select the previous row."""
        self._move(-1)

    def action_mark(self) -> None:
        """Mark or unmark the selected session."""
        if self.selected is not None:
            self.marked ^= {self.selected}
            self._repaint()

    def action_toggle_sort(self) -> None:
        """Awaiting input first, or pane order."""
        self.waiting_first = not self.waiting_first
        self._repaint()

    # -- actions ---------------------------------------------------------------------------

    def action_jump(self) -> None:
        """Go to the selected session's pane."""
        if self.selected:
            self.jump_to(self.selected)

    def action_next_waiting(self) -> None:
        """Go to the next session awaiting input, the one waiting longest first."""
        name = next_waiting(self.rows, self.last_jump)
        if name is None:
            self.notify("no session is awaiting input")
            return
        self.select(name)
        self.jump_to(name)

    def jump_to(self, name: str) -> None:
        """Jump in a worker; outside tmux, suspend and attach until the user detaches."""
        self.last_jump = name

        def run() -> None:
            try:
                argv = self.backend.jump(name)
            except Exception as exc:
                self.call_from_thread(self.notify, f"jump failed: {exc}", severity="error")
                return
            if argv:
                self.call_from_thread(self._attach_outside, argv)

        self.run_worker(run, thread=True, group="actions", name="jump")

    def _attach_outside(self, argv: list[str]) -> None:
        with self.suspend():
            subprocess.run(argv, check=False)


def run_app(
    backend: Backend, settings: SettingsFile | None = None, *, notice: str | None = None
) -> None:
    """Run the dashboard until the user quits; ``notice`` is said once, on start."""
    Dashboard(backend, settings=settings, notice=notice).run()
