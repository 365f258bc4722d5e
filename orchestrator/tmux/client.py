"""The one place that talks to tmux.

Every tmux command is an argument list (never a shell string with user data in it). Several
commands can be chained into one tmux client call (``cmd1 ; cmd2``), which costs one process
start instead of one per command: at 50 sessions that is the difference between 11 ms and 170 ms.
The server is reached through libtmux, which also gives tests their private servers.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.errors import TmuxError

if TYPE_CHECKING:
    import libtmux

MIN_VERSION = (3, 2)
FIELD_SEP = "\x1f"
TAG_PREFIX = "@orc_"

TmuxCommand = Sequence[str]


def escape_arg(arg: str) -> str:
    """Protect an argument from tmux's command parser.

    tmux treats an argument that ends in ``;`` as the end of a command, so ``sh -c 'a;'`` would be
    cut in two; a backslash before the final ``;`` keeps it literal.
    """
    if arg.endswith(";"):
        return arg[:-1] + "\\;"
    return arg


def escape_format(text: str) -> str:
    """Escape ``#`` for arguments that tmux expands as formats (titles, start folders)."""
    return text.replace("#", "##")


def chain(commands: Iterable[TmuxCommand]) -> list[str]:
    """Join several tmux commands into the argument list of one tmux call."""
    args: list[str] = []
    for command in commands:
        if args:
            args.append(";")
        args.extend(escape_arg(part) for part in command)
    return args


@dataclass(frozen=True)
class TmuxVersion:
    """A parsed ``tmux -V``."""

    major: int
    minor: int
    text: str

    @property
    def ok(self) -> bool:
        """Whether this tmux is new enough for the tool."""
        return (self.major, self.minor) >= MIN_VERSION


def tmux_version(binary: str = "tmux") -> TmuxVersion:
    """Find tmux and check its version; raise :class:`TmuxError` with the fix when unusable."""
    path = shutil.which(binary)
    if path is None:
        raise TmuxError(
            "tmux was not found on PATH",
            hint="install tmux 3.2 or newer (apt install tmux, or brew install tmux)",
        )
    try:
        out = subprocess.run(
            [path, "-V"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise TmuxError(f"{path} -V failed: {exc}", hint="reinstall tmux 3.2 or newer") from None
    match = re.search(r"(\d+)\.(\d+)", out)
    if match is None:
        # Development builds say e.g. "tmux next-3.6"; anything unparsable is assumed recent.
        return TmuxVersion(99, 0, out)
    version = TmuxVersion(int(match.group(1)), int(match.group(2)), out)
    if not version.ok:
        raise TmuxError(
            f"{out} is too old: orchestrator needs tmux 3.2 or newer",
            hint="upgrade tmux (Debian/Ubuntu: apt install tmux; macOS: brew upgrade tmux)",
        )
    return version


class Tmux:
    """A tmux server, picked by socket name (``-L``) or socket path (``-S``)."""

    def __init__(self, socket_name: str | None = None, socket_path: str | None = None) -> None:
        self.socket_name = socket_name
        self.socket_path = socket_path
        self._server: libtmux.Server | None = None

    @property
    def server(self) -> libtmux.Server:
        """The libtmux view of this server (imported on first use: commands that only read
        tmux run faster without it)."""
        if self._server is None:
            import libtmux

            self._server = libtmux.Server(
                socket_name=self.socket_name, socket_path=self.socket_path
            )
        return self._server

    @classmethod
    def of_environment(cls) -> Tmux | None:
        """The server this process runs inside (``$TMUX``), as tmux itself picks it when given
        no ``-L`` or ``-S``; None outside tmux.

        Also set for ``run-shell`` commands, e.g. a key binding running ``orchestrator``.
        """
        path = os.environ.get("TMUX", "").split(",")[0]
        if not path:
            return None
        if same_file(Path(path).parent, default_socket_dir()):
            name = Path(path).name
            return cls(socket_name=None if name == "default" else name)
        return cls(socket_path=path)

    def socket_file(self) -> Path:
        """The server's socket, worked out as tmux does (no tmux call)."""
        if self.socket_path:
            return Path(self.socket_path)
        return default_socket_dir() / (self.socket_name or "default")

    def holds_this_process(self) -> bool:
        """Whether this process runs inside a pane (or a ``run-shell``) of this server."""
        here = Tmux.of_environment()
        return here is not None and same_file(here.socket_file(), self.socket_file())

    @classmethod
    def from_server(cls, server: libtmux.Server) -> Tmux:
        """Wrap an existing libtmux server (tests get theirs from libtmux's pytest plugin)."""
        path = server.socket_path
        return cls(socket_name=server.socket_name, socket_path=str(path) if path else None)

    def base_args(self) -> list[str]:
        """``tmux`` plus the socket options, for building a command line."""
        args = ["tmux"]
        if self.socket_name:
            args += ["-L", self.socket_name]
        if self.socket_path:
            args += ["-S", str(self.socket_path)]
        return args

    def run(self, *commands: TmuxCommand, check: bool = True) -> list[str]:
        """Run one or more tmux commands in as few tmux calls as fit; return stdout lines.

        A tmux client refuses a command line longer than its message size (16 KiB: "command too
        long"), so a long chain (a big fleet's ``up``, many captures) is cut into batches run in
        order; with ``check`` a failing batch stops the rest.
        """
        lines: list[str] = []
        for batch in _batches(commands):
            lines += self._run_once(batch, check=check)
        return lines

    def _run_once(self, commands: Sequence[TmuxCommand], check: bool) -> list[str]:
        args = self.base_args() + chain(commands)
        env = {k: v for k, v in os.environ.items() if k not in {"TMUX", "TMUX_PANE"}}
        try:
            proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=30)
        except FileNotFoundError:
            tmux_version()  # raises the helpful message
            raise
        if check and proc.returncode != 0:
            message = proc.stderr.strip() or f"exit status {proc.returncode}"
            raise TmuxError(f"tmux {commands[0][0] if commands else ''} failed: {message}")
        # Not splitlines(): it also splits on \x1c-\x1e, which we use as separators.
        lines = proc.stdout.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return lines

    def is_running(self) -> bool:
        """Whether a server answers on this socket."""
        args = [*self.base_args(), "list-sessions", "-F", "#{session_id}"]
        env = {k: v for k, v in os.environ.items() if k not in {"TMUX", "TMUX_PANE"}}
        try:
            proc = subprocess.run(args, capture_output=True, env=env, timeout=30, check=False)
        except FileNotFoundError:
            return False
        return proc.returncode == 0

    def has_session(self, name: str) -> bool:
        """Whether a tmux session of exactly this name exists (one tmux call: with no server
        running, ``list-sessions`` fails and prints nothing)."""
        return name in self.run(["list-sessions", "-F", "#{session_name}"], check=False)

    def query(self, scope: Sequence[str], fields: Sequence[str]) -> list[dict[str, str]]:
        """List tmux objects (``list-panes -a`` etc.) as dicts of the requested format fields,
        in one tmux call (none when no server runs: the command fails and prints nothing)."""
        fmt = FIELD_SEP.join("#{" + field + "}" for field in fields)
        rows = self.run([*scope, "-F", fmt], check=False)
        return [dict(zip(fields, row.split(FIELD_SEP), strict=False)) for row in rows if row]


def default_socket_dir() -> Path:
    """The folder of tmux's named sockets: ``$TMUX_TMPDIR/tmux-UID`` (``/tmp`` by default)."""
    return Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.geteuid()}"


