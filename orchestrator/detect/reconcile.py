"""Reconcile the four signals into one state per session, with the reason and the evidence.

Order of trust:

1. **process**: a dead pane, or an agent gone from under its wrapper shell, is ``exited``; nothing
   else can say otherwise.
2. **screen, awaiting**: a menu or dialog on screen needs the user, whatever the hooks said last.
   Then **error**: a turn that ended on an error (the screen's error line, or Claude's StopFailure
   hook) holds while the screen shows the agent stopped (idle prompt or nothing); only a new turn
   ends it.
3. **hooks**: exact and instant, but with gaps: Esc at a prompt fires nothing, ``kill -9`` fires
   nothing. A hook state is trusted while it is fresh (``GRACE`` seconds) or while the screen agrees
   or says nothing; once the screen has shown something else for longer, the screen wins.
4. **screen, working/idle**: the latest marker on screen; idle only once the screen has been still
   for ``STILL`` seconds (a spinner between two frames looks like a prompt), unless the screen
   says so outright (a ``settled`` rule: "Interrupted", a draft in the prompt box).
5. **registry**: the agent's own status file (Claude's session registry), when nothing above
   decided.

Each verdict keeps every signal, so ``explain`` can show what each source said and why one won.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from orchestrator.detect.hooks import HookEvent
from orchestrator.detect.model import NO_STATUS, Signal, Source, State, Verdict
from orchestrator.detect.screen import RuleSet, ScreenMatch, classify

GRACE = 2.0
"""Seconds a hook state holds against a screen that does not (yet) show it."""
STILL = 1.5
"""Seconds a screen must stay unchanged before an idle prompt counts as idle."""
STARTING = 30.0
"""Seconds after launch during which a session with no signal yet is ``starting``."""
SHELLS = ("sh", "bash", "zsh", "fish", "dash", "ksh", "tcsh", "csh")


@dataclass(frozen=True)
class ProcessFacts:
    """What tmux and the process table say about a pane."""

    dead: bool = False
    dead_status: int | None = None
    dead_signal: int | None = None
    agent_alive: bool | None = None
    """None when the profile names no agent process or the tree was not looked at."""
    current_command: str = ""


def process_signal(facts: ProcessFacts, now: float, age: float) -> Signal:
    """The process's word: exited, or nothing."""
    if facts.dead:
        if facts.dead_signal:
            reason = f"killed by signal {facts.dead_signal}"
        else:
            # tmux may mark a pane dead a moment before it knows how the process ended.
            known = facts.dead_status is not None
            reason = f"exit status {facts.dead_status}" if known else NO_STATUS
        return Signal(Source.PROCESS, State.EXITED, reason, now, "pane_dead=1")
    if facts.agent_alive is False and facts.current_command in SHELLS and age > 3.0:
        return Signal(
            Source.PROCESS,
            State.EXITED,
            f"agent exited; {facts.current_command} remains",
            now,
            f"no agent process under the pane ({facts.current_command})",
        )
    return Signal(Source.PROCESS, None, "running", now, facts.current_command)


def hook_signal(event: HookEvent | None, state: tuple[State, str] | None) -> Signal:
    """The latest meaningful hook event's word."""
    if event is None or state is None:
        return Signal(Source.HOOK, None, "no hook event yet")
    return Signal(Source.HOOK, state[0], state[1], event.at, event.name)


NO_REGISTRY = Signal(Source.REGISTRY, None, "no registry entry")
"""The registry's word when the agent keeps none, or has no entry for the process."""


def _no_hook_state(event: HookEvent) -> tuple[State, str] | None:
    del event
    return None


