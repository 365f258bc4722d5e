"""A fleet's sessions on other hosts: brought up there by the orchestrator installed there, and
read back over the host's shared SSH connection.

``up`` first checks every host (reachable, ``orchestrator`` on its PATH, the same version as
here) before anything is built anywhere; then it hands each host its part of the layout on
standard input and runs ``orchestrator up`` there, detached, in the host's own tmux: the remote
fleet, its watcher and its history live on the host and go on when the connection drops. What this
machine needs to find them again (host, ssh options, tmux socket, the program's path, the
sessions) is kept in the fleet's runtime folder, ``hosts.json``.

``status_rows`` asks each host for ``status FLEET --json`` in parallel, each under a timeout; a
host that cannot be reached gives its sessions as ``unknown``, "host NAME unreachable since
HH:MM", the time it was first missed (kept in ``unreachable.json``, cleared when it answers).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orchestrator
from orchestrator.errors import OrchestratorError
from orchestrator.layout.plan import RemotePlan
from orchestrator.paths import ensure_private_dir
from orchestrator.remote.ssh import Connection, SshFailed
from orchestrator.runtime import fleet_dir

LAYOUTS = ".local/state/orchestrator/remote-layouts"
"""Where a host keeps the layouts it was handed, relative to the remote user's home folder."""
STATUS_TIMEOUT = 6.0
"""Seconds a host may take to answer ``status``; past it, its sessions show as unreachable."""
UP_TIMEOUT = 120.0
"""Seconds a host may take to bring its part of a fleet up."""
_FIND = (
    'for p in orchestrator "$HOME/.local/bin/orchestrator"; do '
    'if command -v "$p" >/dev/null 2>&1; then command -v "$p"; exec "$p" --version; fi; '
    "done; exit 127"
)
"""Finds the remote orchestrator (PATH, then where install.sh links it) and prints its version.
A fixed script: nothing of the layout is in it."""


@dataclass(frozen=True)
class Host:
    """What this machine keeps of one host of a fleet (``hosts.json``)."""

    host: str
    ssh: tuple[str, ...]
    socket: str | None
    program: str
    """The remote orchestrator's path, as found by :func:`check`."""
    sessions: tuple[dict[str, str], ...]
    """Each session's ``name``, ``role`` and ``agent``."""

    @property
    def connection(self) -> Connection:
        """The shared SSH connection to the host."""
        return Connection(self.host, self.ssh)

    def command(self, *argv: str) -> list[str]:
        """The remote orchestrator's command line, on the host's tmux server."""
        server = ["-L", self.socket] if self.socket else []
        return [self.program, *server, *argv]

    def tmux_command(self, *argv: str) -> list[str]:
        """A ``tmux`` command line for the host's tmux server."""
        server = ["-L", self.socket] if self.socket else []
        return ["tmux", *server, *argv]


def install_hint() -> str:
    """The exact command that installs this version of orchestrator on a host."""
    checkout = Path(orchestrator.__file__).resolve().parents[1]
    version = orchestrator.__version__
    try:
        url = _git(checkout, "remote", "get-url", "origin")
        commit = _git(checkout, "rev-parse", "HEAD")
    except (OSError, subprocess.CalledProcessError):
        return f"pipx install 'session-orchestrator=={version}'"
    return (
        f"git clone {url} orchestrator && cd orchestrator && git checkout {commit} && ./install.sh"
    )


def _git(folder: Path, *argv: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), *argv], capture_output=True, text=True, check=True, timeout=5
    ).stdout.strip()


