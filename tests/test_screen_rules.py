"""Screen rules against screens recorded from the real Claude Code (2.1.197 and 2.0.77), at 60 and
120 columns, and resized to 40 columns or 10 rows.

A case missing from a version's recordings is skipped (a screen that version does not have, e.g.
2.0 has no StopFailure); every version must have the core cases."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator.agents.catalog import rules_for
from orchestrator.detect.model import State
from orchestrator.detect.screen import classify, parse_rules

SCREENS = Path(__file__).parent / "screens"
CLAUDE = rules_for("claude")

# (recording, state, reason: a regular expression the reason must contain) for every recorded
# Claude Code version and width.
EXPECTED: list[tuple[str, State | None, str]] = [
    ("startup-idle", State.IDLE, "at the prompt"),
    ("working", State.WORKING, r"…|working"),
    ("turn-finished-idle", State.IDLE, "at the prompt"),
    ("permission-bash", State.AWAITING_INPUT, "Bash: npm test"),
    ("permission-write", State.AWAITING_INPUT, "permission to write notes/plan.md"),
    ("ask-user-question", State.AWAITING_INPUT, "question: Which database should the service use?"),
    ("trust-dialog", State.AWAITING_INPUT, "trust this folder?"),
    ("esc-at-permission", State.IDLE, "interrupted"),
    ("esc-at-question", State.IDLE, "at the prompt"),
    ("esc-while-working", State.IDLE, "interrupted"),
    ("write-approved-idle", State.IDLE, "at the prompt"),
    ("question-answered-idle", State.IDLE, "at the prompt"),
    ("after-exit", None, ""),  # the dead pane decides; /exit typed at the prompt may read idle
    # The harder moments (tests/harness/record_hard.py)
    ("plan-approval", State.AWAITING_INPUT, "plan ready for approval"),
    ("plan-mode-idle", State.IDLE, "plan mode"),
    ("plan-mode-working", State.WORKING, r"…|working"),
    ("subagent-working", State.WORKING, "subagent: Survey the auth"),
    ("subagent-finished-idle", State.IDLE, "at the prompt"),
    ("background-task-idle", State.IDLE, "1 background task running"),
    ("api-error-400", State.ERROR, "Context limit reached|API error: 400"),
    ("api-error-401", State.ERROR, "Invalid API key|API error: 401"),
    ("api-error-500", State.ERROR, "API error: 500"),
    ("api-error-529", State.ERROR, "API error: (Repeated )?529"),
    ("api-error-429", State.ERROR, "429"),
    ("usage-limit", State.ERROR, "429|limit"),
    ("usage-limit-waiting", State.WORKING, r"…|working"),  # 2.0 waits out the retry-after
    ("retry-overloaded", State.WORKING, r"API error, retrying \(attempt 1/\d+\)"),
    ("retry-rate-limit", State.WORKING, r"API error, retrying \(attempt 1/\d+\)"),
    ("compacting", State.WORKING, "compacting"),
    ("compacted-idle", State.IDLE, "at the prompt"),
    ("draft", State.IDLE, "a draft"),
    ("interrupted", State.IDLE, "interrupted"),
    ("mcp-permission", State.AWAITING_INPUT, "permission"),
    ("mcp-elicitation", State.AWAITING_INPUT, "deploy|MCP|input"),
    # A subscriber's usage limit (a fake claude.ai login; 2.1 opens a menu, then the prompt)
    ("usage-limit-resets", State.ERROR, r"^session limit until \d+:\d\d[ap]m \(UTC\)$"),
    ("usage-limit-resets-idle", State.ERROR, r"^session limit until \d+:\d\d[ap]m"),
    # The permission modes' footers ("⏵⏵ accept edits on", "⏵⏵ bypass permissions on")
    ("accept-edits-idle", State.IDLE, r"at the prompt \(accept edits on\)"),
    ("accept-edits-working", State.WORKING, "…"),
    ("accept-edits-permission-bash", State.AWAITING_INPUT, "Bash: npm test"),
    ("bypass-warning", State.AWAITING_INPUT, "bypass permissions mode"),
    ("bypass-idle", State.IDLE, r"at the prompt \(bypass permissions on\)"),
    ("bypass-working", State.WORKING, "…"),
]

DRIFT: dict[tuple[str, str], tuple[State | None, str]] = {
    # 2.0 lists no running agents under the prompt: the screen alone has only the spinner (the
    # PreToolUse hook of its Task tool names the subagent's task).
    ("claude-2.0.77", "subagent-working"): (State.WORKING, r"…|working"),
}
"""Where an older version's screen says less: (version, case) -> (state, reason)."""

RECORDINGS = sorted(SCREENS.glob("claude-*/w*"))
FULL_SIZE = [path for path in RECORDINGS if path.name in ("w60", "w120")]
RESIZED = [path for path in RECORDINGS if path not in FULL_SIZE]
"""Panes resized mid-prompt to 40 columns (``w40``) or 10 rows (``w120h10``)."""


def test_recordings_cover_two_versions_and_the_sizes() -> None:
    versions = {path.parent.name for path in RECORDINGS}
    assert {"claude-2.1.197", "claude-2.0.77"} <= versions
    for version in versions:
        sizes = {path.name for path in RECORDINGS if path.parent.name == version}
        assert {"w60", "w120", "w40", "w120h10"} <= sizes, version


