"""The ``orchestrator`` (alias ``orc``) command line: the parser, and the entry point.

Each group of commands lives in its own module (``fleet``, ``state``, ``layouts``, ``worktree``,
``observe``, ``report``, ``notify``) and declares itself through
:data:`~orchestrator.cli.common.CommandFactory`; every command is a thin shell over the core.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from orchestrator import __version__
from orchestrator.cli import fleet, layouts, notify, observe, report, sessions, state, worktree
from orchestrator.cli.common import Handler
from orchestrator.errors import OrchestratorError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n  hint: `{self.prog} --help` shows usage\n")


def _socket_options() -> _Parser:
    # Accepted before or after the command name; SUPPRESS keeps a later default from
    # overwriting a value given before the command.
    common = _Parser(add_help=False)
    common.add_argument(
        "-L",
        "--socket-name",
        metavar="NAME",
        default=argparse.SUPPRESS,
        help="tmux server socket name, as tmux -L (default: $ORCHESTRATOR_SOCKET, else the "
        "server this runs in, else tmux's own)",
    )
    common.add_argument(
        "-S",
        "--socket-path",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="tmux server socket path, as tmux -S",
    )
    common.add_argument(
        "--db",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="history database file (default: $ORCHESTRATOR_DB, else in the XDG state folder)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used to test every command's --help)."""
    common = _socket_options()
    parser = _Parser(
        prog="orchestrator",
        description="Run a fleet of AI coding agents in tmux and see which one needs you.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help_text: str, handler: Handler) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
        cmd.set_defaults(handler=handler)
        return cmd

    for group in (fleet, sessions, state, observe, layouts, worktree, report, notify):
        group.add_commands(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``orchestrator`` and ``orc`` commands."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # As typed, for hints that give the same command back with one thing added (--fleet).
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if getattr(args, "db", None):
        # Through the environment, so the watcher and dashboard that `up` starts use it too.
        from orchestrator.store.db import ENV_VAR

        os.environ[ENV_VAR] = str(Path(args.db).expanduser().absolute())
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except OrchestratorError as exc:
        print(f"orchestrator: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); stop quietly like other command-line tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
