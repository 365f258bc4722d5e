"""The dashboard's report view: the report key opens it, it shows the report's tables and both
pictures, and ``f`` narrows it to the dashboard's fleet."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Static
from textual_plotext import PlotextPlot

from orchestrator.report.cache import POOL_FROM
from orchestrator.store.db import Store
from orchestrator.tui.app import Dashboard
from orchestrator.tui.report_view import ReportScreen
from tests.dashboard_fake import FakeBackend
from tests.report_corpus import Transcript

pytestmark = pytest.mark.anyio

START = datetime(2026, 11, 2, 9, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def claude_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Two overlapping sessions, one linked to the fake dashboard's fleet in the history."""
    folder = tmp_path / "claude"
    ids = []
    for offset in (0, 1):
        t = Transcript(str(tmp_path / f"p{offset}"))
        t.prompt(START + timedelta(hours=offset), "go")
        t.reply(START + timedelta(hours=offset + 2))
        t.write(folder)
        ids.append(t.session_id)
    # Enough single sessions, days later, that the command line would read them on a process
    # pool (which cannot start inside a Textual app: its stderr has no file descriptor).
    for day in range(POOL_FROM):
        t = Transcript(str(tmp_path / "p0"))
        t.prompt(START + timedelta(days=day + 3), "go")
        t.reply(START + timedelta(days=day + 3, minutes=5))
        t.write(folder)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(folder))
    monkeypatch.setenv("ORCHESTRATOR_DB", str(tmp_path / "history.sqlite3"))
    with Store() as store:
        store.note_claude_session(FakeBackend().fleet, "dev-1", ids[0])
    return ids


async def until(pilot: Pilot[None], predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)


async def test_report_key_opens_the_report_with_tables_and_pictures(
    claude_dir: list[str],
) -> None:
    app = Dashboard(FakeBackend([]), live=False)
    async with app.run_test(size=(140, 50)) as pilot:
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, ReportScreen))
        screen = app.screen
        assert isinstance(screen, ReportScreen)
        await until(pilot, lambda: screen.report is not None)
        assert screen.report is not None
        assert screen.report.data["sessions"]["total"] == 2 + POOL_FROM
        assert screen.report.data["sessions"]["parallel"] == 2
        tables = str(screen.query_one("#tables", Static).render())
        assert "Outcomes" in tables and "Tokens and cost" in tables
        for plot_id in ("#timeline", "#heatmap"):
            plot = screen.query_one(plot_id, PlotextPlot)
            assert plot.display
            assert "Timeline" in plot.plt.build() or "weekday" in plot.plt.build()
        await pilot.press("f")
        await until(pilot, lambda: screen.fleet_only and screen.report is not None)
        await until(pilot, lambda: screen.report.data["sessions"]["total"] == 1)
        assert screen.report.data["list"][0]["session_id"] == claude_dir[0]
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ReportScreen))


async def test_a_fleet_host_that_cannot_be_reached_is_named_missing_in_the_report_view(
    claude_dir: list[str],
) -> None:
    import json
    import socket

    from orchestrator.runtime import fleet_dir

    with socket.socket() as probe:  # a port nobody listens on: ssh is refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = fleet_dir(FakeBackend().fleet)
    folder.mkdir(parents=True, exist_ok=True)
    host: dict[str, object] = {
        "host": "nobody@127.0.0.1",
        "ssh": ["-F", "/dev/null", "-p", str(port)],
    }
    host |= {"socket": None, "program": "orchestrator", "sessions": [{"name": "far-1"}]}
    (folder / "hosts.json").write_text(json.dumps([host]))
    app = Dashboard(FakeBackend([]), live=False)
    async with app.run_test(size=(140, 50)) as pilot:
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, ReportScreen))
        screen = app.screen
        assert isinstance(screen, ReportScreen)
        await until(pilot, lambda: screen.report is not None, timeout=30)
        title = str(screen.query_one("#report-title", Static).render())
        assert "MISSING 1 host(s)" in title
        tables = str(screen.query_one("#tables", Static).render())
        assert "MISSING from this report: host nobody@127.0.0.1" in tables
