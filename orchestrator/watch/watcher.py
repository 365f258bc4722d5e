"""The watcher: every session's state, pushed, not polled.

One watcher per fleet (a lock file makes sure of it). It sleeps until something happens:

- **tmux pushes** through a control-mode client (``tmux -C``, attached read-only and without
  affecting window sizes): ``%output`` marks a pane as changed; windows closing and the session
  ending arrive the same way. A ``pane-died`` tmux hook appends to a file in the fleet's runtime
  folder, which the file watcher below sees within milliseconds.
- **hook events** land in the sessions' ``events.jsonl`` files; ``watchfiles`` (inotify) wakes us.
- **deadlines**: a hook state that should show on screen by now, an idle prompt that has been still
  long enough, the periodic process pass (every few seconds, one pass for all sessions).

Each round drains every pending event first, so a burst or a stall leads to one round, not a
backlog. A round makes at most two tmux calls: one ``list-panes`` when the pane set may have
changed, and one chained call capturing just the panes that changed or are uncertain. Results go
out as tmux pane options (``@orc_state``... for status lines, borders and ``status``), a
``state.json`` snapshot for the dashboard, a ``transitions.jsonl`` log, and to subscribers.

Here are the loop, the round and the decisions. The push sources are in
:mod:`orchestrator.watch.inputs`, the outputs in :mod:`orchestrator.watch.publish`, each session's
record between rounds in :mod:`orchestrator.watch.sessions`, and what subscribers receive in
:mod:`orchestrator.watch.model`. Subscribers register from outside; the watcher knows none by name.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from orchestrator import paths
from orchestrator.detect.model import State, Verdict
from orchestrator.detect.process import ProcessTable
from orchestrator.detect.reconcile import STILL, ProcessFacts
from orchestrator.runtime import fleet_dir, fleet_lock
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import PANE_FIELDS, PaneInfo
from orchestrator.watch.inputs import Event, PushSources
from orchestrator.watch.model import (
    RecordedState,
    SessionListener,
    SessionState,
    Subscriber,
    Transition,
)
from orchestrator.watch.publish import Change, Publisher
from orchestrator.watch.reaping import MissingStatus
from orchestrator.watch.sessions import (
    Pacing,
    Watched,
    adopt,
    capture,
    due_times,
    process_pass,
    read_hooks,
    resized,
    served,
    tail_offset,
)

log = logging.getLogger(__name__)

MIN_ROUND = 0.05
"""Seconds between two rounds at the most busy; output faster than this is coalesced (other
pushes start a round sooner)."""
HOOK_PAUSE = 0.02
"""Seconds after a round within which hook events wait for each other: at 200 sessions, a round
per hook event cost more than it saved."""
PROCESS_EVERY = 3.0
"""Seconds between process passes (CPU, memory, agent still alive) while a session is busy."""
PROCESS_QUIET_EVERY = 12.0
"""Seconds between process passes while every session is idle or exited: nothing moves, and a
dying pane or an agent's exit hook is pushed anyway (only an agent gone from under a wrapper
shell waits for this pass)."""
BACKSTOP = 10.0
"""Seconds between pane listings when nothing at all happens (a missed push is caught by then)."""


class Watcher:
    """Watches one fleet until stopped (``stop()``) or the fleet ends."""

    def __init__(self, tmux: Tmux, fleet: str, runtime: Path | None = None) -> None:
        self.tmux = tmux
        self.fleet = fleet
        self.runtime = runtime or paths.runtime_dir()
        self.folder = fleet_dir(fleet, self.runtime)
        self.sessions: dict[str, Watched] = {}
        self.states: dict[str, SessionState] = {}
        self.session_listeners: list[SessionListener] = []
        """Called with (session name, event) for every SessionStart hook (Claude session ids)."""
        self.recorded_state: RecordedState | None = None
        """The history's latest state of a session, by name. Consulted when a pane is adopted:
        the history is written before tmux, so after a crash between the two it is the history
        that says what was last announced, and the successor compares with it."""
        self.events: queue.Queue[Event] = queue.Queue()
        self.stop_event = threading.Event()
        self.processes = ProcessTable()
        self.inputs = PushSources(tmux, fleet, self.folder, self.events, self.stop_event)
        self.publisher = Publisher(tmux, fleet, self.folder)
        self.tmux_calls = 0
        self.rounds = 0
        self._last_list = 0.0
        self._last_process = 0.0
        self._need_list = True
        self._by_pane: dict[str, Watched] = {}
        self._hooks_changed: set[str] = set()
        self.missing = MissingStatus(tmux)
        self._relist_at: float | None = None
        self.pacing = Pacing()

    # -- lifecycle -------------------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber`` on every state change."""
        self.publisher.subscribers.append(subscriber)

    def pane(self, name: str) -> PaneInfo | None:
        """The pane of a watched session, as last listed (None: not watched)."""
        watched = self.sessions.get(name)
        return watched.pane if watched is not None else None

    def stop(self) -> None:
        """Ask the watcher to stop; ``run`` returns soon after."""
        self.stop_event.set()
        self.events.put(("stop", ""))

    def run(self) -> None:
        """Watch until stopped or the fleet is gone. Holds the fleet lock throughout."""
        with fleet_lock(self.folder):
            self.tmux_calls += 1  # the pane-died hook
            self.inputs.start()
            try:
                self._loop()
            finally:
                self.stop_event.set()
                self.inputs.stop()

    def _loop(self) -> None:
        next_deadline: float | None = time.time()
        while not self.stop_event.is_set():
            next_deadline = self.pacing.take(next_deadline)
            timeout = None if next_deadline is None else max(0.0, next_deadline - time.time())
            timeout = min(timeout, BACKSTOP) if timeout is not None else BACKSTOP
            try:
                kind, value = self.events.get(timeout=timeout)
                self._note(kind, value)
            except queue.Empty:
                pass
            # Coalesce: take everything else that is already waiting.
            while True:
                try:
                    kind, value = self.events.get_nowait()
                except queue.Empty:
                    break
                self._note(kind, value)
            if self.stop_event.is_set():
                break
            next_deadline = self.pacing.take(next_deadline)
            if self.pacing.may_wait(next_deadline, time.time()):
                continue  # only output of panes read at a slower pace: due later
            self.pacing.urgent = False
            if not self.round():
                break
            next_deadline = self._next_deadline()
            if _pause(self.events, self._note, time.time() + MIN_ROUND) and self.pacing.urgent:
                next_deadline = time.time()  # what the pause took in needs a round now

    def _note(self, kind: str, value: str) -> None:
        if kind == "output":
            # The panes that printed since the reader's last chunk, space-separated.
            for pane_id in value.split():
                self._printed(pane_id)
            return
        self.pacing.note(None)
        if kind == "hooks":
            self._hooks_changed.add(value)
        elif kind in {"layout", "died"} or kind == "exit":
            self._need_list = True
        elif kind == "stop":
            self.stop_event.set()

    def _printed(self, pane_id: str) -> None:
        watched = self._by_pane.get(pane_id)
        self.pacing.note(watched)
        if watched is not None:
            # Output is not paused with `refresh-client -A`: tmux 3.3a segfaulted under that
            # (seen in CI), and a crashed server takes every agent with it.
            watched.dirty = True
            watched.printed = self.inputs.output_at.get(pane_id)
            if watched.pane.dead:
                # A dead pane printing has been respawned (a new process, a new run): list the
                # panes now rather than at the backstop.
                self._need_list = True

    # -- the round -------------------------------------------------------------------------

    def round(self) -> bool:
        """One round: refresh what changed, decide, publish. False when the fleet is gone."""
        now = time.time()
        self.rounds += 1
        relist = self._relist_at is not None and now >= self._relist_at
        need_list = self._need_list or relist or now - self._last_list >= BACKSTOP
        if need_list and not self._list_panes(now):
            return False
        process = now - self._last_process >= _process_every(
            self.states.values(), len(self.sessions)
        )
        if process:
            self._process_pass(now)
        heard = self._read_hooks()
        due = [w for w in self.sessions.values() if w.capture_due(now)]
        if due:
            chosen = {id(w) for w in due}
            along = [w for w in self.sessions.values() if w.capture_along(now)]
            due += [w for w in along if id(w) not in chosen]
            self._capture(due, time.time())
        timed = served(self.sessions.values(), now)
        touched = None if need_list or process else heard | timed | {w.pane.name for w in due}
        if touched is not None and not touched:
            # Output from panes that are throttled and nothing else: no input, no decision.
            return True
        changes = self._decide(time.time(), touched)
        if log.isEnabledFor(logging.DEBUG):
            _log_round(self.rounds, self.sessions, due)
        if changes:
            self.tmux_calls += 1
            self.publisher.publish(changes, self.states.values())
        return True

    def _read_hooks(self) -> set[str]:
        """Read the hook files that changed; the sessions that had events."""
        changed, self._hooks_changed = self._hooks_changed, set()
        return read_hooks(self.sessions, changed, self.session_listeners)

    def _decide(self, now: float, only: set[str] | None = None) -> list[Change]:
        """Decide the sessions named in ``only`` (all when None); return what to publish (a
        transition, or None for a new reason)."""
        changes: list[Change] = []
        for name, watched in self.sessions.items():
            if only is not None and name not in only:
                continue
            if watched.settle_at:
                if watched.tracker.screen_seen < watched.settle_at:
                    continue
                watched.settle_at = 0.0
            verdict, _ = watched.tracker.decide(now)
            state = watched.publishable(self.fleet, name, verdict)
            previous = self.states.get(name)
            self.states[name] = state
            # After a restart the state published by the previous watcher is the one to compare
            # with, so re-adopting a fleet records no transition that did not happen.
            old = previous.state if previous else watched.restored
            if state.state != old:
                transition = Transition(
                    fleet=self.fleet,
                    session=name,
                    pane_id=watched.pane.pane_id,
                    old=old,
                    new=state.state,
                    at=state.since,
                    source=state.source,
                    reason=state.reason,
                    reported=time.time(),
                )
                changes.append((transition, state))
            elif previous is None or previous.reason != state.reason:
                changes.append((None, state))
        return changes

    def probe(self, settle: float = 0.3) -> dict[str, tuple[SessionState, Verdict]]:
        """Decide every session once, without publishing (``status`` and ``explain`` with no
        watcher running). The screen is read twice, ``settle`` seconds apart, to tell a still
        screen from a moving one."""
        now = time.time()
        if not self._list_panes(now):
            return {}
        self._process_pass(now)
        for watched in self.sessions.values():
            if watched.reader is not None:
                watched.reader.offset = tail_offset(watched.reader.path)
        self._read_hooks()
        live = [w for w in self.sessions.values() if not w.pane.dead]
        if live:
            self._capture(live, now)
            first = {w.pane.pane_id: w.tracker.screen_text for w in live}
            time.sleep(settle)
            self._capture(live, time.time())
            for watched in live:
                if watched.tracker.screen_text == first[watched.pane.pane_id]:
                    watched.tracker.screen_changed = now - STILL  # still since the first read
        decided_at = time.time()
        result = {}
        for name, watched in self.sessions.items():
            watched.read_registry()
            verdict, _ = watched.tracker.decide(decided_at)
            result[name] = (watched.publishable(self.fleet, name, verdict), verdict)
        return result

    def _next_deadline(self) -> float | None:
        now = time.time()
        times = due_times(self.sessions.values(), now)
        times.append(self._last_process + _process_every(self.states.values(), len(self.sessions)))
        if self._need_list:
            times.append(now + 0.1)
        if self._relist_at is not None:
            times.append(self._relist_at)
        return min(times) if times else None

    # -- inputs ----------------------------------------------------------------------------

    def _list_panes(self, now: float) -> bool:
        self._need_list = False
        self._relist_at = None
        self._last_list = now
        self.tmux_calls += 1
        if not self.tmux.has_session(self.fleet):
            return False
        rows = self.tmux.query(["list-panes", "-s", "-t", f"={self.fleet}:"], PANE_FIELDS)
        seen: set[str] = set()
        for row in rows:
            pane = PaneInfo.from_row(row)
            if pane.kind != "agent" or pane.fleet != self.fleet or not pane.name:
                continue
            seen.add(pane.name)
            watched = self.sessions.get(pane.name)
            if (
                watched is None
                or watched.pane.pane_id != pane.pane_id
                or watched.pane.pane_pid != pane.pane_pid
            ):
                watched = adopt(pane, self.fleet, self.runtime, self.recorded_state, now)
                self._last_process = 0.0  # find the new pane's processes in this round
                self.sessions[pane.name] = watched
            else:
                watched.dirty = watched.dirty or (pane.dead and not watched.pane.dead)
                if (pane.width, pane.height) != (watched.pane.width, watched.pane.height):
                    resized(watched, now)
                watched.pane = pane
            if pane.dead and pane.dead_status is None and pane.dead_signal is None:
                again, at_latest = self.missing.seen(pane.pane_id, now)
                self._need_list = self._need_list or again
                self._relist_soon(at_latest)
            else:
                self.missing.known(pane.pane_id)
            watched.tracker.facts = ProcessFacts(
                dead=pane.dead,
                dead_status=pane.dead_status,
                dead_signal=pane.dead_signal,
                agent_alive=watched.tracker.facts.agent_alive,
                current_command=pane.current_command,
            )
        for name in list(self.sessions):
            if name not in seen:
                del self.sessions[name]
                self.states.pop(name, None)
        self.missing.keep({w.pane.pane_id for w in self.sessions.values()})
        self._by_pane = {w.pane.pane_id: w for w in self.sessions.values()}
        return True

    def _relist_soon(self, at: float) -> None:
        if self._relist_at is None or at < self._relist_at:
            self._relist_at = at

    def _process_pass(self, now: float) -> None:
        self._last_process = now
        if process_pass(self.processes, self.sessions.values()):
            self._need_list = True  # a pane's process is gone and tmux said nothing

    def _capture(self, due: list[Watched], now: float) -> None:
        self.tmux_calls += 1
        if capture(self.tmux, due, now):
            self._need_list = True  # a pane died that the listing had alive


