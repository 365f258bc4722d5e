"""What every command module shares: how a command is declared, which tmux server, and how a
recovered history database is announced."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from orchestrator.tmux.client import Tmux

if TYPE_CHECKING:
    from orchestrator.remote.commands import Answer

Handler = Callable[[argparse.Namespace], int]
CommandFactory = Callable[[str, str, Handler], argparse.ArgumentParser]
"""Declares a command: ``command(name, help, handler)`` returns its parser, to add arguments to."""


def tmux_of(args: argparse.Namespace) -> Tmux:
    """The tmux server the command talks to: ``-L``/``-S``, else ``$ORCHESTRATOR_SOCKET``, else
    the server this runs inside (``$TMUX``, as tmux itself does), else tmux's default."""
    name = getattr(args, "socket_name", None)
    path = getattr(args, "socket_path", None)
    if name or path:
        return Tmux(socket_name=name, socket_path=path)
    if os.environ.get("ORCHESTRATOR_SOCKET"):
        return Tmux(socket_name=os.environ["ORCHESTRATOR_SOCKET"])
    return Tmux.of_environment() or Tmux()


def warn(message: str | None) -> None:
    """Print a warning (e.g. a corrupt history moved aside) to standard error, if there is one."""
    if message is not None:
        print(f"orchestrator: {message}", file=sys.stderr)


def relay(*answers: Answer) -> int:
    """Print what each host said (``on HOST: ...``; a failure's words to standard error);
    return the first failing exit status, else 0."""
    for answer in answers:
        for line in answer.lines():
            print(line, file=sys.stdout if answer.code == 0 else sys.stderr)
    return next((a.code for a in answers if a.code != 0), 0)


def fleet_argument(parser: argparse.ArgumentParser, *, positional: bool = False) -> None:
    """Add the fleet a command acts on: ``FLEET`` (``positional``) or ``--fleet FLEET``; by default
    the only fleet on the server, or the one this terminal is in."""
    help_text = "fleet name (default: the fleet this runs in, else the only one)"
    parser.set_defaults(fleet_positional=positional)
    if positional:
        parser.add_argument("fleet", nargs="?", help=help_text)
    else:
        parser.add_argument("--fleet", help=help_text)


def _again_with(args: argparse.Namespace, fleet: str) -> str:
    """The command line the user typed, with the fleet named: ``orchestrator jump --next --fleet
    a`` (or ``orchestrator dashboard a`` where the fleet is a positional argument)."""
    typed = list(getattr(args, "argv", None) or [getattr(args, "command", "") or "COMMAND"])
    named = [fleet] if getattr(args, "fleet_positional", False) else ["--fleet", fleet]
    return shlex.join(["orchestrator", *typed, *named])


def fleet_of(tmux: Tmux, args: argparse.Namespace) -> str:
    """The fleet a command acts on: the one named, the one it runs in, or the only one."""
    from orchestrator.fleet import control

    return control.resolve_fleet_name(tmux, args.fleet, again=lambda f: _again_with(args, f))


def fleet_of_session(tmux: Tmux, args: argparse.Namespace, name: str) -> str | None:
    """The fleet of the running session ``name``: the one named, else the one this runs in,
    else the only fleet with a session of that name (several: an error asking for --fleet);
    None when no fleet runs a session of that name."""
    from orchestrator.fleet import control

    return control.session_fleet(tmux, args.fleet, name, again=lambda f: _again_with(args, f))
