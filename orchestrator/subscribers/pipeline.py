"""The pipeline runner: a session with ``after``/``needs`` gets its prompt once its inputs are
ready, and the files it needs are handed over.

A watcher subscriber. A waiting session starts with the fleet but gets its layout prompt only
when every session in its ``after`` has finished a turn (a move to idle from working or awaiting
input, recorded in the history) since the fleet came up, and every file in its ``needs`` is found
(:mod:`orchestrator.fleet.handoff`). Its pane's ``@orc_waiting_for`` says what is still missing,
for ``status`` and the dashboard.

The checks run in a thread of their own, with its own connection to the history (a store belongs
to the thread that opened it; see :meth:`~orchestrator.store.db.Store.another`): a transition
wakes it, and while anything waits it also looks every :data:`POLL` seconds, since a file can
appear without any transition. As with first prompts, the prompt and the hand-off are recorded
before the keys are typed, so a watcher killed in between never types the prompt twice.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from orchestrator.detect.model import State
from orchestrator.fleet import handoff
from orchestrator.layout import load as layout
from orchestrator.layout.plan import SessionPlan
from orchestrator.store.db import Store
from orchestrator.subscribers.first_prompt import send_keys
from orchestrator.tmux.client import tag
from orchestrator.tmux.panes import PaneInfo
from orchestrator.watch.model import SessionState, Transition, WatcherHandle

log = logging.getLogger(__name__)

SOURCE = "pipeline"
"""The ``source`` of the prompts this module sends, in the history."""
POLL = 1.0
"""Seconds between two looks while a session waits (a needed file may appear at any time)."""
BUSY = (State.WORKING.value, State.AWAITING_INPUT.value)
"""States a turn passes through: a move from one of them to idle is a finished turn."""


class Pipeline:
    """Hands each waiting session its prompt once its inputs are ready; see :func:`subscribe`."""

    def __init__(self, watcher: WatcherHandle, db: Path | str) -> None:
        self.watcher = watcher
        self.db = db
        self.wake = threading.Event()
        self.stopped = threading.Event()
        self.done: set[tuple[str, str]] = set()
        """(session, pane id) pairs handed over (or that need nothing) in this watcher."""
        self.published: dict[str, tuple[str, ...]] = {}
        self.thread = threading.Thread(target=self._run, name="pipeline", daemon=True)
        self._plans: list[SessionPlan] | None = None
        self._came_up: float | None = None

    def __call__(self, transition: Transition, state: SessionState) -> None:
        """Any change may be the one a waiting session needs: look again."""
        del transition, state
        self.wake.set()

    def start(self) -> None:
        """Start the thread that does the looking."""
        self.thread.start()

    def stop(self) -> None:
        """Stop the thread (it is a daemon: the watcher's exit stops it too)."""
        self.stopped.set()
        self.wake.set()

    # -- what the layout says ----------------------------------------------------------

    def plans(self) -> list[SessionPlan]:
        """The sessions whose prompt waits, read once from the fleet's layout file."""
        if self._plans is None:
            self._plans = []
            source = self._fleet_option(tag("layout"))
            if source:
                try:
                    # Resolved where `up` resolved it (a layout without `root` starts there).
                    root = self._fleet_option(tag("root"))
                    fleet = layout.load_fleet(
                        source, check_commands=False, here=Path(root) if root else None
                    )
                except Exception:
                    log.exception("cannot read the layout %s for its pipeline", source)
                else:
                    self._plans = [plan for plan in fleet.sessions if plan.waits]
        return self._plans

    def came_up(self) -> float:
        """When the fleet's tmux session was created (turns before that do not count)."""
        if self._came_up is None:
            created = self._fleet_option("session_created")
            self._came_up = float(created) if created.isdigit() else 0.0
        return self._came_up

    def _fleet_option(self, name: str) -> str:
        rows = self.watcher.tmux.query(
            ["display-message", "-p", "-t", f"={self.watcher.fleet}:"], (name,)
        )
        return rows[0].get(name, "") if rows else ""

    # -- the looking -------------------------------------------------------------------

    def _run(self) -> None:
        with Store.another(self.db) as store:
            while not self.stopped.is_set():
                try:
                    waiting = self.check(store)
                except Exception:
                    log.exception("the pipeline check failed")
                    waiting = True
                self.wake.wait(POLL if waiting else None)
                self.wake.clear()

    def check(self, store: Store) -> bool:
        """Look at every waiting session once; True while any still waits."""
        waiting = False
        for plan in self.plans():
            pane = self.watcher.pane(plan.name)
            if pane is None or (plan.name, pane.pane_id) in self.done:
                continue
            if pane.resumed or self._handed(store, plan.name, pane):
                self.done.add((plan.name, pane.pane_id))
                self._publish(pane, ())
                continue
            waiting = True
            self._look(store, plan, pane)
        return waiting

    def _handed(self, store: Store, name: str, pane: PaneInfo) -> bool:
        started = pane.started or 0.0
        sent = store.prompts(name, fleet=self.watcher.fleet)
        return any(p.source == SOURCE and p.at >= started for p in sent)

    def _finished_turn(self, store: Store, name: str) -> bool:
        moves = store.transitions(name, fleet=self.watcher.fleet, since=self.came_up())
        return any(t.to_state == State.IDLE.value and t.from_state in BUSY for t in moves)

    def _look(self, store: Store, plan: SessionPlan, pane: PaneInfo) -> None:
        pending = [name for name in plan.after if not self._finished_turn(store, name)]
        own = Path(pane.cwd)
        producers = {
            name: Path(other.cwd)
            for name in plan.after
            if (other := self.watcher.pane(name)) is not None and other.cwd
        }
        found: list[handoff.Found] = []
        for name in plan.needs:
            item = handoff.locate(name, own, producers)
            if item is None:
                pending.append(name)
            else:
                found.append(item)
        self._publish(pane, tuple(pending))
        if pending or not self._ready(store, plan.name, pane):
            return
        files = handoff.hand_over(found, own)
        detail = handoff.describe(plan.after, files)
        fleet = self.watcher.fleet
        store.add_handoff(fleet, plan.name, after=plan.after, files=files, detail=detail)
        self.done.add((plan.name, pane.pane_id))
        if plan.prompt:
            store.add_prompt(fleet, plan.name, plan.prompt, source=SOURCE)
            log.info("hand-off to %s (%s): sending its prompt", plan.name, detail)
            send_keys(self.watcher.tmux, pane, plan.prompt)
        else:
            log.info("hand-off to %s (%s); it has no prompt to send", plan.name, detail)

    def _ready(self, store: Store, name: str, pane: PaneInfo) -> bool:
        """Whether the consumer's agent sits idle in this run (so typed keys reach it)."""
        record = store.session(self.watcher.fleet, name)
        if record is None or record.state != State.IDLE.value:
            return False
        return (record.state_at or 0.0) >= (pane.started or 0.0)

    def _publish(self, pane: PaneInfo, waiting: tuple[str, ...]) -> None:
        if self.published.get(pane.pane_id) == waiting:
            return
        self.published[pane.pane_id] = waiting
        self.watcher.tmux.run(handoff.tag_command(pane.pane_id, waiting), check=False)


def subscribe(watcher: WatcherHandle, db: Path | str) -> Pipeline:
    """Run ``watcher``'s fleet's pipeline, recording hand-offs in the history at ``db`` (which
    the watcher's process has open already: see :meth:`Store.another`)."""
    runner = Pipeline(watcher, db)
    watcher.subscribe(runner)
    runner.start()
    return runner
