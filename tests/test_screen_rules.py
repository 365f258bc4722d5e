"""Screen rules against screens recorded from the real Claude Code, at 60 and 120 columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.agents.catalog import rules_for
from orchestrator.detect.model import State
from orchestrator.detect.screen import classify, parse_rules

SCREENS = Path(__file__).parent / "screens"
CLAUDE = rules_for("claude")

# (recording, state, reason) for every recorded Claude Code version and width.
EXPECTED: list[tuple[str, State | None, str]] = [
    ("startup-idle", State.IDLE, "at the prompt"),
    ("working", State.WORKING, r"…"),
    ("turn-finished-idle", State.IDLE, "at the prompt"),
    ("permission-bash", State.AWAITING_INPUT, "Bash: npm test"),
    ("permission-write", State.AWAITING_INPUT, "permission to write notes/plan.md"),
    ("ask-user-question", State.AWAITING_INPUT, "question: Which database should the service use?"),
    ("trust-dialog", State.AWAITING_INPUT, "trust this folder?"),
    ("esc-at-permission", State.IDLE, "at the prompt"),
    ("esc-at-question", State.IDLE, "at the prompt"),
    ("esc-while-working", State.IDLE, "at the prompt"),
    ("write-approved-idle", State.IDLE, "at the prompt"),
    ("question-answered-idle", State.IDLE, "at the prompt"),
    ("after-exit", None, ""),
]

RECORDINGS = sorted(SCREENS.glob("claude-*/w*"))


def test_recordings_cover_two_widths() -> None:
    widths = {path.name for path in RECORDINGS}
    assert {"w60", "w120"} <= widths


@pytest.mark.parametrize("folder", RECORDINGS, ids=lambda p: f"{p.parent.name}-{p.name}")
@pytest.mark.parametrize(("case", "state", "reason"), EXPECTED, ids=[c[0] for c in EXPECTED])
def test_recorded_screen(folder: Path, case: str, state: State | None, reason: str) -> None:
    path = folder / f"{case}.txt"
    if not path.exists():
        pytest.skip(f"{path.name} was not recorded at this width")
    assert CLAUDE is not None
    match = classify(path.read_text(encoding="utf-8"), CLAUDE)
    if state is None:
        assert match is None, match
        return
    assert match is not None, f"no rule matched {path}"
    assert match.state == state, (match.rule, match.line)
    assert reason in match.reason


def test_every_core_case_is_recorded_at_both_widths() -> None:
    core = ("startup-idle", "working", "permission-bash", "permission-write", "ask-user-question")
    for folder in RECORDINGS:
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


def test_always_on_status_bars_do_not_decide() -> None:
    assert CLAUDE is not None
    text = screen(*PROMPT_BOX, "  ⏵⏵ bypass permissions on (shift+tab to cycle)")
    assert classify(text, CLAUDE) is None


def test_only_the_bottom_region_is_read() -> None:
    assert CLAUDE is not None
    text = screen(" ❯ 1. Yes", *(["plain output"] * 40))
    assert classify(text, CLAUDE) is None


def test_rules_must_name_a_screen_state() -> None:
    with pytest.raises(ValueError, match="screens can say only"):
        parse_rules("x", '[[rules]]\nname = "r"\nstate = "exited"\npattern = "x"\n')
