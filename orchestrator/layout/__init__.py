"""Layout files: the models, loading and resolving them into a fleet plan, the JSON Schema."""
