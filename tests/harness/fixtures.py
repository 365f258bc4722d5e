"""Pytest fixtures for end-to-end tests against the real Claude Code CLI.

Load with ``pytest_plugins = ["tests.harness.fixtures"]`` in ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.claude_env import ClaudeHome, find_claude_bin, make_claude_home
from tests.harness.mock_api import MockAnthropicAPI


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    """The pinned ``claude`` binary; errors with the install command when it is missing."""
    return find_claude_bin()


@pytest.fixture
def mock_api() -> Iterator[MockAnthropicAPI]:
    """A running scripted Messages API on 127.0.0.1; ``mock_api.enqueue(...)`` scripts replies."""
    with MockAnthropicAPI() as api:
        yield api


@pytest.fixture
def claude_project(tmp_path: Path) -> Path:
    """An empty working folder that ``claude_home`` marks as trusted."""
    project = tmp_path / "project"
    project.mkdir()
    return project


@pytest.fixture
def claude_home(tmp_path: Path, mock_api: MockAnthropicAPI, claude_project: Path) -> ClaudeHome:
    """A private HOME for Claude (first-run screens skipped, ``claude_project`` trusted)."""
    return make_claude_home(tmp_path / "claude-home", mock_api.base_url, [claude_project])


@pytest.fixture
def claude_env(claude_home: ClaudeHome) -> dict[str, str]:
    """The complete environment for a ``claude`` process talking only to ``mock_api``."""
    return dict(claude_home.env)
