"""The report reads Codex CLI, Gemini CLI and aider sessions from their own files.

The files under ``tests/report-samples`` were written by the real CLIs (Codex CLI 0.171.0, Gemini
CLI 0.61.0, aider 0.86.2) in ``test_e2e_agents``'s life tests, against the scripted server: one
prompt answered in full ("say something", 100 input and 20 output tokens reported), then one
that asked for ``npm test`` and was cancelled at the approval (100 and 20 again). Only paths and
a hook token were replaced. Shorter variants are cut from them at a record boundary, so each is
what the CLI had written at that moment.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orchestrator.cli.main import main
from orchestrator.report import aider, codex, gemini
from orchestrator.store.db import Store

SAMPLES = Path(__file__).parent / "report-samples"
CODEX_FILE = next((SAMPLES / "codex" / "sessions").glob("*/*/*/rollout-*.jsonl"))
GEMINI_FILE = next((SAMPLES / "gemini" / "tmp").glob("*/chats/session-*.jsonl"))


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.fixture(autouse=True)
def utc_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def cut(source: Path, target: Path, keep: int, tail: str = "") -> Path:
    """The first ``keep`` lines of ``source`` (and ``tail``), written to ``target``."""
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(lines[:keep]) + tail, encoding="utf-8")
    return target


def line_of(path: Path, needle: str) -> int:
    """The 1-based number of the first line of ``path`` holding ``needle``."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


# -- Codex --------------------------------------------------------------------------------------


def test_codex_rollout() -> None:
    s = codex.summarise(CODEX_FILE)
    assert (s.agent, s.session_id) == ("codex", "01a2336c-92ba-7fa1-8e71-23f0a1196cef")
    assert s.cwd == "/home/user/project"
    # Two typed prompts; the injected environment and "turn aborted" messages are none.
    assert (s.prompts, s.replies) == (2, 2)
    assert s.tokens == {"gpt-5-codex": [200, 0, 0, 40]}
    assert s.start == utc("2026-12-01T21:04:43.596")
    assert s.end == utc("2026-12-01T21:05:03.297")
    assert s.completed is False  # the last turn was aborted at the approval
    assert s.lines_changed is None
    assert s.skipped_lines == 0


def test_codex_first_turn_completed_and_a_cut_line(tmp_path: Path) -> None:
    keep = line_of(CODEX_FILE, '"task_complete"')
    s = codex.summarise(cut(CODEX_FILE, tmp_path / "r.jsonl", keep))
    assert (s.prompts, s.replies, s.completed) == (1, 1, True)
    assert s.tokens == {"gpt-5-codex": [100, 0, 0, 20]}
    # The next turn has begun (its prompt is written) and a line is cut short: not completed.
    prompt = line_of(CODEX_FILE, '"text":"run the tests"')
    s = codex.summarise(cut(CODEX_FILE, tmp_path / "r2.jsonl", prompt + 1, '{"timestamp": "2'))
    assert (s.prompts, s.completed, s.skipped_lines) == (2, False, 1)


def test_codex_cached_tokens_are_not_counted_twice() -> None:
    usage = {"input_tokens": 1000, "cached_input_tokens": 600, "cache_write_input_tokens": 100,
             "output_tokens": 50, "reasoning_output_tokens": 20}  # fmt: skip
    assert codex.usage_counts(usage) == [300, 100, 600, 50]


# -- Gemini -------------------------------------------------------------------------------------


def test_gemini_chat_file() -> None:
    s = gemini.summarise(GEMINI_FILE)
    assert (s.agent, s.session_id) == ("gemini", "8ea717d0-866a-4859-a39f-de41e263e0e7")
    assert s.cwd == "/home/user/project"  # from .project_root beside chats/
    # The rebuilt history after the cancel restates "say something" with a copy of the reply
    # (no tokens): neither counts again.
    assert (s.prompts, s.replies) == (2, 2)
    assert s.tokens == {"gemini-2.5-flash": [200, 0, 0, 40]}
    assert s.start == utc("2026-12-01T21:05:19.367")
    assert s.end == utc("2026-12-01T21:05:38.254")
    assert s.completed is False  # "Request cancelled." after the last reply
    assert s.skipped_lines == 0


