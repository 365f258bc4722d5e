"""``status`` and ``explain``: live states, from the watcher when one runs, else probed now."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from orchestrator.agents.catalog import profile_of
from orchestrator.detect import hooks
from orchestrator.errors import NotFoundError
from orchestrator.fleet import published
from orchestrator.runtime import watcher_running
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import list_sessions

if TYPE_CHECKING:
    from orchestrator.detect.model import Verdict
    from orchestrator.watch.model import SessionState
    from orchestrator.watch.watcher import Watcher


def _watcher(tmux: Tmux, fleet: str) -> Watcher:
    # Imported only to probe: with a watcher running, `status` reads what it published.
    from orchestrator.watch.watcher import Watcher

    return Watcher(tmux, fleet)


def status_rows(tmux: Tmux, fleet: str | None = None) -> list[dict[str, object]]:
    """One row per session on the server, in pane order.

    A fleet whose watcher runs is read from what it published on the panes (one tmux call);
    any other fleet is probed on the spot (captures, hooks, registry, processes).
    """
    rows = published.status_rows(tmux, fleet)
    probed: dict[str, dict[str, SessionState]] = {}
    for name in dict.fromkeys(str(row["fleet"]) for row in rows):
        if not watcher_running(name):
            probed[name] = {
                session: state for session, (state, _) in _watcher(tmux, name).probe().items()
            }
    for row in rows:
        # A probed state replaces what tmux held; the rest (branch, ahead, ...) stays as read.
        state = probed.get(str(row["fleet"]), {}).get(str(row["name"]))
        if state is not None:
            row.update(state=state.state, since=state.since, reason=state.reason)
    return rows


def _age(at: float | None, now: float) -> str:
    return f"{now - at:.1f}s ago" if at else "-"


def explain(tmux: Tmux, name: str, fleet: str | None = None) -> str:
    """What each signal says about one session, with its evidence and age, and the verdict."""
    panes = [pane for pane in list_sessions(tmux, fleet) if pane.name == name]
    if not panes:
        raise NotFoundError(
            f"no session named {name!r} on this tmux server",
            hint="run `orchestrator status` to list sessions (and check -L/--socket-name)",
        )
    pane = panes[0]
    probed = _watcher(tmux, pane.fleet).probe()
    if name not in probed:
        raise NotFoundError(f"session {name!r} vanished while it was being looked at")
    state, verdict = probed[name]
    now = time.time()
    lines = [f"{pane.fleet}/{name} ({pane.agent}, pane {pane.pane_id}, {pane.cwd})"]
    version = profile_of(pane.agent).version_seen(hooks.session_dir(pane.fleet, name))
    if version:
        lines.append(f"agent: {version}")
    lines += [
        f"verdict: {verdict.state.value}: {verdict.reason}",
        f"  decided by: {verdict.source.value} ({verdict.note})",
        f"  since: {_age(state.since, now)}",
    ]
    if pane.state:
        running = "running" if watcher_running(pane.fleet) else "not running"
        lines.append(
            f"  watcher ({running}) published: {pane.state}: {pane.reason} "
            f"({_age(pane.since, now)}, by {pane.source or '?'})"
        )
    lines.append("signals:")
    lines += _signal_lines(verdict, now)
    return "\n".join(lines)


def _signal_lines(verdict: Verdict, now: float) -> list[str]:
    lines = []
    for signal in verdict.signals:
        said = signal.state.value if signal.state else "nothing"
        lines.append(f"  {signal.source.value:<9} {said:<15} {signal.reason}")
        detail = []
        if signal.evidence:
            detail.append(f"evidence: {signal.evidence!r}")
        if signal.since:
            detail.append(f"as of {_age(signal.since, now)}")
        if detail:
            lines.append(f"  {'':<9} {'':<15} {'; '.join(detail)}")
    return lines