@pytest.mark.parametrize("folder", FULL_SIZE, ids=lambda p: f"{p.parent.name}-{p.name}")
@pytest.mark.parametrize(("case", "state", "reason"), EXPECTED, ids=[c[0] for c in EXPECTED])
def test_recorded_screen(folder: Path, case: str, state: State | None, reason: str) -> None:
    path = folder / f"{case}.txt"
    if not path.exists():
        pytest.skip(f"{path.name} was not recorded at this width")
    assert CLAUDE is not None
    state, reason = DRIFT.get((folder.parent.name, case), (state, reason))
    match = classify(path.read_text(encoding="utf-8"), CLAUDE)
    if state is None:
        assert match is None or match.state == State.IDLE, match
        return
    assert match is not None, f"no rule matched {path}"
    assert match.state == state, (match.rule, match.line)
    assert re.search(reason, match.reason), match.reason


@pytest.mark.parametrize("folder", RESIZED, ids=lambda p: f"{p.parent.name}-{p.name}")
def test_a_resized_pane_reads_as_at_full_size(folder: Path) -> None:
    """The same state as the full-size screen of the same moment (the reason may lose what no
    longer fits: "permission prompt" for "Bash: npm test" when the command scrolled away)."""
    assert CLAUDE is not None
    cases = sorted(folder.glob("*.txt"))
    assert cases
    for path in cases:
        full = folder.parent / "w120" / path.name
        expected = classify(full.read_text(encoding="utf-8"), CLAUDE)
        match = classify(path.read_text(encoding="utf-8"), CLAUDE)
        assert expected is not None, full
        if match is None and folder.parent.name == "claude-2.0.77":
            # 2.0 redraws its whole transcript after a resize, which a 10-row pane shows for a
            # moment: the screen says nothing, so the other signals keep the state.
            continue
        assert match is not None, f"no rule matched {path}"
        assert match.state == expected.state, (path.name, match.rule, match.line)


def test_every_core_case_is_recorded_at_both_widths() -> None:
    core = ("startup-idle", "working", "permission-bash", "permission-write", "ask-user-question")
    for folder in FULL_SIZE:
        for case in core:
            assert (folder / f"{case}.txt").exists(), folder / case


def screen(*lines: str) -> str:
    return "\n".join(lines) + "\n\n\n"


PROMPT_BOX = ("─" * 60, "❯ ", "─" * 60)


@pytest.mark.parametrize(
    ("lines", "state"),
    [
        pytest.param(
            (
                "✶ Unravelling… (2s · ↓ 14 tokens)",
                "● Done.",
                "✻ Baked for 3s",
                *PROMPT_BOX,
                "  ? for shortcuts · ← for agents",
            ),
            State.IDLE,
            id="an-idle-prompt-is-idle",
        ),
        pytest.param(
            (
                "✶ Unravelling… (2s · ↓ 14 tokens)",
                " Do you want to make this edit to app.py?",
                " ❯ 1. Yes",
                "   2. No",
                " Esc to cancel · Tab to amend",
            ),
            State.AWAITING_INPUT,
            id="a-menu-is-awaiting",
        ),
    ],
)
def test_old_spinner_lines_above_do_not_decide(lines: tuple[str, ...], state: State) -> None:
    assert CLAUDE is not None
    match = classify(screen(*lines), CLAUDE)
    assert match is not None
    assert match.state == state


def test_prompt_box_under_a_spinner_is_working() -> None:
    assert CLAUDE is not None
    text = screen("✢ Whirlpooling… (12s · ↓ 180 tokens)", *PROMPT_BOX, "  esc to interrupt")
    match = classify(text, CLAUDE)
    assert match is not None
    assert (match.state, match.reason) == (State.WORKING, "Whirlpooling…")


@pytest.mark.parametrize(
    ("footer", "state"),
    [
        ("  ⏵⏵ bypass permissions on (shift+tab to cycle)", State.IDLE),
        ("  ⏵⏵ accept edits on (shift+tab to cycle) · esc to interrupt", State.WORKING),
        ("  ⏵⏵ accept edits on (shift+tab to  ·", State.WORKING),  # cut by a narrow pane
    ],
)
def test_a_permission_mode_footer_is_idle_only_without_a_spinner(footer: str, state: State) -> None:
    """The mode's status bar is always there: under a spinner it is working; alone, idle (which
    still waits for a still screen)."""
    assert CLAUDE is not None
    spinner = () if state == State.IDLE else ("✽ Harmonizing…",)
    match = classify(screen("● Done.", "✻ Baked for 3s", *spinner, *PROMPT_BOX, footer), CLAUDE)
    assert match is not None
    assert match.state == state, match
    assert not match.settled


def test_only_the_bottom_region_is_read() -> None:
    assert CLAUDE is not None
    text = screen(" ❯ 1. Yes", *(["plain output"] * 40))
    assert classify(text, CLAUDE) is None


def test_rules_must_name_a_screen_state() -> None:
    with pytest.raises(ValueError, match="screens can say only"):
        parse_rules("x", '[[rules]]\nname = "r"\nstate = "exited"\npattern = "x"\n')
