"""orchestrator: run a fleet of AI coding agents in tmux and see which one needs you."""

__version__ = "0.1.0"
