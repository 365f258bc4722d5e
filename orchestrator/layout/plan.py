"""A layout resolved into a fleet plan: absolute folders, full argument lists, merged environments.

Plain dataclasses (no pydantic), so the commands that only read a plan stay fast to import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.agents.profile import AgentProfile
from orchestrator.git.worktree import WorktreeSettings, WorktreeSpec


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


@dataclass(frozen=True)
class Fleet:
    """A validated layout with everything resolved."""

    name: str
    description: str
    arrange: str
    source: Path
    sessions: tuple[SessionPlan, ...]
    worktrees: WorktreeSettings = field(default_factory=WorktreeSettings)
    """Branch prefix, base and (absolute) folder for the sessions with ``worktree`` set."""
