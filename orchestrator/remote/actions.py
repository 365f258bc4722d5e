"""What the dashboard does to a remote session, sent over the host's shared connection: read its
screen, press its interrupt key, type a prompt.

Each is a ``tmux`` command on the host's server, its arguments quoted one by one; a prompt's text
goes on standard input (``load-buffer -``), never on a command line, so neither ``ps`` on the host
nor its shell ever sees it.
"""

from __future__ import annotations

import time

from orchestrator.agents.catalog import PROFILES
from orchestrator.errors import OrchestratorError
from orchestrator.remote.fleet import Host
from orchestrator.remote.ssh import SshFailed

TIMEOUT = 6.0
"""Seconds a host may take to answer one action."""
ENTER_AFTER = 0.3
"""Seconds between pasting a prompt and pressing Enter: an agent that is still taking in the
paste can drop an Enter sent with it."""
_BUFFER = "orc-remote-prompt"


def _run(host: Host, *argv: str, stdin: str | None = None) -> str:
    try:
        done = host.connection.run(host.tmux_command(*argv), stdin=stdin, timeout=TIMEOUT)
    except SshFailed as exc:
        raise OrchestratorError(f"host {host.host}: {exc}") from None
    if done.returncode != 0:
        raise OrchestratorError(f"host {host.host}: tmux {argv[0]} failed: {done.stderr.strip()}")
    return done.stdout


def preview(host: Host, pane: str) -> str:
    """The pane's visible screen with its colours, or nothing when the host does not answer."""
    try:
        return _run(host, "capture-pane", "-e", "-p", "-t", pane).rstrip("\n")
    except OrchestratorError:
        return ""


def interrupt(host: Host, pane: str, agent: str) -> None:
    """Press the agent's interrupt key in the pane (Esc; Ctrl-C for aider)."""
    profile = PROFILES.get(agent)
    _run(host, "send-keys", "-t", pane, profile.interrupt_key if profile else "Escape")


def send_prompt(host: Host, pane: str, text: str) -> None:
    """Paste ``text`` into the pane (bracketed, from standard input), then press Enter."""
    _run(host, "load-buffer", "-b", _BUFFER, "-", stdin=text)
    _run(host, "paste-buffer", "-p", "-d", "-b", _BUFFER, "-t", pane)
    time.sleep(ENTER_AFTER)
    _run(host, "send-keys", "-t", pane, "Enter")
