"""Detection: each session's state, from hooks, Claude's registry, the screen and the process.

Headless: nothing here imports Textual.
"""
