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
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import queue
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import watchfiles

from orchestrator import paths
from orchestrator.agents.catalog import PROFILES
from orchestrator.detect import hooks
from orchestrator.detect.model import Source, State, Verdict
from orchestrator.detect.process import ProcessTable, process_environ
from orchestrator.detect.reconcile import STILL, ProcessFacts, SessionTracker
from orchestrator.runtime import fleet_dir, fleet_lock
from orchestrator.tmux.client import Tmux, tag
from orchestrator.tmux.panes import PANE_FIELDS, PaneInfo
from orchestrator.watch.model import (
    RecordedState,
    SessionListener,
    SessionState,
    Subscriber,
    Transition,
)

log = logging.getLogger(__name__)

WORKING_RECAPTURE = 0.5
"""Seconds between two reads of a pane that is already working on screen (its spinner moves)."""
MIN_ROUND = 0.05
"""Seconds between two rounds at the most busy; output faster than this is coalesced."""
PROCESS_EVERY = 3.0
"""Seconds between process passes (CPU, memory, agent still alive)."""
BACKSTOP = 10.0
"""Seconds between pane listings when nothing at all happens (a missed push is caught by then)."""
CAPTURE_MARK = "@@orc-capture@@ "
ADOPT_SETTLE = 0.3
"""Seconds between the two screen reads that settle a re-adopted pane's state."""


@dataclass
class _Watched:
    pane: PaneInfo
    tracker: SessionTracker
    reader: hooks.EventReader | None
    config: Path | None = None
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
    cpu: float = 0.0
    rss: int = 0


