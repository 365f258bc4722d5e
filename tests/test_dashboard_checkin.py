"""The dashboard's check-in banner and its count of agent sessions against the cap."""

from __future__ import annotations

import time

import pytest
from textual.widgets import Static

from orchestrator.tui.notes import Notes
from tests.dashboard_fake import FakeBackend
from tests.test_dashboard import started, until

pytestmark = pytest.mark.anyio


async def test_banner_shows_the_latest_checkin_and_title_the_cap() -> None:
    backend = FakeBackend()
    async with started(backend) as (app, pilot):
        banner = app.query_one("#checkin", Static)
        title = app.query_one("#title", Static)
        await until(pilot, lambda: "5/5 agent sessions on this server" in str(title.render()))
        assert not banner.display  # no check-in yet
        at = time.mktime((2026, 12, 1, 9, 40, 0, 0, 0, -1))
        backend.fleet_notes = Notes(
            7, 5, "awaiting input: git-5 (7m)\nfinished, not looked at: docs-4 (30s)", at
        )
        backend.set_rows(backend.rows)
        await until(pilot, lambda: banner.display)
        assert str(banner.render()) == (
            "check-in 09:40: awaiting input: git-5 (7m); finished, not looked at: docs-4 (30s)"
        )
        assert "7/5 agent sessions on this server, past max_sessions" in str(title.render())
        backend.fleet_notes = Notes(7, 5, "", at + 1200)  # the next check-in found nobody
        backend.set_rows(backend.rows)
        await until(pilot, lambda: not banner.display)
