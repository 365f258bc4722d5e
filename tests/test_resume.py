"""Which conversation a session continues, and how `up` asks about it (no tmux needed)."""

from __future__ import annotations

import argparse
import io
import os
import time
from pathlib import Path

import pytest

from orchestrator.cli import fleet as fleet_cli
from orchestrator.layout import load as layout
from orchestrator.store import history
from orchestrator.store.db import Store
from orchestrator.tmux.client import Tmux


def test_an_empty_later_conversation_does_not_hide_the_one_with_work(tmp_path: Path) -> None:
    # An `up` that did not resume started a new conversation (no transcript: nothing was said in
    # it); the earlier one holds the work and is the one to continue.
    worked = tmp_path / "worked.jsonl"
    worked.write_text("{}\n")
    with Store(tmp_path / "h.db") as store:
        store.note_claude_session("f", "dev-1", "worked", transcript_path=worked, at=100.0)
        store.note_claude_session(
            "f", "dev-1", "empty", transcript_path=tmp_path / "empty.jsonl", at=200.0
        )
    assert history.resume_id("f", "dev-1", tmp_path / "h.db") == "worked"
    # Once the newer one holds work too, it is the one continued.
    (tmp_path / "empty.jsonl").write_text("{}\n")
    assert history.resume_id("f", "dev-1", tmp_path / "h.db") == "empty"


def test_the_resume_question_shows_when_a_conversation_was_last_active(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first_seen = time.mktime((2026, 1, 2, 3, 4, 0, 0, 0, -1))
    last_active = time.mktime((2026, 3, 4, 5, 6, 0, 0, 0, -1))
    transcript = tmp_path / "t.jsonl"
    transcript.write_text("{}\n")
    os.utime(transcript, (last_active, last_active))
    monkeypatch.setenv("ORCHESTRATOR_DB", str(tmp_path / "h.db"))
    with Store() as store:
        store.note_claude_session("x", "a", "c-1", transcript_path=transcript, at=first_seen)
    path = tmp_path / "x.toml"
    path.write_text('name = "x"\n[[sessions]]\nname = "a"\ncommand = ["sh"]\n')
    asked: list[str] = []

    def answer(question: str) -> str:
        asked.append(question)
        return "y"

    monkeypatch.setattr("sys.stdin", _Terminal())
    monkeypatch.setattr("builtins.input", answer)
    args = argparse.Namespace(resume=None, layout=str(path), detach=False)
    chosen = fleet_cli._resume_choice(layout.load_fleet(str(path)), args, Tmux())
    assert chosen == {"a": "c-1"}
    assert asked == ["  continue a's conversation (last active 2026-03-04 05:06)? [Y/n] "]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True
