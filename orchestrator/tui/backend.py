"""What the dashboard needs from the world, behind one seam (no Textual here).

:class:`Backend` is the protocol the dashboard uses; :class:`TmuxBackend` is the real one. Every
method may block (tmux, git, psutil, files), so the dashboard calls them from worker threads only.

States come from the watcher's ``state.json`` (pushed: ``wait_for_change`` sleeps on inotify
through watchfiles) merged with one ``list-panes`` call, which also says which panes the user's
tmux clients show. Without a watcher the states tmux alone can tell are shown
(:func:`orchestrator.fleet.describe_state`) with CPU and memory from one psutil pass.

"Seen" is tracked here: a session counts as looked at while its pane is the active pane of an
attached client's current window, or while the dashboard previews it. A session that went idle
or exited after the user last looked at it is "finished, not yet looked at".
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import watchfiles

from orchestrator import paths
from orchestrator.agents.catalog import PROFILES
from orchestrator.detect.model import State
from orchestrator.detect.process import ProcessTable
from orchestrator.errors import NotFoundError
from orchestrator.fleet import jump as jump_mod
from orchestrator.fleet import published, restart
from orchestrator.fleet import worktrees as session_worktrees
from orchestrator.runtime import fleet_dir
from orchestrator.tmux.client import FIELD_SEP, Tmux, TmuxCommand
from orchestrator.tmux.panes import PANE_FIELDS, PaneInfo, list_sessions
from orchestrator.watch.model import SessionIdentity

PROCESS_EVERY = 3.0
"""Seconds between psutil passes when no watcher publishes CPU and memory."""
BRANCH_TTL = 10.0
"""Seconds a session's git branch is cached."""
_CLIENT_MARK = "@@orc-client@@ "


@dataclass(frozen=True)
class SessionRow(SessionIdentity):
    """One session as the dashboard shows it."""

    state: str
    """One of :class:`orchestrator.detect.model.State`'s values."""
    since: float | None
    """When the session entered its state (epoch seconds)."""
    reason: str
    """Why: the command awaiting permission, the question asked, the exit status."""
    source: str = ""
    """The signal that decided the state (hook, screen, process...)."""
    branch: str = ""
    """The git branch of the session's folder, empty when it is not in a repository."""
    cpu: float = 0.0
    """Percent of one core used by the agent's process tree."""
    rss: int = 0
    """Resident memory of the agent's process tree, bytes."""
    seen_at: float | None = None
    """When the user last looked at the session (None: not since the dashboard started)."""

    @property
    def unseen(self) -> bool:
        """Finished (idle or exited) since the user last looked at it."""
        if self.state not in {State.IDLE.value, State.EXITED.value} or self.since is None:
            return False
        return self.seen_at is None or self.seen_at < self.since


class Backend(Protocol):
    """What the dashboard asks of the world. Every method may block: call it from a worker."""

    fleet: str

    def snapshot(self) -> list[SessionRow]:
        """Every session of the fleet, in pane order."""
        ...

    def wait_for_change(self, timeout: float) -> None:
        """Return when the states may have changed, or after ``timeout`` seconds."""
        ...

    def preview(self, name: str) -> str:
        """The visible screen of the session's pane, with its colours as ANSI escapes."""
        ...

    def mark_seen(self, name: str) -> None:
        """Note that the user is looking at the session (e.g. in the preview)."""
        ...

    def jump(self, name: str) -> list[str] | None:
        """Show the session's pane; return the command to run attached when outside tmux."""
        ...

    def send_prompt(self, names: Sequence[str], text: str) -> None:
        """Type ``text`` into each session and press Enter."""
        ...

    def interrupt(self, names: Sequence[str]) -> None:
        """Press Esc in each session (the agents' interrupt)."""
        ...

    def restart(self, name: str) -> None:
        """Start an exited session's agent again, as its layout says."""
        ...

    def end(self, name: str) -> None:
        """End the session: its pane is killed."""
        ...


BranchLookup = Callable[[PaneInfo], str]
"""A session's pane -> what to show in its branch column."""


