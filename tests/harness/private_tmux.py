"""A minimal tmux driver on a private socket, for the screen recorder.

Tests use libtmux's ``server`` fixture instead; this exists so the recorder runs as a plain script.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path


class PrivateTmux:
    """A tmux server on its own ``-L`` socket, killed on exit; never the user's server."""

    def __init__(self, socket_name: str | None = None) -> None:
        self.socket_name = socket_name or f"orc-harness-{uuid.uuid4().hex[:10]}"
        self._env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}

    def run(self, *args: str, check: bool = True) -> str:
        """Run one tmux command on this socket and return its stdout."""
        done = subprocess.run(
            ["tmux", "-L", self.socket_name, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            check=False,
            env=self._env,
            timeout=30,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def new_session(self, name: str, command: str, width: int, height: int) -> str:
        """Start a detached session running ``command``; return its pane id (``%N``)."""
        pane_id = self.run(
            "new-session", "-d", "-P", "-F", "#{pane_id}",
            "-s", name, "-x", str(width), "-y", str(height), command,
        ).strip()  # fmt: skip
        self.run("set-option", "-t", name, "remain-on-exit", "on")
        self.run("set-option", "-g", "focus-events", "on")
        self.run("set-option", "-t", name, "window-size", "manual")
        return pane_id

    def capture(self, pane: str, escapes: bool = False) -> str:
        """The visible screen of ``pane`` (``-e`` keeps colour escapes)."""
        args = ["capture-pane", "-p", "-t", pane]
        if escapes:
            args.insert(2, "-e")
        return self.run(*args)

    def send_text(self, pane: str, text: str) -> None:
        """Type ``text`` literally (no key names)."""
        self.run("send-keys", "-t", pane, "-l", text)

    def send_key(self, pane: str, key: str) -> None:
        """Press one named key (``Enter``, ``Escape``, ``Down``...)."""
        self.run("send-keys", "-t", pane, key)

    def pane_format(self, pane: str, fmt: str) -> str:
        """Expand a tmux format for ``pane``, e.g. ``#{pane_dead_status}``."""
        return self.run("display-message", "-p", "-t", pane, fmt).strip()

    def kill_server(self) -> None:
        """Stop this socket's server (no error when it is already gone) and remove its socket.

        tmux 3.3a leaves the socket file behind after ``kill-server``.
        """
        self.run("kill-server", check=False)
        tmpdir = Path(self._env.get("TMUX_TMPDIR") or "/tmp")
        (tmpdir / f"tmux-{os.getuid()}" / self.socket_name).unlink(missing_ok=True)

    def __enter__(self) -> PrivateTmux:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.kill_server()
