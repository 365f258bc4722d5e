"""Commands through the watcher's tmux control-mode client, instead of a tmux process each.

The watcher's control client (:mod:`orchestrator.watch.inputs`) is already attached to the
fleet's session. A command line written to its input is answered on its output between
``%begin`` and ``%end`` (``%error`` when it failed), tagged with the same number. Reading the
panes that way costs the tmux server the same work, and the watcher no fork, no exec and no
connection per call: with fifty sessions working that was most of the watcher's CPU.

Only reading commands go this way (the client is attached read-only); a command with an
argument that cannot be quoted for tmux's parser, a client that is gone or an answer that does
not come in time falls back to a tmux process (:meth:`Tmux.run`).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from typing import IO

from orchestrator.errors import TmuxError
from orchestrator.tmux.client import FIELD_SEP, Tmux

log = logging.getLogger(__name__)

Command = Sequence[str]
ANSWER_TIMEOUT = 5.0
"""Seconds to wait for an answer before giving up on the control client for good."""


def quote(arg: str) -> str | None:
    """``arg`` single-quoted for tmux's command parser, or None when it cannot be."""
    if "'" in arg or "\n" in arg or "\r" in arg:
        return None
    return f"'{arg}'"


class Blocks:
    """Cuts the answers out of the control client's stream (fed line by line by its reader)."""

    def __init__(self) -> None:
        self.answers: queue.Queue[tuple[bool, list[bytes]]] = queue.Queue()
        self.awaited = threading.Event()
        """Set while a command waits for its answer: the reader must not pause then."""
        self._lines: list[bytes] | None = None
        self._number = b""
        self._ours = False

    @property
    def open(self) -> bool:
        """Inside an answer: every line belongs to it until its end."""
        return self._lines is not None

    def feed(self, line: bytes) -> bool:
        """Take ``line`` if it belongs to an answer (True); False for a notification."""
        if self._lines is not None:
            if line.startswith((b"%end ", b"%error ")):
                fields = line.split(b" ")
                if len(fields) >= 3 and fields[2] == self._number:
                    if self._ours:
                        self.answers.put((line.startswith(b"%end "), self._lines))
                    self._lines = None
                    return True
            self._lines.append(line)
            return True
        if line.startswith(b"%begin "):
            fields = line.split(b" ")
            self._number = fields[2] if len(fields) >= 3 else b""
            # Flags 1: a command this client sent (0: the attach's own answer).
            self._ours = len(fields) >= 4 and fields[3] == b"1"
            self._lines = []
            return True
        return False


class ControlChannel:
    """Runs reading commands through a control client's input, answers from :class:`Blocks`."""

    def __init__(self, tmux: Tmux, stdin: IO[bytes] | None, blocks: Blocks) -> None:
        self.tmux = tmux
        self.stdin = stdin
        self.blocks = blocks
        self.broken = stdin is None
        self.sent = 0
        """Command lines answered through the control client (the rest spawned a tmux)."""
        self._lock = threading.Lock()

    def run(self, *commands: Command) -> list[str]:
        """Output lines of ``commands`` (a failing one gives none and does not stop the rest),
        like ``Tmux.run(..., check=False)``."""
        answered = self._through_client(commands)
        if answered is not None:
            return answered[0]
        return self.tmux.run(*commands, check=False)

    def run_one(self, command: Command) -> list[str] | None:
        """Output lines of one command; None when it failed (a session that is gone...)."""
        answered = self._through_client([command])
        if answered is not None:
            return answered[0] if answered[1] else None
        try:
            return self.tmux.run(command)
        except TmuxError:
            return None

    def query(self, scope: Sequence[str], fields: Sequence[str]) -> list[dict[str, str]] | None:
        """``Tmux.query`` through the control client; None when the command failed (the
        session it names is gone...)."""
        fmt = FIELD_SEP.join("#{" + field + "}" for field in fields)
        rows = self.run_one([*scope, "-F", fmt])
        if rows is None:
            return None
        return [dict(zip(fields, row.split(FIELD_SEP), strict=False)) for row in rows if row]

    def _through_client(self, commands: Sequence[Command]) -> tuple[list[str], bool] | None:
        """The commands' output and whether every one succeeded; None when the control client
        cannot be used."""
        lines: list[str] = []
        for command in commands:
            quoted = [quote(arg) for arg in command]
            if any(part is None for part in quoted):
                return None
            lines.append(" ".join(part for part in quoted if part is not None))
        with self._lock:
            if self.broken or self.stdin is None:
                return None
            self.blocks.awaited.set()
            try:
                return self._exchange(lines)
            finally:
                self.blocks.awaited.clear()

    def _exchange(self, lines: list[str]) -> tuple[list[str], bool] | None:
        assert self.stdin is not None
        try:
            self.stdin.write(("\n".join(lines) + "\n").encode())
            self.stdin.flush()
        except (OSError, ValueError):
            self.broken = True
            return None
        out: list[str] = []
        all_ok = True
        for _ in lines:
            try:
                ok, block = self.blocks.answers.get(timeout=ANSWER_TIMEOUT)
            except queue.Empty:
                # An answer lost or late would be taken for the next command's: never use
                # this client again.
                log.warning("no answer from the tmux control client; using tmux calls")
                self.broken = True
                return None
            all_ok = all_ok and ok
            if ok:
                out.extend(line.decode("utf-8", "replace") for line in block)
        self.sent += len(lines)
        return out, all_ok
