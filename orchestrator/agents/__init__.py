"""What the tool knows of each kind of agent: one module per agent, its screen rules beside it."""
