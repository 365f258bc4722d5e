"""The history: one SQLite file, its schema and migrations, writes and queries."""
