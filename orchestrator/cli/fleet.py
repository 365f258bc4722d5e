"""The commands that run a fleet: `up`, `down`, `restart`, `dashboard`, `jump` and `watch`."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from typing import TYPE_CHECKING

from orchestrator import DEFAULT_LAYOUT
from orchestrator.cli.common import (
    CommandFactory,
    fleet_argument,
    fleet_of,
    fleet_of_session,
    relay,
    tmux_of,
    warn,
)
from orchestrator.errors import OrchestratorError
from orchestrator.fleet import commands, control, restart
from orchestrator.fleet import up as fleet

if TYPE_CHECKING:
    from orchestrator.layout.plan import Fleet
    from orchestrator.tmux.client import Tmux


def add_commands(command: CommandFactory) -> None:
    """Declare the fleet commands."""
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

    fleet_argument(
        command("down", "End a fleet (its tmux session) and nothing else.", _down), positional=True
    )

    again = command(
        "restart",
        "Start an exited session again; a Claude session continues its conversation.",
        _restart,
    )
    again.add_argument("name", help="session name")
    fleet_argument(again)
    again.add_argument(
        "--force", action="store_true", help="end the session first if it is still running"
    )
    again.add_argument(
        "--no-resume", action="store_true", help="start a new conversation instead of resuming"
    )

    dashboard = command("dashboard", "Show the fleet's sessions and their states.", _dashboard)
    fleet_argument(dashboard, positional=True)

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
    fleet_argument(jump)

    watch = command(
        "watch", "Run the fleet's watcher in the foreground (`up` starts one for you).", _watch
    )
    fleet_argument(watch, positional=True)


def _up(args: argparse.Namespace) -> int:
    from orchestrator.fleet import sprawl
    from orchestrator.layout import load as layout
    from orchestrator.subscribers import notify_settings

    plan = layout.load_fleet(args.layout)
    notify_settings.load()  # the watcher refuses invalid settings: say so before starting anything
    limit = sprawl.cap(plan.source, strict=True)  # an invalid workflow.toml stops us here
    tmux = tmux_of(args)
    hosts = _remote_up(plan) if plan.remote else []
    live = tmux.has_session(plan.name)
    recorded = restart.layout_root(tmux, plan.name) if live else None
    if recorded is not None and recorded != plan.root:
        # A live fleet's sessions start where the fleet was brought up, not where this runs.
        plan = layout.load_fleet(args.layout, here=recorded)
    resume = None if live else _resume_choice(plan, args, tmux)
    if resume:
        plan = _in_their_folders(plan, resume)
    report = fleet.up(plan, tmux, resume=resume)
    notify_settings.record_switch(tmux, report.fleet)  # the running watcher follows it too
    from orchestrator.fleet import jump

    warn(jump.install_back_key(tmux))  # the dashboard binds it too, but says so only on screen
    if report.created:
        print(
            f"fleet {report.fleet}: started {len(report.started)} session(s) "
            f"({', '.join(report.started)}) in {report.seconds * 1000:.0f} ms"
        )
        for kind, what in report.services.items():
            if what != "started":
                print(f"  {kind}: {what}")
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
    for line in hosts:
        print(f"  {line}")
    warn(sprawl.warning(tmux, limit))
    if args.detach:
        print(f"attach with: {shlex.join(tmux.base_args())} attach -t {report.fleet}")
        return 0
    window = commands.AGENTS_WINDOW if plan.sessions else "dashboard"
    return control.attach(tmux, report.fleet, f"={report.fleet}:{window}")


def _remote_up(plan: Fleet) -> list[str]:
    """Check every host first (nothing is built anywhere unless all are ready), then bring each
    host's sessions up there; what each host said."""
    from orchestrator.remote import fleet as remote

    programs = [remote.check(part) for part in plan.remote]
    return remote.up(plan.name, plan.remote, programs)


def _resume_choice(plan: Fleet, args: argparse.Namespace, tmux: Tmux) -> dict[str, str]:
    """Which of a vanished fleet's Claude conversations to continue: all with --resume, none
    with --no-resume, else asked one by one in a terminal; without one, none (and how to)."""
    from orchestrator.store import history
    from orchestrator.store.db import Store

    with Store() as store:
        warn(history.recovery_message(store))
        found = history.resumable(store, plan)
    wanted: bool | None = args.resume
    if not found or wanted is False:
        return {}
    if wanted:
        return {name: c.claude_session_id for name, c in found.items()}
    if not sys.stdin.isatty():
        names = ", ".join(found)
        base = _base_command(args, tmux)
        # The same `up` (server, history, layout, --detach), with --resume.
        layout = f" {shlex.quote(str(plan.source))}" if args.layout else ""
        detach = " --detach" if args.detach else ""
        print(
            f"fleet {plan.name} had Claude conversations ({names}); starting new ones. "
            f"To continue them, run `{base} up{layout}{detach} --resume` instead, "
            f"or later `{base} restart NAME --fleet {plan.name} --force`."
        )
        return {}
    chosen: dict[str, str] = {}
    print(f"fleet {plan.name} is not running; its Claude sessions had conversations:")
    for name, conversation in found.items():
        active = time.strftime("%Y-%m-%d %H:%M", time.localtime(history.last_active(conversation)))
        answer = input(f"  continue {name}'s conversation (last active {active})? [Y/n] ")
        if answer.strip().lower() in {"", "y", "yes"}:
            chosen[name] = conversation.claude_session_id
    return chosen