def _log_round(rounds: int, sessions: dict[str, Watched], due: list[Watched]) -> None:
    """What a round saw of each session (``ORCHESTRATOR_DEBUG=1``)."""
    now = time.time()
    for name, w in sessions.items():
        verdict = w.tracker.verdict
        log.debug(
            "round %d %s due=%s match=%s changed=%.2f verdict=%s (%s) next=%s",
            rounds,
            name,
            w in due,
            w.tracker.match and w.tracker.match.rule,
            now - w.tracker.screen_changed,
            verdict and verdict.state,
            verdict and verdict.note,
            w.tracker.next_check(now),
        )


def _process_every(states: Iterable[SessionState], watched: int) -> float:
    """Seconds until the next process pass: sooner while any session is busy (or not yet
    decided), later while all are idle or exited."""
    quiet = {State.IDLE.value, State.ERROR.value, State.EXITED.value}
    decided = [s.state for s in states]
    busy = len(decided) < watched or any(state not in quiet for state in decided)
    return PROCESS_EVERY if busy else PROCESS_QUIET_EVERY


def _pause(events: queue.Queue[Event], note: Callable[[str, str], None], until: float) -> bool:
    """Let output coalesce until ``until``; a hook event shortens the pause to :data:`HOOK_PAUSE`
    (hooks of many sessions still share a round), anything else (a pane dying, a stop) ends it at
    once. True when it took in any event (they are noted, so the next round must not wait for
    another)."""
    noted = False
    started = time.time()
    while (left := until - time.time()) > 0:
        try:
            kind, value = events.get(timeout=left)
        except queue.Empty:
            return noted
        note(kind, value)
        noted = True
        if kind == "hooks":
            until = min(until, started + HOOK_PAUSE)
        elif kind != "output":
            return True
    return noted
