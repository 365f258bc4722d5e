"""The watcher's record of each session, and the work it does on many sessions at once.

A :class:`Watched` holds one pane's tracker, hook reader and process figures between rounds.
:func:`adopt` starts one for a pane (taking over what a previous watcher published),
:func:`capture` reads the screens of several panes in one chained tmux call, and
:func:`process_pass` refreshes every session's processes in one psutil pass.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.agents.catalog import profile_of
from orchestrator.agents.profile import AgentProfile
from orchestrator.detect import hooks
from orchestrator.detect.model import Source, State, Verdict
from orchestrator.detect.process import ProcessTable, process_environ
from orchestrator.detect.reconcile import ProcessFacts, SessionTracker
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import PaneInfo
from orchestrator.watch.model import RecordedState, SessionListener, SessionState

log = logging.getLogger(__name__)

WORKING_RECAPTURE = 1.0
"""Seconds between two reads of a pane that is already working on screen (its spinner moves)."""
RECAPTURE_EARLY = 0.5
"""How much earlier such a pane is read when a round reads other panes anyway: fifty working
panes then share a few tmux calls a second instead of one each (one call reads any number)."""
CAPTURE_MARK = "@@orc-capture@@ "
ADOPT_SETTLE = 0.3
"""Seconds between the two screen reads that settle a re-adopted pane's state."""
REDRAW_GRACE = 0.15
"""Seconds after a resize during which what a pane prints is taken for its redraw; output
after that is its own (a command answering keys sent right after a client attached)."""


@dataclass
class Watched:
    """One watched session between rounds."""

    pane: PaneInfo
    agent: AgentProfile
    tracker: SessionTracker
    reader: hooks.EventReader | None
    config: Path | None = None
    """Where the agent process reports its own status (Claude's config folder), once known."""
    pid: int | None = None
    dirty: bool = True
    deadline: float = 0.0
    """When its verdict may change with no new input (0: no such time)."""
    fresh: bool = True
    """Just adopted: read its hook file whether or not it changed."""
    restored: str = ""
    """The state a previous watcher published for this pane (empty for a new pane)."""
    settle_at: float = 0.0
    """Re-adopted pane: when its screen is read a second time; it is not judged before then
    (a first read cannot tell a still screen from a moving one). 0 once settled."""
    backdate: float = 0.0
    """Re-adopted pane: when its screen is assumed to have last changed, unless it moves."""
    backdate_first: bool = True
    """Its first read since ``backdate`` was set is still to come."""
    redraw_until: float = 0.0
    """Resized pane: until when its output counts as a redraw (see :data:`REDRAW_GRACE`)."""
    printed: float | None = None
    """When the pane last printed, as the control client saw it (None: not since adopted)."""
    cpu: float = 0.0
    rss: int = 0

    def capture_due(self, now: float) -> bool:
        """Whether to read the pane's screen this round."""
        tracker = self.tracker
        if self.pane.dead:
            return False
        if self.settle_at and now >= self.settle_at:
            return True
        if not tracker.screen_seen or tracker.wants_capture(now):
            return True
        if self.deadline and self.deadline <= now:
            return True
        if not self.dirty:
            return False
        # A pane that shows a working marker redraws its spinner several times a second: read
        # it again at most every WORKING_RECAPTURE seconds (hooks still trigger a read at once).
        return not self.throttled or now - tracker.screen_seen >= WORKING_RECAPTURE

    def capture_along(self, now: float) -> bool:
        """Whether to read it in a round that reads other panes anyway: a working pane that
        printed and will be due within :data:`RECAPTURE_EARLY` seconds."""
        return (
            not self.pane.dead
            and self.dirty
            and self.throttled
            and now - self.tracker.screen_seen >= WORKING_RECAPTURE - RECAPTURE_EARLY
        )

    @property
    def throttled(self) -> bool:
        """Its screen shows a working marker (its output is read at a slower pace)."""
        match = self.tracker.match
        return match is not None and match.state == State.WORKING

    def read_registry(self) -> None:
        """Read the agent's own session registry entry, when its process is known."""
        if self.config is not None and self.pid is not None:
            self.tracker.registry = self.agent.status_signal(self.config, self.pid)

    def publishable(self, fleet: str, name: str, verdict: Verdict) -> SessionState:
        """The state to publish for this session, given its verdict."""
        pane = self.pane
        return SessionState(
            fleet=fleet,
            name=name,
            role=pane.role,
            agent=pane.agent,
            pane_id=pane.pane_id,
            cwd=pane.cwd,
            state=verdict.state.value,
            since=self.tracker.since,
            reason=verdict.reason,
            source=verdict.source.value,
            note=verdict.note,
            cpu=self.cpu,
            rss=self.rss,
            pid=self.pid,
        )


