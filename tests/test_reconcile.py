"""How the four signals combine, on screens recorded from the real Claude Code."""

from __future__ import annotations

from pathlib import Path

from orchestrator.agents.claude import CLAUDE, RegistryEntry, registry_signal
from orchestrator.detect.hooks import HookEvent
from orchestrator.detect.model import Source, State
from orchestrator.detect.reconcile import GRACE, STILL, ProcessFacts, SessionTracker
from orchestrator.detect.screen import parse_rules

SCREENS = Path(__file__).parent / "screens" / "claude-2.1.197" / "w60"


def recorded(case: str) -> str:
    return (SCREENS / f"{case}.txt").read_text(encoding="utf-8")


def hook(name: str, at: float, **data: object) -> HookEvent:
    return HookEvent(at=at, name=name, session_id="s", data={"hook_event_name": name, **data})


def tracker() -> SessionTracker:
    return CLAUDE.tracker(started=0.0)


def test_permission_hook_then_screen_agree() -> None:
    t = tracker()
    t.see_hooks([hook("PermissionRequest", 10.0, tool_name="Bash", tool_input={"command": "ls"})])
    verdict, changed = t.decide(10.05)
    assert (verdict.state, verdict.source, verdict.reason) == (
        State.AWAITING_INPUT,
        Source.HOOK,
        "Bash: ls",
    )
    assert changed
    t.see_screen(recorded("permission-bash"), 10.3)
    verdict, changed = t.decide(10.3)
    assert verdict.state == State.AWAITING_INPUT
    assert not changed
    assert t.since == 10.0


def test_esc_at_a_prompt_fires_no_hook_and_the_screen_corrects_it() -> None:
    t = tracker()
    question = {"questions": [{"question": "Which database should the service use?"}]}
    t.see_hooks([hook("PermissionRequest", 10.0, tool_name="AskUserQuestion", tool_input=question)])
    t.see_screen(recorded("ask-user-question"), 10.2)
    t.decide(10.2)
    t.see_screen(recorded("esc-at-question"), 20.0)  # Esc: the menu is gone
    verdict, _ = t.decide(20.0)
    assert verdict.state == State.AWAITING_INPUT, "not still yet: keep the last state"
    assert t.next_check(20.0) == 20.0 + STILL
    verdict, changed = t.decide(20.0 + STILL)
    assert (verdict.state, verdict.source, changed) == (State.IDLE, Source.SCREEN, True)
    assert "stale" in next(s.reason for s in verdict.signals if s.source == Source.HOOK)
    # Typing a new prompt moves the screen again: the stale hook must not come back.
    t.see_screen(recorded("startup-idle"), 25.0)
    assert t.decide(25.0)[0].state == State.IDLE


def test_fresh_hook_beats_a_screen_that_has_not_caught_up() -> None:
    t = tracker()
    t.see_screen(recorded("startup-idle"), 5.0)
    t.decide(8.0)
    t.see_hooks([hook("UserPromptSubmit", 9.0, prompt="go")])
    assert t.decide(9.1)[0].state == State.WORKING
    assert t.next_check(9.1) == 9.0 + GRACE


def test_working_hook_goes_stale_when_the_screen_is_idle_and_still() -> None:
    t = tracker()
    t.see_hooks([hook("UserPromptSubmit", 9.0, prompt="go")])
    t.see_screen(recorded("turn-finished-idle"), 9.5)  # a turn whose Stop hook was lost
    assert t.decide(9.6)[0].state == State.WORKING
    verdict, _ = t.decide(9.5 + STILL + 0.1)
    assert verdict.state == State.IDLE


def test_a_working_hook_the_screen_contradicted_does_not_come_back() -> None:
    # Issue 12 item 17: after `i` (Esc while working; no hook fires) the session went idle,
    # then the next screen change (typing in the prompt box) brought the old prompt hook back
    # as working, and the history recorded it.
    t = tracker()
    t.see_hooks([hook("UserPromptSubmit", 9.0, prompt="go")])
    screen = recorded("esc-while-working")
    t.see_screen(screen, 9.5)
    assert t.decide(9.5 + STILL + 0.1)[0].state == State.IDLE
    lines = screen.split("\n")
    prompt = next(i for i, line in enumerate(lines) if line.startswith("❯"))
    typing = "\n".join([*lines[:prompt], lines[prompt] + "what next", *lines[prompt + 1 :]])
    assert typing != screen
    t.see_screen(typing, 20.0)
    verdict, changed = t.decide(20.1)
    assert (verdict.state, changed) == (State.IDLE, False)
    # The next hook event has its say again.
    t.see_hooks([hook("UserPromptSubmit", 21.0, prompt="what next")])
    assert t.decide(21.1)[0].state == State.WORKING