def check(plan: RemotePlan) -> str:
    """The path of the host's orchestrator; OrchestratorError when it is unreachable, missing or
    of another version, with what to do."""
    connection = Connection(plan.host, plan.ssh)
    try:
        done = connection.run(["sh", "-c", _FIND], timeout=20)
    except SshFailed as exc:
        raise OrchestratorError(
            f"host {plan.host}: cannot connect over ssh: {exc}; nothing was started",
            hint=f"check that `ssh {plan.host} true` works without a password prompt "
            "(BatchMode: a key or an agent) and that the host key is in your known_hosts",
        ) from None
    lines = done.stdout.split("\n")
    mine = orchestrator.__version__
    if done.returncode == 127 or len(lines) < 2:
        raise OrchestratorError(
            f"host {plan.host}: `orchestrator` is not installed there (not on the PATH ssh "
            "commands get, nor in ~/.local/bin); nothing was started",
            hint=f"install orchestrator {mine} on {plan.host}, there: {install_hint()}",
        )
    program, version = lines[0].strip(), lines[1].strip().rpartition(" ")[2]
    if version != mine:
        raise OrchestratorError(
            f"host {plan.host}: runs orchestrator {version or '(unknown version)'} ({program}), "
            f"this machine {mine}; nothing was started",
            hint=f"install orchestrator {mine} on {plan.host}, there: {install_hint()}",
        )
    return program


def up(fleet: str, plans: Sequence[RemotePlan], programs: Sequence[str]) -> list[str]:
    """Bring each host's part of ``fleet`` up there; return what each host said, one line each."""
    hosts = [
        Host(
            host=plan.host,
            ssh=plan.ssh,
            socket=plan.socket,
            program=program,
            sessions=tuple(
                {"name": s.name, "role": s.role, "agent": s.agent} for s in plan.sessions
            ),
        )
        for plan, program in zip(plans, programs, strict=True)
    ]
    save_hosts(fleet, _keep_added(hosts, hosts_of(fleet)))
    said: list[str] = []
    for plan, host in zip(plans, hosts, strict=True):
        connection = host.connection
        layout = f"{LAYOUTS}/{fleet}.toml"
        write = ["sh", "-c", 'mkdir -p "$1" && cat > "$2"', "sh", LAYOUTS, layout]
        try:
            connection.run(write, stdin=plan.layout, timeout=20).check_returncode()
            done = connection.run(
                host.command("up", layout, "--detach", "--no-resume"), timeout=UP_TIMEOUT
            )
        except (SshFailed, subprocess.CalledProcessError) as exc:
            raise OrchestratorError(
                f"host {plan.host}: could not bring its sessions up: {exc}"
            ) from None
        if done.returncode != 0:
            raise OrchestratorError(
                f"host {plan.host}: `orchestrator up` failed there (exit status "
                f"{done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
            )
        first = done.stdout.strip().splitlines()[:1]
        said.append(f"{plan.host}: {first[0] if first else 'up'}")
    return said