def adopt(
    pane: PaneInfo,
    fleet: str,
    runtime: Path,
    recorded_state: RecordedState | None,
    now: float,
) -> Watched:
    """Start watching a pane: a new one, or one a previous watcher published states for."""
    profile = profile_of(pane.agent, fleet, runtime)
    tracker = profile.tracker(pane.started or now)
    reader = None
    folder = hooks.session_dir(fleet, pane.name, runtime)
    token = hooks.read_token(folder) if profile.hooks else None
    if token:
        reader = hooks.EventReader(folder / "events.jsonl", token)
        reader.offset = tail_offset(reader.path)
        tracker.has_hooks = True
    restored = pane.state
    if recorded_state is not None:
        try:
            restored = recorded_state(pane.name) or restored
        except Exception:
            log.exception("reading the recorded state of %s failed", pane.name)
    if pane.state and pane.since and restored == pane.state:
        # Re-adopting after a restart: keep the published "since" for an unchanged state.
        with contextlib.suppress(ValueError):
            tracker.verdict = Verdict(State(pane.state), pane.reason, _source(pane.source))
            tracker.since = pane.since
    watched = Watched(pane=pane, agent=profile, tracker=tracker, reader=reader, restored=restored)
    if restored and not pane.dead and (pane.since or 0.0) >= (pane.started or 0.0):
        # The published state belongs to this run of the agent (not to one before a
        # respawn, which starts afresh like a new pane).
        watched.settle_at = now + ADOPT_SETTLE
        watched.backdate = pane.since or now
    return watched


def resized(watched: Watched, now: float) -> None:
    """A pane whose size changed (a client attached, a window resized) redraws its screen
    without doing any work: judge it as a re-adopted pane, its screen still since it last
    changed unless a second read finds it moving (a shell was otherwise working -> idle)."""
    if watched.pane.dead or not watched.tracker.screen_seen:
        return
    watched.settle_at = now + ADOPT_SETTLE
    watched.backdate = watched.tracker.screen_changed
    watched.backdate_first = True
    watched.redraw_until = now + REDRAW_GRACE
    watched.dirty = True


def process_pass(processes: ProcessTable, sessions: Iterable[Watched]) -> bool:
    """Refresh every session's CPU, memory, agent process and registry entry (one psutil pass).
    True when the process of a pane listed alive is gone (or a zombie): the pane is dead."""
    watched_list = list(sessions)
    roots = [w.pane.pane_pid for w in watched_list if w.pane.pane_pid]
    processes.refresh(roots)
    gone = False
    for watched in watched_list:
        pane = watched.pane
        if pane.pane_pid is None or pane.dead:
            watched.cpu, watched.rss = 0.0, 0
            continue
        gone = gone or pane.pane_pid not in processes.procs
        names = watched.agent.process_names
        tree = processes.tree(pane.pane_pid, names)
        watched.cpu, watched.rss = tree.cpu, tree.rss
        alive = (tree.agent is not None) if names else None
        if tree.agent is not None and tree.agent.pid != watched.pid:
            watched.pid = tree.agent.pid
            watched.config = watched.agent.status_folder(process_environ(tree.agent.pid))
        facts = watched.tracker.facts
        if facts.agent_alive != alive:
            watched.dirty = True
        watched.tracker.facts = ProcessFacts(
            dead=facts.dead,
            dead_status=facts.dead_status,
            dead_signal=facts.dead_signal,
            agent_alive=alive,
            current_command=pane.current_command,
        )
        watched.read_registry()
    return gone


def capture(tmux: Tmux, due: list[Watched], now: float) -> bool:
    """Read the screens of ``due`` in one chained tmux call and show them to their trackers.
    True when one of them turned out dead while the last listing had it alive."""
    commands: list[list[str]] = []
    for watched in due:
        pane_id = watched.pane.pane_id
        mark = f"{CAPTURE_MARK}{pane_id} #{{pane_dead}}"
        commands.append(["display-message", "-p", "-t", pane_id, mark])
        commands.append(["capture-pane", "-p", "-t", pane_id])
    lines = tmux.run(*commands, check=False)
    screens: dict[str, list[str]] = {}
    dead: set[str] = set()
    current: list[str] | None = None
    for line in lines:
        if line.startswith(CAPTURE_MARK):
            pane_id, _, flag = line[len(CAPTURE_MARK) :].strip().partition(" ")
            current = screens.setdefault(pane_id, [])
            if flag == "1":
                dead.add(pane_id)
        elif current is not None:
            current.append(line)
    died = any(w.pane.pane_id in dead and not w.pane.dead for w in due)
    for watched in due:
        watched.dirty = False
        screen = screens.get(watched.pane.pane_id)
        if screen is not None:
            watched.tracker.see_screen("\n".join(screen), now, watched.printed)
            redraw = watched.printed is None or watched.printed <= watched.redraw_until
            if watched.backdate and (
                watched.backdate_first or (now < watched.settle_at and redraw)
            ):
                # First read of a re-adopted or resized pane (and any read before its settle
                # read of what it printed in its redraw): what it shows has been there since
                # the previous watcher published, or since before the resize, unless the
                # settle read finds it moving. So neither a restart nor a redraw invents output
                # (idle -> working) or misses an end of it; output printed after the redraw
                # is the pane's own.
                watched.tracker.screen_changed = watched.backdate
                watched.backdate_first = False
            else:
                watched.backdate = 0.0
    return died


