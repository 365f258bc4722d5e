"""A private history database for tests that start watchers.

Load with ``pytest_plugins = ["tests.history_db"]`` in the test module that uses it.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def history_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private history database (``ORCHESTRATOR_DB``) for the watchers this test starts."""
    path = tmp_path / "history.sqlite3"
    monkeypatch.setenv("ORCHESTRATOR_DB", str(path))
    return path
