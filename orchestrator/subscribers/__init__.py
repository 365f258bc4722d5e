"""What reacts to the watcher's transitions: notifications, first prompts, the history record."""