class Watcher:
    """Watches one fleet until stopped (``stop()``) or the fleet ends."""

    def __init__(self, tmux: Tmux, fleet: str, runtime: Path | None = None) -> None:
        self.tmux = tmux
        self.fleet = fleet
        self.runtime = runtime or paths.runtime_dir()
        self.folder = fleet_dir(fleet, self.runtime)
        self.sessions: dict[str, _Watched] = {}
        self.states: dict[str, SessionState] = {}
        self.subscribers: list[Subscriber] = []
        self.session_listeners: list[SessionListener] = []
        """Called with (session name, event) for every SessionStart hook (Claude session ids)."""
        self.recorded_state: RecordedState | None = None
        """The history's latest state of a session, by name. Consulted when a pane is adopted:
        the history is written before tmux, so after a crash between the two it is the history
        that says what was last announced, and the successor compares with it."""
        self.events: queue.Queue[tuple[str, str]] = queue.Queue()
        self.stop_event = threading.Event()
        self.processes = ProcessTable()
        self.control: subprocess.Popen[str] | None = None
        self.tmux_calls = 0
        self.rounds = 0
        self._last_list = 0.0
        self._last_process = 0.0
        self._need_list = True
        self._threads: list[threading.Thread] = []
        self._by_pane: dict[str, _Watched] = {}
        self._hooks_changed: set[str] = set()

    # -- lifecycle -------------------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber`` on every state change."""
        self.subscribers.append(subscriber)

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
            self._install_tmux_hook()
            self._start_control_client()
            self._start_file_watcher()
            try:
                self._loop()
            finally:
                self.stop_event.set()
                self._stop_control_client()
                for thread in self._threads:
                    thread.join(timeout=2)

    def _loop(self) -> None:
        next_deadline: float | None = time.time()
        while not self.stop_event.is_set():
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
            if not self.round():
                break
            next_deadline = self._next_deadline()
            time.sleep(MIN_ROUND)

    def _note(self, kind: str, value: str) -> None:
        if kind == "output":
            watched = self._by_pane.get(value)
            if watched is not None:
                # Output is not paused with `refresh-client -A`: tmux 3.3a segfaulted under that
                # (seen in CI), and a crashed server takes every agent with it.
                watched.dirty = True
        elif kind == "hooks":
            self._hooks_changed.add(value)
        elif kind in {"layout", "died"} or kind == "exit":
            self._need_list = True
        elif kind == "stop":
            self.stop_event.set()

    # -- the round -------------------------------------------------------------------------

    def round(self) -> bool:
        """One round: refresh what changed, decide, publish. False when the fleet is gone."""
        now = time.time()
        self.rounds += 1
        need_list = self._need_list or now - self._last_list >= BACKSTOP
        if need_list and not self._list_panes(now):
            return False
        process = now - self._last_process >= PROCESS_EVERY
        if process:
            self._process_pass(now)
        heard = self._read_hooks()
        due = [w for w in self.sessions.values() if self._capture_due(w, now)]
        if due:
            self._capture(due, time.time())
        timed = {n for n, w in self.sessions.items() if w.deadline and w.deadline <= now}
        touched = None if need_list or process else heard | timed | {w.pane.name for w in due}
        if touched is not None and not touched:
            # Output from panes that are throttled and nothing else: no input, no decision.
            return True
        changes = self._decide(time.time(), touched)
        if log.isEnabledFor(logging.DEBUG):
            for name, w in self.sessions.items():
                verdict = w.tracker.verdict
                log.debug(
                    "round %d %s due=%s match=%s changed=%.2f verdict=%s (%s) next=%s",
                    self.rounds,
                    name,
                    w in due,
                    w.tracker.match and w.tracker.match.rule,
                    time.time() - w.tracker.screen_changed,
                    verdict and verdict.state,
                    verdict and verdict.note,
                    w.tracker.next_check(time.time()),
                )
        if changes:
            self._publish(changes)
        return True

    def _capture_due(self, watched: _Watched, now: float) -> bool:
        """Whether to read a pane's screen this round."""
        tracker = watched.tracker
        if watched.pane.dead:
            return False
        if watched.settle_at and now >= watched.settle_at:
            return True
        if not tracker.screen_seen or tracker.wants_capture(now):
            return True
        if watched.deadline and watched.deadline <= now:
            return True
        if not watched.dirty:
            return False
        # A pane that shows a working marker redraws its spinner several times a second: read
        # it again at most every WORKING_RECAPTURE seconds (hooks still trigger a read at once).
        return not self._throttled(watched) or now - tracker.screen_seen >= WORKING_RECAPTURE

    @staticmethod
    def _throttled(watched: _Watched) -> bool:
        match = watched.tracker.match
        return match is not None and match.state == State.WORKING

    def _read_hooks(self) -> set[str]:
        """Read the hook files that changed; the sessions that had events."""
        heard: set[str] = set()
        changed, self._hooks_changed = self._hooks_changed, set()
        for name, watched in self.sessions.items():
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
                    for listener in self.session_listeners:
                        try:
                            listener(name, event)
                        except Exception:
                            log.exception("session listener failed")
        return heard

    def _decide(
        self, now: float, only: set[str] | None = None
    ) -> list[tuple[Transition | None, SessionState]]:
        """Decide the sessions named in ``only`` (all when None); return what to publish (a
        transition, or None for a new reason)."""
        changes: list[tuple[Transition | None, SessionState]] = []
        for name, watched in self.sessions.items():
            if only is not None and name not in only:
                continue
            if watched.settle_at:
                if watched.tracker.screen_seen < watched.settle_at:
                    continue
                watched.settle_at = 0.0
            verdict, _ = watched.tracker.decide(now)
            state = self._publishable(name, watched, verdict)
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
                watched.reader.offset = _tail_offset(watched.reader.path)
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
            self._read_registry(watched)
            verdict, _ = watched.tracker.decide(decided_at)
            result[name] = (self._publishable(name, watched, verdict), verdict)
        return result

    def _publishable(self, name: str, watched: _Watched, verdict: Verdict) -> SessionState:
        pane = watched.pane
        return SessionState(
            fleet=self.fleet,
            name=name,
            role=pane.role,
            agent=pane.agent,
            pane_id=pane.pane_id,
            cwd=pane.cwd,
            state=verdict.state.value,
            since=watched.tracker.since,
            reason=verdict.reason,
            source=verdict.source.value,
            note=verdict.note,
            cpu=watched.cpu,
            rss=watched.rss,
            pid=watched.pid,
        )

    def _next_deadline(self) -> float | None:
        now = time.time()
        for watched in self.sessions.values():
            # Kept on the session: once it has passed, next_check() no longer reports it.
            watched.deadline = watched.tracker.next_check(now) or 0.0
        times = [w.deadline for w in self.sessions.values() if w.deadline]
        times.append(self._last_process + PROCESS_EVERY)
        times += [
            w.tracker.screen_seen + WORKING_RECAPTURE for w in self.sessions.values() if w.dirty
        ]
        times += [w.settle_at for w in self.sessions.values() if w.settle_at]
        if self._need_list:
            times.append(now + 0.1)
        return min(times) if times else None

    # -- inputs ----------------------------------------------------------------------------

    def _list_panes(self, now: float) -> bool:
        self._need_list = False
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
                watched = self._adopt(pane, now)
                self.sessions[pane.name] = watched
            else:
                watched.dirty = watched.dirty or (pane.dead and not watched.pane.dead)
                watched.pane = pane
            if pane.dead and pane.dead_status is None and pane.dead_signal is None:
                # tmux marks the pane dead a moment before it knows the exit status: look again.
                self._need_list = True
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
        self._by_pane = {w.pane.pane_id: w for w in self.sessions.values()}
        return True

    def _adopt(self, pane: PaneInfo, now: float) -> _Watched:
        profile = PROFILES.get(pane.agent)
        started = pane.started or now
        tracker = profile.tracker(started) if profile else SessionTracker(None, started)
        reader = None
        folder = hooks.session_dir(self.fleet, pane.name, self.runtime)
        token = hooks.read_token(folder) if profile and profile.hooks else None
        if token:
            reader = hooks.EventReader(folder / "events.jsonl", token)
            reader.offset = _tail_offset(reader.path)
            tracker.has_hooks = True
        restored = pane.state
        if self.recorded_state is not None:
            try:
                restored = self.recorded_state(pane.name) or restored
            except Exception:
                log.exception("reading the recorded state of %s failed", pane.name)
        if pane.state and pane.since and restored == pane.state:
            # Re-adopting after a restart: keep the published "since" for an unchanged state.
            with contextlib.suppress(ValueError):
                tracker.verdict = Verdict(State(pane.state), pane.reason, _source(pane.source))
                tracker.since = pane.since
        self._last_process = 0.0  # find the new pane's processes in this round
        watched = _Watched(pane=pane, tracker=tracker, reader=reader, restored=restored)
        if restored and not pane.dead and (pane.since or 0.0) >= (pane.started or 0.0):
            # The published state belongs to this run of the agent (not to one before a
            # respawn, which starts afresh like a new pane).
            watched.settle_at = now + ADOPT_SETTLE
            watched.backdate = pane.since or now
        return watched

    def _process_pass(self, now: float) -> None:
        self._last_process = now
        roots = [w.pane.pane_pid for w in self.sessions.values() if w.pane.pane_pid]
        self.processes.refresh(roots)
        for watched in self.sessions.values():
            pane = watched.pane
            if pane.pane_pid is None or pane.dead:
                watched.cpu, watched.rss = 0.0, 0
                continue
            profile = PROFILES.get(pane.agent)
            names = profile.process_names if profile else ()
            tree = self.processes.tree(pane.pane_pid, names)
            watched.cpu, watched.rss = tree.cpu, tree.rss
            alive = (tree.agent is not None) if names else None
            if profile is not None and tree.agent is not None and tree.agent.pid != watched.pid:
                watched.pid = tree.agent.pid
                watched.config = profile.status_folder(process_environ(tree.agent.pid))
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
            self._read_registry(watched)

    def _read_registry(self, watched: _Watched) -> None:
        profile = PROFILES.get(watched.pane.agent)
        if profile is not None and watched.config is not None and watched.pid is not None:
            watched.tracker.registry = profile.status_signal(watched.config, watched.pid)

    def _capture(self, due: list[_Watched], now: float) -> None:
        commands: list[list[str]] = []
        for watched in due:
            pane_id = watched.pane.pane_id
            commands.append(["display-message", "-p", "-t", pane_id, f"{CAPTURE_MARK}{pane_id}"])
            commands.append(["capture-pane", "-p", "-t", pane_id])
        self.tmux_calls += 1
        lines = self.tmux.run(*commands, check=False)
        screens: dict[str, list[str]] = {}
        current: list[str] | None = None
        for line in lines:
            if line.startswith(CAPTURE_MARK):
                current = screens.setdefault(line[len(CAPTURE_MARK) :].strip(), [])
            elif current is not None:
                current.append(line)
        for watched in due:
            watched.dirty = False
            screen = screens.get(watched.pane.pane_id)
            if screen is not None:
                watched.tracker.see_screen("\n".join(screen), now)
                if watched.backdate:
                    # First read of a re-adopted pane: what it shows has been there since the
                    # previous watcher published, unless the second read finds it moving. So a
                    # restart neither invents output (idle -> working) nor misses an end of it.
                    watched.tracker.screen_changed = watched.backdate
                    watched.backdate = 0.0

    # -- outputs ---------------------------------------------------------------------------

    def _publish(self, changes: list[tuple[Transition | None, SessionState]]) -> None:
        # The history and subscribers hear of a transition before tmux does: a watcher killed in
        # between leaves tmux with the old state, so its successor sees the change again, and the
        # history, which ignores a repeat of its latest state, records it once.
        log_lines = []
        for transition, state in changes:
            if transition is None:
                continue
            log_lines.append(json.dumps(asdict(transition)))
            for subscriber in self.subscribers:
                try:
                    subscriber(transition, state)
                except Exception:  # a subscriber's bug must not stop the watcher
                    log.exception("subscriber failed")
        if log_lines:
            with (self.folder / "transitions.jsonl").open("a", encoding="utf-8") as out:
                out.write("\n".join(log_lines) + "\n")
        commands: list[list[str]] = []
        for _, state in changes:
            for key, value in (
                ("state", state.state),
                ("since", f"{state.since:.3f}"),
                ("reason", " ".join(state.reason.split())),
                ("source", state.source),
            ):
                commands.append(["set-option", "-p", "-t", state.pane_id, tag(key), value])
        waiting = sorted(
            (s for s in self.states.values() if s.state == State.AWAITING_INPUT.value),
            key=lambda s: s.since,
        )
        names = " ".join(s.name for s in waiting)
        commands.append(["set-option", "-t", f"={self.fleet}:", tag("waiting"), names])
        self.tmux_calls += 1
        self.tmux.run(*commands, check=False)
        self._write_snapshot()

    def _write_snapshot(self) -> None:
        snapshot = {
            "fleet": self.fleet,
            "updated": time.time(),
            "watcher_pid": os.getpid(),
            "sessions": [asdict(state) for state in self.states.values()],
        }
        tmp = self.folder / f".state.json.{os.getpid()}"
        tmp.write_text(json.dumps(snapshot), encoding="utf-8")
        tmp.chmod(0o600)
        tmp.replace(self.folder / "state.json")

    # -- push sources ----------------------------------------------------------------------

    def _install_tmux_hook(self) -> None:
        died = self.folder / "pane-died"
        command = f"run-shell -b 'echo #{{pane_id}} >> {died}'"
        self.tmux_calls += 1
        self.tmux.run(["set-hook", "-t", f"={self.fleet}:", "pane-died", command], check=False)

    def _start_control_client(self) -> None:
        args = [
            *self.tmux.base_args(),
            "-C",
            "attach-session",
            "-t",
            f"={self.fleet}:",
            "-f",
            "ignore-size,read-only",
        ]
        env = {k: v for k, v in os.environ.items() if k not in {"TMUX", "TMUX_PANE"}}
        self.control = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            errors="replace",
            env=env,
            preexec_fn=functools.partial(_die_with_parent, os.getpid()),
        )
        thread = threading.Thread(target=self._read_control, name="tmux-control", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _read_control(self) -> None:
        assert self.control is not None and self.control.stdout is not None
        for line in self.control.stdout:
            if line.startswith("%output "):
                self.events.put(("output", line.split(" ", 2)[1]))
            elif line.startswith(
                ("%window-add", "%window-close", "%unlinked-window-close", "%layout-change")
            ):
                self.events.put(("layout", ""))
            elif line.startswith("%exit"):
                self.events.put(("exit", ""))
                break
        self.events.put(("exit", ""))

    def _stop_control_client(self) -> None:
        control = self.control
        if control is None:
            return
        with contextlib.suppress(OSError):
            if control.stdin:
                control.stdin.close()  # tmux leaves control mode when its input ends
        try:
            control.wait(timeout=2)
        except subprocess.TimeoutExpired:
            control.kill()
            control.wait(timeout=2)

    def _start_file_watcher(self) -> None:
        thread = threading.Thread(target=self._watch_files, name="watchfiles", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _watch_files(self) -> None:
        died = str(self.folder / "pane-died")
        try:
            for changes in watchfiles.watch(
                self.folder,
                debounce=50,
                step=30,  # the Rust side wakes (and takes the GIL) once a step: keep it rare
                stop_event=self.stop_event,
                rust_timeout=1000,
                yield_on_timeout=False,
                watch_filter=_is_input,
            ):
                for path in {path for _, path in changes}:
                    self.events.put(("died", "") if path == died else ("hooks", path))
        except Exception:  # the folder vanished: the fleet is going away
            log.exception("file watcher stopped")
            self.events.put(("layout", ""))


def _is_input(change: watchfiles.Change, path: str) -> bool:
    """Only hook event files and the pane-died file wake the watcher (not its own outputs)."""
    del change
    return path.endswith(("/events.jsonl", "/pane-died"))


def _source(text: str) -> Source:
    try:
        return Source(text)
    except ValueError:
        return Source.LAUNCH


def _tail_offset(path: Path, keep: int = 65536) -> int:
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


def _die_with_parent(parent: int) -> None:
    """In the control client: get SIGTERM when the watcher (``parent``) dies, however it dies
    (Linux)."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    # A watcher killed between fork and prctl has already gone (the child was re-parented): the
    # signal would never come, so leave now rather than outlive it.
    if os.getppid() != parent:
        os._exit(1)
