"""A fleet's life: up, down, restart, worktrees per session, and jumping between its panes."""