def test_spinner_on_screen_is_working_whatever_the_last_hook() -> None:
    t = tracker()
    t.see_hooks([hook("Stop", 1.0)])
    t.see_screen(recorded("working"), 5.0)
    verdict, _ = t.decide(5.0)
    assert (verdict.state, verdict.source) == (State.WORKING, Source.SCREEN)


def test_dead_pane_is_exited_with_its_status() -> None:
    t = tracker()
    t.see_hooks([hook("Stop", 1.0)])
    t.facts = ProcessFacts(dead=True, dead_status=1)
    verdict, _ = t.decide(5.0)
    assert (verdict.state, verdict.reason, verdict.source) == (
        State.EXITED,
        "exit status 1",
        Source.PROCESS,
    )
    t.facts = ProcessFacts(dead=True, dead_signal=9)
    assert t.decide(6.0)[0].reason == "killed by signal 9"


def test_agent_gone_from_under_a_shell_is_exited() -> None:
    t = tracker()
    t.see_screen(recorded("startup-idle"), 1.0)
    t.facts = ProcessFacts(agent_alive=False, current_command="bash")
    verdict, _ = t.decide(10.0)
    assert verdict.state == State.EXITED
    assert "bash remains" in verdict.reason


def test_registry_decides_when_nothing_else_does(tmp_path: Path) -> None:
    t = tracker()
    t.registry = registry_signal(
        RegistryEntry(tmp_path / "1.json", 1, "s", "waiting", "permission prompt", 3.0, "2.1.197")
    )
    verdict, _ = t.decide(40.0)
    assert (verdict.state, verdict.source, verdict.reason) == (
        State.AWAITING_INPUT,
        Source.REGISTRY,
        "permission prompt",
    )


def test_no_signal_is_starting_then_unknown() -> None:
    t = tracker()
    assert t.decide(1.0)[0].state == State.STARTING
    assert t.decide(100.0)[0].state == State.UNKNOWN


def test_events_from_before_the_agent_started_are_ignored() -> None:
    t = CLAUDE.tracker(started=100.0)
    t.see_hooks([hook("SessionEnd", 50.0, reason="other")])
    assert t.decide(101.0)[0].state == State.STARTING


def test_a_late_event_of_the_run_before_is_ignored() -> None:
    # Issue 12 item 17: `down` (or a dying server) ends the old Claude, whose SessionEnd lands
    # in the events file just after the new pane started; the watcher recorded an exit.
    def event(name: str, at: float, session: str) -> HookEvent:
        return HookEvent(at, name, session, {"hook_event_name": name, "reason": "other"})

    t = CLAUDE.tracker(started=100.0)
    t.see_hooks([event("SessionStart", 50.0, "old"), event("SessionEnd", 100.2, "old")])
    assert t.decide(100.5)[0].state == State.STARTING
    t.see_hooks([event("SessionStart", 101.0, "new")])
    assert t.decide(101.1)[0].state == State.IDLE
    # A conversation of the run before, resumed in this one, is this run's again.
    t = CLAUDE.tracker(started=100.0)
    t.see_hooks([event("SessionStart", 50.0, "same"), event("SessionStart", 101.0, "same")])
    t.see_hooks([event("SessionEnd", 102.0, "same")])
    assert t.decide(102.1)[0].state == State.EXITED


def test_shell_profile_uses_output_activity() -> None:
    t = SessionTracker(rules=None, started=0.0)
    t.see_screen("$ make\nbuilding...", 1.0)
    assert t.decide(1.2)[0].state == State.WORKING
    assert t.decide(1.0 + STILL + 0.1)[0].state == State.IDLE


def test_process_tree_of_the_test_itself() -> None:
    import os
    import subprocess
    import sys

    from orchestrator.detect.process import ProcessTable

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        table = ProcessTable()
        table.refresh([os.getpid()])
        tree = table.tree(os.getpid(), ("python", "python3", Path(sys.executable).name))
        assert child.pid in tree.pids
        assert tree.rss > 0
        assert tree.agent is not None
    finally:
        child.kill()
        child.wait()
    table.refresh([os.getpid()])
    assert child.pid not in table.tree(os.getpid()).pids


