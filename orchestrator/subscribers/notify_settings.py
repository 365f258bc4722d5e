"""The notification settings: ``notify.toml``, validated like a layout, and read again when edited.

The file is ``$XDG_CONFIG_HOME/orchestrator/notify.toml`` (usually ``~/.config/orchestrator/``);
every key is optional. :func:`load` validates it once and raises a :class:`SettingsError` naming
the file, the line and the key, with what to do (``orchestrator notify check`` and ``up`` report
it and exit 2). :class:`SettingsFile` is what a long-running process holds: it looks at the file's
modification time whenever it is asked (one ``stat``), reads it again when it changed, and keeps
the last good settings when an edit does not validate (saying so once).

``ORCHESTRATOR_NOTIFY=off`` (or ``0``, ``no``, ``false``) turns notifications off whatever the
file says. The latest ``up`` or ``watch`` decides, for a watcher already running too: each records
its value on the fleet's tmux session (``@orc_notify``, :func:`record_switch`), and the notifier
asks tmux before it sends anything (:func:`allowed`).
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator import paths
from orchestrator.errors import SettingsError
from orchestrator.tmux.client import Tmux

log = logging.getLogger(__name__)

ENV_VAR = "ORCHESTRATOR_NOTIFY"
"""Set to ``off`` to turn notifications off whatever the file says."""
OFF_VALUES = frozenset({"0", "off", "no", "false"})


class NotifySettings(BaseModel):
    """What ``notify.toml`` may say."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

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


KEYS = tuple(NotifySettings.model_fields)
HINT = "fix the file, then run `orchestrator notify check` (README, Notifications: every key)"


def settings_path() -> Path:
    """Where the settings file is looked for."""
    return paths.config_dir() / "notify.toml"


def switched_off() -> bool:
    """Whether ``ORCHESTRATOR_NOTIFY`` in this process's environment turns notifications off."""
    return os.environ.get(ENV_VAR, "").strip().lower() in OFF_VALUES


SWITCH = "@orc_notify"
"""The fleet's tmux session option holding the latest ``up``'s or ``watch``'s switch: on, off."""


def record_switch(tmux: Tmux, fleet: str) -> None:
    """Record this process's ``ORCHESTRATOR_NOTIFY`` (on or off) on the fleet's tmux session."""
    value = "off" if switched_off() else "on"
    tmux.run(["set-option", "-t", f"={fleet}:", SWITCH, value], check=False)


def allowed(tmux: Tmux, fleet: str) -> bool:
    """Whether ``ORCHESTRATOR_NOTIFY`` lets notifications through: as the fleet's latest ``up``
    or ``watch`` recorded it, else as this process's environment says (one tmux call)."""
    rows = tmux.query(["display-message", "-p", "-t", f"={fleet}:"], (SWITCH,))
    recorded = rows[0].get(SWITCH, "") if rows else ""
    if recorded in {"on", "off"}:
        return recorded == "on"
    return not switched_off()


def load(path: Path | None = None) -> NotifySettings:
    """The file's settings (the defaults when there is no file), ``ORCHESTRATOR_NOTIFY`` applied.

    Raises :class:`SettingsError` naming the file, line and key when the file does not validate.
    """
    return _with_env(parse(path or settings_path()))


def parse(path: Path) -> NotifySettings:
    """The file's own settings, without ``ORCHESTRATOR_NOTIFY``; defaults when it is missing."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return NotifySettings()
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read the settings file: {exc}", hint=HINT) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(
            f"{path}: not valid TOML: {exc}", hint="fix the syntax at the line and column shown"
        ) from None
    try:
        return NotifySettings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(_describe(path, text, exc), hint=HINT) from None


def _with_env(settings: NotifySettings) -> NotifySettings:
    if switched_off():
        return settings.model_copy(update={"enabled": False})
    return settings


def _describe(path: Path, text: str, exc: ValidationError) -> str:
    problems: list[tuple[int, str]] = []
    for error in exc.errors():
        loc = tuple(str(part) for part in error["loc"])
        key = loc[0] if loc else ""
        line = _line_of(text, key)
        got = f"(got {error.get('input')!r})"
        if error["type"] == "extra_forbidden":
            message = f"unknown key; check its spelling (known keys: {', '.join(KEYS)})"
        elif error["type"] == "bool_type":
            message = f"write true or false, without quotes {got}"
        elif key == "forgotten_after":
            message = f"write a number of seconds, 0 or more {got}"
        else:
            message = f"{error['msg']} {got}"
        where = f"line {line}, " if line else ""
        problems.append((line or 0, f"  {where}{'.'.join(loc) or 'file'}: {message}"))
    count = f"{exc.error_count()} problem(s)"
    head = f"{path}: the notification settings are not valid ({count}):"
    return "\n".join([head, *(text for _, text in sorted(problems))])


def _line_of(text: str, key: str) -> int | None:
    """The line of ``key = ...`` (or of a ``[key]`` table) at the top level of the file."""
    assignment = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    header = re.compile(rf"^\s*\[\[?\s*[\"']?{re.escape(key)}[\"']?\s*[\].]")
    in_table = False
    for number, raw in enumerate(text.splitlines(), start=1):
        if header.match(raw):
            return number
        if raw.lstrip().startswith("["):
            in_table = True
        elif not in_table and assignment.match(raw):
            return number
    return None


_UNREAD = object()


@dataclass
class Reload:
    """What :meth:`SettingsFile.current` found: the settings in force, and an error to report
    (only the first time an edit fails to validate; None otherwise)."""

    settings: NotifySettings
    error: SettingsError | None = None


class SettingsFile:
    """The settings as a long-running process holds them: read again whenever the file changes.

    Asking costs one ``stat``. An edit that does not validate leaves the previous settings in
    force; :meth:`current` returns its error once, for the caller to show. The first read's
    error too: a missing or broken file at start means the defaults until it is fixed.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or settings_path()
        self._settings = NotifySettings()
        self._signature: object = _UNREAD
        self.error: SettingsError | None = None
        """The problem with the file as it is now (None: it is valid, or missing)."""

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            info = self.path.stat()
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size, info.st_ino

    def current(self) -> Reload:
        """The file's settings now (without ``ORCHESTRATOR_NOTIFY``), reading the file again
        when it changed since the last time."""
        signature = self._stat()
        reported = None
        if signature != self._signature:
            first, self._signature = self._signature is _UNREAD, signature
            try:
                self._settings = parse(self.path)
                if self.error is not None:
                    log.info("%s is valid again", self.path)
                self.error = None
            except SettingsError as exc:
                if not first:  # the first read's problem is the caller's to report
                    log.warning("keeping the previous notification settings: %s", exc)
                self.error = reported = exc
        return Reload(self._settings, reported)
