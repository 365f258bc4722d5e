"""The commands that tell how sessions are and were: ``status``, ``explain``, ``history``."""

from __future__ import annotations

import argparse
import json
import time

from orchestrator.cli.common import CommandFactory, fleet_of_session, tmux_of, warn
from orchestrator.cli.worktree import branch_cell
from orchestrator.errors import NotFoundError, OrchestratorError
from orchestrator.fleet import published


def add_commands(command: CommandFactory) -> None:
    """Declare the state commands."""
    status = command("status", "List every session the tool finds on the tmux server.", _status)
    status.add_argument("fleet", nargs="?", help="only this fleet")
    status.add_argument("--json", action="store_true", help="print JSON for scripts")

    explain = command(
        "explain", "Show what each signal says about one session, and the verdict.", _explain
    )
    explain.add_argument("name", help="session name")
    explain.add_argument("--fleet", help="the fleet, when several have a session of that name")

    history = command(
        "history", "Print the recorded state transitions and prompts of a session.", _history
    )
    history.add_argument("name", nargs="?", help="session name (default: every session)")
    history.add_argument("--fleet", help="only this fleet")
    history.add_argument("--json", action="store_true", help="print JSON for scripts")
    history.add_argument("--limit", type=int, metavar="N", help="only the newest N of each kind")


def _status(args: argparse.Namespace) -> int:
    from orchestrator.remote import fleet as remote
    from orchestrator.tmux.panes import fleet_names
    from orchestrator.watch import status

    tmux = tmux_of(args)
    rows = status.status_rows(tmux, args.fleet)
    fleets = [name for name in fleet_names(tmux) if args.fleet in (None, name)]
    rows += remote.status_rows(fleets)
    if args.json:
        print(published.dump_json(rows))
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


def _reason(row: dict[str, object]) -> str:
    """The reason column: what a pipeline session still waits for, else the state's reason."""
    waiting = row.get("waiting_for")
    if isinstance(waiting, list) and waiting:
        return "waiting for " + ", ".join(map(str, waiting))
    return str(row["reason"])


def _table(rows: list[dict[str, object]]) -> str:
    headers: tuple[str, ...] = ("FLEET", "SESSION", "STATE", "FOR", "REASON", "PANE", "ROLE")
    body: list[tuple[str, ...]] = [
        (
            str(row["fleet"]),
            str(row["name"]),
            str(row["state"]),
            _age(row["since"]),
            _reason(row)[:50],
            str(row["pane_id"]),
            str(row["role"])[:40],
        )
        for row in rows
    ]
    if any(row.get("host") for row in rows):
        headers = (*headers, "HOST")
        body = [(*line, str(row.get("host") or "")) for line, row in zip(body, rows, strict=True)]
    if any(row.get("branch") for row in rows):
        headers = (*headers, "BRANCH")
        body = [(*line, branch_cell(row)) for line, row in zip(body, rows, strict=True)]
    widths = [max(len(line[i]) for line in [headers, *body]) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in [headers, *body]
    ]
    return "\n".join(line.rstrip() for line in lines)


def _explain(args: argparse.Namespace) -> int:
    from orchestrator.watch import status

    tmux = tmux_of(args)
    fleet = fleet_of_session(tmux, args, args.name)
    if fleet is None and (there := _remote_explain(args.name, args.fleet)) is not None:
        print(there)
        return 0
    if fleet is None:
        raise NotFoundError(
            f"no session named {args.name!r} on this tmux server",
            hint="run `orchestrator status` to list sessions (and check -L/--socket-name)",
        )
    print(status.explain(tmux, args.name, fleet))
    return 0


def _remote_explain(name: str, fleet: str | None) -> str | None:
    """``explain`` as the host that runs remote session ``name`` says it; None: no host does."""
    from orchestrator.remote import history as remote_history
    from orchestrator.remote import view
    from orchestrator.remote.ssh import SshFailed

    for each in remote_history.fleets_with_hosts(fleet):
        host = view.host_of(each, name)
        if host is None:
            continue
        try:
            done = host.connection.run(host.command("explain", name, "--fleet", each), timeout=15)
        except SshFailed as exc:
            raise OrchestratorError(f"{name} runs on {host.host}, unreachable: {exc}") from None
        return f"on {host.host}: {done.stdout.rstrip()}" if done.returncode == 0 else done.stderr
    return None


def _history(args: argparse.Namespace) -> int:
    from orchestrator.remote import history as remote_history
    from orchestrator.store import history
    from orchestrator.store.db import Store

    with Store() as store:
        warn(history.recovery_message(store))
        found = history.read(store, args.name, fleet=args.fleet, limit=args.limit)
        there = remote_history.ask(args.fleet, args.name, args.limit, as_json=args.json)
        if args.json:
            document = found.to_json(store)
            if there:
                document["hosts"] = remote_history.as_json(there)
            print(json.dumps(document, indent=2))
        else:
            print(history.table(found))
            for answer in there:
                print(f"\n{answer.fleet} on {answer.host}:")
                print(answer.error or answer.text)
    return 0
