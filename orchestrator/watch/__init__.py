"""The watcher: pushed inputs, the schedule of rounds, decisions and what it publishes."""