def _in_their_folders(plan: Fleet, resume: dict[str, str]) -> Fleet:
    """The plan with each resumed session in the folder its conversation ran in, when that is
    not where the layout now puts it (a layout without `root`, brought up from elsewhere):
    `claude --resume` finds a conversation only from its own folder."""
    import dataclasses

    from orchestrator.store import history
    from orchestrator.store.db import Store

    sessions = []
    with Store() as store:
        for session in plan.sessions:
            conversation = None
            if session.name in resume and not session.worktree:
                conversation = store.claude_session(plan.name, session.name, resume[session.name])
            folder = None if conversation is None else history.conversation_folder(conversation)
            if folder is not None and folder != session.cwd and folder.is_dir():
                print(f"{session.name} continues its conversation in {folder}, where it ran")
                session = dataclasses.replace(session, cwd=folder)
            sessions.append(session)
    return dataclasses.replace(plan, sessions=tuple(sessions))


def _base_command(args: argparse.Namespace, tmux: Tmux) -> str:
    """``orchestrator`` with the tmux server and history this run used, for advice to print."""
    from orchestrator.store.db import ENV_VAR

    words = ["orchestrator", *tmux.base_args()[1:]]
    if getattr(args, "db", None):
        words += ["--db", os.environ.get(ENV_VAR, args.db)]
    return shlex.join(words)


def _restart(args: argparse.Namespace) -> int:
    from orchestrator.remote import view
    from orchestrator.store import history
    from orchestrator.store.db import Store

    tmux = tmux_of(args)
    local = fleet_of_session(tmux, args, args.name)
    name = local or fleet_of(tmux, args)
    if local is None and (host := view.host_of(name, args.name)) is not None:
        from orchestrator.remote import commands

        answer = commands.restart(
            name, host, args.name, force=args.force, resume=not args.no_resume
        )
        return relay(answer)
    resume_id = None
    if not args.no_resume:
        with Store() as store:
            warn(history.recovery_message(store))
            found = history.resumable_conversation(store, name, args.name)
        resume_id = None if found is None else found.claude_session_id
    report = restart.restart_session(tmux, name, args.name, resume_id, force=args.force)
    how = f"continuing conversation {report.resumed}" if report.resumed else "a fresh start"
    print(f"restarted {report.fleet}/{report.name} in pane {report.pane_id} ({how})")
    return 0


def _down(args: argparse.Namespace) -> int:
    tmux = tmux_of(args)
    name = fleet_of(tmux, args)
    from orchestrator.remote import fleet as remote

    ended = control.down(tmux, name)
    elsewhere, left = remote.down(name)
    ended += elsewhere
    for line in left:
        warn(line)
    print(f"fleet {name} ended ({len(ended)} session(s): {', '.join(ended) or 'none'})")
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from orchestrator import tui

    tmux = tmux_of(args)
    return tui.run(tmux, fleet_of(tmux, args))


def _jump(args: argparse.Namespace) -> int:
    from orchestrator.fleet import jump
    from orchestrator.remote import view

    tmux = tmux_of(args)
    name = (args.name and fleet_of_session(tmux, args, args.name)) or fleet_of(tmux, args)
    jump.install_back_key(tmux)
    # `tmux attach` needs a terminal on standard input; a script or a notification has none.
    terminal = sys.stdin.isatty()
    if args.dashboard:
        argv = jump.jump_to_pane(tmux, jump.dashboard_pane(tmux, name), terminal=terminal)
    elif args.next:
        found = view.waiting(tmux, name)
        current = view.current_session(tmux, jump.current_pane(tmux))
        target = jump.next_in([w.name for w in found], current)
        if target is None:
            print(f"no session of {name} is awaiting input")
            return 1
        host = next(w.host for w in found if w.name == target)
        if host is not None:
            argv = view.jump(tmux, name, target, host, terminal=terminal)
        else:
            argv = jump.jump(tmux, name, target, terminal=terminal)
    elif args.name and (host := view.host_of(name, args.name)) is not None:
        argv = view.jump(tmux, name, args.name, host, terminal=terminal)
    elif args.name:
        argv = jump.jump(tmux, name, args.name, terminal=terminal)
    else:
        raise OrchestratorError("name a session, or give --next or --dashboard")
    if argv:
        env = {k: v for k, v in os.environ.items() if k not in {"TMUX", "TMUX_PANE"}}
        os.execvpe(argv[0], argv, env)  # noqa: S606
    return 0


def _watch(args: argparse.Namespace) -> int:
    from orchestrator.cli import watch as watcher

    tmux = tmux_of(args)
    return watcher.run_watcher(tmux, fleet_of(tmux, args))
