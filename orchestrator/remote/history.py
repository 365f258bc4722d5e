"""What happened on a fleet's hosts: their own history, asked for over the shared connection.

Each host keeps its sessions' transitions and prompts in its own history database (its watcher
writes them, connected or not), so nothing that happened while this machine was away is lost;
``orchestrator history`` here adds what ``orchestrator history`` says there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from orchestrator import paths
from orchestrator.remote.fleet import STATUS_TIMEOUT, Host, hosts_of
from orchestrator.remote.ssh import SshFailed


@dataclass(frozen=True)
class HostHistory:
    """One host's answer for one fleet: its text or JSON document, or why there is none."""

    fleet: str
    host: str
    text: str
    error: str | None = None


def fleets_with_hosts(fleet: str | None) -> list[str]:
    """The fleets whose ``up`` recorded hosts here (only ``fleet`` when given)."""
    folder = paths.runtime_dir() / "fleets"
    found = sorted(p.parent.name for p in folder.glob("*/hosts.json")) if folder.is_dir() else []
    return [name for name in found if fleet in (None, name)]


def ask(
    fleet: str | None, name: str | None, limit: int | None, *, as_json: bool
) -> list[HostHistory]:
    """Each host's ``history`` of the fleets here that have hosts."""
    answers = []
    for each in fleets_with_hosts(fleet):
        for host in hosts_of(each):
            answers.append(_ask_one(each, host, name, limit, as_json))
    return answers


def _ask_one(
    fleet: str, host: Host, name: str | None, limit: int | None, as_json: bool
) -> HostHistory:
    argv = ["history", *([name] if name else []), "--fleet", fleet]
    argv += [
        *(["--limit", str(limit)] if limit is not None else []),
        *(["--json"] if as_json else []),
    ]
    try:
        done = host.connection.run(host.command(*argv), timeout=STATUS_TIMEOUT * 2)
    except SshFailed as exc:
        return HostHistory(fleet, host.host, "", f"host {host.host} unreachable: {exc}")
    if done.returncode != 0:
        return HostHistory(fleet, host.host, "", done.stderr.strip() or "history failed there")
    return HostHistory(fleet, host.host, done.stdout.rstrip("\n"))


def as_json(answers: list[HostHistory]) -> list[dict[str, object]]:
    """The ``hosts`` list ``history --json`` adds: each host's document, or its error."""
    out: list[dict[str, object]] = []
    for answer in answers:
        try:
            document = json.loads(answer.text) if answer.error is None else None
        except ValueError:
            document = None
        out.append(
            {"fleet": answer.fleet, "host": answer.host, "history": document, "error": answer.error}
        )
    return out
