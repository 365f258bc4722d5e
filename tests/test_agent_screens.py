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
        ("permission-edit", State.AWAITING_INPUT, "edit: src/app.py"),
        ("esc-at-edit", State.IDLE, "at the prompt"),
        ("edit-approved-idle", State.IDLE, "at the prompt"),
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
        ("draft", State.IDLE, "at the prompt (a draft)"),
        ("streaming", None, ""),  # the sent prompt's echo above the reply is no draft
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


def _dialog(folder: Path, case: str) -> list[str]:
    """The approval dialog of a recorded Codex screen: from its question to its footer."""
    lines = (folder / f"{case}.txt").read_text(encoding="utf-8").rstrip().splitlines()
    start = next(i for i, line in enumerate(lines) if "Would you like to" in line)
    return lines[start:]


@pytest.mark.parametrize("folder", sorted(SCREENS.glob("codex-*/w*")), ids=lambda p: p.name)
def test_codex_approvals_are_told_apart_under_each_other(folder: Path) -> None:
    """An edit approval under an earlier command's `$ npm test`, and a command approval under an
    earlier edit's `• Edited src/app.py`, each read as what is asked now."""
    rules = rules_for("codex")
    assert rules is not None
    shell = (folder / "permission-shell.txt").read_text(encoding="utf-8").rstrip().splitlines()
    edit = (folder / "permission-edit.txt").read_text(encoding="utf-8").rstrip().splitlines()
    turn = next(i for i, line in enumerate(edit) if line.startswith("› fix the greeting"))
    edit_under_shell = "\n".join([*shell, "", *edit[turn:]])
    match = classify(edit_under_shell, rules)
    assert match is not None
    assert (match.state, match.reason) == (State.AWAITING_INPUT, "edit: src/app.py"), match
    # No prompt echo between: only the dialog's own lines tell which it is.
    dialog = _dialog(folder, "permission-shell")
    shell_under_edit = "\n".join([*edit, "", "• Running npm test", "", *dialog])
    match = classify(shell_under_edit, rules)
    assert match is not None
    assert (match.state, match.reason) == (State.AWAITING_INPUT, "Shell: npm test"), match
