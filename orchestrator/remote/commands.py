"""The session commands for sessions on other hosts: ``send``, ``restart``, ``rm`` and ``new``
run as the same ``orchestrator`` command on the host, over the host's shared SSH connection.

Each remote command line is built from quoted arguments (:meth:`Connection.command_argv`), with
``--`` before the session names, so a name, a role or a folder arrives there verbatim and never as
an option or as shell code; a prompt goes on standard input (``send --stdin``), never on a command
line. The host's exit status and words come back as they are (:class:`Answer`). A host that
cannot be reached is an :class:`~orchestrator.errors.OrchestratorError` naming it, raised before
anything changes here. Once ``new`` or ``rm`` succeeds there, this machine's record of the host's
sessions (``hosts.json``) follows, so ``status``, ``jump``, ``down`` and the dashboard agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from orchestrator.errors import NotFoundError, OrchestratorError
from orchestrator.remote.fleet import Host, hosts_of, save_hosts
from orchestrator.remote.ssh import SshFailed

TIMEOUT = 90.0
"""Seconds a host may take to run one session command (``new`` may make a worktree and launch
an agent; ``restart --force`` waits for the old one to end)."""
ADDED = "added"
"""Key of a session in ``hosts.json`` that ``new`` added (``up`` keeps it when it rewrites the
record, as a later ``up`` here keeps a session added with ``new``)."""
_ADDED_LINE = re.compile(r"^added [^/\s]+/(?P<name>\S+) \((?P<agent>[^,]+), pane ")


@dataclass(frozen=True)
class Answer:
    """What the host's orchestrator said."""

    host: str
    code: int
    """Its exit status."""
    out: str
    err: str

    def lines(self) -> list[str]:
        """Its output then its errors, each line after ``on HOST:``."""
        said = [*self.out.splitlines(), *self.err.splitlines()]
        return [f"on {self.host}: {line}" for line in said if line.strip()]

    def checked(self) -> Answer:
        """This answer, or OrchestratorError with the host's words when it failed."""
        if self.code != 0:
            words = " ".join((self.err.strip() or self.out.strip()).split())
            words = words.removeprefix("orchestrator: error: ")
            raise OrchestratorError(f"on {self.host}: {words or f'exit status {self.code}'}")
        return self


def run_there(
    fleet: str,
    host: Host,
    argv: Sequence[str],
    names: Sequence[str] = (),
    *,
    stdin: str | None = None,
) -> Answer:
    """Run ``orchestrator ARGV --fleet FLEET -- NAMES`` on the host; OrchestratorError when the
    host cannot be reached (nothing was run there, nothing changed here)."""
    tail = ["--", *names] if names else []
    try:
        done = host.connection.run(
            host.command(*argv, "--fleet", fleet, *tail), stdin=stdin, timeout=TIMEOUT
        )
    except SshFailed as exc:
        raise OrchestratorError(
            f"host {host.host} unreachable ({exc}): `{argv[0]}` was not run there, "
            "and nothing was changed here",
            hint=f"check that `ssh {host.host} true` works, then run it again",
        ) from None
    return Answer(host.host, done.returncode, done.stdout, done.stderr)


def host_named(fleet: str, name: str) -> Host:
    """The host ``name`` of the fleet, as ``up`` recorded it; NotFoundError naming the others."""
    hosts = hosts_of(fleet)
    for host in hosts:
        if host.host == name:
            return host
    known = ", ".join(h.host for h in hosts) or "none"
    raise NotFoundError(
        f"fleet {fleet} has no host {name!r} (its hosts: {known})",
        hint=f"give {name} a session in the layout (host = {name!r}) and run `orchestrator up`",
    )


def sessions_on(fleet: str, names: Sequence[str]) -> dict[str, tuple[Host, list[str]]]:
    """The names among ``names`` that run on a host, grouped by host."""
    found: dict[str, tuple[Host, list[str]]] = {}
    for host in hosts_of(fleet):
        mine = [n for n in dict.fromkeys(names) if any(s["name"] == n for s in host.sessions)]
        if mine:
            found[host.host] = (host, mine)
    return found


def send(
    fleet: str, host: Host, names: Sequence[str], text: str, *, every: bool, role: str | None
) -> Answer:
    """Type ``text`` into sessions on the host (``send --stdin`` there, the text on its input)."""
    which = ["--all"] if every else ["--role", role] if role is not None else []
    # `send --stdin` drops one final newline, as a shell pipe adds one: the text stays exact.
    return run_there(fleet, host, ["send", "--stdin", *which], names, stdin=text + "\n")


def restart(fleet: str, host: Host, name: str, *, force: bool, resume: bool) -> Answer:
    """Start the session again on its host, as ``restart`` there does."""
    flags = [*(["--force"] if force else []), *([] if resume else ["--no-resume"])]
    return run_there(fleet, host, ["restart", *flags], [name])


def remove(fleet: str, host: Host, name: str) -> Answer:
    """End the session on its host (``rm`` there); then forget it here."""
    answer = run_there(fleet, host, ["rm"], [name])
    if answer.code == 0:
        _remember(fleet, host.host, drop=name)
    return answer


def add(
    fleet: str,
    host: Host,
    name: str,
    *,
    agent: str | None,
    role: str,
    cwd: str | None,
    worktree: bool | None,
    prompt: str | None,
) -> Answer:
    """Add a session on the host (``new`` there; ``cwd`` is a folder there, as given); then
    note it here with the agent the host chose."""
    argv = ["new", "--role", role]
    argv += ["--agent", agent] if agent else []
    argv += ["--cwd", cwd] if cwd else []
    argv += [] if worktree is None else ["--worktree" if worktree else "--no-worktree"]
    argv += ["--prompt", prompt] if prompt else []
    answer = run_there(fleet, host, argv, [name])
    if answer.code == 0:
        said = _ADDED_LINE.match(answer.out.strip())
        chosen = said["agent"] if said else agent or ""
        entry = {"name": name, "role": role, "agent": chosen, ADDED: "yes"}
        _remember(fleet, host.host, add=entry)
    return answer


def _remember(
    fleet: str, host_name: str, *, add: dict[str, str] | None = None, drop: str | None = None
) -> None:
    hosts = hosts_of(fleet)
    changed = []
    for host in hosts:
        sessions = [s for s in host.sessions if s["name"] != drop]
        if add is not None and host.host == host_name:
            sessions = [s for s in sessions if s["name"] != add["name"]] + [add]
        changed.append(replace(host, sessions=tuple(sessions)))
    save_hosts(fleet, changed)
