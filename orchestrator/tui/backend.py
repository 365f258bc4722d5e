"""What the dashboard needs from the world, behind one seam (no Textual here).

:class:`Backend` is the protocol the dashboard uses; :class:`TmuxBackend` is the real one. Every
method may block (tmux, git, psutil, files), so the dashboard calls them from worker threads only.

States come from the watcher's ``state.json`` (pushed: ``wait_for_change`` sleeps on inotify,
:mod:`orchestrator.tui.changes`) merged with one ``list-panes`` call, which also says which
panes the user's tmux clients show. Without a watcher the states tmux alone can tell are shown
(:func:`orchestrator.fleet.describe_state`) with CPU and memory from one psutil pass.

The same call says whether anyone sees the dashboard: an attached client (control-mode clients,
such as the watcher's, do not count) whose current window is the dashboard's. :meth:`visible`
asks only that, so a dashboard nobody looks at can check cheaply, and a hidden dashboard's
snapshots leave the branch column as it was (see :mod:`orchestrator.tui.branches`).

"Seen" is tracked here: a session counts as looked at while its pane is on screen (any pane of
an attached client's current window; only the active one while the window is zoomed), or while
the dashboard previews it. A session whose turn ended (working or awaiting input, then idle or
exited) after the user last looked at it is "finished, not yet looked at"; one that never ran a
turn is plain idle (see :mod:`orchestrator.watch.turns`). Looks at finished sessions are kept in
``seen.json`` (:mod:`orchestrator.watch.checkin`), which check-ins read, a dashboard started again
reads back, and the watcher adds to when a turn ends on screen
(:mod:`orchestrator.subscribers.looks`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from orchestrator import paths
from orchestrator.agents.catalog import profile_of
from orchestrator.detect.process import ProcessTable
from orchestrator.errors import NotFoundError
from orchestrator.fleet import jump as jump_mod
from orchestrator.fleet import published, restart
from orchestrator.remote import actions as remote_actions
from orchestrator.remote import commands as remote_commands
from orchestrator.remote import view as remote_view
from orchestrator.remote.poll import RemotePoller
from orchestrator.runtime import fleet_dir
from orchestrator.tmux.client import FIELD_SEP, Tmux, TmuxCommand
from orchestrator.tmux.panes import PANE_FIELDS, PaneInfo, list_sessions
from orchestrator.tui.branches import BranchCache
from orchestrator.tui.changes import StateWrites
from orchestrator.tui.notes import Notes, NotesReader
from orchestrator.watch import checkin
from orchestrator.watch.model import SessionIdentity
from orchestrator.watch.turns import DONE, Turns

if TYPE_CHECKING:
    from orchestrator.fleet.adhoc import NewSession

PROCESS_EVERY = 3.0
"""Seconds between psutil passes when no watcher publishes CPU and memory."""
LIST_EVERY = 2.0
"""Seconds a tmux listing is reused by snapshots taken because the watcher published: its
``state.json`` has the states; tmux adds who looks at which pane, and panes it has not seen."""
VISIBLE_FRESH = 2.0
"""Seconds an answer to "does anyone see the dashboard?" is reused before tmux is asked again."""
_CLIENT_MARK = "@@orc-client@@ "
_SELF_MARK = "@@orc-self@@ "
# A control-mode client (the watcher's) is attached but shows nobody anything.
_CLIENT_FMT = "#{?client_control_mode,," + _CLIENT_MARK + jump_mod.SHOWN_PANES + "}"


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
    turn_ended: float | None = None
    """When the session's latest turn ended (working or awaiting input, then idle or exited);
    None when it has not run one (a fresh session) or it is in a turn now."""
    waiting_for: tuple[str, ...] = ()
    """What its prompt still waits for in a pipeline: ``after`` sessions, ``needs`` files."""

    @property
    def unseen(self) -> bool:
        """A turn ended (the session is idle or exited) since the user last looked at it."""
        if self.state not in DONE or self.turn_ended is None:
            return False
        return self.seen_at is None or self.seen_at < self.turn_ended


class Backend(Protocol):
    """What the dashboard asks of the world. Every method may block: call it from a worker."""

    fleet: str

    def snapshot(self) -> list[SessionRow]:
        """Every session of the fleet, in pane order."""
        ...

    def visible(self) -> bool:
        """Whether someone can see the dashboard now (cheap: the dashboard asks it often)."""
        ...

    def wait_for_change(self, timeout: float) -> None:
        """Return when the states may have changed, or after ``timeout`` seconds."""
        ...

    def notes(self) -> Notes:
        """The session count against the cap, and the latest check-in (cheap)."""
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
        """Press each session's interrupt key (Esc; Ctrl-C for aider)."""
        ...

    def restart(self, name: str) -> None:
        """Start an exited session's agent again, as its layout says."""
        ...

    def end(self, name: str) -> None:
        """End the session: its pane is killed."""
        ...

    def add_session(self, wanted: NewSession) -> None:
        """Add a session to the running fleet (``orchestrator new``)."""
        ...