def test_gemini_first_turn_completed(tmp_path: Path) -> None:
    (tmp_path / "p" / ".project_root").parent.mkdir(parents=True)
    (tmp_path / "p" / ".project_root").write_text("/somewhere\n")
    keep = line_of(GEMINI_FILE, "Sentence number 13") + 1
    s = gemini.summarise(cut(GEMINI_FILE, tmp_path / "p" / "chats" / "session-x.jsonl", keep))
    assert (s.prompts, s.replies, s.completed, s.cwd) == (1, 1, True, "/somewhere")
    assert s.tokens == {"gemini-2.5-flash": [100, 0, 0, 20]}


def test_gemini_tokens() -> None:
    tokens = {"input": 1000, "output": 40, "cached": 700, "thoughts": 60, "tool": 5}
    assert gemini.token_counts(tokens) == [305, 0, 700, 100]


# -- aider --------------------------------------------------------------------------------------


def aider_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "proj"
    shutil.copytree(SAMPLES / "aider", folder)
    return folder


def test_aider_history(tmp_path: Path) -> None:
    [s] = aider.summarise(aider_folder(tmp_path) / aider.CHAT_FILE)
    assert (s.agent, s.session_id) == ("aider", "aider@2026-12-01T21:05:54")
    assert (s.prompts, s.replies) == (2, 2)  # "/exit" is no prompt
    # As aider printed them: "2.3k sent, 112 received." and "2.5k sent, 13 received."
    assert s.tokens == {"openai/mock-model": [4800, 0, 0, 125]}
    assert s.tokens_exact is False
    assert s.start == utc("2026-12-01T21:05:54")
    assert s.end == utc("2026-12-01T21:06:18.878675")  # the last typed line
    assert (s.completed, s.lines_changed) == (None, None)


def test_aider_sessions_of_one_folder(tmp_path: Path) -> None:
    folder = aider_folder(tmp_path)
    chat = (folder / aider.CHAT_FILE).read_text()
    typed = (folder / aider.INPUT_FILE).read_text()
    later = chat.replace("21:05:54", "23:00:00").replace("2.3k sent", "3.1k sent, 2k cache write")
    (folder / aider.CHAT_FILE).write_text(chat + later)
    (folder / aider.INPUT_FILE).write_text(typed + typed.replace("21:0", "23:0"))
    first, second = aider.summarise(folder / aider.CHAT_FILE)
    assert first.end == utc("2026-12-01T21:06:18.878675")
    assert second.start == utc("2026-12-01T23:00:00")
    assert second.end == utc("2026-12-01T23:06:18.878675")
    assert second.tokens == {"openai/mock-model": [3100 - 2000 + 2500, 2000, 0, 125]}


def test_aider_token_lines() -> None:
    assert aider.token_line("2.3k sent, 1.1k cache write, 500 cache hit, 112 received.") == [
        1200, 1100, 500, 112,
    ]  # fmt: skip
    assert aider.token_line("23k sent, 1k received.") == [23000, 0, 0, 1000]
    assert aider.token_line("nothing we know") is None


# -- The report over all of them ----------------------------------------------------------------


@pytest.fixture
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    codex_home = tmp_path / "codex"
    shutil.copytree(SAMPLES / "codex", codex_home)
    gemini_cli_home = tmp_path / "gemini-home"
    shutil.copytree(SAMPLES / "gemini", gemini_cli_home / ".gemini")
    monkeypatch.setenv("CODEX_HOME", str(codex_home))
    monkeypatch.setenv("GEMINI_CLI_HOME", str(gemini_cli_home))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "no-claude"))
    return {"aider": aider_folder(tmp_path), "db": tmp_path / "h.sqlite3"}


