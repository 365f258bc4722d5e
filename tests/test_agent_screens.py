"""Screen rules of Codex CLI, Gemini CLI and aider against screens recorded from the real CLIs
(``tests/harness/record_agents.py``), at two widths each."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.agents.catalog import rules_for
from orchestrator.detect.model import State
from orchestrator.detect.screen import classify

SCREENS = Path(__file__).parent / "screens"

# (case, state, a piece of the reason) per agent; None: no rule may match (a dead pane).
EXPECTED: dict[str, list[tuple[str, State | None, str]]] = {
    "codex": [
        ("startup-idle", State.IDLE, "at the prompt"),
        ("working", State.WORKING, "Working"),
        ("turn-finished-idle", State.IDLE, "at the prompt"),
        ("permission-shell", State.AWAITING_INPUT, "Shell: npm test"),
        ("esc-at-permission", State.IDLE, "at the prompt"),
        ("esc-while-working", State.IDLE, "at the prompt"),
        ("after-exit", None, ""),
    ],
    "gemini": [
        ("startup-idle", State.IDLE, "at the prompt"),
        ("working", State.WORKING, ""),
        ("streaming", State.WORKING, "Thinking..."),
        ("turn-finished-idle", State.IDLE, "at the prompt"),
        ("permission-shell", State.AWAITING_INPUT, "Shell: npm test"),
        ("esc-at-permission", State.IDLE, "at the prompt"),
        ("esc-while-working", State.IDLE, "at the prompt"),
        ("after-exit", None, ""),
    ],
    "aider": [
        ("startup-idle", State.IDLE, "at the prompt"),
        ("working", State.WORKING, "waiting for openai/mock-model"),
        ("turn-finished-idle", State.IDLE, "at the prompt"),
        ("permission-shell", State.AWAITING_INPUT, "Shell: npm test"),
        ("esc-at-permission", State.IDLE, "at the prompt"),
        ("esc-while-working", State.IDLE, "at the prompt"),
    ],
}

CASES = [
    pytest.param(folder, case, state, reason, id=f"{folder.parent.name}-{folder.name}-{case}")
    for agent, expected in EXPECTED.items()
    for folder in sorted(SCREENS.glob(f"{agent}-*/w*"))
    for case, state, reason in expected
]


@pytest.mark.parametrize("agent", sorted(EXPECTED))
def test_two_widths_recorded(agent: str) -> None:
    widths = {path.name for path in SCREENS.glob(f"{agent}-*/w*")}
    assert len(widths) >= 2, widths


@pytest.mark.parametrize(("folder", "case", "state", "reason"), CASES)
def test_recorded_screen(folder: Path, case: str, state: State | None, reason: str) -> None:
    rules = rules_for(folder.parent.name.split("-")[0])
    assert rules is not None
    match = classify((folder / f"{case}.txt").read_text(encoding="utf-8"), rules)
    if state is None:
        assert match is None, match
        return
    assert match is not None, f"no rule matched {folder / case}"
    assert match.state == state, (match.rule, match.line)
    assert reason in match.reason, match.reason
