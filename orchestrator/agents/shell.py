"""Any program as a session: no hooks, no rules; working while its output moves."""

from __future__ import annotations

from orchestrator.agents.profile import AgentProfile

SHELL = AgentProfile(
    name="shell",
    command=(),  # the user's $SHELL
    install_hint="give the full path of the program in `command`",
)
