"""How each agent profile is launched: Claude gets our hooks through ``--settings``."""

from __future__ import annotations

from pathlib import Path

from orchestrator.detect import hooks
from orchestrator.layout.load import SessionPlan


def agent_argv(fleet: str, plan: SessionPlan) -> list[str]:
    """The argv a session runs: its plan's argv, plus our hooks for agents that take them."""
    argv = list(plan.argv)
    if plan.agent.hooks and argv and Path(argv[0]).name in plan.agent.process_names:
        files = hooks.prepare(fleet, plan.name)
        argv = [argv[0], "--settings", str(files.settings), *argv[1:]]
    return argv
