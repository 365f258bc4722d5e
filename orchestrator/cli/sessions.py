"""Sessions on the fly: ``new`` adds one to a running fleet, ``send`` types a prompt into some,
``rm`` ends one. Thin shells over :mod:`orchestrator.fleet.adhoc`, and, for sessions on other
hosts, over :mod:`orchestrator.remote.commands` (the same command, run on the host)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.cli.common import (
    CommandFactory,
    fleet_argument,
    fleet_of,
    relay,
    tmux_of,
    warn,
)
from orchestrator.errors import NotFoundError, OrchestratorError

if TYPE_CHECKING:
    from orchestrator.remote.fleet import Host
    from orchestrator.tmux.panes import PaneInfo


def add_commands(command: CommandFactory) -> None:
    """Declare the commands that add, prompt and remove sessions of a running fleet."""
    new = command(
        "new", "Add a session to a running fleet (launched as `up` launches the layout's).", _new
    )
    new.add_argument("name", help="the new session's name (letters, digits, '-', '_')")
    new.add_argument("--agent", help="agent profile (default: the layout's [defaults] agent)")
    new.add_argument("--role", default="", help="what the session is for (the agent is told)")
    new.add_argument("--cwd", help="working folder (default: the layout's [defaults] cwd)")
    new.add_argument(
        "--worktree",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="its own git worktree and branch (default: as the layout's [defaults] say)",
    )
    new.add_argument("--prompt", help="first prompt, typed once the agent is ready")
    new.add_argument(
        "--host",
        help="run it on this host of the fleet (as the layout names it); --cwd is a folder there",
    )
    fleet_argument(new)

    send = command("send", "Type a prompt into sessions (and record it in the history).", _send)
    send.add_argument(
        "words",
        nargs="*",
        metavar="WORD",
        help="session names (none with --all or --role), then the prompt (not with --stdin)",
    )
    send.add_argument(
        "--stdin",
        action="store_true",
        help="read the prompt from standard input (one final newline dropped)",
    )
    which = send.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="every session of the fleet")
    which.add_argument("--role", help="every session with this role")
    fleet_argument(send)

    rm = command("rm", "End one session; its worktree, branch and history are kept.", _rm)
    rm.add_argument("name", help="session name")
    fleet_argument(rm)


def _new(args: argparse.Namespace) -> int:
    from orchestrator.fleet import adhoc, sprawl

    tmux = tmux_of(args)
    fleet = fleet_of(tmux, args)
    if args.host is not None:
        return _new_there(fleet, args)
    limit = sprawl.fleet_cap(tmux, fleet, strict=True)  # an invalid workflow.toml stops us here
    cwd = Path(args.cwd).expanduser().absolute() if args.cwd else None
    wanted = adhoc.NewSession(
        name=args.name,
        agent=args.agent,
        role=args.role,
        cwd=cwd,
        worktree=args.worktree,
        prompt=args.prompt,
    )
    pane = adhoc.add_session(tmux, fleet, wanted)
    where = f" on branch {pane.branch}" if pane.branch else ""
    print(f"added {fleet}/{pane.name} ({pane.agent}, pane {pane.pane_id}) in {pane.cwd}{where}")
    if args.prompt:
        print("  its prompt is typed once the agent is ready")
    warn(sprawl.warning(tmux, limit))
    return 0


def _new_there(fleet: str, args: argparse.Namespace) -> int:
    from orchestrator.remote import commands

    host = commands.host_named(fleet, args.host)
    answer = commands.add(
        fleet,
        host,
        args.name,
        agent=args.agent,
        role=args.role,
        cwd=args.cwd,
        worktree=args.worktree,
        prompt=args.prompt,
    )
    return relay(answer)


def _send(args: argparse.Namespace) -> int:
    from orchestrator.fleet import adhoc
    from orchestrator.remote import commands
    from orchestrator.store import history
    from orchestrator.tmux.panes import list_sessions

    if args.stdin:
        names, text = list(args.words), sys.stdin.read().removesuffix("\n")
    elif args.words:
        *names, text = args.words
    else:
        raise OrchestratorError(
            "give the prompt (after the session names, if any), or --stdin",
            hint="e.g. orchestrator send dev-1 'run the tests'",
        )
    if (args.all or args.role is not None) and names:
        raise OrchestratorError(
            "give either session names or --all/--role, not both",
            hint="quote the prompt so that it is one argument: "
            "orchestrator send --all 'run the tests'",
        )
    if not (args.all or args.role is not None or names):
        raise OrchestratorError(
            "name the sessions to send to (or --all, or --role ROLE), then the prompt",
            hint="e.g. orchestrator send dev-1 'run the tests'",
        )
    if not text.strip():
        raise OrchestratorError("the prompt is empty")
    tmux = tmux_of(args)
    fleet = fleet_of(tmux, args)
    here = list_sessions(tmux, fleet)
    # Every name is found, then every host is asked, before anything is typed here.
    panes, hosts = _choose(fleet, here, names, args)
    there = [
        commands.send(fleet, host, mine, text, every=args.all, role=args.role)
        for host, mine in hosts
    ]
    code = relay(*there)
    live = [pane for pane in panes if not pane.dead]
    for pane in panes:
        if pane.dead:
            print(f"skipped {pane.name}: it has exited (`orchestrator restart {pane.name}`)")
    for pane in live:
        history.record_prompt(fleet, pane.name, text, source="cli")
    adhoc.send(tmux, live, text)
    if live:
        print(f"sent to {', '.join(pane.name for pane in live)}")
    return code or (0 if live or there else 1)


def _choose(
    fleet: str, here: list[PaneInfo], names: list[str], args: argparse.Namespace
) -> tuple[list[PaneInfo], list[tuple[Host, list[str]]]]:
    """The sessions a ``send`` means here, and on each host (the names there; none with --all
    or --role, which each host applies itself). NotFoundError when a name is nowhere."""
    from orchestrator.fleet import adhoc
    from orchestrator.remote import commands
    from orchestrator.remote.fleet import hosts_of

    if args.all or args.role is not None:
        role = (args.role or "").strip().casefold()
        hosts: list[tuple[Host, list[str]]] = [
            (host, [])
            for host in hosts_of(fleet)
            if any(args.all or s.get("role", "").strip().casefold() == role for s in host.sessions)
        ]
        try:
            return adhoc.choose(here, [], every=args.all, role=args.role), hosts
        except NotFoundError:
            if not hosts:
                raise
            return [], hosts  # the role is only on hosts
    local = {pane.name for pane in here}
    there = commands.sessions_on(fleet, [name for name in names if name not in local])
    remote = {name for _, mine in there.values() for name in mine}
    wanted = [name for name in names if name not in remote]
    return (adhoc.choose(here, wanted) if wanted else []), list(there.values())


def _rm(args: argparse.Namespace) -> int:
    from orchestrator.fleet import adhoc
    from orchestrator.remote import commands
    from orchestrator.store.db import Store
    from orchestrator.tmux.panes import list_sessions

    tmux = tmux_of(args)
    fleet = fleet_of(tmux, args)
    if not any(p.name == args.name for p in list_sessions(tmux, fleet)):
        for host, _ in commands.sessions_on(fleet, [args.name]).values():
            return relay(commands.remove(fleet, host, args.name))
    pane = adhoc.remove_session(tmux, fleet, args.name)
    with Store() as store:
        store.record_transition(
            fleet, pane.name, "exited", source="cli", reason="removed with orchestrator rm"
        )
    kept = (
        f"; its worktree {pane.worktree} and branch {pane.branch} are kept" if pane.branch else ""
    )
    print(f"removed {fleet}/{pane.name} (pane {pane.pane_id}){kept}; its history is kept")
    return 0
