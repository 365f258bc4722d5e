"""The session cap: past ``max_sessions`` agent sessions on one tmux server, ``up`` and ``new``
warn (the workflow keeps to about five terminal agents: more are contexts nobody tracks).

The cap is the layout's ``max_sessions``, else the user's ``workflow.toml``'s, else
:data:`~orchestrator.layout.model.DEFAULT_MAX_SESSIONS`. Every live agent pane of every fleet on
the server counts (an exited one does not).
"""

from __future__ import annotations

import logging
from pathlib import Path

from orchestrator.errors import LayoutError
from orchestrator.layout import load, user
from orchestrator.layout.model import Workflow
from orchestrator.tmux.client import Tmux, tag
from orchestrator.tmux.panes import list_sessions

log = logging.getLogger(__name__)


def cap(layout: Path | str | None = None, *, strict: bool = False) -> int:
    """The session cap for a fleet of the layout file ``layout`` (None: the user's or the
    default). With ``strict`` an invalid file raises :class:`LayoutError`, else it is left out."""
    layout_model: Workflow | None = None
    user_model: Workflow | None = None
    try:
        if layout:
            layout_model = load.load_layout(Path(layout))
        user_model = user.load_user_workflow()
    except LayoutError:
        if strict:
            raise
        log.warning("workflow settings left out of the session cap", exc_info=True)
    return user.settings(layout_model, user_model).max_sessions


def fleet_cap(tmux: Tmux, fleet: str, *, strict: bool = False) -> int:
    """The session cap of a running fleet: :func:`cap` of the layout its ``@orc_layout`` tag
    names."""
    rows = tmux.query(["display-message", "-p", "-t", f"={fleet}:"], (tag("layout"),))
    return cap(rows[0].get(tag("layout")) or None if rows else None, strict=strict)


def agent_sessions(tmux: Tmux) -> int:
    """Live agent sessions on the tmux server, every fleet (one tmux call)."""
    return sum(1 for pane in list_sessions(tmux) if not pane.dead)


def warning(tmux: Tmux, limit: int) -> str | None:
    """What to tell the user when the server holds more than ``limit`` agent sessions, else
    None. ``up`` and ``new`` print it after adding their sessions."""
    count = agent_sessions(tmux)
    if count <= limit:
        return None
    return (
        f"warning: {count} agent sessions on this tmux server, past the cap of {limit} "
        "(max_sessions): more contexts than you can keep track of. End the ones you no "
        "longer need (`orchestrator rm NAME`, or `down FLEET`), or raise max_sessions in the "
        "layout or in "
        f"{user.config_path()}"
    )
