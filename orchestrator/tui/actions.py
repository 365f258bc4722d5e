"""What the dashboard's keys do to sessions: prompts, interrupts, restarts, ending one, help.

:class:`SessionActions` is the part of the dashboard app that acts; the app itself
(:mod:`orchestrator.tui.app`) shows the sessions and keeps them current. Every action runs on the
backend in a worker thread, never on the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from textual.app import App, SystemCommand
from textual.screen import Screen

from orchestrator.detect.model import State
from orchestrator.fleet import jump as jump_mod
from orchestrator.tui.backend import Backend, SessionRow
from orchestrator.tui.screens import ConfirmScreen, HelpScreen, NewSessionScreen, PromptScreen
from orchestrator.tui.session_list import display_order

KEYS: tuple[tuple[str, str, str, str], ...] = (
    # key(s), action, footer label, help text
    ("down,j", "cursor_down", "Down", "move down"),
    ("up,k", "cursor_up", "Up", "move up"),
    ("enter", "jump", "Jump", "go to the selected session's pane"),
    ("n", "next_waiting", "Next waiting", "go to the next session awaiting input (oldest first)"),
    ("space", "mark", "Mark", "mark or unmark a session (prompts and interrupts go to all marked)"),
    ("p", "prompt", "Prompt", "send a prompt to the marked sessions, or the selected one"),
    ("i", "interrupt", "Interrupt", "press Esc in the marked sessions, or the selected one"),
    ("r", "restart", "Restart", "restart the selected session's agent when it has exited"),
    ("x", "end", "End", "end the selected session (asks first)"),
    ("a", "add_session", "Add", "add a session to the fleet (as `orchestrator new`)"),
    ("s", "toggle_sort", "Sort", "sessions awaiting input first, or in pane order"),
    ("R", "report", "Report", "how your agent sessions went: tables, timeline, heat map"),
    ("question_mark", "help", "Help", "this screen"),
    ("q", "quit", "Quit", "quit the dashboard (the fleet runs on)"),
)


class SessionActions(App[None]):
    """The dashboard's actions on the selected or marked sessions."""

    backend: Backend
    notice: str | None
    rows: list[SessionRow]
    selected: str | None
    """The session under the cursor."""
    marked: set[str]
    """Sessions marked with Space: prompts and interrupts go to all of them."""
    waiting_first: bool
    """Sessions awaiting input first (else pane order)."""

    def ordered(self) -> list[SessionRow]:
        """Rows in display order: awaiting input first (longest waiting first) when sorting."""
        return display_order(self.rows, waiting_first=self.waiting_first)

    def targets(self) -> list[str]:
        """The marked sessions in display order, else the selected one."""
        if self.marked:
            return [row.name for row in self.ordered() if row.name in self.marked]
        return [self.selected] if self.selected else []

    def _act(self, what: str, action: Callable[[], object]) -> None:
        """Run an action on the backend in a worker; report failure as a notification."""

        def run() -> None:
            try:
                action()
            except Exception as exc:
                self.call_from_thread(self.notify, f"{what} failed: {exc}", severity="error")

        self.run_worker(run, thread=True, group="actions", name=what)

    def action_prompt(self) -> None:
        """Ask for a prompt, then send it to the targets."""
        targets = self.targets()
        if not targets:
            return

        def sent(text: str | None) -> None:
            if text:
                self._act("prompt", lambda: self.backend.send_prompt(targets, text))
                self.notify(f"sent to {', '.join(targets)}")

        self.push_screen(PromptScreen(targets), sent)

    def action_interrupt(self) -> None:
        """Press Esc in the targets."""
        targets = self.targets()
        if targets:
            self._act("interrupt", lambda: self.backend.interrupt(targets))
            self.notify(f"Esc sent to {', '.join(targets)}")

    def action_restart(self) -> None:
        """Restart the selected session when its agent has exited."""
        row = next((r for r in self.rows if r.name == self.selected), None)
        if row is None:
            return
        if row.state != State.EXITED.value:
            self.notify(f"{row.name} has not exited; only exited agents are restarted")
            return
        self._act("restart", lambda: self.backend.restart(row.name))
        self.notify(f"restarting {row.name}")

    def action_end(self) -> None:
        """End the selected session, after confirmation."""
        name = self.selected
        if name is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._act("end", lambda: self.backend.end(name))
                self.notify(f"ended {name}")

        question = f"End session [b]{name}[/b]? Its agent is killed."
        self.push_screen(ConfirmScreen(question), confirmed)

    def action_add_session(self) -> None:
        """Ask for a new session, then add it to the fleet (as ``orchestrator new`` does)."""
        from orchestrator.fleet.adhoc import NewSession

        def filled(fields: dict[str, str] | None) -> None:
            if not fields:
                return
            wanted = NewSession(
                name=fields["name"],
                agent=fields["agent"] or None,
                role=fields["role"],
                cwd=Path(fields["cwd"]).expanduser().absolute() if fields["cwd"] else None,
                worktree=True if fields["worktree"] == "yes" else None,
                prompt=fields["prompt"] or None,
            )
            self._act(f"adding {wanted.name}", lambda: self.backend.add_session(wanted))
            self.notify(f"adding {wanted.name}")

        self.push_screen(NewSessionScreen(self.backend.fleet), filled)

    def action_report(self) -> None:
        """Open the report view (``orchestrator report`` in a screen)."""
        from orchestrator.tui.report_view import ReportScreen

        self.push_screen(ReportScreen(self.backend.fleet))

    def action_help(self) -> None:
        """Show every key."""
        keys = [(key.replace("question_mark", "?"), text) for key, _, _, text in KEYS]
        keys.append(("ctrl+p", "command palette"))
        self.push_screen(HelpScreen(keys, jump_mod.BACK_KEY, self.notice))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The dashboard's keys in the command palette, with Textual's own commands but those
        ours replace ("Quit", and "Keys", which shows our help screen): one entry each."""
        ours = [
            SystemCommand(label, text, getattr(self, f"action_{action}"))
            for _, action, label, text in KEYS
            if action not in {"cursor_down", "cursor_up", "help"}
        ]
        ours.append(SystemCommand("Keys", "show every key", self.action_help))
        titles = {command.title for command in ours}
        yield from (c for c in super().get_system_commands(screen) if c.title not in titles)
        yield from ours