def branch_text(pane: PaneInfo) -> str:
    """A worktree session's progress against its base ("orc/dev-1: 2 ahead, 0 behind main,
    3 changed"), else the branch checked out in the session's folder."""
    found = session_worktrees.summary(pane)
    if found is not None:
        return found.text
    return git_branch(pane.cwd)


def git_branch(cwd: str) -> str:
    """The branch checked out in ``cwd`` ("" outside a repository)."""
    if not cwd:
        return ""
    try:
        proc = subprocess.run(
            ["git", "-C", cwd, "rev-parse", "--abbrev-ref", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


ENTER_DELAY = 0.2
"""Seconds between typing a prompt and pressing Enter."""


def prompt_commands(
    pane_ids: Sequence[str], text: str
) -> tuple[list[TmuxCommand], list[TmuxCommand]]:
    """The commands that type ``text`` literally into each pane, and those that press Enter."""
    typed: list[TmuxCommand] = [["send-keys", "-t", p, "-l", "--", text] for p in pane_ids]
    enter: list[TmuxCommand] = [["send-keys", "-t", p, "Enter"] for p in pane_ids]
    return typed, enter


class TmuxBackend:
    """The real backend: one fleet on one tmux server."""

    def __init__(
        self,
        tmux: Tmux,
        fleet: str,
        *,
        runtime: Path | None = None,
        branch_of: BranchLookup = branch_text,
    ) -> None:
        self.tmux = tmux
        self.fleet = fleet
        self.folder = paths.ensure_private_dir(fleet_dir(fleet, runtime))
        self.branch_of = branch_of
        self.seen: dict[str, float] = {}
        self.processes = ProcessTable()
        self._last_process = 0.0
        self._branches: dict[str, tuple[float, str]] = {}
        self._stop = threading.Event()
        self._changes: Iterator[set[tuple[watchfiles.Change, str]]] | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Stop waiting for changes."""
        self._stop.set()

    # -- states ----------------------------------------------------------------------------

    def _list(self) -> tuple[list[PaneInfo], set[str]]:
        fmt = FIELD_SEP.join("#{" + f + "}" for f in PANE_FIELDS)
        client_fmt = _CLIENT_MARK + "#{pane_id}"
        lines = self.tmux.run(
            ["list-panes", "-s", "-t", f"={self.fleet}:", "-F", fmt],
            ["list-clients", "-F", client_fmt],
            check=False,
        )
        panes, viewed = [], set()
        for line in lines:
            if line.startswith(_CLIENT_MARK):
                viewed.add(line[len(_CLIENT_MARK) :].strip())
            elif line:
                row = dict(zip(PANE_FIELDS, line.split(FIELD_SEP), strict=False))
                pane = PaneInfo.from_row(row)
                if pane.kind == "agent" and pane.fleet == self.fleet:
                    panes.append(pane)
        return panes, viewed

    def _published(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads((self.folder / "state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        sessions = data.get("sessions") if isinstance(data, dict) else None
        if not isinstance(sessions, list):
            return {}
        return {str(s.get("name")): s for s in sessions if isinstance(s, dict)}

    def _branch(self, pane: PaneInfo, now: float) -> str:
        cached = self._branches.get(pane.name)
        if cached is None or now - cached[0] > BRANCH_TTL:
            cached = (now, self.branch_of(pane))
            self._branches[pane.name] = cached
        return cached[1]

    def snapshot(self) -> list[SessionRow]:
        """Every session of the fleet, in pane order (one tmux call, one file read)."""
        panes, viewed = self._list()
        published = self._published()
        now = time.time()
        if not published and now - self._last_process >= PROCESS_EVERY:
            self.processes.refresh(pane.pane_pid for pane in panes if pane.pane_pid)
            self._last_process = now
        rows = []
        with self._lock:
            for pane in panes:
                if pane.pane_id in viewed:
                    self.seen[pane.name] = now
                rows.append(self._row(pane, published.get(pane.name), now))
        return rows

    def _row(self, pane: PaneInfo, pub: dict[str, object] | None, now: float) -> SessionRow:
        state, reason = published.describe_state(pane)
        since, source, cpu, rss = pane.since or pane.started, pane.source, 0.0, 0
        if pub is not None and not pane.dead and pub.get("pane_id") == pane.pane_id:
            state, reason = str(pub.get("state", state)), str(pub.get("reason", reason))
            since = _num(pub.get("since")) or since
            source = str(pub.get("source", source))
            cpu, rss = _num(pub.get("cpu")) or 0.0, int(_num(pub.get("rss")) or 0)
        elif pane.pane_pid and not pane.dead:
            profile = PROFILES.get(pane.agent)
            tree = self.processes.tree(pane.pane_pid, profile.process_names if profile else ())
            cpu, rss = tree.cpu, tree.rss
        return SessionRow(
            fleet=pane.fleet,
            name=pane.name,
            role=pane.role,
            agent=pane.agent,
            pane_id=pane.pane_id,
            cwd=pane.cwd,
            state=state,
            since=since,
            reason=reason,
            source=source,
            branch=self._branch(pane, now),
            cpu=cpu,
            rss=rss,
            seen_at=self.seen.get(pane.name),
        )

    def wait_for_change(self, timeout: float) -> None:
        """Sleep on the fleet folder (inotify) until the watcher writes, at most ``timeout``."""
        if self._changes is None:
            self._changes = watchfiles.watch(
                self.folder,
                debounce=50,
                step=20,
                stop_event=self._stop,
                rust_timeout=max(1, int(timeout * 1000)),
                yield_on_timeout=True,
                watch_filter=lambda _, path: path.endswith("state.json"),
            )
        try:
            next(self._changes)
        except StopIteration:
            self._changes = None
            self._stop.wait(timeout)
        except Exception:  # the folder vanished (fleet ended): fall back to a plain wait
            self._changes = None
            self._stop.wait(timeout)

    def mark_seen(self, name: str) -> None:
        """Note that the user is looking at the session."""
        with self._lock:
            self.seen[name] = time.time()

    # -- actions ---------------------------------------------------------------------------

    def _pane(self, name: str) -> PaneInfo:
        return jump_mod.find_pane(self.tmux, self.fleet, name)

    def preview(self, name: str) -> str:
        """The pane's visible screen with colours (``capture-pane -e -p``)."""
        try:
            pane = self._pane(name)
        except NotFoundError:
            return ""
        lines = self.tmux.run(["capture-pane", "-e", "-p", "-t", pane.pane_id], check=False)
        return "\n".join(lines)

    def jump(self, name: str) -> list[str] | None:
        """Show the session's pane; see :func:`orchestrator.jump.jump_to_pane`."""
        self.mark_seen(name)
        return jump_mod.jump_to_pane(self.tmux, self._pane(name).pane_id)

    def _panes(self, names: Sequence[str]) -> list[str]:
        by_name = {p.name: p.pane_id for p in list_sessions(self.tmux, self.fleet)}
        return [by_name[name] for name in names if name in by_name]

    def send_prompt(self, names: Sequence[str], text: str) -> None:
        """Record the prompt in the history, type it into every named session, then press Enter
        (a moment later: Claude Code takes a fast paste and its Enter as one paste)."""
        from orchestrator.store import history

        panes = self._panes(names)
        for name in names:
            history.record_prompt(self.fleet, name, text, source="dashboard")
        typed, enter = prompt_commands(panes, text)
        if typed:
            self.tmux.run(*typed)
            time.sleep(ENTER_DELAY)
            self.tmux.run(*enter)

    def interrupt(self, names: Sequence[str]) -> None:
        """Press Esc in every named session."""
        commands: list[TmuxCommand] = [
            ["send-keys", "-t", pane_id, "Escape"] for pane_id in self._panes(names)
        ]
        if commands:
            self.tmux.run(*commands)

    def restart(self, name: str) -> None:
        """Start an exited session again from the fleet's layout, continuing a Claude session's
        last conversation (``--resume``)."""
        from orchestrator.store import history

        restart.restart_session(self.tmux, self.fleet, name, history.resume_id(self.fleet, name))

    def end(self, name: str) -> None:
        """Kill the session's pane."""
        self.tmux.run(["kill-pane", "-t", self._pane(name).pane_id])


def _num(value: object) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    with contextlib.suppress(TypeError, ValueError):
        return float(str(value))
    return None
