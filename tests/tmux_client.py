"""A real tmux client attached through a pseudo-terminal, as a user's terminal would be."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import struct
import subprocess
import termios
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def attached(
    socket: str, target: str, size: tuple[int, int] = (200, 50)
) -> Iterator[subprocess.Popen[bytes]]:
    """Attach a client of ``size`` (columns, lines) to ``target`` on server ``-L socket``; its
    output is read and dropped. Detached and ended on the way out."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in {"TMUX", "TMUX_PANE"}}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen(
        ["tmux", "-L", socket, "attach-session", "-t", target],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)

    def drain() -> None:
        with contextlib.suppress(OSError):
            while os.read(master, 65536):
                pass

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        yield proc
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=3)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        reader.join(timeout=2)