def run(homes: dict[str, Path], capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    argv = ["--db", str(homes["db"]), "report", "--json", *args]
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_report_lists_every_agent_and_caches(
    homes: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data = run(homes, capsys, "--aider-dir", str(homes["aider"]))
    rows = {r["agent"]: r for r in data["list"]}
    assert sorted(rows) == ["aider", "codex", "gemini"]
    assert {a: (r["prompts"], r["messages"], r["outcome"]) for a, r in rows.items()} == {
        "aider": (2, 4, "unknown"), "codex": (2, 4, "aborted"), "gemini": (2, 4, "aborted"),
    }  # fmt: skip
    assert rows["codex"]["tokens"] == {"input": 200, "cache_creation": 0, "cache_read": 0,
                                       "output": 40}  # fmt: skip
    assert rows["aider"]["lines_changed"] is None and rows["aider"]["tokens_exact"] is False
    assert rows["codex"]["project"] == "/home/user/project"
    assert data["outcomes"]["single"] == {"completed": 0, "aborted": 2, "unknown": 1}
    assert data["productivity"]["single"]["sessions_with_lines"] == 0
    assert data["by_agent"]["gemini"]["tokens"]["output"] == 40
    assert data["sources"]["read"] == 3
    # A second report reads nothing again; aider's input history changing re-reads its file.
    again = run(homes, capsys, "--aider-dir", str(homes["aider"]))
    assert (again["sources"]["read"], again["sources"]["cached"]) == (0, 3)
    assert again["list"] == data["list"]
    with (homes["aider"] / aider.INPUT_FILE).open("a") as f:
        f.write("\n# 2026-12-01 21:07:00.000000\n+one more\n")
    third = run(homes, capsys, "--aider-dir", str(homes["aider"]))
    assert third["sources"]["read"] == 1
    assert [r["end"] for r in third["list"] if r["agent"] == "aider"] == [
        "2026-12-01T21:07:00+00:00"
    ]


def test_agent_filter(homes: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    data = run(homes, capsys, "--agent", "gemini", "--aider-dir", str(homes["aider"]))
    assert [r["agent"] for r in data["list"]] == ["gemini"]
    assert list(data["by_agent"]) == ["gemini"]
    with pytest.raises(SystemExit):
        main(["--db", str(homes["db"]), "report", "--agent", "opencode"])


def test_aider_session_linked_to_its_fleet_session_and_waits(
    homes: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """aider has no session id: our history's aider session in that folder owns it, and its
    waits are the report's, as for the other agents."""
    start = utc("2026-12-01T21:05:54")
    with Store(homes["db"]) as store:
        store.upsert_session("fix", "fix-4", agent="aider", cwd=homes["aider"], at=start - 2)
        for offset, state in ((-2, "starting"), (1, "idle"), (10, "working"),
                              (24, "awaiting_input"), (31, "idle")):  # fmt: skip
            store.record_transition("fix", "fix-4", state, source="test", at=start + offset)
        # Another aider session in another folder is not it.
        store.upsert_session("fix", "other", agent="aider", cwd=Path("/elsewhere"), at=start)
        store.record_transition("fix", "other", "idle", source="test", at=start)
    data = run(homes, capsys, "--fleet", "fix")
    # The folder came from the history: no --aider-dir needed.
    [row] = data["list"]
    assert (row["agent"], row["fleet"], row["name"]) == ("aider", "fix", "fix-4")
    assert [w["seconds"] for w in row["waits"]] == [7.0]
    assert data["attention"]["waits"] == 1
    assert data["by_agent"]["aider"]["linked"] == 1
    folders = {os.path.realpath(d) for d in data["sources"]["aider_dirs"]}
    assert os.path.realpath(homes["aider"]) in folders


def test_text_report_names_what_an_agent_does_not_record(
    homes: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--db", str(homes["db"]), "report", "--no-pictures", "--aider-dir", str(homes["aider"])]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "By agent" in out
    assert "aider: tokens as the agent printed them, rounded" in out
    assert "codex: lines changed are not in its files" in out
    assert "Not counted: 1 session(s) whose agent records no outcome" in out
