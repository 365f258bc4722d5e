"""Errors the tool reports to people.

Every error that reaches the command line is an :class:`OrchestratorError`: its message names the
file, line or field at fault and what to do about it, and the command exits with ``exit_code``.
"""

from __future__ import annotations


class OrchestratorError(Exception):
    """A problem the user can fix; printed without a traceback."""

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class LayoutError(OrchestratorError):
    """A layout file that cannot be read or does not validate."""


class TmuxError(OrchestratorError):
    """tmux is missing, too old, or refused a command."""


class NotFoundError(OrchestratorError):
    """A fleet or session that the tool cannot find on the tmux server."""

    exit_code = 1


class SettingsError(OrchestratorError):
    """A settings file (``notify.toml``) that cannot be read or does not validate."""
