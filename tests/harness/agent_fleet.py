"""A fleet of real agent CLIs started with ``up`` on a private tmux server, for end-to-end tests.

:func:`start_fleet` writes a layout (one session per ``(name, agent, command, env)``), brings it
up with the real ``up`` (so each agent runs with our hooks, as users' sessions do) and returns an
:class:`AgentFleet` that types into panes and waits for ``status`` to report a state, recording
how long after the screen showed it (the screen-to-status delay).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator import paths
from orchestrator.agents.catalog import profile_of
from orchestrator.fleet import up as fleet_up
from orchestrator.layout import load as layout
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import list_sessions
from orchestrator.watch import status

DEADLINE = 40.0
"""Seconds a state may take to show (the CLIs start slowly on a busy 2-core machine)."""


@dataclass(frozen=True)
class Member:
    """One session of the fleet to start."""

    name: str
    agent: str
    command: Path
    env: dict[str, str]
    cwd: Path


@dataclass
class AgentFleet:
    """A running fleet of real agent sessions."""

    tmux: Tmux
    name: str
    panes: dict[str, str] = field(default_factory=dict)
    agents: dict[str, str] = field(default_factory=dict)
    latencies: list[tuple[str, float]] = field(default_factory=list)

    def screen(self, session: str) -> str:
        return "\n".join(self.tmux.run(["capture-pane", "-p", "-t", self.panes[session]]))

    def keys(self, session: str, *keys: str, literal: bool = False) -> None:
        flag = ["-l"] if literal else []
        self.tmux.run(["send-keys", "-t", self.panes[session], *flag, *keys])

    def prompt(self, session: str, text: str) -> None:
        """Type ``text``, then Enter after the agent's own pause (Codex takes fast input as a
        paste)."""
        self.keys(session, text, literal=True)
        time.sleep(profile_of(self.agents[session]).enter_delay)
        self.keys(session, "Enter")

    def rows(self) -> dict[str, dict[str, object]]:
        return {str(row["name"]): row for row in status.status_rows(self.tmux, self.name)}

    def expect(
        self,
        session: str,
        state: str,
        on_screen: Callable[[str], bool] = lambda _: True,
        label: str = "",
        deadline: float = DEADLINE,
    ) -> dict[str, object]:
        """Wait until the screen shows it and status reports ``state``; record the delay."""
        end = time.monotonic() + deadline
        seen_at: float | None = None
        row: dict[str, object] = {}
        while time.monotonic() < end:
            if seen_at is None and on_screen(self.screen(session)):
                seen_at = time.monotonic()
            row = self.rows().get(session, {})
            if row.get("state") == state and seen_at is not None:
                self.latencies.append((label or f"{session} {state}", time.monotonic() - seen_at))
                return row
            time.sleep(0.05)
        raise AssertionError(
            f"{session}: wanted {state}, status says {row.get('state')} ({row.get('reason')}); "
            f"screen shown: {seen_at is not None}\n{self.screen(session)}\n"
            + "\n".join(self.tmux.run(["list-windows", "-a"]))
            + _watcher_log(self.name)
        )

    def report(self) -> None:
        for label, seconds in self.latencies:
            print(f"latency screen->status: {label}: {seconds:.2f}s")


def _watcher_log(fleet: str) -> str:
    """The end of the fleet's watcher log, for a failure's message."""
    for path in paths.runtime_dir().glob(f"**/{fleet}/watcher.log"):
        return "\nwatcher.log:\n" + path.read_text(errors="replace")[-3000:]
    return "\n(no watcher log)"


def start_fleet(
    tmux: Tmux, folder: Path, members: Sequence[Member], name: str = "agents"
) -> AgentFleet:
    """Write a layout for ``members`` in ``folder`` and bring it up."""
    text = f'name = "{name}"\n'
    for member in members:
        inline = ", ".join(f"{key} = {json.dumps(value)}" for key, value in member.env.items())
        text += (
            f'[[sessions]]\nname = "{member.name}"\nagent = "{member.agent}"\n'
            f'cwd = "{member.cwd}"\ncommand = [{json.dumps(str(member.command))}]\n'
            f"env = {{ {inline} }}\n"
        )
    path = folder / f"{name}.toml"
    path.write_text(text)
    fleet_up.up(layout.load_fleet(str(path)), tmux, size=(200, 50))
    running = AgentFleet(tmux, name)
    for pane in list_sessions(tmux, name):
        running.panes[pane.name] = pane.pane_id
        running.agents[pane.name] = pane.agent
    return running
