"""The user's ``workflow.toml``: check-ins, the session cap and ``[[on]]`` commands for every fleet.

``$XDG_CONFIG_HOME/orchestrator/workflow.toml`` (usually ``~/.config/orchestrator/``) may hold
the same three settings as a layout (:class:`~orchestrator.layout.model.Workflow`). A layout's
``checkin`` and ``max_sessions`` win over the user's; ``[[on]]`` tables of both apply. It is read
by ``up`` (which refuses to start on an invalid file, naming its line and field), by the watcher
(which logs an invalid file and goes on without it) and by ``checkin``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from orchestrator import paths
from orchestrator.errors import LayoutError
from orchestrator.layout.load import describe_validation
from orchestrator.layout.model import (
    DEFAULT_CHECKIN,
    DEFAULT_MAX_SESSIONS,
    OnRule,
    Workflow,
    checkin_seconds,
)

FILE_NAME = "workflow.toml"


def config_path() -> Path:
    """Where the user's workflow settings are looked for."""
    return paths.config_dir() / FILE_NAME


def load_user_workflow(path: Path | None = None) -> Workflow:
    """The user's workflow settings (empty when there is no file); :class:`LayoutError` naming
    the file, line and field when it is not valid."""
    path = path or config_path()
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return Workflow()
    except (OSError, UnicodeDecodeError) as exc:
        raise LayoutError(f"{path}: cannot read the file: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LayoutError(
            f"{path}: not valid TOML: {exc}", hint="fix the syntax at the line and column shown"
        ) from None
    try:
        return Workflow.model_validate(data)
    except ValidationError as exc:
        message = describe_validation(path, text, data, exc, what="the workflow settings file")
        hint = "it may hold only checkin, max_sessions and [[on]] tables"
        raise LayoutError(message, hint=hint) from None


@dataclass(frozen=True)
class Settings:
    """The workflow settings in force for one fleet: its layout's, then the user's, then the
    defaults."""

    checkin: float | None
    """Seconds between two check-ins (None: off)."""
    max_sessions: int
    """Agent sessions on the server past which ``up`` and ``new`` warn."""
    rules: tuple[OnRule, ...]
    """The ``[[on]]`` tables: the user's, then the layout's."""


def settings(layout: Workflow | None, user: Workflow | None) -> Settings:
    """Merge a layout's workflow settings over the user's (either may be missing)."""
    layout, user = layout or Workflow(), user or Workflow()
    checkin = layout.checkin or user.checkin or DEFAULT_CHECKIN
    return Settings(
        checkin=checkin_seconds(checkin),
        max_sessions=layout.max_sessions or user.max_sessions or DEFAULT_MAX_SESSIONS,
        rules=(*user.on, *layout.on),
    )
