"""Finding the files a waiting session needs, and handing them over (real folders)."""

from __future__ import annotations

from pathlib import Path

from orchestrator.fleet import handoff


def test_own_folder_first_then_producers_in_order(tmp_path: Path) -> None:
    own, first, second = (tmp_path / n for n in ("own", "first", "second"))
    for folder in (own, first, second):
        folder.mkdir()
    (second / "notes").mkdir()
    (second / "notes" / "plan.md").write_text("second")
    (first / "findings.md").write_text("first")
    producers = {"first": first, "second": second}
    assert handoff.locate("missing.md", own, producers) is None
    found = handoff.locate("notes/plan.md", own, producers)
    assert found is not None
    assert (found.producer, found.source) == ("second", second / "notes" / "plan.md")
    (own / "findings.md").write_text("mine")
    mine = handoff.locate("findings.md", own, producers)
    assert mine is not None
    assert mine.producer is None


def test_hand_over_copies_only_what_the_consumer_lacks(tmp_path: Path) -> None:
    own, producer = tmp_path / "own", tmp_path / "producer"
    own.mkdir()
    (producer / "notes").mkdir(parents=True)
    (producer / "notes" / "plan.md").write_text("the plan")
    (own / "mine.md").write_text("mine")
    found = [
        handoff.locate("notes/plan.md", own, {"research": producer}),
        handoff.locate("mine.md", own, {"research": producer}),
    ]
    files = handoff.hand_over([f for f in found if f is not None], own)
    assert (own / "notes" / "plan.md").read_text() == "the plan"
    assert [(f["name"], f["copied"], f["producer"]) for f in files] == [
        ("notes/plan.md", True, "research"),
        ("mine.md", False, None),
    ]
    assert handoff.describe(["research"], files) == (
        "after research; notes/plan.md copied from research; mine.md in place"
    )


def test_a_link_out_of_the_folder_is_never_followed(tmp_path: Path) -> None:
    own, producer, secret = tmp_path / "own", tmp_path / "producer", tmp_path / "secret"
    for folder in (own, producer, secret):
        folder.mkdir()
    (secret / "key").write_text("do not copy")
    (producer / "findings.md").symlink_to(secret / "key")
    (own / "findings.md").symlink_to(secret / "key")
    assert handoff.locate("findings.md", own, {"research": producer}) is None
    assert handoff.inside(own, "../secret/key") is None


def test_claude_tells_a_prompt_still_in_its_box_from_one_sent() -> None:
    from orchestrator.agents.claude import CLAUDE

    rule = "─" * 40
    text = "Study the auth module; write your findings to findings.md"
    unsent = ["", rule, f"❯ {text}", "", rule, "  ⏵⏵ accept edits on (shift+tab to cycle)"]
    sent = [f"❯ {text}", "", "✻ Whirlpooling… (2s · ↓ 18 tokens)", rule, "❯ ", rule, "  footer"]
    assert CLAUDE.prompt_pending(unsent, text) is True
    assert CLAUDE.prompt_pending(sent, text) is False
    assert CLAUDE.prompt_pending(["no box here"], text) is None
