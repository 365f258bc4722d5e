"""Modal screens: the prompt to send, a new session, a confirmation, and the help screen."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Static

_MODAL_CSS = """
{name} {{
    align: center middle;
}}
{name} > Vertical {{
    width: 80;
    height: auto;
    max-height: 90%;
    border: thick $accent;
    background: $surface;
    padding: 1 2;
}}
"""


class PromptScreen(ModalScreen[str | None]):
    """Ask for a prompt to send; dismissed with the text, or None when cancelled."""

    DEFAULT_CSS = _MODAL_CSS.format(name="PromptScreen")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, targets: Sequence[str]) -> None:
        super().__init__()
        self.targets = list(targets)

    def compose(self) -> ComposeResult:
        with Vertical():
            names = ", ".join(self.targets)
            yield Static(f"Send a prompt to [b]{names}[/b] (Enter sends, Esc cancels)")
            yield Input(placeholder="prompt", id="prompt")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Send what was typed (nothing for an empty line)."""
        self.dismiss(event.value or None)

    def action_cancel(self) -> None:
        """Close without sending."""
        self.dismiss(None)


NEW_FIELDS = (
    ("name", "name (letters, digits, '-', '_')"),
    ("role", "role: what it is for (the agent is told)"),
    ("cwd", "folder (empty: the layout's)"),
    ("agent", "agent (empty: the layout's)"),
    ("prompt", "first prompt (empty: none)"),
)
"""The fields of the new-session form, as ``orchestrator new`` takes them."""


class NewSessionScreen(ModalScreen[dict[str, str] | None]):
    """Ask for a new session (``orchestrator new``); dismissed with the filled fields (and
    ``worktree``: "yes"/"no"), or None when cancelled. Enter in any field adds it."""

    DEFAULT_CSS = _MODAL_CSS.format(name="NewSessionScreen")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, fleet: str) -> None:
        super().__init__()
        self.fleet = fleet

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                f"Add a session to [b]{escape(self.fleet)}[/b] (Enter adds it, Esc cancels)"
            )
            for key, placeholder in NEW_FIELDS:
                yield Input(placeholder=placeholder, id=f"new-{key}")
            yield Checkbox("its own git worktree and branch", id="new-worktree")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Add the session, once it has a name."""
        event.stop()
        fields = {key: self.query_one(f"#new-{key}", Input).value.strip() for key, _ in NEW_FIELDS}
        if not fields["name"]:
            self.notify("give the session a name", severity="warning")
            self.query_one("#new-name", Input).focus()
            return
        fields["worktree"] = "yes" if self.query_one("#new-worktree", Checkbox).value else "no"
        self.dismiss(fields)

    def action_cancel(self) -> None:
        """Close without adding anything."""
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; dismissed with True only on ``y``."""

    DEFAULT_CSS = _MODAL_CSS.format(name="ConfirmScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"{self.question}\n\n[b]y[/b] yes   [b]n[/b] / Esc no")

    def action_answer(self, answer: bool) -> None:
        """Close with the answer."""
        self.dismiss(answer)


class HelpScreen(ModalScreen[None]):
    """Every key of the dashboard, and the tmux key that comes back to it."""

    DEFAULT_CSS = _MODAL_CSS.format(name="HelpScreen")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(
        self, keys: Sequence[tuple[str, str]], back_key: str, notice: str | None = None
    ) -> None:
        super().__init__()
        self.keys = list(keys)
        self.back_key = back_key
        self.notice = notice

    def compose(self) -> ComposeResult:
        lines = ["[b]Keys[/b]", ""]
        lines += [f"  [b]{key:<12}[/b] {what}" for key, what in self.keys]
        back = [
            f"  In tmux, [b]prefix {self.back_key}[/b] (Ctrl-b {self.back_key} by default) brings",
            "  you back to this dashboard from any pane of the fleet.",
        ]
        if self.notice:
            back = [f"  {escape(self.notice)}"]
        lines += [
            "",
            *back,
            "  Quitting the dashboard leaves the fleet running.",
            "",
            "  Esc closes this screen.",
        ]
        with Vertical():
            yield Static("\n".join(lines))

    def action_close(self) -> None:
        """Close the help screen."""
        self.dismiss(None)
