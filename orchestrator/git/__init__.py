"""git for sessions: worktrees and branches per session, their status, diff, merge and clean-up."""