def test_a_screen_change_dates_from_when_the_pane_last_printed() -> None:
    t = tracker()
    t.see_screen(recorded("working"), 1.0, printed=0.9)
    # The pane last printed at 2.0 (the idle prompt); the throttled read comes at 2.4.
    t.see_screen(recorded("startup-idle"), 2.4, printed=2.0)
    assert t.screen_changed == 2.0
    assert t.decide(2.0 + STILL + 0.01)[0].state == State.IDLE
    # Output from before the previous read says nothing about this change: the read time counts.
    t.see_screen(recorded("working"), 9.0, printed=2.0)
    assert t.screen_changed == 9.0


def test_stop_failure_is_error_and_holds_at_the_idle_prompt() -> None:
    t = tracker()
    t.see_hooks([hook("UserPromptSubmit", 9.0, prompt="go")])
    t.see_hooks(
        [
            hook(
                "StopFailure",
                10.0,
                error="invalid_request",
                last_assistant_message="API Error: 400 prompt is too long",
            )
        ]
    )
    t.see_screen(recorded("startup-idle"), 10.1)
    verdict, changed = t.decide(10.2)
    assert (verdict.state, verdict.source) == (State.ERROR, Source.HOOK)
    assert verdict.reason == "invalid request: 400 prompt is too long"
    assert changed
    # The idle prompt, still for long, agrees with an agent that stopped: the error stays.
    assert t.decide(10.1 + STILL + GRACE + 5)[0].state == State.ERROR
    # A new turn ends it.
    t.see_hooks([hook("UserPromptSubmit", 30.0, prompt="again")])
    assert t.decide(30.1)[0].state == State.WORKING


def test_a_working_screen_beats_an_old_error() -> None:
    t = tracker()
    t.see_hooks([hook("StopFailure", 1.0, error="server_error")])
    t.see_screen(recorded("working"), 5.0)
    verdict, _ = t.decide(5.0)
    assert (verdict.state, verdict.source) == (State.WORKING, Source.SCREEN)


def test_a_screen_error_rule_decides_without_hooks() -> None:
    rules = parse_rules(
        "x",
        '[[rules]]\nname = "api-error"\nstate = "error"\npattern = "API Error: (.*)"\n'
        'reason = "API error: {1}"\n',
    )
    t = SessionTracker(rules=rules, started=0.0)
    t.see_screen("● API Error: 401 invalid x-api-key\n", 1.0)
    verdict, _ = t.decide(1.1)
    assert (verdict.state, verdict.reason) == (State.ERROR, "API error: 401 invalid x-api-key")


def test_an_interrupt_on_screen_is_idle_at_once() -> None:
    """ "Interrupted · What should Claude do instead?" says the turn is over: no stillness wait, no
    hook grace (Esc fires no hook)."""
    t = tracker()
    t.see_hooks([hook("UserPromptSubmit", 9.0, prompt="go")])
    t.see_screen(recorded("working"), 9.5)
    assert t.decide(9.5)[0].state == State.WORKING
    t.see_screen(recorded("esc-while-working"), 10.0)
    verdict, changed = t.decide(10.05)
    assert (verdict.state, verdict.reason, changed) == (State.IDLE, "interrupted", True)


def test_a_draft_at_the_prompt_is_idle_even_under_a_stale_working_hook() -> None:
    t = tracker()
    t.see_hooks([hook("UserPromptSubmit", 9.0, prompt="go")])
    draft = (SCREENS.parent / "w120" / "draft.txt").read_text(encoding="utf-8")
    t.see_screen(draft, 20.0)
    verdict, _ = t.decide(20.05)
    assert (verdict.state, verdict.reason) == (State.IDLE, "at the prompt (a draft)")


def test_a_specific_screen_reason_beats_the_hooks() -> None:
    t = tracker()
    t.see_hooks([hook("UserPromptSubmit", 9.0, prompt="go")])
    retrying = (SCREENS.parent / "w120" / "retry-overloaded.txt").read_text(encoding="utf-8")
    t.see_screen(retrying, 9.5)
    verdict, _ = t.decide(9.6)
    assert verdict.state == State.WORKING
    assert verdict.reason.startswith("API error, retrying (attempt 1/")
