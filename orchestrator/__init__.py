"""orchestrator: run a fleet of AI coding agents in tmux and see which one needs you."""

__version__ = "0.1.0"

DEFAULT_LAYOUT = "parallel-5"
"""The built-in layout ``orchestrator up`` launches when given none."""
