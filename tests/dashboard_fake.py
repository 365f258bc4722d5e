"""A fake backend for the dashboard's UI tests and its screenshot (never for behaviour claims
about tmux: those are tested against a real server)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from orchestrator.fleet.adhoc import NewSession
from orchestrator.tui.backend import SessionRow
from orchestrator.tui.notes import Notes

NOW = 1_700_000_000.0


def demo_rows(now: float = NOW) -> list[SessionRow]:
    """Five sessions in every interesting state."""

    def row(name: str, role: str, state: str, ago: float, reason: str, **kw: object) -> SessionRow:
        base = SessionRow(
            fleet="parallel-5",
            name=name,
            role=role,
            agent="claude",
            pane_id=f"%{len(name)}{name[-1]}",
            cwd="/home/dev/shop",
            state=state,
            since=now - ago,
            reason=reason,
            branch="main",
            cpu=3.0,
            rss=310 << 20,
        )
        return dataclasses.replace(base, **kw)  # type: ignore[arg-type]

    return [
        row("dev-1", "Primary implementation", "working", 42, "Thinking… (12s · ↓ 300 tokens)"),
        row("test-2", "Testing", "awaiting_input", 95, "Bash: pytest -x tests/"),
        row("research-3", "Research and exploration", "idle", 600, "", seen_at=now - 10),
        row("docs-4", "Documentation", "idle", 30, "turn finished", turn_ended=now - 30),
        row("git-5", "Git operations", "awaiting_input", 420, "Which branch should I rebase on?"),
    ]


class FakeBackend:
    """Records every call; serves fixed rows and a coloured preview."""

    fleet = "parallel-5"

    def __init__(self, rows: list[SessionRow] | None = None) -> None:
        self.rows = rows if rows is not None else demo_rows(time.time())
        self.calls: list[tuple[str, object]] = []
        self.seen: list[str] = []
        self.fleet_notes = Notes(sessions=len(self.rows), cap=5)
        self._changed = threading.Event()

    def set_rows(self, rows: list[SessionRow]) -> None:
        self.rows = rows
        self._changed.set()

    def snapshot(self) -> list[SessionRow]:
        return list(self.rows)

    def visible(self) -> bool:
        return True

    def wait_for_change(self, timeout: float) -> None:
        self._changed.wait(min(timeout, 0.1))
        self._changed.clear()

    def notes(self) -> Notes:
        return self.fleet_notes

    def preview(self, name: str) -> str:
        return f"\x1b[32m{name}\x1b[0m screen\n\x1b[1;33m❯ 1. Yes\x1b[0m\n  2. No"

    def mark_seen(self, name: str) -> None:
        self.seen.append(name)

    def jump(self, name: str) -> list[str] | None:
        self.calls.append(("jump", name))
        return None

    def send_prompt(self, names: Sequence[str], text: str) -> None:
        self.calls.append(("prompt", (list(names), text)))

    def interrupt(self, names: Sequence[str]) -> None:
        self.calls.append(("interrupt", list(names)))

    def restart(self, name: str) -> None:
        self.calls.append(("restart", name))

    def end(self, name: str) -> None:
        self.calls.append(("end", name))

    def add_session(self, wanted: NewSession) -> None:
        self.calls.append(("add", wanted))


def save_screenshot(path: Path) -> None:
    """Write the README's screenshot of the dashboard (fixed rows, no live workers)."""
    import asyncio

    from orchestrator.tui.app import Dashboard

    async def shoot() -> None:
        rows = demo_rows(time.time())
        app = Dashboard(FakeBackend(rows), live=False)
        async with app.run_test(size=(150, 30)) as pilot:
            app.set_rows(rows)
            app.select("test-2")
            app.show_preview(
                "\x1b[1m● Bash(pytest -x tests/)\x1b[0m\n\n"
                " Bash command\n   pytest -x tests/\n   Run the test suite\n\n"
                " Do you want to proceed?\n"
                " \x1b[36m❯ 1. Yes\x1b[0m\n   2. Yes, and don't ask again for pytest commands\n"
                "   3. No, and tell Claude what to do differently (esc)\n"
            )
            await pilot.pause()
            app.save_screenshot(filename=path.name, path=str(path.parent))

    asyncio.run(shoot())


if __name__ == "__main__":
    save_screenshot(Path(__file__).resolve().parent.parent / "docs" / "dashboard.svg")
