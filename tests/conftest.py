"""Shared test set-up: no test ever reaches the user's own tmux server or home folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gitrepo import commit, git

pytest_plugins = ["tests.harness.fixtures"]


@pytest.fixture(autouse=True)
def _isolated(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Unset TMUX/TMUX_PANE and give each test its own HOME and XDG folders."""
    for var in ("TMUX", "TMUX_PANE", "ORCHESTRATOR_SOCKET", "ORCHESTRATOR_DB"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_DATA_HOME", ".local/share"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("ORCHESTRATOR_RUNTIME_DIR", str(home / "run"))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    yield


@pytest.fixture
def repo_root() -> Path:
    """The checkout's top folder."""
    return Path(__file__).resolve().parent.parent


@pytest.fixture
def fake_claude(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in ``claude`` on PATH that records its argv, folder and environment, then waits.

    For launch tests only: detection is tested against the real Claude Code CLI.
    """
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    record = tmp_path / "fake-claude-records"
    record.mkdir()
    script = bin_dir / "claude"
    script.write_text(
        "#!/bin/sh\n"
        f'out="{record}/$ORCHESTRATOR_SESSION"\n'
        'printf "%s\\n" "$@" > "$out.argv"\n'
        'pwd > "$out.cwd"\n'
        'env > "$out.env"\n'
        "echo 'fake claude ready'\n"
        "exec sleep 3600\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return record


@pytest.fixture
def git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """A known git identity and no system config (HOME is already private)."""
    for var in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(var, "Test")
    for var in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(var, "test@example.com")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def c_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """git's messages in English (not for tmux tests: tmux under LC_ALL=C drops UTF-8)."""
    monkeypatch.setenv("LC_ALL", "C")


@pytest.fixture
def repo(tmp_path: Path, git_identity: None) -> Path:
    """A git repository on branch main with one commit, inside its own parent folder."""
    path = tmp_path / "proj" / "app"
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    commit(path, "README.md", "hello\n", "initial")
    return path.resolve()
