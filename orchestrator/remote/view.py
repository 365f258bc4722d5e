"""Remote sessions in the local fleet: one window per host, attached to the host's tmux over SSH.

Jumping to a remote session selects its pane in the host's tmux (over the shared connection),
then shows the host's window here: a local pane running ``ssh -t HOST tmux attach -t =FLEET``,
made the first time it is needed and made again if it died (the connection dropped). The pane is
tagged ``@orc_kind=remote`` (the watcher reads only ``agent`` panes) with the host, and notes the
session it was last asked to show (``@orc_viewing``), so ``jump --next`` from there goes on to
the session after it, wherever that runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.detect.model import NEEDS_USER
from orchestrator.errors import NotFoundError, OrchestratorError
from orchestrator.fleet import jump as local_jump
from orchestrator.remote.fleet import Host, host_rows, hosts_of
from orchestrator.remote.ssh import SshFailed
from orchestrator.tmux.client import Tmux, respawning, tag
from orchestrator.tmux.panes import list_sessions

KIND = "remote"
"""``@orc_kind`` of a host's window in the local fleet."""


@dataclass(frozen=True)
class Waiting:
    """A session that needs the user, here or on a host."""

    name: str
    since: float
    host: Host | None


def host_of(fleet: str, name: str) -> Host | None:
    """The host that runs session ``name`` of ``fleet``; None when no host does."""
    for host in hosts_of(fleet):
        if any(session["name"] == name for session in host.sessions):
            return host
    return None


def view_pane(tmux: Tmux, fleet: str, host: Host) -> str:
    """The local pane attached to ``host``'s tmux, made or started again when needed."""
    fields = ("pane_id", "pane_dead", tag("kind"), tag("host"))
    rows = tmux.query(["list-panes", "-s", "-t", f"={fleet}:"], fields)
    found = [r for r in rows if r.get(tag("kind")) == KIND and r.get(tag("host")) == host.host]
    attach = host.connection.command_argv(
        host.tmux_command("attach-session", "-t", f"={fleet}"), terminal=True
    )
    if found and found[0].get("pane_dead") != "1":
        return found[0]["pane_id"]
    if found:
        pane = found[0]["pane_id"]
        tmux.run(*respawning(tmux, pane, ["respawn-pane", "-k", "-t", pane, "--", *attach]))
        return pane
    where = ["-d", "-a", "-t", f"={fleet}:{{end}}", "-n", host.host]
    lines = tmux.run(["new-window", *where, "-P", "-F", "#{pane_id}", "--", *attach])
    pane = lines[0].strip()
    tmux.run(
        ["set-option", "-p", "-t", pane, tag("fleet"), fleet],
        ["set-option", "-p", "-t", pane, tag("kind"), KIND],
        ["set-option", "-p", "-t", pane, tag("host"), host.host],
        # A dropped connection leaves the pane, so the next jump starts it again in place.
        ["set-option", "-p", "-t", pane, "remain-on-exit", "on"],
    )
    return pane


def jump(
    tmux: Tmux, fleet: str, name: str, host: Host, *, terminal: bool = True
) -> list[str] | None:
    """Show remote session ``name``: select its pane on the host, then the host's window here
    (see :func:`orchestrator.fleet.jump.jump_to_pane` for what is returned)."""
    try:
        rows = {str(row["name"]): row for row in host_rows(fleet, host)}
        pane = str(rows.get(name, {}).get("pane_id") or "")
        if not pane:
            reason = rows.get(name, {}).get("reason") or "not running there"
            raise NotFoundError(f"session {name!r} on {host.host}: {reason}")
        select = host.tmux_command("select-window", "-t", pane, ";", "select-pane", "-t", pane)
        host.connection.run(select, timeout=10).check_returncode()
    except SshFailed as exc:
        raise OrchestratorError(f"host {host.host}: {exc}") from None
    except OSError as exc:
        raise OrchestratorError(f"host {host.host}: could not select {name}: {exc}") from None
    view = view_pane(tmux, fleet, host)
    tmux.run(["set-option", "-p", "-t", view, tag("viewing"), name])
    return local_jump.jump_to_pane(tmux, view, terminal=terminal)


def waiting(tmux: Tmux, fleet: str) -> list[Waiting]:
    """Every session of ``fleet`` that needs the user, here and on its hosts, longest first."""
    found = [
        Waiting(p.name, p.since or 0.0, None)
        for p in list_sessions(tmux, fleet)
        if p.kind == "agent" and p.state in NEEDS_USER
    ]
    for host in hosts_of(fleet):
        for row in host_rows(fleet, host):
            if row.get("state") in NEEDS_USER:
                since = row.get("since")
                at = float(since) if isinstance(since, int | float) else 0.0
                found.append(Waiting(str(row["name"]), at, host))
    found.sort(key=lambda w: (w.since, w.name))
    return found


def current_session(tmux: Tmux, pane: str | None) -> str | None:
    """The session the user looks at in ``pane``: its own, or the one a host's window shows."""
    if not pane:
        return None
    rows = tmux.query(["display-message", "-p", "-t", pane], (tag("session"), tag("viewing")))
    if not rows:
        return None
    return rows[0].get(tag("session")) or rows[0].get(tag("viewing")) or None
