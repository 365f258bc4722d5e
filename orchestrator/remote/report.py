"""The report's part from each host: its own ``orchestrator report --json`` of the fleet's
conversations, asked for over the shared connection, and merged here.

A host's sessions have their transcripts and history there, so the host computes its part (the
same definitions) and this machine adds it: each host's sessions (every row naming its host),
its attention figures, and the attention over this machine's waits and every host's together.
A host that cannot be reached or whose report fails is named as missing, in the JSON
(``missing``), on standard error and at the end of the text: never a silently partial report.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from orchestrator.remote.fleet import Host, hosts_of
from orchestrator.remote.history import fleets_with_hosts
from orchestrator.remote.ssh import SshFailed
from orchestrator.report.analysis import attention_of
from orchestrator.report.render import table

REPORT_TIMEOUT = 120.0
"""Seconds a host may take for its report (it reads its transcripts, cached after the first)."""


@dataclass(frozen=True)
class HostReport:
    """One host's report of one fleet, or why there is none."""

    fleet: str
    host: str
    data: dict[str, Any] | None
    error: str | None = None


def ask(
    fleet: str | None, since: str | None, until: str | None, agent: str | None = None
) -> list[HostReport]:
    """Each host's report of the fleets here that have hosts (only ``fleet`` when given), with
    the same window and agent."""
    jobs = [(each, host) for each in fleets_with_hosts(fleet) for host in hosts_of(each)]
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
        return list(pool.map(lambda job: _ask_one(job[0], job[1], since, until, agent), jobs))


def _ask_one(
    fleet: str, host: Host, since: str | None, until: str | None, agent: str | None
) -> HostReport:
    argv = ["report", "--json", "--no-pictures", "--fleet", fleet]
    argv += [*(["--since", since] if since else []), *(["--until", until] if until else [])]
    argv += ["--agent", agent] if agent else []
    try:
        done = host.connection.run(host.command(*argv), timeout=REPORT_TIMEOUT)
    except SshFailed as exc:
        return HostReport(fleet, host.host, None, f"unreachable: {exc}")
    if done.returncode != 0:
        said = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        return HostReport(fleet, host.host, None, f"report failed there: {said}")
    try:
        data = json.loads(done.stdout)
        if not isinstance(data["list"], list) or not isinstance(data["attention"], dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return HostReport(fleet, host.host, None, "report failed there: not a report")
    return HostReport(fleet, host.host, data)


def _waits(entries: list[dict[str, Any]]) -> list[float]:
    return [float(w["seconds"]) for e in entries for w in e.get("waits", [])]


def merge(data: dict[str, Any], answers: list[HostReport]) -> list[str]:
    """Add the hosts' parts to this machine's report ``data``; the missing hosts, one line each.

    ``list`` rows get ``host`` (null here); ``hosts`` has each host's sessions (rows with
    ``host``) and attention; ``everywhere`` the attention over every wait, here and there;
    ``missing`` the hosts left out and why."""
    for entry in data["list"]:
        entry["host"] = None
    hosts: list[dict[str, Any]] = []
    missing: list[str] = []
    lengths = _waits(data["list"])
    for answer in answers:
        if answer.data is None:
            missing.append(f"host {answer.host} (fleet {answer.fleet}) {answer.error}")
            hosts.append({"fleet": answer.fleet, "host": answer.host, "error": answer.error})
            continue
        rows = [{**entry, "host": answer.host} for entry in answer.data["list"]]
        lengths += _waits(rows)
        hosts.append(
            {
                "fleet": answer.fleet,
                "host": answer.host,
                "error": None,
                "sessions": len(rows),
                "attention": answer.data["attention"],
                "list": rows,
            }
        )
    if answers:
        data["hosts"] = hosts
        data["everywhere"] = {"attention": attention_of(lengths)}
        data["missing"] = missing
    return missing


def render(data: dict[str, Any]) -> str:
    """The hosts' part of the text report ("" for a report without hosts)."""
    hosts = data.get("hosts")
    if not hosts:
        return ""
    lines = ["Other hosts (each from its own transcripts and history, for its fleet)"]
    rows = [
        [
            h["host"],
            h["fleet"],
            str(h["sessions"]),
            str(h["attention"]["waits"]),
            f"{h['attention']['median_response_seconds']:.1f} s",
            str(h["attention"]["forgotten"]),
        ]
        for h in hosts
        if h["error"] is None
    ]
    if rows:
        headers = ["HOST", "FLEET", "SESSIONS", "WAITS", "MEDIAN RESPONSE", "FORGOTTEN"]
        lines.append(table(headers, rows))
    sessions = [
        [
            f"{e['fleet']}/{e['name']}@{e['host']}" if e.get("name") else f"?@{e['host']}",
            e["start"],
            f"{e['hours']:.2f}",
            e["outcome"],
            str(len(e["waits"])),
            f"{sum(w['seconds'] for w in e['waits']):.0f} s",
        ]
        for h in hosts
        for e in h.get("list", [])
    ]
    if sessions:
        headers = ["SESSION", "START", "HOURS", "OUTCOME", "WAITS", "WAITED"]
        lines += ["", table(headers, sessions)]
    a = data["everywhere"]["attention"]
    lines += [
        "",
        f"Attention here and on every host: {a['waits']} waits, "
        f"{a['awaiting_input_hours']:.2f} hours; response median "
        f"{a['median_response_seconds']:.1f} s, p90 {a['p90_response_seconds']:.1f} s; "
        f"forgotten {a['forgotten']}",
    ]
    lines += [f"MISSING from this report: {m}" for m in data["missing"]]
    return "\n".join(lines)
