"""aider (``aider-chat``): no hooks of its own, but a notification command it runs whenever it
waits for the user after a model reply. Its screen rules are ``aider.toml`` beside this.

aider runs ``--notifications-command`` (through a shell, with the terminal as its stdin) once
after each reply, when it waits: at its input prompt (the turn is over) or at a confirmation
(``Run shell command? (Y)es/(N)o...``), without saying which. ``up`` gives it a command that
appends one fixed ``Waiting`` event to the session's events file, never reading stdin (it would
take the user's keystrokes). The event says "idle"; a confirmation on screen outranks it, so the
screen tells the two apart. The layout's own ``args`` come after ours, so a user's own
``--notifications-command`` wins (and we read the screen alone).

aider has no session id to resume by (``--restore-chat-history`` in ``args`` reloads the chat of
its folder): a restart starts it afresh. Ctrl-C, not Esc, interrupts a reply.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.agents.profile import AgentProfile
from orchestrator.detect import hooks
from orchestrator.detect.hooks import HookEvent
from orchestrator.detect.model import State

EVENT = "Waiting"
"""The one event aider's notification command reports."""


def waiting_command(events: Path, token: str) -> str:
    """The notification command: append a ``Waiting`` event line; read nothing; exit 0."""
    line = json.dumps({"hook_event_name": EVENT, "session_id": ""}, separators=(",", ":"))
    return (
        f"printf '%s %s %s\\n' {shlex.quote(token)} \"$(date +%s.%N)\" {shlex.quote(line)} "
        f"</dev/null 2>/dev/null >> {shlex.quote(str(events))}; exit 0"
    )


def settings(events: Path, token: str) -> dict[str, Any]:
    """What the session folder's settings file records: the notification command aider runs."""
    return {"notifications_command": waiting_command(events, token)}


def state_of(event: HookEvent) -> tuple[State, str] | None:
    """A ``Waiting`` event: aider finished a reply and waits (for the next prompt, or for a
    confirmation the screen shows)."""
    if event.name == EVENT:
        return State.IDLE, "waiting for you"
    return None


@dataclass(frozen=True)
class Aider(AgentProfile):
    """aider: a notification command as its only hook, the screen for the rest."""

    def launch_argv(
        self,
        fleet: str,
        session: str,
        argv: Sequence[str],
        runtime: Path | None = None,
        options: Sequence[str] = (),
    ) -> list[str]:
        """aider itself gets our notification command and the session's options (model) before
        the layout's own ``args``; a wrapper command is left alone."""
        args = list(argv)
        if not self.runs_itself(args):
            return args
        files = hooks.prepare(fleet, session, runtime, settings=settings)
        ours = ["--notifications", "--notifications-command"]
        ours.append(waiting_command(files.events, files.token))
        return [args[0], *ours, *options, *args[1:]]

    def hook_state(self, event: HookEvent) -> tuple[State, str] | None:
        """See :func:`state_of`."""
        return state_of(event)


AIDER = Aider(
    name="aider",
    command=("aider",),
    process_names=("aider",),
    install_hint=(
        "install aider (`python -m pip install aider-install && aider-install`), or give its "
        "full path in `command`"
    ),
    hooks=True,
    interrupt_key="C-c",
    option_flags=(("model", "--model"),),
)
