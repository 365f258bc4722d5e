"""Every agent the tool knows, by name: the one place a new agent module is added."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.agents.aider import AIDER
from orchestrator.agents.claude import CLAUDE
from orchestrator.agents.codex import CODEX
from orchestrator.agents.gemini import GEMINI
from orchestrator.agents.profile import AgentProfile
from orchestrator.agents.shell import SHELL
from orchestrator.detect.screen import RuleSet

if TYPE_CHECKING:  # pydantic is imported only for a fleet that has agents of its own
    from orchestrator.agents.custom import CustomProfile

BUILT_IN = (CLAUDE, CODEX, GEMINI, AIDER, SHELL)
"""The agents the tool ships, each one module in this package."""

PROFILES: dict[str, AgentProfile] = {profile.name: profile for profile in BUILT_IN}

UNKNOWN = AgentProfile(name="unknown", command=())
"""What an agent the tool does not know (a pane tagged by another version) is taken for: a plain
program, no hooks, no screen rules."""


def profile_of(name: str, fleet: str | None = None, runtime: Path | None = None) -> AgentProfile:
    """The profile of agent ``name``: a built-in one, else one of ``fleet``'s own agents (as
    ``up`` recorded them), else :data:`UNKNOWN`."""
    profile = PROFILES.get(name)
    if profile is not None:
        return profile
    if fleet:
        from orchestrator import paths

        folder = (runtime or paths.runtime_dir()) / "fleets" / fleet
        return _recorded(folder / "agents.json").get(name, UNKNOWN)
    return UNKNOWN


_CACHE: dict[Path, tuple[float, dict[str, CustomProfile]]] = {}


def _recorded(path: Path) -> dict[str, CustomProfile]:
    """A fleet's own agents, read again only when their record changed."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return {}
    cached = _CACHE.get(path)
    if cached is None or cached[0] != mtime:
        from orchestrator.agents import custom

        cached = (mtime, custom.recorded(path.parent.name, path.parents[2]))
        _CACHE[path] = cached
    return cached[1]


def rules_for(name: str) -> RuleSet | None:
    """The screen rules of agent ``name``; None for an unknown agent or one without rules."""
    profile = PROFILES.get(name)
    return profile.rules() if profile else None
