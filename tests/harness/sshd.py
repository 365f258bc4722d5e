"""A real OpenSSH server on 127.0.0.1, for the remote-host tests.

``/usr/sbin/sshd`` (Debian's ``openssh-server``, installed by ``tests/setup.sh``) runs in the
foreground with a config of its own on a free port: a throwaway host key, a throwaway user key
for the current user, and a client config (``-F``) naming the alias ``loopback`` with its own
``known_hosts`` holding that host key. Nothing reads or writes the real ``~/.ssh``.

The "remote" side is this machine seen through the key's forced command: a wrapper that gives
every ssh session its own HOME, XDG and runtime folders and tmux socket folder (``TMUX_TMPDIR``),
and a PATH whose first entry is read from a file (``path_file``), so a test can take this clone's
``orchestrator`` away from the remote PATH. Commands arrive as ``$SSH_ORIGINAL_COMMAND`` and run
with ``sh -c``, as a login shell would run them.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

SSHD = Path("/usr/sbin/sshd")
ALIAS = "loopback"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LoopbackSshd:
    """An sshd on 127.0.0.1 and the files to reach it; ``start``/``stop`` it at will."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.remote_home = folder / "remote-home"
        self.path_file = folder / "remote-path"
        self.client_config = folder / "ssh_config"
        self.process: subprocess.Popen[bytes] | None = None
        self._make_files()

    @property
    def ssh_options(self) -> list[str]:
        """The extra ssh options a layout gives ``[hosts.loopback]``."""
        return ["-F", str(self.client_config)]

    def _make_files(self) -> None:
        folder = self.folder
        for name in ("host_key", "user_key"):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)],
                check=True,
            )
        self.remote_home.mkdir()
        (self.remote_home / "tmux").mkdir(mode=0o700)
        bin_dir = Path(sys.executable).parent
        self.path_file.write_text(str(bin_dir))
        wrapper = folder / "remote-env.sh"
        home = self.remote_home
        wrapper.write_text(
            "#!/bin/sh\n"
            f"export HOME='{home}' LANG=C.UTF-8 TMUX_TMPDIR='{home}/tmux'\n"
            f"export XDG_CONFIG_HOME='{home}/.config' XDG_STATE_HOME='{home}/.local/state'\n"
            f"export XDG_DATA_HOME='{home}/.local/share' ORCHESTRATOR_RUNTIME_DIR='{home}/run'\n"
            f"export PATH=\"$(cat '{self.path_file}'):/usr/local/bin:/usr/bin:/bin\"\n"
            "unset TMUX TMUX_PANE XDG_RUNTIME_DIR ORCHESTRATOR_DB ORCHESTRATOR_SOCKET\n"
            'cd "$HOME" || exit 1\n'
            'if [ -n "$SSH_ORIGINAL_COMMAND" ]; then exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"; fi\n'
            "exec /bin/sh -i\n"
        )
        wrapper.chmod(0o755)
        key = (folder / "user_key.pub").read_text().strip()
        (folder / "authorized_keys").write_text(
            f'command="{wrapper}",no-port-forwarding,no-agent-forwarding,no-X11-forwarding {key}\n'
        )
        (folder / "sshd_config").write_text(
            f"Port {self.port}\n"
            "ListenAddress 127.0.0.1\n"
            f"HostKey {folder / 'host_key'}\n"
            f"PidFile {folder / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {folder / 'authorized_keys'}\n"
            "UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\n"
            f"AllowUsers {self.user}\n"
            "X11Forwarding no\nAllowTcpForwarding no\nMaxSessions 50\nMaxStartups 50\n"
            "LogLevel ERROR\n"
        )
        host_key = (folder / "host_key.pub").read_text().split()
        (folder / "known_hosts").write_text(
            f"[127.0.0.1]:{self.port} {host_key[0]} {host_key[1]}\n"
        )
        self.client_config.write_text(
            f"Host {ALIAS}\n"
            "  HostName 127.0.0.1\n"
            f"  Port {self.port}\n"
            f"  User {self.user}\n"
            f"  IdentityFile {folder / 'user_key'}\n"
            "  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {folder / 'known_hosts'}\n"
            "  GlobalKnownHostsFile /dev/null\n"
            "  IdentityAgent none\n"
        )

    def start(self) -> None:
        """Start sshd and wait until it greets on its port."""
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation folder sshd insists on
        self.process = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(self.folder / "sshd_config")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(self.folder / "sshd.log").open("ab"),
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    if conn.recv(64).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd did not start: {(self.folder / 'sshd.log').read_text()}")

    def stop(self) -> None:
        """Stop sshd and drop every connection it serves (a tmux server started over one lives
        on: it is a daemon of its own, as on a real host)."""
        if self.process is None:
            return
        for child in psutil.Process(self.process.pid).children():
            child.terminate()
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None

    def remote_tmux(self, socket_name: str, *argv: str) -> subprocess.CompletedProcess[str]:
        """Run tmux as the remote side sees it (its TMUX_TMPDIR), on ``socket_name``."""
        env = {**os.environ, "TMUX_TMPDIR": str(self.remote_home / "tmux")}
        env.pop("TMUX", None)
        return subprocess.run(
            [shutil.which("tmux") or "tmux", "-L", socket_name, *argv],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
