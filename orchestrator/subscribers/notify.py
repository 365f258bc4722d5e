"""Notifications when a session starts awaiting input or stops on an error (and, if wanted,
when a turn finishes).

A watcher subscriber (:func:`subscribe`). Each notification names the session, the reason and a
preview of the pane's last lines. It goes to the desktop (``notify-send`` or ``osascript``) when
one is available, else to the fleet's tmux clients as a bell and a ``display-message``. None is
sent for a pane an attached client is showing: the user is already looking at it.

Settings live in ``$XDG_CONFIG_HOME/orchestrator/notify.toml``
(:mod:`orchestrator.subscribers.notify_settings`): the notifier looks at the file again at each
change of state, so an edit applies from the next notification; an edit that does not validate is
reported to the fleet's tmux clients and leaves the previous settings in force.
``ORCHESTRATOR_NOTIFY=off`` given to the fleet's latest ``up`` (or ``watch``) turns notifications
off whatever the file says.
"""

from __future__ import annotations

import logging
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

from orchestrator.detect.model import NEEDS_USER, State
from orchestrator.errors import SettingsError
from orchestrator.fleet import jump
from orchestrator.subscribers import notify_settings
from orchestrator.subscribers.notify_settings import NotifySettings, SettingsFile
from orchestrator.tmux.client import Tmux
from orchestrator.watch.model import SessionState, Transition, WatcherHandle, take_batch

log = logging.getLogger(__name__)
PREVIEW_LINES = 3


@dataclass(frozen=True)
class Note:
    """One notification."""

    title: str
    body: str


def desktop_command(note: Note) -> list[str] | None:
    """The desktop notifier's command line, or None when there is none."""
    if shutil.which("notify-send"):
        return ["notify-send", "--app-name=orchestrator", note.title, note.body]
    if sys.platform == "darwin" and shutil.which("osascript"):
        body, title = _applescript(note.body), _applescript(note.title)
        script = f"display notification {body} with title {title}"
        return ["osascript", "-e", script]
    return None


