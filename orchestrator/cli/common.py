"""What every command module shares: how a command is declared, which tmux server, and how a
recovered history database is announced."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from orchestrator.tmux.client import Tmux

Handler = Callable[[argparse.Namespace], int]
CommandFactory = Callable[[str, str, Handler], argparse.ArgumentParser]
"""Declares a command: ``command(name, help, handler)`` returns its parser, to add arguments to."""


def tmux_of(args: argparse.Namespace) -> Tmux:
    """The tmux server the command talks to: ``-L``, else ``$ORCHESTRATOR_SOCKET``, else tmux's
    default."""
    name = getattr(args, "socket_name", None) or os.environ.get("ORCHESTRATOR_SOCKET") or None
    return Tmux(socket_name=name)


def warn(message: str | None) -> None:
    """Print a warning (e.g. a corrupt history moved aside) to standard error, if there is one."""
    if message is not None:
        print(f"orchestrator: {message}", file=sys.stderr)


def fleet_argument(parser: argparse.ArgumentParser, *, positional: bool = False) -> None:
    """Add the fleet a command acts on: ``FLEET`` (``positional``) or ``--fleet FLEET``; by default
    the only fleet on the server, or the one this terminal is in."""
    help_text = "fleet name (default: the only or current fleet)"
    if positional:
        parser.add_argument("fleet", nargs="?", help=help_text)
    else:
        parser.add_argument("--fleet", help=help_text)
