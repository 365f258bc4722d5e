"""``orchestrator report`` on a generated corpus whose every figure is known by construction.

The corpus (built in :func:`corpus`), in UTC, Monday 2 November 2026 onwards:

- A, in ``app`` (a git repository): Mon 23:00 -> Tue 01:30 (2.5 h, across midnight). Two
  prompts, a meta record, a reply split over three records repeating its usage, an Edit (3
  lines), a Write (4), a rejected Edit (0), a MultiEdit (2 + 2): 11 lines. Ends with end_turn:
  completed. 2 prompts + 6 replies = 8 messages.
- B, in a linked worktree of ``app`` (so project ``app`` too): Tue 00:00 -> 03:00; interrupted
  after its last reply: aborted. Overlaps A by 1.5 h.
- C, in a folder that no longer exists: Tue 02:00 -> Thu 08:00 (54 h). Overlaps B by 1 h.
  Completed.
- D, in ``other`` (another repository): Wed 10:00 -> 10:20; killed mid-tool (no result, last
  reply tool_use): aborted. Overlaps C by 20 min only: single.
- E, in ``other``: Sat 09:00 -> 09:30, completed, single; one malformed line, one unknown record
  type, one line cut short at the end: 3 skipped lines.
- a directory named like a transcript (unreadable), and a file with only a summary record.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from orchestrator.cli.main import main
from orchestrator.report.transcript import diff_lines, summarise
from orchestrator.store.db import Store
from tests.gitrepo import git
from tests.report_corpus import USAGE, Transcript

MON = datetime(2026, 11, 2, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


@dataclass
class Corpus:
    claude_dir: Path
    db: Path
    app: Path
    worktree: Path
    other: Path
    ids: dict[str, str]
    paths: dict[str, Path]


def _a(app: Path) -> Transcript:
    t = Transcript(str(app))
    start = MON + 23 * H
    t.other("summary", summary="A session", leafUuid="x")
    t.prompt(start, "Refactor the parser")
    t.prompt(start + M, "<local-command-stdout></local-command-stdout>", meta=True)
    t.reply(
        start + 2 * M,
        [{"type": "text", "text": "Looking."}, {"type": "text", "text": "Still."},
         {"type": "text", "text": "Done looking."}],
        stop="end_turn", split=3,
    )  # fmt: skip
    t.tool(
        start + 10 * M,
        "Edit",
        {"file_path": "a.py", "old_string": "a\nb\nc", "new_string": "a\nB\nc\nd"},
    )
    t.tool(start + 20 * M, "Write", {"file_path": "b.py", "content": "1\n2\n3\n4\n"})
    t.tool(
        start + 30 * M,
        "Edit",
        {"file_path": "a.py", "old_string": "x", "new_string": "y"},
        error=True,
    )
    t.tool(
        start + 40 * M, "MultiEdit",
        {"file_path": "c.py", "edits": [{"old_string": "x", "new_string": "y"},
                                        {"old_string": "", "new_string": "1\n2"}]},
    )  # fmt: skip
    t.prompt(start + 2 * H, "Now the tests")
    t.reply(start + 2.5 * H, stop="end_turn")
    return t


def _b(worktree: Path) -> Transcript:
    t = Transcript(str(worktree / "src"))
    start = MON + 24 * H
    t.prompt(start, "Review it")
    t.reply(start + 3 * H, stop="end_turn", model="claude-opus-4-8")
    t.interrupt(start + 3 * H)
    return t


def _c(gone: Path) -> Transcript:
    t = Transcript(str(gone))
    start = MON + 26 * H
    t.prompt(start, "Long research")
    t.reply(start + 54 * H, stop="end_turn")
    return t


def _d(other: Path) -> Transcript:
    t = Transcript(str(other))
    start = MON + 2 * 24 * H + 10 * H
    t.prompt(start, "Fix it")
    t.tool(
        start + 20 * M,
        "Edit",
        {"file_path": "z", "old_string": "1", "new_string": "2"},
        result=False,
    )
    return t


def _e(other: Path) -> Transcript:
    t = Transcript(str(other))
    start = MON + 5 * 24 * H + 9 * H
    t.prompt(start, "Quick question")
    t.raw("{this is not json")
    t.other("brand-new-record-kind", data=1)
    t.reply(start + 30 * M, stop="end_turn", model="<synthetic>", usage=(0, 0, 0, 0))
    t.raw('{"type":"assistant","timestamp":"2026-11-07T09:45:00.000Z","message":{"id":"m')
    return t


@pytest.fixture
def corpus(tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Corpus]:
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.delenv("CODEX_HOME", raising=False)
    monkeypatch.delenv("GEMINI_CLI_HOME", raising=False)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    app = repo
    worktree = tmp_path / "wt"
    git(app, "worktree", "add", "-q", "-b", "review", str(worktree))
    (worktree / "src").mkdir()
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    claude = tmp_path / "claude"
    made = {
        "A": _a(app),
        "B": _b(worktree),
        "C": _c(tmp_path / "gone"),
        "D": _d(other),
        "E": _e(other),
    }
    paths = {k: t.write(claude, tail="" if k == "E" else "\n") for k, t in made.items()}
    (claude / "projects" / "broken" / "unreadable.jsonl").mkdir(parents=True)
    empty = Transcript("/nowhere")
    empty.other("summary", summary="nothing")
    empty.write(claude)
    yield Corpus(claude, tmp_path / "history.sqlite3", app, worktree, other,
                 {k: t.session_id for k, t in made.items()}, paths)  # fmt: skip
    monkeypatch.undo()
    time.tzset()


def report(corpus: Corpus, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    argv = ["--db", str(corpus.db), "report", "--json", "--claude-dir", str(corpus.claude_dir)]
    assert main([*argv, *args]) == 0
    out = capsys.readouterr()
    data: dict[str, Any] = json.loads(out.out)
    data["_stderr"] = out.err
    return data


def by_letter(corpus: Corpus, data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    names = {v: k for k, v in corpus.ids.items()}
    return {names[e["session_id"]]: e for e in data["list"]}


def test_sessions_overlaps_and_projects(corpus: Corpus, capsys: pytest.CaptureFixture[str]) -> None:
    data = report(corpus, capsys)
    assert data["window"] == {"since": None, "until": None, "timezone": "UTC"}
    assert data["sessions"] == {
        "total": 5, "parallel": 3, "single": 2, "skipped_lines": 3, "skipped_files": 1,
    }  # fmt: skip
    o = data["overlaps"]
    assert (o["pairs"], o["significant"], o["mean_hours"], o["longest_hours"]) == (3, 2, 1.25, 1.5)
    assert o["buckets"] == {"0.5-2h": 2, "2-8h": 0, "8-24h": 0, "24h+": 0}
    assert o["same_project_share"] == 0.5
    gone = str(corpus.app.parent.parent / "gone")
    pairs = [[str(corpus.app)] * 2, sorted([gone, str(corpus.app)])]
    assert o["top_project_pairs"] == [{"projects": p, "count": 1} for p in sorted(pairs)]
    rows = by_letter(corpus, data)
    assert {k: r["project"] for k, r in rows.items()} == {
        "A": str(corpus.app), "B": str(corpus.app), "C": gone,
        "D": str(corpus.other), "E": str(corpus.other),
    }  # fmt: skip
    assert {k: r["hours"] for k, r in rows.items()} == {
        "A": 2.5, "B": 3.0, "C": 54.0, "D": 0.3333, "E": 0.5,
    }  # fmt: skip
    assert [k for k, r in rows.items() if r["parallel"]] == ["A", "B", "C"]
    assert list(rows) == ["A", "B", "C", "D", "E"]  # by start
    assert rows["A"]["start"] == "2026-11-02T23:00:00+00:00"


def test_outcomes_messages_lines_and_tokens(
    corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    data = report(corpus, capsys)
    rows = by_letter(corpus, data)
    assert {k: r["outcome"] for k, r in rows.items()} == {
        "A": "completed", "B": "aborted", "C": "completed", "D": "aborted", "E": "completed",
    }  # fmt: skip
    assert data["outcomes"] == {
        "parallel": {"completed": 2, "aborted": 1, "unknown": 0},
        "single": {"completed": 1, "aborted": 1, "unknown": 0},
    }  # fmt: skip
    # A: 2 prompts (the meta record is none) + 6 distinct replies (the split one counted once).
    assert {k: r["messages"] for k, r in rows.items()} == {"A": 8, "B": 2, "C": 2, "D": 2, "E": 2}
    assert {k: r["lines_changed"] for k, r in rows.items()} == {
        "A": 11, "B": 0, "C": 0, "D": 0, "E": 0,
    }  # fmt: skip
    p, s = data["productivity"]["parallel"], data["productivity"]["single"]
    assert p == {
        "mean_hours": round(59.5 / 3, 4), "mean_lines_changed": round(11 / 3, 4),
        "mean_messages": 4.0, "lines_per_hour": round(11 / 59.5, 4),
        "sessions_with_lines": 3,
    }  # fmt: skip
    assert s == {"mean_hours": round((1 / 3 + 0.5) / 2, 4), "mean_lines_changed": 0.0,
                 "mean_messages": 2.0, "lines_per_hour": 0.0, "sessions_with_lines": 2}  # fmt: skip
    # Sonnet replies: A 6, C 1, D 1 = 8, each USAGE once; B's one reply is an unpriced model;
    # E's only reply is <synthetic> with no tokens.
    t = data["tokens"]
    sonnet = t["by_model"]["claude-sonnet-4-5-20250929"]
    assert [sonnet[k] for k in ("input", "cache_creation", "cache_read", "output")] == [
        8 * n for n in USAGE
    ]
    assert [t[k] for k in ("input", "cache_creation", "cache_read", "output")] == [
        9 * n for n in USAGE
    ]
    assert t["cache_hit_rate"] == round(1000 / 1110, 4)
    assert set(t["by_model"]) == {"claude-sonnet-4-5-20250929", "claude-opus-4-8"}
    assert sonnet["cost_usd"] == round(8 * (10 * 3 + 100 * 3.75 + 1000 * 0.3 + 50 * 15) / 1e6, 4)
    assert sonnet["cost_usd_without_cache"] == round(8 * (1110 * 3 + 50 * 15) / 1e6, 4)
    assert t["by_model"]["claude-opus-4-8"]["cost_usd"] is None
    assert t["cost_usd"] is None and t["cost_usd_without_cache"] is None
    assert "no price for model 'claude-opus-4-8'" in data["_stderr"]


def test_prices_file_prices_every_model(
    corpus: Corpus, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text(
        '[models."claude-"]\ninput = 1.0\noutput = 2.0\ncache_write = 3.0\ncache_read = 4.0\n'
    )
    t = report(corpus, capsys, "--prices", str(prices))["tokens"]
    assert t["cost_usd"] == round(9 * (10 * 1 + 100 * 3 + 1000 * 4 + 50 * 2) / 1e6, 4)
    assert t["cost_usd_without_cache"] == round(9 * (1110 * 1 + 50 * 2) / 1e6, 4)
    prices.write_text('[models."claude-"]\ninput = 1.0\n')
    argv = ["--db", str(corpus.db), "report", "--claude-dir", str(corpus.claude_dir)]
    assert main([*argv, "--prices", str(prices)]) == 2
    err = capsys.readouterr().err
    assert f"{prices}: models.claude-.output: missing" in err


def test_when_in_utc_and_in_another_zone(
    corpus: Corpus, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = report(corpus, capsys)
    hours = {e["hour"]: (e["parallel"], e["total"]) for e in data["by_hour"] if e["total"]}
    assert hours == {23: (1, 1), 0: (1, 1), 2: (1, 1), 10: (0, 1), 9: (0, 1)}
    days = {e["day"]: (e["parallel"], e["total"]) for e in data["by_weekday"] if e["total"]}
    assert days == {"Monday": (1, 1), "Tuesday": (2, 2), "Wednesday": (0, 1), "Saturday": (0, 1)}
    assert next(e["day"] for e in data["by_weekday"]) == "Monday" and len(data["by_hour"]) == 24
    monkeypatch.setenv("TZ", "America/New_York")  # UTC-5 in November
    time.tzset()
    data = report(corpus, capsys)
    assert data["window"]["timezone"] == "America/New_York"
    totals = {e["hour"]: e["total"] for e in data["by_hour"] if e["total"]}
    assert totals == {18: 1, 19: 1, 21: 1, 5: 1, 4: 1}
    day_totals = {e["day"]: e["total"] for e in data["by_weekday"] if e["total"]}
    assert day_totals == {"Monday": 3, "Wednesday": 1, "Saturday": 1}


def test_window_and_project_filters(corpus: Corpus, capsys: pytest.CaptureFixture[str]) -> None:
    data = report(corpus, capsys, "--since", "2026-11-03", "--until", "2026-11-04")
    assert sorted(by_letter(corpus, data)) == ["B", "C", "D"]
    # Kept alone, B and C still overlap by an hour; D overlaps C by 20 minutes only.
    assert data["sessions"]["parallel"] == 2
    assert data["window"]["since"] == "2026-11-03T00:00:00+00:00"
    assert data["window"]["until"] == "2026-11-05T00:00:00+00:00"
    data = report(corpus, capsys, "--project", str(corpus.worktree / "src"))
    assert sorted(by_letter(corpus, data)) == ["A", "B"]
    assert data["sessions"]["skipped_lines"] == 0  # E is not in the report
    argv = ["--db", str(corpus.db), "report", "--since", "yesterday"]
    assert main(argv) == 2
    assert "--since 'yesterday': not a date or time" in capsys.readouterr().err


def test_bad_input_is_skipped_counted_and_named(
    corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    err = report(corpus, capsys)["_stderr"]
    assert f"{corpus.paths['E']}: 3 line(s) skipped" in err
    assert "unreadable.jsonl: cannot be read" in err
    summary = summarise(corpus.paths["E"])
    assert (summary.skipped_lines, summary.prompts, summary.replies) == (3, 1, 1)


def test_empty_or_missing_claude_folder_gives_an_empty_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "missing"))
    argv = ["--db", str(tmp_path / "h.sqlite3"), "report"]
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["sessions"]["total"] == 0 and data["list"] == []
    assert len(data["by_hour"]) == 24 and len(data["by_weekday"]) == 7
    assert data["tokens"]["cost_usd"] == 0.0
    assert main(argv) == 0
    assert "no sessions in this window" in capsys.readouterr().out


def test_second_run_reads_only_what_changed(
    corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    first = report(corpus, capsys)
    assert (first["sources"]["read"], first["sources"]["cached"]) == (7, 0)
    second = report(corpus, capsys)
    # The unreadable one is tried again; every good file comes from the cache.
    assert (second["sources"]["read"], second["sources"]["cached"]) == (1, 6)
    assert {k: v for k, v in second.items() if k not in ("sources", "_stderr")} == {
        k: v for k, v in first.items() if k not in ("sources", "_stderr")
    }
    path = corpus.paths["C"]
    with path.open("a") as f:
        record = {"type": "user", "timestamp": "2026-11-05T09:00:00.000Z",
                  "message": {"role": "user", "content": "one more"}}  # fmt: skip
        f.write(json.dumps(record) + "\n")
    third = report(corpus, capsys)
    assert (third["sources"]["read"], third["sources"]["cached"]) == (2, 5)
    assert by_letter(corpus, third)["C"]["hours"] == 55.0
    with Store(corpus.db) as store:
        assert store.path == corpus.db


def test_waits_and_fleet_links_come_from_the_history(
    corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    a_start = (MON + 23 * H).timestamp()
    b_start = (MON + 24 * H).timestamp()
    with Store(corpus.db) as store:
        store.note_claude_session("f1", "dev", corpus.ids["A"], transcript_path=corpus.paths["A"])
        store.note_claude_session("f1", "rev", corpus.ids["B"])  # linked by id only
        for at, state in ((600, "working"), (1200, "awaiting_input"), (1380, "working"),
                          (3600, "awaiting_input"), (4200, "idle")):  # fmt: skip
            store.record_transition("f1", "dev", state, source="test", at=a_start + at)
        for at, state in ((300, "awaiting_input"), (330, "working")):
            store.record_transition("f1", "rev", state, source="test", at=b_start + at)
    data = report(corpus, capsys, "--fleet", "f1")
    rows = by_letter(corpus, data)
    assert sorted(rows) == ["A", "B"]
    assert (rows["A"]["fleet"], rows["A"]["name"], rows["B"]["name"]) == ("f1", "dev", "rev")
    assert [w["seconds"] for w in rows["A"]["waits"]] == [180.0, 600.0]
    assert data["attention"] == {
        "waits": 3, "awaiting_input_hours": round(810 / 3600, 4),
        "median_response_seconds": 180.0, "p90_response_seconds": 600.0, "forgotten": 1,
    }  # fmt: skip
    everything = report(corpus, capsys)
    assert by_letter(corpus, everything)["C"]["fleet"] is None
    assert everything["attention"]["waits"] == 3
    # The timeline draws each linked session's states from the history over its span.
    argv = ["--db", str(corpus.db), "report", "--claude-dir", str(corpus.claude_dir)]
    assert main([*argv, "--fleet", "f1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    dev = next(line for line in lines if line.strip().startswith("f1/dev┤"))
    rev = next(line for line in lines if line.strip().startswith("f1/rev┤"))
    assert "█" in dev and "▓" in dev and "░" in dev  # working, waiting, idle
    assert "▓" in rev and "█" in rev


def test_text_report_has_the_tables_and_pictures(
    corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--db", str(corpus.db), "report", "--claude-dir", str(corpus.claude_dir)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for heading in ("Time of day", "Day of week", "Outcomes", "Productivity", "Overlaps:",
                    "Tokens and cost", "Attention", "Timeline:", "weekday and hour"):  # fmt: skip
        assert heading in out
    assert ["Parallel", "2", "1", "3", "66.7%"] in [line.split() for line in out.splitlines()]
    assert "app + app: 1 times" in out


def test_diff_lines_counts_added_plus_removed() -> None:
    assert diff_lines("a\nb\nc", "a\nB\nc\nd") == 3
    assert diff_lines("same", "same") == 0
    assert diff_lines("", "1\n2") == 2
    assert diff_lines("1\n2\n3", "") == 3


def test_a_pool_that_cannot_start_costs_only_speed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.report import cache

    class NoPool:
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise ValueError("bad value(s) in fds_to_keep")  # what a Textual app's stderr gives

    monkeypatch.setattr(cache, "ProcessPoolExecutor", NoPool)
    paths = []
    for n in range(cache.POOL_FROM):
        t = Transcript(str(tmp_path))
        t.prompt(MON + n * H)
        t.reply(MON + n * H + M)
        paths.append(str(t.write(tmp_path / "claude")))
    summaries = [one for [one] in cache._read_all([("claude", p) for p in paths], 2)]
    assert [(s.path, s.prompts, s.replies) for s in summaries] == [(p, 1, 1) for p in paths]
