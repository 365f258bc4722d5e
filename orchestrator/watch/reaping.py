"""Dead panes whose exit status tmux does not know yet, and nudging tmux to reap them.

tmux marks a pane dead when its terminal closes, and learns the exit status (and runs the
``pane-died`` hook) when it reaps the process. Usually the two are milliseconds apart. They are
not when the process closed its terminal and lives on, or when tmux lost the process's SIGCHLD:
tmux built with libutempter sets SIGCHLD to its default while it runs the utempter helper as a
pane's terminal closes, which drops a SIGCHLD pending then (seen with Codex CLI, whose Node
wrapper exits just after closing the terminal). The exited process then stays a zombie, its pane
without a status, until tmux reaps some other child. So the watcher gives it one to reap: a
``run-shell`` of ``:``, whose SIGCHLD makes tmux reap every exited child.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.tmux.client import Tmux

STATUS_WAIT = 0.3
"""Seconds a dead pane may lack its exit status before tmux is nudged; until then the panes are
listed again every 0.1 s (tmux is about to know)."""
STATUS_NUDGE_MAX = 60.0
"""The longest wait between two nudges for the same missing status (they double from
:data:`STATUS_WAIT`: a process that closed its terminal and lives on is not nudged for ever)."""
EFFECT = 0.2
"""Seconds after a nudge to look at its effect."""


@dataclass
class MissingStatus:
    """The dead panes without a status, and when each is nudged next."""

    tmux: Tmux
    nudges: int = 0
    panes: dict[str, tuple[float, float]] = field(default_factory=dict)
    """pane id -> (next nudge, wait before it; 0 before the first nudge)."""

    def seen(self, pane_id: str, now: float) -> tuple[bool, float]:
        """A listing found ``pane_id`` dead without a status: nudge tmux when due. Returns
        whether to list again at once (not nudged yet) and when to list again at the latest."""
        nudge_at, wait = self.panes.setdefault(pane_id, (now + STATUS_WAIT, 0.0))
        if now < nudge_at:
            return not wait, nudge_at
        self.nudge()
        wait = min(max(wait * 2, STATUS_WAIT), STATUS_NUDGE_MAX)
        self.panes[pane_id] = (now + wait, wait)
        return False, now + EFFECT

    def known(self, pane_id: str) -> None:
        """The pane has its status (or lives): nothing to wait for."""
        self.panes.pop(pane_id, None)

    def keep(self, pane_ids: set[str]) -> None:
        """Forget the panes that are gone."""
        for pane_id in set(self.panes) - pane_ids:
            del self.panes[pane_id]

    def nudge(self) -> None:
        """Have the tmux server start and reap a short-lived child."""
        self.nudges += 1
        self.tmux.run(["run-shell", "-b", ":"], check=False)
