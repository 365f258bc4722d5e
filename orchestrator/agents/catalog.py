"""Every agent the tool knows, by name: the one place a new agent module is added."""

from __future__ import annotations

from orchestrator.agents.aider import AIDER
from orchestrator.agents.claude import CLAUDE
from orchestrator.agents.codex import CODEX
from orchestrator.agents.gemini import GEMINI
from orchestrator.agents.profile import AgentProfile
from orchestrator.agents.shell import SHELL
from orchestrator.detect.screen import RuleSet

BUILT_IN = (CLAUDE, CODEX, GEMINI, AIDER, SHELL)
"""The agents the tool ships, each one module in this package."""

PROFILES: dict[str, AgentProfile] = {profile.name: profile for profile in BUILT_IN}

UNKNOWN = AgentProfile(name="unknown", command=())
"""What an agent the tool does not know (a pane tagged by another version) is taken for: a plain
program, no hooks, no screen rules."""


def profile_of(name: str) -> AgentProfile:
    """The profile of agent ``name``, or :data:`UNKNOWN`."""
    return PROFILES.get(name, UNKNOWN)


def rules_for(name: str) -> RuleSet | None:
    """The screen rules of agent ``name``; None for an unknown agent or one without rules."""
    profile = PROFILES.get(name)
    return profile.rules() if profile else None
