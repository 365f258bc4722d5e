"""The ``orchestrator`` (alias ``orc``) command line: a thin shell over the core modules."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from orchestrator import DEFAULT_LAYOUT, __version__
from orchestrator.cli import worktree as worktree_cli
from orchestrator.errors import OrchestratorError
from orchestrator.fleet import up as fleet
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import list_sessions

if TYPE_CHECKING:
    pass

Handler = Callable[[argparse.Namespace], int]


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
        help="tmux server socket name, as tmux -L (default: $ORCHESTRATOR_SOCKET or tmux's own)",
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

    up = command("up", "Launch a fleet from a layout, or start what is missing in a live one.", _up)
    up.add_argument(
        "layout",
        nargs="?",
        help=f"layout file or name (default: {DEFAULT_LAYOUT}); see `orchestrator layouts`",
    )
    up.add_argument("-d", "--detach", action="store_true", help="do not attach to the fleet")
    up.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="when the fleet is recreated, continue each Claude session's last conversation "
        "(default: ask when run in a terminal, else do not)",
    )

    down = command("down", "End a fleet (its tmux session) and nothing else.", _down)
    down.add_argument("fleet", nargs="?", help="fleet name (default: the only or current fleet)")

    status = command("status", "List every session the tool finds on the tmux server.", _status)
    status.add_argument("fleet", nargs="?", help="only this fleet")
    status.add_argument("--json", action="store_true", help="print JSON for scripts")

    explain = command(
        "explain", "Show what each signal says about one session, and the verdict.", _explain
    )
    explain.add_argument("name", help="session name")
    explain.add_argument("--fleet", help="the fleet, when several have a session of that name")

    command("layouts", "List the layouts found by name, and where they come from.", _layouts)

    validate = command("validate", "Check a layout file without launching anything.", _validate)
    validate.add_argument("file", help="layout file or name")

    schema = command("schema", "Print the JSON Schema of layout files.", _schema)
    schema.add_argument("-o", "--output", help="write to this file instead of standard output")

    dashboard = command("dashboard", "Show the fleet's sessions and their states.", _dashboard)
    dashboard.add_argument("fleet", nargs="?", help="fleet name (default: the only or current)")

    jump = command(
        "jump",
        "Go to a session's pane, the next one awaiting input, or the dashboard.",
        _jump,
    )
    target = jump.add_mutually_exclusive_group()
    target.add_argument("name", nargs="?", help="session name")
    target.add_argument(
        "--next", action="store_true", help="the next session awaiting input (oldest first)"
    )
    target.add_argument("--dashboard", action="store_true", help="the fleet's dashboard window")
    jump.add_argument("--fleet", help="fleet name (default: the only or current)")

    watch = command(
        "watch", "Run the fleet's watcher in the foreground (`up` starts one for you).", _watch
    )
    watch.add_argument("fleet", nargs="?", help="fleet name (default: the only or current)")

    history = command(
        "history", "Print the recorded state transitions and prompts of a session.", _history
    )
    history.add_argument("name", nargs="?", help="session name (default: every session)")
    history.add_argument("--fleet", help="only this fleet")
    history.add_argument("--json", action="store_true", help="print JSON for scripts")
    history.add_argument("--limit", type=int, metavar="N", help="only the newest N of each kind")

    restart = command(
        "restart",
        "Start an exited session again; a Claude session continues its conversation.",
        _restart,
    )
    restart.add_argument("name", help="session name")
    restart.add_argument("--fleet", help="fleet name (default: the only or current)")
    restart.add_argument(
        "--force", action="store_true", help="end the session first if it is still running"
    )
    restart.add_argument(
        "--no-resume", action="store_true", help="start a new conversation instead of resuming"
    )

    worktree_cli.add_commands(command, _tmux)
    return parser


def _tmux(args: argparse.Namespace) -> Tmux:
    name = getattr(args, "socket_name", None) or os.environ.get("ORCHESTRATOR_SOCKET") or None
    return Tmux(socket_name=name)


def _up(args: argparse.Namespace) -> int:
    from orchestrator.layout import load as layout

    plan = layout.load_fleet(args.layout)
    tmux = _tmux(args)
    resume = None if tmux.has_session(plan.name) else _resume_choice(plan, args.resume)
    report = fleet.up(plan, tmux, resume=resume)
    if report.created:
        print(
            f"fleet {report.fleet}: started {len(report.started)} session(s) "
            f"({', '.join(report.started)}) in {report.seconds * 1000:.0f} ms"
        )
    else:
        print(f"fleet {report.fleet} is already up")
        for label, names in (
            ("running", report.running),
            ("started", report.started),
            ("restarted", report.restarted),
        ):
            if names:
                print(f"  {label}: {', '.join(names)}")
        for kind, what in report.services.items():
            if what != "running":
                print(f"  {kind}: {what}")
    if args.detach:
        flag = f" -L {tmux.socket_name}" if tmux.socket_name else ""
        print(f"attach with: tmux{flag} attach -t {report.fleet}")
        return 0
    return fleet.attach(tmux, report.fleet, f"={report.fleet}:{fleet.AGENTS_WINDOW}")


def _resume_choice(plan: Fleet, wanted: bool | None) -> dict[str, str]:
    """Which of a vanished fleet's Claude conversations to continue: all with --resume, none
    with --no-resume, else asked one by one in a terminal; without one, none (and how to)."""
    from orchestrator.store import history
    from orchestrator.store.db import Store

    with Store() as store:
        if (recovered := history.recovery_message(store)) is not None:
            print(f"orchestrator: {recovered}", file=sys.stderr)
        found = history.resumable(store, plan)
    if not found or wanted is False:
        return {}
    if wanted:
        return {name: c.claude_session_id for name, c in found.items()}
    if not sys.stdin.isatty():
        names = ", ".join(found)
        print(
            f"fleet {plan.name} had Claude conversations ({names}); starting new ones. "
            "To continue them, run `orchestrator up --resume` instead, "
            "or later `orchestrator restart NAME --force`."
        )
        return {}
    chosen: dict[str, str] = {}
    print(f"fleet {plan.name} is not running; its Claude sessions had conversations:")
    for name, conversation in found.items():
        seen = time.strftime("%Y-%m-%d %H:%M", time.localtime(conversation.last_seen))
        answer = input(f"  continue {name}'s conversation (last seen {seen})? [Y/n] ")
        if answer.strip().lower() in {"", "y", "yes"}:
            chosen[name] = conversation.claude_session_id
    return chosen


def _history(args: argparse.Namespace) -> int:
    from orchestrator.store import history
    from orchestrator.store.db import Store

    with Store() as store:
        if (recovered := history.recovery_message(store)) is not None:
            print(f"orchestrator: {recovered}", file=sys.stderr)
        found = history.read(store, args.name, fleet=args.fleet, limit=args.limit)
        if args.json:
            print(json.dumps(found.to_json(store), indent=2))
        else:
            print(history.table(found))
    return 0


def _restart(args: argparse.Namespace) -> int:
    from orchestrator.store import history

    tmux = _tmux(args)
    name = fleet.resolve_fleet_name(tmux, args.fleet)
    resume_id = None if args.no_resume else history.resume_id(name, args.name)
    report = fleet.restart_session(tmux, name, args.name, resume_id, force=args.force)
    how = f"continuing conversation {report.resumed}" if report.resumed else "a fresh start"
    print(f"restarted {report.fleet}/{report.name} in pane {report.pane_id} ({how})")
    return 0


def _down(args: argparse.Namespace) -> int:
    tmux = _tmux(args)
    name = fleet.resolve_fleet_name(tmux, args.fleet)
    ended = fleet.down(tmux, name)
    print(f"fleet {name} ended ({len(ended)} session(s): {', '.join(ended) or 'none'})")
    return 0


def _status(args: argparse.Namespace) -> int:
    from orchestrator.watch import status

    tmux = _tmux(args)
    rows = status.status_rows(tmux, args.fleet)
    if args.json:
        print(fleet.dump_json(rows))
        return 0
    if not rows:
        print("no sessions found (start a fleet with `orchestrator up`)")
        return 0
    print(_table(rows))
    return 0


def _age(since: object) -> str:
    if not isinstance(since, float):
        return ""
    seconds = max(0, int(time.time() - since))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


def _table(rows: list[dict[str, object]]) -> str:
    headers: tuple[str, ...] = ("FLEET", "SESSION", "STATE", "FOR", "REASON", "PANE", "ROLE")
    body: list[tuple[str, ...]] = [
        (
            str(row["fleet"]),
            str(row["name"]),
            str(row["state"]),
            _age(row["since"]),
            str(row["reason"])[:50],
            str(row["pane_id"]),
            str(row["role"])[:40],
        )
        for row in rows
    ]
    if any(row.get("branch") for row in rows):
        headers = (*headers, "BRANCH")
        body = [
            (*line, worktree_cli.branch_cell(row)) for line, row in zip(body, rows, strict=True)
        ]
    widths = [max(len(line[i]) for line in [headers, *body]) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in [headers, *body]
    ]
    return "\n".join(line.rstrip() for line in lines)


def _explain(args: argparse.Namespace) -> int:
    from orchestrator.watch import status

    print(status.explain(_tmux(args), args.name, args.fleet))
    return 0


def _layouts(args: argparse.Namespace) -> int:
    from orchestrator.layout import load as layout

    del args
    entries = layout.list_layouts()
    if not entries:
        print("no layouts found")
        return 0
    width = max(len(entry.name) for entry in entries)
    for entry in entries:
        note = "  (hidden by an earlier one)" if entry.shadowed else ""
        default = " [default]" if entry.name == DEFAULT_LAYOUT and not entry.shadowed else ""
        print(f"{entry.name.ljust(width)}  {entry.origin:<8}  {entry.path}{default}{note}")
        if entry.description:
            print(f"{'':{width}}  {entry.description}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from orchestrator.layout import load as layout

    path, origin = layout.locate_layout(args.file)
    parsed = layout.load_layout(path)
    plan = layout.resolve(parsed, path, origin=origin, check_commands=False)
    print(f"{path}: ok: fleet {plan.name!r} with {len(plan.sessions)} session(s)")
    try:
        layout.resolve(parsed, path, origin=origin)
    except OrchestratorError as exc:
        print(f"warning: {exc}\n  (`orchestrator up` refuses to launch until this is fixed)")
    for session in plan.sessions:
        print(f"  {session.name}: {session.agent.name} in {session.cwd}: {' '.join(session.argv)}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from orchestrator.layout.model import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:  # noqa: PTH123
            out.write(text)
    else:
        sys.stdout.write(text)
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from orchestrator import tui

    tmux = _tmux(args)
    return tui.run(tmux, fleet.resolve_fleet_name(tmux, args.fleet))


def _jump(args: argparse.Namespace) -> int:
    from orchestrator.fleet import jump

    tmux = _tmux(args)
    name = fleet.resolve_fleet_name(tmux, args.fleet)
    jump.install_back_key(tmux)
    if args.dashboard:
        argv = jump.jump_to_pane(tmux, jump.dashboard_pane(tmux, name))
    elif args.next:
        target = jump.next_waiting(list_sessions(tmux, name), jump.current_pane(tmux))
        if target is None:
            print(f"no session of {name} is awaiting input")
            return 1
        argv = jump.jump(tmux, name, target)
    elif args.name:
        argv = jump.jump(tmux, name, args.name)
    else:
        raise OrchestratorError("name a session, or give --next or --dashboard")
    if argv:
        env = {k: v for k, v in os.environ.items() if k not in {"TMUX", "TMUX_PANE"}}
        os.execvpe(argv[0], argv, env)  # noqa: S606
    return 0


def _watch(args: argparse.Namespace) -> int:
    from orchestrator.watch import watcher

    tmux = _tmux(args)
    return watcher.run_watcher(tmux, fleet.resolve_fleet_name(tmux, args.fleet))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``orchestrator`` and ``orc`` commands."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