@dataclass
class SessionTracker:
    """Holds one session's signals between rounds and decides its state."""

    rules: RuleSet | None
    started: float
    hook_state_of: Callable[[HookEvent], tuple[State, str] | None] = _no_hook_state
    """What one of the agent's hook events announces (the agent profile's ``hook_state``)."""
    has_hooks: bool = False
    screen_text: str = ""
    screen_changed: float = 0.0
    screen_seen: float = 0.0
    match: ScreenMatch | None = None
    hook_event: HookEvent | None = None
    hook_state: tuple[State, str] | None = None
    contradicted: HookEvent | None = None
    """The hook event the screen has since contradicted (idle and still after it)."""
    earlier_runs: set[str] = field(default_factory=set)
    """Session ids of the agent runs before this pane's (their SessionStart predates it)."""
    registry: Signal | None = None
    """The agent's own status report (Claude's session registry), when it keeps one."""
    facts: ProcessFacts = field(default_factory=ProcessFacts)
    verdict: Verdict | None = None
    since: float = 0.0

    def see_screen(self, text: str, now: float, printed: float | None = None) -> None:
        """Record a capture of the pane, read at ``now``.

        ``printed`` is when the pane last printed, if known: a screen that differs from the last
        read changed then, not when it was read, so stillness is counted from that moment (a
        pane re-read only every half second would otherwise look still half a second late).
        """
        previous = self.screen_seen
        self.screen_seen = now
        if text != self.screen_text or not self.screen_changed:
            self.screen_text = text
            after_last_read = printed is not None and previous < printed <= now
            self.screen_changed = printed if printed is not None and after_last_read else now
            self.match = classify(text, self.rules) if self.rules else None

    def see_hooks(self, events: list[HookEvent]) -> None:
        """Record new hook events; the last one that says something wins.

        Events from before this pane's agent started belong to an earlier run in the same pane
        (the events file outlives a restart) and are ignored, as are later events of a session
        id whose SessionStart came before (until it starts again here, resumed).
        """
        for event in events:
            if event.at < self.started - 1.0:
                if event.name == "SessionStart" and event.session_id:
                    self.earlier_runs.add(event.session_id)
                continue
            if event.name == "SessionStart":
                self.earlier_runs.discard(event.session_id)  # resumed here: this run's now
            elif event.session_id in self.earlier_runs:
                # A late event of the run before (its SessionEnd, written as `down` or a dying
                # server ended it, can land after this pane started): not this run's.
                continue
            state = self.hook_state_of(event)
            if state is not None:
                self.hook_event, self.hook_state = event, state

    def decide(self, now: float) -> tuple[Verdict, bool]:
        """Reconcile the signals; return the verdict and whether the state changed."""
        verdict = self._reconcile(now)
        changed = self.verdict is None or verdict.state != self.verdict.state
        if changed:
            decided_at = next(
                (s.since for s in verdict.signals if s.source == verdict.source and s.since), now
            )
            # Never before the previous change: a late-arriving signal cannot rewrite history.
            self.since = max(self.since, min(now, decided_at or now))
        self.verdict = verdict
        return verdict, changed

    def screen_signal(self, now: float) -> Signal:
        """The screen's word, idle only once the screen has been still."""
        if not self.screen_seen:
            return Signal(Source.SCREEN, None, "not captured yet")
        if self.rules is None:
            # No rules for this profile: output activity is all there is.
            if not self.screen_text.strip():
                return Signal(Source.SCREEN, None, "blank screen", self.screen_changed)
            still = now - self.screen_changed
            if still < STILL:
                return Signal(Source.SCREEN, State.WORKING, "output", self.screen_changed, "output")
            return Signal(
                Source.SCREEN,
                State.IDLE,
                "quiet",
                self.screen_changed,
                f"no output for {still:.0f}s",
            )
        if self.match is None:
            return Signal(Source.SCREEN, None, "no rule matches", self.screen_changed)
        state = self.match.state
        if state == State.IDLE and now - self.screen_changed < STILL and not self.match.settled:
            return Signal(
                Source.SCREEN,
                None,
                f"idle prompt, not yet still ({now - self.screen_changed:.1f}s)",
                self.screen_changed,
                self.match.line,
            )
        return Signal(Source.SCREEN, state, self.match.reason, self.screen_changed, self.match.line)

    def _reconcile(self, now: float) -> Verdict:
        age = now - self.started
        proc = process_signal(self.facts, now, age)
        hook = hook_signal(self.hook_event, self.hook_state)
        if self.hook_event is not None and self.hook_event is self.contradicted:
            hook = Signal(Source.HOOK, None, f"stale: {hook.reason}", hook.since, hook.evidence)
        screen = self.screen_signal(now)
        registry = self.registry or NO_REGISTRY
        signals = (proc, hook, screen, registry)

        def verdict(signal: Signal, note: str, reason: str | None = None) -> Verdict:
            assert signal.state is not None
            return Verdict(signal.state, reason or signal.reason, signal.source, signals, note)

        if proc.state == State.EXITED:
            if proc.reason == NO_STATUS and hook.state == State.EXITED:
                # tmux lost the exit status; Claude's SessionEnd hook still says how it ended.
                return verdict(proc, "the process decides an exit", hook.reason)
            return verdict(proc, "the process decides an exit")
        hook_fresh = hook.since is not None and now - hook.since <= GRACE
        # Has the screen been read since the hook event had time to show on it?
        screen_checked = (
            self.rules is not None
            and hook.since is not None
            and self.screen_seen >= hook.since + GRACE
        )
        if screen.state == State.AWAITING_INPUT:
            if hook.state == State.AWAITING_INPUT:
                return verdict(hook, "hook and screen agree", hook.reason)
            return verdict(screen, "a prompt is on screen")
        if screen.state == State.ERROR:
            if hook.state == State.ERROR:
                return verdict(hook, "hook and screen agree", hook.reason)
            return verdict(screen, "the turn ended on an error (screen)")
        if hook.state == State.ERROR and screen.state != State.WORKING:
            # The agent stopped on an error and sits at its prompt: an idle-looking screen agrees.
            # Only a new turn (a hook, or a working screen) ends it.
            return verdict(hook, "the turn ended on an error (StopFailure hook)")
        if hook.state == State.EXITED:
            return verdict(hook, "SessionEnd hook; the process is on its way out")
        if hook.state == State.AWAITING_INPUT and (hook_fresh or not screen_checked):
            return verdict(hook, "permission hook; the screen has not caught up yet")
        if hook.state == State.AWAITING_INPUT:
            # The prompt left the screen without a hook saying so (Esc, or answered): the hook
            # is stale and has no more say until its next event.
            hook = Signal(Source.HOOK, None, f"stale: {hook.reason}", hook.since, hook.evidence)
            signals = (proc, hook, screen, registry)
        if screen.state == State.WORKING:
            specific = self.match is not None and self.match.specific
            reason = hook.reason if hook.state == State.WORKING and not specific else screen.reason
            return verdict(screen, "working marker on screen", reason)
        if (
            screen.state == State.IDLE
            and self.match is not None
            and self.match.settled
            and (hook.since is None or self.screen_changed >= hook.since)
        ):
            # The screen says outright that the turn is over (an interrupt, a draft at the
            # prompt), after the last hook event: no stillness or hook grace to wait for.
            return verdict(screen, "the screen says the turn is over")
        if hook.state == State.WORKING:
            if hook_fresh:
                return verdict(hook, "fresh hook event")
            if screen.state != State.IDLE:
                return verdict(hook, "hook says working; the screen does not contradict it")
        if screen.state == State.IDLE:
            stale = hook.state is not None and hook.state != State.IDLE
            if stale:
                # The screen has shown the idle prompt, still, after the hook's grace: that
                # event has no more say (Esc while working fires no hook) until the next one,
                # or the next screen change would bring it back as working.
                self.contradicted = self.hook_event
            note = "idle prompt, screen still" + ("; hook state is stale" if stale else "")
            return verdict(screen, note)
        if hook.state is not None:
            return verdict(hook, "latest hook event")
        if registry.state is not None:
            return verdict(registry, "the agent's session registry")
        if screen.state is not None:
            return verdict(screen, "screen activity")
        settling = self.match is not None and self.match.state == State.IDLE
        if settling and self.verdict is not None and self.verdict.state != State.EXITED:
            # An idle prompt that is not still yet: keep the last state rather than flicker.
            last = self.verdict
            return Verdict(last.state, last.reason, last.source, signals, "screen settling")
        if age < STARTING:
            return Verdict(State.STARTING, "starting", Source.LAUNCH, signals, "no signal yet")
        return Verdict(State.UNKNOWN, "no signal", Source.LAUNCH, signals, "no source has a state")

    def next_check(self, now: float) -> float | None:
        """When the verdict could change with no new input (a stale hook, a settled screen)."""
        times = []
        if self.hook_event is not None and now < self.hook_event.at + GRACE:
            times.append(self.hook_event.at + GRACE)
        settling = self.rules is None or (self.match is not None and self.match.state == State.IDLE)
        if settling and self.screen_changed and now < self.screen_changed + STILL:
            times.append(self.screen_changed + STILL)
        return min(times) if times else None

    def wants_capture(self, now: float) -> bool:
        """Whether the screen should be read again: a hook event arrived since the last read,
        or its grace ran out since then (the screen must now confirm or contradict it)."""
        if self.hook_event is None:
            return False
        at = self.hook_event.at
        return self.screen_seen < at or self.screen_seen < at + GRACE <= now
