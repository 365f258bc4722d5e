"""Where the tool keeps its files, following the XDG base directory rules.

- config: layouts a user writes (``$XDG_CONFIG_HOME/orchestrator``)
- state: the history database (``$XDG_STATE_HOME/orchestrator``)
- runtime: hook event files, settings files and locks (``$XDG_RUNTIME_DIR/orchestrator``, else a
  private folder under the state folder)

Folders we create are private (0700) because hook events and prompts may hold secrets.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "orchestrator"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var, "")
    # The XDG spec says relative paths are invalid and must be ignored.
    if value and Path(value).is_absolute():
        return Path(value)
    return Path.home() / fallback


def config_dir() -> Path:
    """The user's config folder for orchestrator (may not exist)."""
    return _xdg("XDG_CONFIG_HOME", ".config") / APP


def state_dir() -> Path:
    """The user's state folder for orchestrator (may not exist)."""
    return _xdg("XDG_STATE_HOME", ".local/state") / APP


def runtime_dir() -> Path:
    """A private folder for short-lived files (hook events, generated settings, locks)."""
    override = os.environ.get("ORCHESTRATOR_RUNTIME_DIR")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if xdg and Path(xdg).is_absolute() and Path(xdg).is_dir():
        return Path(xdg) / APP
    return state_dir() / "run"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make the leaf folder 0700; return it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path
