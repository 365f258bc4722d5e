"""One SSH connection per host, shared by every command sent there.

The user's own ssh does the work, with their config, agent and known hosts: we add
``BatchMode=yes`` (never a password prompt: a command fails instead of hanging), keep host key
checking as configured (``StrictHostKeyChecking=no`` is refused by the layout), and multiplex with
``ControlMaster`` over a control socket in our runtime folder, so after the first command each one
costs a round trip, not a handshake. The master is started detached (``-M -N -f``) with its output
in a file, because a master that ssh backgrounds on its own keeps a caller's pipes open.

Every remote command line is ``shlex.join`` of an argument list: ssh hands the remote side one
string for its shell, and quoting each argument is what keeps a folder or a name from becoming a
command there. Anything long or private (a layout, a prompt) goes on standard input.
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator import paths

CONNECT_TIMEOUT = 4
"""Seconds ssh waits for a host to answer before giving up (``ConnectTimeout``)."""
ALIVE_INTERVAL = 5
"""Seconds between keep-alive probes on an open connection; after 2 unanswered, it is dropped, so
a dead link is noticed in about 10 s rather than at TCP's pace."""
PERSIST = "10m"
"""How long an idle master connection stays open (``ControlPersist``)."""
UNREACHABLE = 255
"""ssh's exit status when it could not reach the host or the connection broke."""


class SshFailed(RuntimeError):
    """The host could not be reached, or the connection broke (ssh exit status 255)."""


def control_dir() -> Path:
    """Where the control sockets live: a private folder in the runtime folder."""
    return paths.runtime_dir() / "ssh"


@dataclass(frozen=True)
class Connection:
    """The way to one host: its SSH destination and the layout's extra ssh options."""

    host: str
    options: tuple[str, ...] = ()

    @property
    def control_path(self) -> Path:
        """The control socket: short, whatever the runtime folder's length (sockets cap ~100)."""
        digest = hashlib.sha256("\0".join((self.host, *self.options)).encode()).hexdigest()
        return control_dir() / digest[:16]

    def ssh_argv(
        self, *, terminal: bool = False, master: bool = False, extra: Sequence[str] = ()
    ) -> list[str]:
        """``ssh`` with our options (first given wins in ssh), the user's, ``extra``, the host."""
        ours = [
            "-o",
            "BatchMode=yes",
            "-o",
            f"ControlPath={self.control_path}",
            "-o",
            "ControlMaster=yes" if master else "ControlMaster=auto",
            "-o",
            f"ControlPersist={PERSIST}" if master else "ControlPersist=no",
        ]
        defaults = [
            "-o",
            f"ConnectTimeout={CONNECT_TIMEOUT}",
            "-o",
            f"ServerAliveInterval={ALIVE_INTERVAL}",
            "-o",
            "ServerAliveCountMax=2",
        ]
        mode = ["-t"] if terminal else ["-T"]
        return ["ssh", *mode, *ours, *self.options, *defaults, *extra, "--", self.host]

    def command_argv(self, argv: Sequence[str], *, terminal: bool = False) -> list[str]:
        """The local argv that runs ``argv`` on the host, each argument quoted for its shell."""
        return [*self.ssh_argv(terminal=terminal), shlex.join(argv)]

    def connected(self) -> bool:
        """Whether a master connection is open."""
        check = self.ssh_argv(extra=["-O", "check"])
        try:
            done = subprocess.run(check, capture_output=True, timeout=CONNECT_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0

    def open(self) -> None:
        """Open the master connection unless one is open; SshFailed with ssh's words if not."""
        if self.connected():
            return
        paths.ensure_private_dir(control_dir())
        argv = self.ssh_argv(master=True, extra=["-N", "-f"])
        with tempfile.TemporaryFile("w+") as errors:
            try:
                done = subprocess.run(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=errors,
                    timeout=CONNECT_TIMEOUT + 4,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise SshFailed(f"no answer from {self.host} within {CONNECT_TIMEOUT} s") from None
            if done.returncode != 0:
                errors.seek(0)
                said = " ".join(errors.read().split()) or f"ssh exit status {done.returncode}"
                raise SshFailed(said)

    def run(
        self, argv: Sequence[str], *, stdin: str | None = None, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` on the host over the shared connection; SshFailed when unreachable."""
        self.open()
        try:
            done = subprocess.run(
                self.command_argv(argv),
                input=stdin if stdin is not None else "",
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise SshFailed(f"{self.host} did not answer within {timeout:.0f} s") from None
        if done.returncode == UNREACHABLE:
            said = " ".join(done.stderr.split()) or "the connection broke"
            raise SshFailed(said)
        return done

    def close(self) -> None:
        """End the master connection, if any."""
        if self.control_path.exists():
            subprocess.run(
                self.ssh_argv(extra=["-O", "exit"]),
                capture_output=True,
                timeout=CONNECT_TIMEOUT,
                check=False,
            )