def tail_offset(path: Path, keep: int = 65536) -> int:
    """Where to start reading an events file so that only its recent past is replayed."""
    try:
        size = path.stat().st_size
    except OSError:
        return 0
    if size <= keep:
        return 0
    with path.open("rb") as handle:
        handle.seek(size - keep)
        chunk = handle.read(keep)
    newline = chunk.find(b"\n")
    return size - keep + newline + 1 if newline >= 0 else size


def _source(text: str) -> Source:
    try:
        return Source(text)
    except ValueError:
        return Source.LAUNCH


def due_times(sessions: Iterable[Watched], now: float) -> list[float]:
    """When each session next needs a round with no new input: its verdict may change (kept on
    the session as its ``deadline`` until a round serves it), a working
    pane that printed may be read again, a re-adopted pane is read a second time."""
    times: list[float] = []
    for watched in sessions:
        if not watched.deadline or watched.deadline > now:
            # A deadline that has passed stays until a round serves it (:func:`served`): a
            # round that ran a moment before it must not lose it to ``next_check``, which no
            # longer reports a time gone by (the pane would then wait for a full round).
            watched.deadline = watched.tracker.next_check(now) or 0.0
        if watched.deadline:
            times.append(watched.deadline)
        if watched.dirty:
            times.append(watched.tracker.screen_seen + WORKING_RECAPTURE)
        if watched.settle_at:
            times.append(watched.settle_at)
    return times


def served(sessions: Iterable[Watched], now: float) -> set[str]:
    """The sessions whose deadline a round at ``now`` serves (their screens were read and they
    are decided in it); their deadlines are cleared."""
    names = set()
    for watched in sessions:
        if watched.deadline and watched.deadline <= now:
            watched.deadline = 0.0
            names.add(watched.pane.name)
    return names


@dataclass
class Pacing:
    """What the watcher's loop took in since its last round: whether a round is needed now, or
    only once the soonest working pane that printed is due to be read again (fifty working
    panes print a few hundred times a second; no round for that)."""

    urgent: bool = True
    """Something came in that needs a round now (all but a paced pane's output)."""
    paced: float | None = None
    """When the soonest paced pane that printed since the last round is due."""

    def note(self, printed: Watched | None) -> None:
        """Take in one event: output of ``printed`` (a watched pane), or anything else (None)."""
        if printed is not None and printed.throttled and not printed.pane.dead:
            due = printed.tracker.screen_seen + WORKING_RECAPTURE
            self.paced = due if self.paced is None else min(self.paced, due)
        else:
            self.urgent = True

    def take(self, deadline: float | None) -> float | None:
        """``deadline`` brought forward to when a paced pane that printed is due."""
        paced, self.paced = self.paced, None
        if paced is None:
            return deadline
        return paced if deadline is None else min(deadline, paced)

    def may_wait(self, deadline: float | None, now: float) -> bool:
        """Whether the round may wait until ``deadline``."""
        return not self.urgent and deadline is not None and now < deadline


def read_hooks(
    sessions: dict[str, Watched], changed: set[str], listeners: list[SessionListener]
) -> set[str]:
    """Read the hook files that changed (by path; a fresh session's whether or not); tell the
    listeners of each SessionStart; return the sessions that had events."""
    heard: set[str] = set()
    for name, watched in sessions.items():
        if watched.reader is None:
            continue
        if str(watched.reader.path) not in changed and not watched.fresh:
            continue
        watched.fresh = False
        events = watched.reader.read()
        if events:
            heard.add(name)
        watched.tracker.see_hooks(events)
        for event in events:
            if event.name == "SessionStart" and event.session_id:
                for listener in listeners:
                    try:
                        listener(name, event)
                    except Exception:
                        log.exception("session listener failed")
    return heard