def _applescript(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Notifier:
    """The subscriber: decides, then hands the sending to its own thread (never blocks the
    watcher's loop)."""

    def __init__(
        self,
        tmux: Tmux,
        fleet: str,
        settings: NotifySettings | SettingsFile | None = None,
        *,
        run: Callable[[list[str]], object] | None = None,
    ) -> None:
        self.tmux = tmux
        self.fleet = fleet
        self.settings = settings if isinstance(settings, NotifySettings) else NotifySettings()
        self.source = None if isinstance(settings, NotifySettings) else settings or SettingsFile()
        """The settings file, looked at again at each change of state (None: fixed settings)."""
        self.run = run or _run_quietly
        self.sent: list[Note] = []
        """Every notification sent (for tests and diagnostics)."""
        self.problems: list[SettingsError] = []
        """Every settings edit that did not validate, as told to the fleet's clients."""
        self._queue: queue.Queue[tuple[Transition, SessionState] | SettingsError] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._refresh()

    def _refresh(self) -> None:
        """Take in an edit of the settings file (one ``stat`` when there is none); an edit that
        does not validate is told to the fleet's clients, once."""
        if self.source is None:
            return
        found = self.source.current()
        self.settings = found.settings
        if found.error is not None:
            self._send(found.error)

    def wants(self, transition: Transition) -> bool:
        """Whether this change deserves a notification."""
        if not self.settings.enabled:
            return False
        if transition.new in NEEDS_USER:
            return True
        return (
            self.settings.turn_finished
            and transition.old == State.WORKING.value
            and transition.new == State.IDLE.value
        )

    def __call__(self, transition: Transition, state: SessionState) -> None:
        self._refresh()
        if self.wants(transition):
            self._send((transition, state))

    def _send(self, item: tuple[Transition, SessionState] | SettingsError) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, name="notify", daemon=True)
            self._thread.start()
        self._queue.put(item)

    def _drain(self) -> None:
        while True:
            # What piled up meanwhile shares its look at the clients and at the switch: two
            # tmux calls, not two per notification.
            items = take_batch(self._queue)
            changes: list[tuple[Transition, SessionState]] = []
            for item in items:
                if isinstance(item, SettingsError):
                    try:
                        self.tell_problem(item)
                    except Exception:
                        log.exception("telling a settings problem failed")
                else:
                    changes.append(item)
            try:
                self.notify_all(changes)
            except Exception:
                log.exception("notification failed")

    def tell_problem(self, problem: SettingsError) -> None:
        """Show the fleet's clients that an edit of the settings does not validate."""
        lines = problem.message.splitlines()
        first = lines[1].strip() if len(lines) > 1 else lines[0].partition(": ")[2]
        path = self.source.path if self.source is not None else notify_settings.settings_path()
        message = (
            f"orchestrator: {path} is not valid, the previous settings stay "
            f"(`orchestrator notify check` says why): {first}"
        )
        attached = [c for c in jump.clients(self.tmux) if c.session == self.fleet]
        shown = message.replace("#", "##")
        commands = [["display-message", "-d", "15000", "-c", c.tty, shown] for c in attached]
        if commands:
            self.tmux.run(*commands, check=False)
        self.problems.append(problem)

    def notify(self, transition: Transition, state: SessionState) -> Note | None:
        """Send one notification now (unless the user is looking at the pane, or the fleet's
        latest ``up`` said ``ORCHESTRATOR_NOTIFY=off``)."""
        sent = self.notify_all([(transition, state)])
        return sent[0] if sent else None

    def notify_all(self, changes: list[tuple[Transition, SessionState]]) -> list[Note]:
        """Send a notification for each change whose pane nobody is looking at, unless the
        fleet's latest ``up`` said ``ORCHESTRATOR_NOTIFY=off`` (one look at the clients and one
        at the switch for all of them)."""
        if not changes:
            return []
        viewed = jump.viewed_panes(self.tmux)
        unseen = [(t, s) for t, s in changes if s.pane_id not in viewed]
        if not unseen or not notify_settings.allowed(self.tmux, self.fleet):
            return []
        return [self._send_now(self.compose(t, s)) for t, s in unseen]

    def deliver(self, note: Note) -> Note | None:
        """Send ``note`` now: to the desktop when a notifier is there, else to the fleet's tmux
        clients (a check-in digest comes this way too); nothing when the fleet's latest ``up``
        said ``ORCHESTRATOR_NOTIFY=off``."""
        if not notify_settings.allowed(self.tmux, self.fleet):
            return None
        return self._send_now(note)

    def _send_now(self, note: Note) -> Note:
        command = desktop_command(note) if self.settings.desktop else None
        if command is not None:
            self.run(command)
        else:
            self._tell_clients(note)
        self.sent.append(note)
        return note

    def compose(self, transition: Transition, state: SessionState) -> Note:
        """The title (session and what happened), the reason, and the pane's last lines."""
        what = {
            State.AWAITING_INPUT.value: "needs you",
            State.ERROR.value: "stopped on an error",
        }.get(transition.new, "finished its turn")
        lines = self.tmux.run(["capture-pane", "-p", "-t", state.pane_id], check=False)
        tail = [line.rstrip() for line in lines if line.strip()][-PREVIEW_LINES:]
        body = "\n".join([state.reason, *tail]) if state.reason else "\n".join(tail)
        return Note(f"{self.fleet}/{state.name} {what}", body)

    def _tell_clients(self, note: Note) -> None:
        attached = [c for c in jump.clients(self.tmux) if c.session == self.fleet]
        message = f"{note.title}: {note.body.splitlines()[0] if note.body else ''}"
        commands = []
        for client in attached:
            if self.settings.tmux_message:
                commands.append(["display-message", "-c", client.tty, message.replace("#", "##")])
            if self.settings.bell:
                _bell(client.tty)
        if commands:
            self.tmux.run(*commands, check=False)


def _bell(tty: str) -> None:
    try:
        with open(tty, "w", encoding="utf-8") as out:  # noqa: PTH123
            out.write("\a")
    except OSError:
        pass


def _run_quietly(argv: list[str]) -> None:
    try:
        subprocess.run(argv, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("notifier %s failed: %s", argv[0], exc)


def subscribe(watcher: WatcherHandle, settings: SettingsFile | None = None) -> Notifier:
    """Notify on the watcher's transitions. The one line ``run_watcher`` needs."""
    notifier = Notifier(watcher.tmux, watcher.fleet, settings)
    watcher.subscribe(notifier)
    return notifier
