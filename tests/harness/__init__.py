"""Harness that drives the real Claude Code CLI offline: mock Messages API, private HOME, tmux."""
