"""Detection, agent-neutral: the signals (hook files, screen rules, processes) and the reconciler
that turns them into a state with its evidence. What an agent's events and screens mean is told by
its module in ``orchestrator/agents/``."""
