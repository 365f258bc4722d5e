"""A fleet of shell sessions on a real tmux server, and a real tmux client attached to it through a
pseudo-terminal, as a user's terminal would be. The benchmark (``benchmarks/watch.py``) attaches
its user's terminal with :func:`attached` too."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import struct
import subprocess
import termios
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.fleet import up as fleet
from orchestrator.layout import load as layout
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import list_sessions


def shell_layout(name: str, sessions: Sequence[str], script: str) -> str:
    """The layout (TOML) of fleet ``name``: shell sessions named ``sessions``, each running
    ``sh -c script``."""
    command = json.dumps(["sh", "-c", script])
    entries = "".join(
        f"[[sessions]]\nname = {json.dumps(session)}\ncommand = {command}\n" for session in sessions
    )
    return f'name = {json.dumps(name)}\n[defaults]\nagent = "shell"\n{entries}'


def start_fleet(
    tmux: Tmux, folder: Path, name: str, text: str, services: tuple[str, ...] = ()
) -> dict[str, str]:
    """Write layout ``text`` of fleet ``name`` to ``folder`` and bring the fleet up with
    ``services``; return its sessions' pane ids by name."""
    source = folder / f"{name}.toml"
    source.write_text(text)
    fleet.up(layout.load_fleet(str(source)), tmux, services=services)
    return {p.name: p.pane_id for p in list_sessions(tmux, name)}


@dataclass(frozen=True)
class Terminal:
    """An attached client and the master end of its terminal: bytes written to ``master`` are
    keys typed into the client."""

    proc: subprocess.Popen[bytes]
    master: int


@contextlib.contextmanager
def attached(
    socket: str, target: str, size: tuple[int, int] = (200, 50), tmux: str = "tmux"
) -> Iterator[Terminal]:
    """Attach a client of ``size`` (columns, lines) to ``target`` on server ``-L socket``, with
    the ``tmux`` executable; its output is read and dropped (a terminal nobody reads fills up).
    Detached and ended on the way out."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in {"TMUX", "TMUX_PANE"}}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen(
        [tmux, "-L", socket, "attach-session", "-t", target],
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
        yield Terminal(proc, master)
    finally:
        stop(proc)
        os.close(master)
        reader.join(timeout=2)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End ``proc``: terminate, give it 3 s, then kill; wait for it either way."""
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=3)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