def same_file(one: Path, other: Path) -> bool:
    """Whether two paths name the same file (symbolic links resolved)."""
    return os.path.realpath(one) == os.path.realpath(other)


MAX_CHAIN = 12000
"""Bytes of arguments per tmux call, safely under tmux's 16 KiB client message limit."""


def _batches(commands: Sequence[TmuxCommand]) -> list[list[TmuxCommand]]:
    """Split a chain of commands into batches whose arguments fit in one tmux call."""
    batches: list[list[TmuxCommand]] = [[]]
    size = 0
    for command in commands:
        cost = sum(len(part.encode()) + 2 for part in command) + 2
        if batches[-1] and size + cost > MAX_CHAIN:
            batches.append([])
            size = 0
        batches[-1].append(command)
        size += cost
    return batches


def tag(name: str) -> str:
    """The tmux user option name for one of our tags."""
    return TAG_PREFIX + name


def respawning(tmux: Tmux, pane_id: str, *commands: TmuxCommand) -> list[TmuxCommand]:
    """``commands`` (a ``respawn-pane`` of ``pane_id`` and what goes with it) with each
    control-mode client's output of the pane turned off before and on again after, in one call.

    tmux (3.3a to 3.6a at least, tmux/tmux#5499) keeps a control client's read offset into a
    pane's output across ``respawn-pane``; when the client (the watcher's) has not read all of
    it yet, the server reads past the new process's output and dies with every session. Turning
    the pane's output off for the client sets its offset aside, and on again resets it to the
    new process's (``refresh-client -A``)."""
    rows = tmux.run(["list-clients", "-F", "#{client_control_mode} #{client_name}"], check=False)
    names = [row.split(" ", 1)[1] for row in rows if row.startswith("1 ")]
    off = [["refresh-client", "-t", name, "-A", f"{pane_id}:off"] for name in names]
    on = [["refresh-client", "-t", name, "-A", f"{pane_id}:on"] for name in names]
    return [*off, *commands, *on]
