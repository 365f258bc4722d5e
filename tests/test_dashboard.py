"""The dashboard against a fake backend: rows, preview and every key (Pilot)."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator

import pytest
from textual.command import CommandList, CommandPalette
from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import Input, Static

from orchestrator.subscribers import notify_settings
from orchestrator.tui.app import Dashboard
from orchestrator.tui.preview import PreviewLines
from orchestrator.tui.rows import SessionRowView, age, next_change
from orchestrator.tui.screens import ConfirmScreen, HelpScreen, PromptScreen
from tests.dashboard_fake import FakeBackend, demo_rows

pytestmark = pytest.mark.anyio


def names(app: Dashboard) -> list[str]:
    return [view.row.name for view in app.query(SessionRowView)]


def row_text(app: Dashboard, name: str) -> str:
    view = next(v for v in app.query(SessionRowView) if v.row.name == name)
    return str(view.render())


async def until(pilot: Pilot[None], predicate: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.02)


@contextlib.asynccontextmanager
async def started(
    backend: FakeBackend, size: tuple[int, int] = (160, 30)
) -> AsyncIterator[tuple[Dashboard, Pilot[None]]]:
    """The dashboard on ``backend``, run headless at ``size`` until it shows its five rows."""
    app = Dashboard(backend)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: len(names(app)) == 5)
        yield app, pilot


async def test_rows_show_every_column_and_waiting_first() -> None:
    async with started(FakeBackend()) as (app, _):
        # Awaiting input first, the one waiting longest first; then pane order.
        assert names(app) == ["git-5", "test-2", "dev-1", "research-3", "docs-4"]
        text = row_text(app, "test-2")
        for part in ("test-2", "◆ NEEDS YOU", "1m ", "Bash: pytest -x tests/", "Testing"):
            assert part in text
        assert "claude" in text and "main" in text and "310M" in text and "3%" in text
        assert "✔ finished" in row_text(app, "docs-4")  # idle, not looked at since
        assert "○ idle" in row_text(app, "research-3")  # idle, seen
        assert "⚑" in row_text(app, "git-5")  # waiting 7 minutes: forgotten
        assert "⚑" not in row_text(app, "test-2")
        view = next(v for v in app.query(SessionRowView) if v.row.name == "git-5")
        assert view.has_class("-forgotten") and view.has_class("-selected")
        title = str(app.query_one("#title", Static).render())
        assert "5 session(s), 2 awaiting input" in title


async def test_a_session_that_never_ran_a_turn_is_idle_not_finished() -> None:
    # Right after `up`: idle since it started, never looked at, no turn ended.
    now = time.time()
    fresh = dataclasses.replace(demo_rows(now)[0], state="idle", since=now - 5, reason="")
    app = Dashboard(FakeBackend([fresh]))
    async with app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: len(names(app)) == 1)
        assert "○ idle" in row_text(app, "dev-1")
        assert "finished" not in row_text(app, "dev-1")


async def test_s_toggles_pane_order_and_rows_follow_changes() -> None:
    backend = FakeBackend()
    async with started(backend) as (app, pilot):
        await pilot.press("s")
        assert names(app) == ["dev-1", "test-2", "research-3", "docs-4", "git-5"]
        await pilot.press("s")
        rows = [dataclasses.replace(r, state="working") for r in backend.rows[:4]]
        backend.set_rows(rows)
        await until(pilot, lambda: names(app) == ["dev-1", "test-2", "research-3", "docs-4"])
        assert "● working" in row_text(app, "test-2")


async def test_preview_shows_selected_pane_with_colours() -> None:
    backend = FakeBackend()
    app = Dashboard(backend)
    async with app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: "git-5\x1b[0m screen" in app.preview_text)
        await pilot.press("down")
        assert app.selected == "test-2"
        await until(pilot, lambda: "test-2\x1b[0m screen" in app.preview_text)
        preview = app.query_one("#preview", PreviewLines)
        line = next(i for i, t in enumerate(preview.line_texts()) if "test-2 screen" in t)
        rendered = list(preview.query_children(Static))[line].render()
        assert isinstance(rendered, Content)
        assert any("green" in str(span.style) for span in rendered.spans)
        assert "test-2" in backend.seen


async def test_movement_keys() -> None:
    async with started(FakeBackend()) as (app, pilot):
        await pilot.press("j", "j")
        assert app.selected == "dev-1"
        await pilot.press("k")
        assert app.selected == "test-2"
        await pilot.press("up", "up", "up")
        assert app.selected == "git-5"
        await pilot.press(*["down"] * 10)
        assert app.selected == "docs-4"


async def test_enter_jumps_and_n_cycles_waiting_oldest_first() -> None:
    backend = FakeBackend()
    async with started(backend) as (app, pilot):
        await pilot.press("down", "down", "enter")
        await until(pilot, lambda: ("jump", "dev-1") in backend.calls)
        backend.calls.clear()
        await pilot.press("n")
        await until(pilot, lambda: backend.calls == [("jump", "git-5")])
        assert app.selected == "git-5"
        await pilot.press("n")
        await until(pilot, lambda: backend.calls[-1] == ("jump", "test-2"))
        await pilot.press("n")
        await until(pilot, lambda: backend.calls[-1] == ("jump", "git-5"))
        assert len(backend.calls) == 3


async def test_n_with_nothing_waiting_says_so() -> None:
    rows = [dataclasses.replace(r, state="working") for r in demo_rows(time.time())]
    backend = FakeBackend(rows)
    async with started(backend) as (app, pilot):
        await pilot.press("n")
        await pilot.pause()
        assert backend.calls == []
        assert any("no session is awaiting input" in str(n.message) for n in app._notifications)


async def test_prompt_to_one_and_to_several() -> None:
    backend = FakeBackend()
    async with started(backend) as (app, pilot):
        await pilot.press("p")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"yes")
        await pilot.press("enter")
        await until(pilot, lambda: ("prompt", (["git-5"], "yes")) in backend.calls)
        # Mark two sessions, send to both.
        await pilot.press("space", "down", "down", "space", "p")
        assert isinstance(app.screen, PromptScreen)
        assert app.screen.targets == ["git-5", "dev-1"]
        app.screen.query_one(Input).value = "run the tests"
        await pilot.press("enter")
        sent = ("prompt", (["git-5", "dev-1"], "run the tests"))
        await until(pilot, lambda: sent in backend.calls)
        # Esc cancels without sending.
        backend.calls.clear()
        await pilot.press("p", "escape")
        await pilot.pause()
        assert not isinstance(app.screen, PromptScreen)
        assert backend.calls == []


async def test_interrupt_restart_and_end() -> None:
    rows = demo_rows(time.time())
    rows[0] = dataclasses.replace(rows[0], state="exited", reason="exit status 1")
    backend = FakeBackend(rows)
    async with started(backend) as (app, pilot):
        await pilot.press("i")
        await until(pilot, lambda: ("interrupt", ["git-5"]) in backend.calls)
        await pilot.press("r")  # git-5 has not exited: nothing
        await pilot.pause()
        assert not any(call[0] == "restart" for call in backend.calls)
        await pilot.press("down", "down", "r")
        assert app.selected == "dev-1"
        await until(pilot, lambda: ("restart", "dev-1") in backend.calls)
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert not any(call[0] == "end" for call in backend.calls)
        await pilot.press("x", "y")
        await until(pilot, lambda: ("end", "dev-1") in backend.calls)


async def test_help_screen_and_command_palette() -> None:
    async with started(FakeBackend(), size=(160, 40)) as (app, pilot):
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one(Static).render())
        assert "next session awaiting input" in text and "prefix B" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("Jump", "Next waiting", "Prompt", "Interrupt", "Restart", "End", "Keys"):
            assert title in titles


async def test_command_palette_lists_each_command_once() -> None:
    # Textual's own "Quit" and "Keys" and ours had the same titles: two of each in the palette.
    async with started(FakeBackend(), size=(160, 40)) as (app, pilot):
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        results = app.screen.query_one(CommandList)
        await until(pilot, lambda: results.option_count >= 8)
        await pilot.pause(0.3)  # every provider has answered
        titles = [
            str(results.get_option_at_index(i).prompt).split("\n")[0]
            for i in range(results.option_count)
        ]
        for title in ("Quit", "Keys", "Jump", "Prompt"):
            assert any(t.startswith(title) for t in titles), titles
        assert len(titles) == len(set(titles)), titles


async def test_forgotten_after_follows_edits_of_notify_toml() -> None:
    path = notify_settings.settings_path()
    path.parent.mkdir(parents=True)
    path.write_text("forgotten_after = 300\n")
    app = Dashboard(FakeBackend(), settings=notify_settings.SettingsFile())
    async with app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: len(names(app)) == 5)
        assert "⚑" not in row_text(app, "test-2")  # waiting 1m35s
        path.write_text("forgotten_after = 60.0\n")
        await until(pilot, lambda: "⚑" in row_text(app, "test-2"))  # no restart
        path.write_text("forgotten_after = -1\n")
        await until(
            pilot, lambda: any("forgotten_after" in str(n.message) for n in app._notifications)
        )
        assert "⚑" in row_text(app, "test-2")  # the last good settings stay


async def test_q_quits() -> None:
    app = Dashboard(FakeBackend())
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert app._exit_renderables == [] or not app.is_running


def test_snapshot_dashboard(snap_compare: object) -> None:
    rows = demo_rows(1_700_000_000.0)

    async def setup(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, Dashboard)
        app.set_rows(rows)
        app.select("test-2")
        app.show_preview("\x1b[32mDo you want to proceed?\x1b[0m\n ❯ 1. Yes\n   2. No")

    app = Dashboard(FakeBackend(rows), live=False, clock=lambda: 1_700_000_000.0)
    assert snap_compare(app, terminal_size=(150, 24), run_before=setup)  # type: ignore[operator]


def test_snapshot_help(snap_compare: object) -> None:
    assert snap_compare(  # type: ignore[operator]
        Dashboard(FakeBackend([]), live=False), press=["question_mark"], terminal_size=(100, 30)
    )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_an_error_sorts_with_awaiting_input_and_is_named() -> None:
    from orchestrator.tui.rows import look
    from orchestrator.tui.session_list import display_order, next_waiting, title_text

    rows = demo_rows()
    rows[3] = dataclasses.replace(rows[3], state="error", since=(rows[3].since or 0) - 1000)
    order = [r.name for r in display_order(rows, waiting_first=True)]
    assert order == ["docs-4", "git-5", "test-2", "dev-1", "research-3"]
    assert next_waiting(rows, None) == "docs-4"
    assert title_text("f", rows) == "fleet f: 5 session(s), 2 awaiting input, 1 stopped on an error"
    assert look(rows[3]).word == "ERROR"


def test_ages_show_seconds_only_in_their_first_minute() -> None:
    assert [age(0.0, t) for t in (0.4, 59.9, 60.0, 3599.0, 3600.0, 86399.0, 90000.0)] == [
        "0s",
        "59s",
        "1m",
        "59m",
        "1h00m",
        "23h59m",
        "1d01h",
    ]


def test_the_next_change_is_the_next_age_step_or_the_forgotten_threshold() -> None:
    rows = {row.name: row for row in demo_rows(1000.0)}
    idle = dataclasses.replace(rows["dev-1"], state="idle", since=1000.0)
    waiting = dataclasses.replace(rows["test-2"], state="awaiting_input", since=1000.0)
    assert next_change(idle, 1010.25, 300.0) == pytest.approx(0.75)  # 10s -> 11s
    assert next_change(idle, 1125.0, 300.0) == pytest.approx(55.0)  # 2m -> 3m
    assert next_change(idle, 1000.0 + 86400 + 5, 300.0) == pytest.approx(3595.0)  # 1d00h -> 1d01h
    assert next_change(waiting, 1270.0, 300.0) == pytest.approx(30.0)  # flagged at 300 s
    assert next_change(waiting, 1310.0, 300.0) == pytest.approx(50.0)  # flagged: only the age
    assert next_change(dataclasses.replace(idle, since=None), 1000.0, 300.0) == float("inf")


async def test_the_clock_repaints_rows_only_when_an_age_is_due_to_change() -> None:
    now = [1_700_000_000.0]
    rows = [dataclasses.replace(r, since=now[0] - 600.5) for r in demo_rows(now[0])]
    app = Dashboard(FakeBackend(rows), live=False, clock=lambda: now[0])
    async with app.run_test(size=(160, 30)) as pilot:
        app.set_rows(rows)
        await pilot.pause()
        ticks: list[float] = []
        session_list = app.query_one("#rows")
        original = session_list.tick  # type: ignore[attr-defined]

        def counting(*args: object, **kwargs: object) -> None:
            ticks.append(now[0])
            original(*args, **kwargs)

        session_list.tick = counting  # type: ignore[attr-defined]
        app._tick()  # works out when the next change is due: 59.5 s on for every row
        for _ in range(5):
            now[0] += 10.0
            app._tick()
        assert len(ticks) == 1
        now[0] += 10.0  # 10m -> 11m
        app._tick()
        assert len(ticks) == 2
        assert "11m" in row_text(app, "dev-1")


async def test_plus_adds_a_session_through_a_small_form() -> None:
    from orchestrator.fleet.adhoc import NewSession
    from orchestrator.tui.screens import NewSessionScreen

    backend = FakeBackend()
    async with started(backend) as (app, pilot):
        await pilot.press("a")
        assert isinstance(app.screen, NewSessionScreen)
        # Enter with no name adds nothing and keeps the form open.
        await pilot.press("enter")
        assert isinstance(app.screen, NewSessionScreen)
        app.screen.query_one("#new-name", Input).value = "qa-6"
        app.screen.query_one("#new-role", Input).value = "Review the changes"
        app.screen.query_one("#new-prompt", Input).value = "Review dev-1's branch"
        app.screen.query_one("#new-name", Input).focus()
        await pilot.press("enter")
        wanted = NewSession(name="qa-6", role="Review the changes", prompt="Review dev-1's branch")
        await until(pilot, lambda: ("add", wanted) in backend.calls)
        backend.calls.clear()
        await pilot.press("a", "escape")
        await pilot.pause()
        assert not isinstance(app.screen, NewSessionScreen)
        assert backend.calls == []


def test_a_waiting_pipeline_session_says_what_it_waits_for() -> None:
    import dataclasses

    from orchestrator.tui.rows import render_row

    now = time.time()
    row = dataclasses.replace(demo_rows(now)[0], waiting_for=("research-3", "findings.md"))
    text = render_row(row, now=now, marked=False, threshold=300).plain
    assert "waiting for research-3, findings…" in text
    plain = render_row(demo_rows(now)[0], now=now, marked=False, threshold=300).plain
    assert "waiting for" not in plain


async def test_moving_through_rows_previews_only_where_the_selection_stops() -> None:
    backend = FakeBackend()
    previewed: list[str] = []
    shown = backend.preview

    def preview(name: str) -> str:
        previewed.append(name)
        return shown(name)

    backend.preview = preview  # type: ignore[method-assign]
    async with started(backend) as (app, pilot):
        await until(pilot, lambda: bool(previewed))
        previewed.clear()
        await pilot.press("j", "j", "j")  # faster than PREVIEW_AFTER_MOVE
        await until(pilot, lambda: f"{app.selected}\x1b[0m screen" in app.preview_text)
        # Not one capture per row passed over (a timer may have taken one on its own).
        assert len(previewed) < 3 and previewed[-1] == app.selected
