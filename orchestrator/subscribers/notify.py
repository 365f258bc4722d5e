"""Notifications when a session starts awaiting input (and, if wanted, when a turn finishes).

A watcher subscriber (:func:`subscribe`). Each notification names the session, the reason and a
preview of the pane's last lines. It goes to the desktop (``notify-send`` or ``osascript``) when
one is available, else to the fleet's tmux clients as a bell and a ``display-message``. None is
sent for a pane an attached client is showing: the user is already looking at it.

Settings live in ``$XDG_CONFIG_HOME/orchestrator/notify.toml`` (see :class:`NotifySettings`);
``ORCHESTRATOR_NOTIFY=off`` turns notifications off whatever the file says.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator import paths
from orchestrator.detect.model import State
from orchestrator.fleet import jump
from orchestrator.tmux.client import Tmux
from orchestrator.watch.model import SessionState, Transition, WatcherHandle

log = logging.getLogger(__name__)
PREVIEW_LINES = 3


class NotifySettings(BaseModel):
    """What ``notify.toml`` may say."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    """Notify at all."""
    turn_finished: bool = False
    """Also notify when a session goes from working to idle (its turn finished)."""
    desktop: bool = True
    """Use a desktop notification (notify-send, osascript) when one is available."""
    bell: bool = True
    """Ring the terminal bell of the fleet's tmux clients when there is no desktop notifier."""
    tmux_message: bool = True
    """Show a tmux message to the fleet's clients when there is no desktop notifier."""
    forgotten_after: float = Field(default=300.0, ge=0)
    """Seconds awaiting input after which the dashboard flags a session as forgotten."""


def settings_path() -> os.PathLike[str]:
    """Where the settings file is looked for."""
    return paths.config_dir() / "notify.toml"


def load_settings() -> NotifySettings:
    """The user's settings; defaults when there is no file, or when it is invalid (logged)."""
    path = paths.config_dir() / "notify.toml"
    settings = NotifySettings()
    if path.is_file():
        try:
            settings = NotifySettings.model_validate(tomllib.loads(path.read_text("utf-8")))
        except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
            log.warning("ignoring %s: %s", path, exc)
    if os.environ.get("ORCHESTRATOR_NOTIFY", "").lower() in {"0", "off", "no", "false"}:
        settings = settings.model_copy(update={"enabled": False})
    return settings


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
        settings: NotifySettings | None = None,
        *,
        run: Callable[[list[str]], object] | None = None,
    ) -> None:
        self.tmux = tmux
        self.fleet = fleet
        self.settings = settings or load_settings()
        self.run = run or _run_quietly
        self.sent: list[Note] = []
        """Every notification sent (for tests and diagnostics)."""
        self._queue: queue.Queue[tuple[Transition, SessionState]] = queue.Queue()
        self._thread: threading.Thread | None = None

    def wants(self, transition: Transition) -> bool:
        """Whether this change deserves a notification."""
        if not self.settings.enabled:
            return False
        if transition.new == State.AWAITING_INPUT.value:
            return True
        return (
            self.settings.turn_finished
            and transition.old == State.WORKING.value
            and transition.new == State.IDLE.value
        )

    def __call__(self, transition: Transition, state: SessionState) -> None:
        if not self.wants(transition):
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, name="notify", daemon=True)
            self._thread.start()
        self._queue.put((transition, state))

    def _drain(self) -> None:
        while True:
            transition, state = self._queue.get()
            try:
                self.notify(transition, state)
            except Exception:
                log.exception("notification failed")

    def notify(self, transition: Transition, state: SessionState) -> Note | None:
        """Send one notification now (unless the user is looking at the pane)."""
        if state.pane_id in jump.viewed_panes(self.tmux):
            return None
        return self.deliver(self.compose(transition, state))

    def deliver(self, note: Note) -> Note:
        """Send ``note`` now: to the desktop when a notifier is there, else to the fleet's tmux
        clients (a check-in digest comes this way too)."""
        command = desktop_command(note) if self.settings.desktop else None
        if command is not None:
            self.run(command)
        else:
            self._tell_clients(note)
        self.sent.append(note)
        return note

    def compose(self, transition: Transition, state: SessionState) -> Note:
        """The title (session and what happened), the reason, and the pane's last lines."""
        what = "needs you" if transition.new == State.AWAITING_INPUT.value else "finished its turn"
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


def subscribe(watcher: WatcherHandle) -> Notifier:
    """Notify on the watcher's transitions. The one line ``run_watcher`` needs."""
    notifier = Notifier(watcher.tmux, watcher.fleet)
    watcher.subscribe(notifier)
    return notifier
