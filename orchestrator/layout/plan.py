"""A layout resolved into a fleet plan: absolute folders, full argument lists, merged environments.

Plain dataclasses (no pydantic), so the commands that only read a plan stay fast to import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.agents.profile import AgentProfile
from orchestrator.git.worktree import WorktreeSettings, WorktreeSpec

if TYPE_CHECKING:  # pydantic stays out of the commands that only read a plan
    from orchestrator.agents.custom import AgentSpec


@dataclass(frozen=True)
class SessionPlan:
    """A session ready to launch: absolute folder, full argv, merged environment."""

    name: str
    role: str
    agent: AgentProfile
    cwd: Path
    argv: tuple[str, ...]
    env: dict[str, str]
    prompt: str | None
    worktree: bool
    checkout: WorktreeSpec | None = None
    """The session's own worktree and branch, once ``up`` has made or found it (then ``cwd`` is
    inside that worktree)."""
    system_prompt: str = ""
    """Text appended to the agent's system prompt: its name, role and the fleet's other sessions
    (unless ``tell_role = false``), then the layout's ``instructions``."""
    model: str | None = None
    """The model the agent uses, when the layout names one."""
    permission_mode: str | None = None
    """The agent's permission mode, when the layout names one."""
    after: tuple[str, ...] = ()
    """Sessions that must each finish a turn before this one gets its prompt."""
    needs: tuple[str, ...] = ()
    """Files (relative to ``cwd``) that must exist before this one gets its prompt."""

    @property
    def waits(self) -> bool:
        """Whether its prompt waits for a pipeline (``after`` or ``needs``)."""
        return bool(self.after or self.needs)


@dataclass(frozen=True)
class Fleet:
    """A validated layout with everything resolved."""

    name: str
    description: str
    arrange: str
    source: Path
    sessions: tuple[SessionPlan, ...]
    root: Path | None = None
    """The base folder relative ``cwd`` values started from (absolute)."""
    worktrees: WorktreeSettings = field(default_factory=WorktreeSettings)
    """Branch prefix, base and (absolute) folder for the sessions with ``worktree`` set."""
    remote: tuple[RemotePlan, ...] = ()
    """The sessions that run on other hosts, one plan per host (``sessions`` holds the local
    ones only)."""

    agents: dict[str, AgentSpec] = field(default_factory=dict)
    """The agents of the user's own its sessions run (from the layout or ``agents.toml``)."""


@dataclass(frozen=True)
class RemoteSession:
    """What this machine knows of a session that runs on another host."""

    name: str
    role: str
    agent: str


@dataclass(frozen=True)
class RemotePlan:
    """The part of a fleet that runs on one SSH host, brought up there by its own orchestrator."""

    host: str
    """The SSH destination, as the layout names it."""
    ssh: tuple[str, ...]
    """Extra ssh options from ``[hosts.<host>]``."""
    socket: str | None
    """The tmux socket name on that host (``tmux -L``); None: its default server."""
    sessions: tuple[RemoteSession, ...]
    layout: str
    """The layout file the host's orchestrator brings up: this host's sessions, as TOML."""