class TmuxBackend:
    """The real backend: one fleet on one tmux server."""

    def __init__(
        self,
        tmux: Tmux,
        fleet: str,
        *,
        runtime: Path | None = None,
        branches: BranchCache | None = None,
        own_pane: str | None = None,
    ) -> None:
        self.tmux = tmux
        self.fleet = fleet
        self.folder = paths.ensure_private_dir(fleet_dir(fleet, runtime))
        self.branches = branches or BranchCache()
        self.own_pane = own_pane
        """The pane the dashboard runs in; None when it does not run in this server's tmux
        (then it is always on screen)."""
        self.seen: dict[str, float] = {}
        self._shared: dict[str, float] = {}
        """Per session, the look last written to ``seen.json``."""
        self.processes = ProcessTable()
        self._last_process = 0.0
        self._branch_texts: dict[str, str] = {}
        self._shown = True
        self._shown_at = -VISIBLE_FRESH
        self._pane_ids: dict[str, str] = {}
        self.turns = Turns(self.folder / "transitions.jsonl")
        self._notes = NotesReader(tmux, fleet, self.folder)
        self._listed: tuple[float, list[PaneInfo]] | None = None
        self._writes = StateWrites(self.folder)
        self._lock = threading.Lock()
        self.remote = RemotePoller(fleet)
        """The sessions on other hosts, asked for behind (``folder`` shows ``host:cwd``)."""

    def close(self) -> None:
        """Stop waiting for changes."""
        self._writes.close()
        self.remote.close()

    # -- states ----------------------------------------------------------------------------

    def _clients(self) -> list[TmuxCommand]:
        commands: list[TmuxCommand] = [["list-clients", "-F", _CLIENT_FMT]]
        if self.own_pane:
            fmt = _SELF_MARK + "#{window_id}"
            commands.insert(0, ["display-message", "-p", "-t", self.own_pane, fmt])
        return commands

    def _learn_clients(self, lines: list[str]) -> set[str]:
        """Note whether a client shows the dashboard's window; return the panes on screen."""
        own_window, windows, viewed = None, set(), set()
        for line in lines:
            if line.startswith(_SELF_MARK):
                own_window = line[len(_SELF_MARK) :].strip()
            elif line.startswith(_CLIENT_MARK):
                window, *shown = line[len(_CLIENT_MARK) :].split()
                windows.add(window)
                viewed.update(shown)
        self._shown = not self.own_pane or own_window in windows
        self._shown_at = time.monotonic()
        return viewed

    def visible(self) -> bool:
        """Whether an attached client's current window is the dashboard's (always, when the
        dashboard runs outside this server's tmux). One small tmux call, at most once a
        :data:`VISIBLE_FRESH`; a snapshot answers it too."""
        if not self.own_pane:
            return True
        if time.monotonic() - self._shown_at >= VISIBLE_FRESH:
            self._learn_clients(self.tmux.run(*self._clients(), check=False))
        return self._shown

    def _list(self) -> tuple[list[PaneInfo], set[str]]:
        fmt = FIELD_SEP.join("#{" + f + "}" for f in PANE_FIELDS)
        lines = self.tmux.run(
            ["list-panes", "-s", "-t", f"={self.fleet}:", "-F", fmt], *self._clients(), check=False
        )
        panes = []
        for line in lines:
            if line and not line.startswith((_CLIENT_MARK, _SELF_MARK)):
                row = dict(zip(PANE_FIELDS, line.split(FIELD_SEP), strict=False))
                pane = PaneInfo.from_row(row)
                if pane.kind == "agent" and pane.fleet == self.fleet:
                    panes.append(pane)
        return panes, self._learn_clients(lines)

    def _published(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads((self.folder / "state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        sessions = data.get("sessions") if isinstance(data, dict) else None
        if not isinstance(sessions, list):
            return {}
        return {str(s.get("name")): s for s in sessions if isinstance(s, dict)}

    def _branch(self, pane: PaneInfo, epoch: object, fresh: bool) -> str:
        if fresh or pane.name not in self._branch_texts:
            self._branch_texts[pane.name] = self.branches.text(pane, epoch)
        return self._branch_texts[pane.name]

    def snapshot(self) -> list[SessionRow]:
        """Every session of the fleet, in pane order (one tmux call, at most every
        :data:`LIST_EVERY` while the watcher publishes; two small file reads). While nobody sees the
        dashboard the branch column is left as it was."""
        published = self._published()
        if (
            published
            and self._listed is not None
            and time.monotonic() - self._listed[0] < LIST_EVERY
        ):
            panes, viewed = self._listed[1], set[str]()
        else:
            panes, viewed = self._list()
            self._listed = (time.monotonic(), panes)
        if published:
            self.turns.read_log()
        now = time.time()
        if not published and now - self._last_process >= PROCESS_EVERY:
            self.processes.refresh(pane.pane_pid for pane in panes if pane.pane_pid)
            self._last_process = now
        rows = []
        kept = checkin.read_seen(self.folder)  # an earlier dashboard's looks, and the watcher's
        with self._lock:
            for name, at in kept.items():
                self.seen[name] = max(at, self.seen.get(name, 0.0))
                self._shared[name] = max(at, self._shared.get(name, 0.0))
            self._pane_ids = {pane.name: pane.pane_id for pane in panes}
            for pane in panes:
                if pane.pane_id in viewed:
                    self.seen[pane.name] = now
                row = self._row(pane, published.get(pane.name), now)
                ended = self.turns.note(
                    row.name, row.pane_id, row.state, row.since, pane.started or 0.0
                )
                rows.append(dataclasses.replace(row, turn_ended=ended) if ended else row)
        self._share_looks(rows)
        return rows + [_remote_row(row) for row in self.remote.rows()]

    def _share_looks(self, rows: list[SessionRow]) -> None:
        """Tell check-ins (``seen.json``) of each finished session the user has now looked at:
        one small write per turn looked at, never one per snapshot."""
        looked = {
            row.name: row.seen_at
            for row in rows
            if row.turn_ended is not None
            and row.seen_at is not None
            and row.seen_at >= row.turn_ended
            and self._shared.get(row.name, 0.0) < row.turn_ended
        }
        if looked:
            checkin.note_seen(self.folder, looked)
            self._shared.update(looked)

    def _row(self, pane: PaneInfo, pub: dict[str, object] | None, now: float) -> SessionRow:
        state, reason = published.describe_state(pane)
        since, source, cpu, rss = pane.since or pane.started, pane.source, 0.0, 0
        if pub is not None and not pane.dead and pub.get("pane_id") == pane.pane_id:
            state, reason = str(pub.get("state", state)), str(pub.get("reason", reason))
            since = _num(pub.get("since")) or since
            source = str(pub.get("source", source))
            cpu, rss = _num(pub.get("cpu")) or 0.0, int(_num(pub.get("rss")) or 0)
        elif pane.pane_pid and not pane.dead:
            profile = profile_of(pane.agent, pane.fleet)
            tree = self.processes.tree(pane.pane_pid, profile.process_names)
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
            branch=self._branch(pane, (state, since), self._shown),
            cpu=cpu,
            rss=rss,
            seen_at=self.seen.get(pane.name),
            waiting_for=pane.waiting_for,
        )

    def wait_for_change(self, timeout: float) -> None:
        """Sleep until the watcher writes the fleet's states, at most ``timeout`` seconds."""
        self._writes.wait(timeout)

    def notes(self) -> Notes:
        """The session count against the cap (counted only while someone sees the dashboard),
        and the latest check-in."""
        return self._notes.read(self._shown)

    def mark_seen(self, name: str) -> None:
        """Note that the user is looking at the session."""
        with self._lock:
            self.seen[name] = time.time()

    # -- actions ---------------------------------------------------------------------------

    def _pane(self, name: str) -> PaneInfo:
        return jump_mod.find_pane(self.tmux, self.fleet, name)

    def preview(self, name: str) -> str:
        """The pane's visible screen with colours (``capture-pane -e -p``): one tmux call, for
        a session the latest snapshot listed."""
        pane_id = self._pane_ids.get(name)
        if pane_id is None and (there := self.remote.where(name)) is not None:
            return remote_actions.preview(there[0], there[1])
        if pane_id is None:
            try:
                pane_id = self._pane(name).pane_id
            except NotFoundError:
                return ""
        lines = self.tmux.run(["capture-pane", "-e", "-p", "-t", pane_id], check=False)
        return "\n".join(lines)

    def jump(self, name: str) -> list[str] | None:
        """Show the session's pane; see :func:`orchestrator.jump.jump_to_pane`."""
        self.mark_seen(name)
        host = remote_view.host_of(self.fleet, name)
        if host is not None:
            return remote_view.jump(self.tmux, self.fleet, name, host)
        return jump_mod.jump_to_pane(self.tmux, self._pane(name).pane_id)

    def send_prompt(self, names: Sequence[str], text: str) -> None:
        """Record the prompt in the history, type it into every named session, then press Enter
        (see :mod:`orchestrator.fleet.keys`)."""
        from orchestrator.fleet import keys
        from orchestrator.store import history

        wanted = set(names)
        targets = [p for p in list_sessions(self.tmux, self.fleet) if p.name in wanted]
        for host, pane, _ in filter(None, map(self.remote.where, wanted)):
            remote_actions.send_prompt(host, pane, text)
        for name in names:
            history.record_prompt(self.fleet, name, text, source="dashboard")
        keys.type_prompt(self.tmux, targets, text)

    def add_session(self, wanted: NewSession) -> None:
        """Add a session to the fleet, as ``orchestrator new`` does."""
        from orchestrator.fleet import adhoc

        adhoc.add_session(self.tmux, self.fleet, wanted)

    def interrupt(self, names: Sequence[str]) -> None:
        """Press each named session's interrupt key (Esc; Ctrl-C for aider)."""
        wanted = set(names)
        commands: list[TmuxCommand] = [
            ["send-keys", "-t", p.pane_id, profile_of(p.agent, p.fleet).interrupt_key]
            for p in list_sessions(self.tmux, self.fleet)
            if p.name in wanted
        ]
        if commands:
            self.tmux.run(*commands)
        for host, pane, agent in filter(None, map(self.remote.where, wanted)):
            remote_actions.interrupt(host, pane, agent)

    def restart(self, name: str) -> None:
        """Start an exited session again from the fleet's layout, continuing a Claude session's
        last conversation (``--resume``)."""
        from orchestrator.store import history

        if (host := remote_view.host_of(self.fleet, name)) is not None:
            remote_commands.restart(self.fleet, host, name, force=False, resume=True).checked()
            return
        restart.restart_session(self.tmux, self.fleet, name, history.resume_id(self.fleet, name))

    def end(self, name: str) -> None:
        """Kill the session's pane (on a host: ``rm`` there, and the session forgotten here)."""
        if (host := remote_view.host_of(self.fleet, name)) is not None:
            remote_commands.remove(self.fleet, host, name).checked()
            return
        self.tmux.run(["kill-pane", "-t", self._pane(name).pane_id])


def _remote_row(row: dict[str, object]) -> SessionRow:
    """A remote session's ``status --json`` row as a dashboard row (its folder: ``host:cwd``)."""
    host = str(row.get("host") or "")
    return SessionRow(
        fleet=str(row.get("fleet") or ""),
        name=str(row.get("name") or ""),
        role=str(row.get("role") or ""),
        agent=str(row.get("agent") or ""),
        pane_id=f"{row.get('pane_id') or ''}@{host}",
        cwd=f"{host}:{row.get('cwd') or ''}",
        state=str(row.get("state") or "unknown"),
        since=_num(row.get("since")),
        reason=str(row.get("reason") or ""),
        branch=str(row.get("branch") or ""),
    )


def _num(value: object) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    with contextlib.suppress(TypeError, ValueError):
        return float(str(value))
    return None
