"""The dashboard (Textual). The only package that imports Textual."""

from __future__ import annotations

from orchestrator.tmux.client import Tmux


def run(tmux: Tmux, fleet: str) -> int:
    """Run the dashboard for ``fleet`` until the user quits; the fleet runs on."""
    import os

    from orchestrator.fleet import jump
    from orchestrator.subscribers.notify_settings import SettingsFile
    from orchestrator.tui.app import run_app
    from orchestrator.tui.backend import TmuxBackend

    notice = jump.install_back_key(tmux)
    # In a pane of the fleet's server the dashboard can tell whether anyone sees it.
    own_pane = os.environ.get("TMUX_PANE") if jump.inside(tmux) else None
    backend = TmuxBackend(tmux, fleet, own_pane=own_pane)
    try:
        run_app(backend, SettingsFile(), notice=notice)
    finally:
        backend.close()
    return 0