def hosts_of(fleet: str) -> list[Host]:
    """The hosts a fleet's ``up`` recorded here (none for a local fleet)."""
    try:
        data = json.loads((fleet_dir(fleet) / "hosts.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [
        Host(
            host=item["host"],
            ssh=tuple(item["ssh"]),
            socket=item["socket"],
            program=item["program"],
            sessions=tuple(item["sessions"]),
        )
        for item in data
    ]


def _keep_added(hosts: Sequence[Host], before: Sequence[Host]) -> list[Host]:
    """``hosts`` with the sessions ``new`` added to them before (marked ``added``), which run on
    there through a later ``up`` as such sessions do here."""
    kept = []
    for host in hosts:
        names = {s["name"] for s in host.sessions}
        added = [
            s
            for old in before
            if old.host == host.host
            for s in old.sessions
            if s.get("added") and s["name"] not in names
        ]
        kept.append(Host(**{**host.__dict__, "sessions": (*host.sessions, *added)}))
    return kept


def save_hosts(fleet: str, hosts: Sequence[Host]) -> None:
    """Write the fleet's record of its hosts (``hosts.json``), whole: a reader never sees half."""
    folder = ensure_private_dir(fleet_dir(fleet))
    data = [
        {
            "host": h.host,
            "ssh": list(h.ssh),
            "socket": h.socket,
            "program": h.program,
            "sessions": list(h.sessions),
        }
        for h in hosts
    ]
    part = folder / "hosts.json.part"
    part.write_text(json.dumps(data, indent=2), encoding="utf-8")
    part.replace(folder / "hosts.json")


def status_rows(fleets: Sequence[str]) -> list[dict[str, object]]:
    """The remote sessions of these fleets, one ``status --json`` row each (with ``host``)."""
    jobs = [(fleet, host) for fleet in fleets for host in hosts_of(fleet)]
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
        answers = list(pool.map(lambda job: host_rows(*job), jobs))
    return [row for rows in answers for row in rows]


def host_rows(fleet: str, host: Host) -> list[dict[str, object]]:
    try:
        done = host.connection.run(host.command("status", fleet, "--json"), timeout=STATUS_TIMEOUT)
        found = json.loads(done.stdout)["sessions"] if done.returncode == 0 else None
    except SshFailed:
        since = _missed(fleet, host.host)
        when = time.strftime("%H:%M", time.localtime(since))
        return _unknown(fleet, host, f"host {host.host} unreachable since {when}", since)
    except (ValueError, KeyError, TypeError):
        found = None
    _missed(fleet, host.host, answered=True)
    if found is None:
        return _unknown(fleet, host, f"host {host.host}: status failed there", None)
    rows: dict[str, dict[str, object]] = {}
    for row in found:
        if isinstance(row, dict) and row.get("fleet") == fleet:
            rows[str(row.get("name"))] = {**row, "host": host.host}
    missing = [s for s in host.sessions if s["name"] not in rows]
    gone = _unknown(fleet, Host(**{**host.__dict__, "sessions": tuple(missing)}), "", None)
    for row in gone:
        row["reason"] = f"not running on {host.host} (run `orchestrator up` again)"
    return [*rows.values(), *gone]


def _unknown(fleet: str, host: Host, reason: str, since: float | None) -> list[dict[str, object]]:
    return [
        {
            "fleet": fleet,
            "name": session["name"],
            "role": session.get("role", ""),
            "agent": session.get("agent", ""),
            "pane_id": "",
            "state": "unknown",
            "since": since,
            "reason": reason,
            "cwd": "",
            "waiting_for": [],
            "branch": None,
            "base": None,
            "ahead": None,
            "behind": None,
            "changed": None,
            "host": host.host,
        }
        for session in host.sessions
    ]


def _missed(fleet: str, host: str, *, answered: bool = False) -> float:
    """When the host was first missed (now, if it answers or was not missed before)."""
    path = fleet_dir(fleet) / "unreachable.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    now = time.time()
    if answered:
        if host in data:
            del data[host]
            path.write_text(json.dumps(data), encoding="utf-8")
        return now
    if not isinstance(data.get(host), float | int):
        data[host] = now
        ensure_private_dir(path.parent)
        path.write_text(json.dumps(data), encoding="utf-8")
    return float(data[host])


def down(fleet: str) -> tuple[list[str], list[str]]:
    """End the fleet's part on each host it can reach: the sessions ended (``NAME@HOST``), and
    for each host it could not, what to run there. The hosts' record goes once all are ended."""
    ended: list[str] = []
    left: list[str] = []
    for host in hosts_of(fleet):
        command = host.command("down", fleet)
        try:
            done = host.connection.run(command, timeout=STATUS_TIMEOUT)
        except SshFailed as exc:
            left.append(
                f"host {host.host} unreachable ({exc}): its sessions run on; end them there "
                f"with `{shlex.join(command)}`"
            )
            continue
        if done.returncode == 0:
            ended += [f"{s['name']}@{host.host}" for s in host.sessions]
        host.connection.close()
    if not left:
        (fleet_dir(fleet) / "hosts.json").unlink(missing_ok=True)
    return ended, left
