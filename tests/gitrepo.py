"""Helpers for tests on real git repositories made in temporary folders."""

from __future__ import annotations

import subprocess
from pathlib import Path

from orchestrator.git.worktree import WorktreeSettings, WorktreeSpec, ensure_worktree, plan_worktree

SETTINGS = WorktreeSettings()
"""The default worktree settings: prefix ``orc/``, the current branch as base."""


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` and return its stripped output; fail the test if git fails."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()


def commit(cwd: Path, name: str, text: str, message: str | None = None) -> str:
    """Write a file (and its folders), commit it, return the commit."""
    (cwd / name).parent.mkdir(parents=True, exist_ok=True)
    (cwd / name).write_text(text)
    git(cwd, "add", name)
    git(cwd, "commit", "-q", "-m", message or f"edit {name}")
    return git(cwd, "rev-parse", "HEAD")


def reachable(repo: Path, sha: str) -> bool:
    """True if some branch still contains ``sha``."""
    return bool(git(repo, "for-each-ref", "--contains", sha, "refs/heads/"))


def branches(repo: Path) -> list[str]:
    """The repository's local branches."""
    return git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/").splitlines()


def branch_exists(repo: Path, branch: str) -> bool:
    """True if ``repo`` has the local branch ``branch``."""
    proc = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


def up(repo: Path, session: str, settings: WorktreeSettings = SETTINGS) -> WorktreeSpec:
    """Plan and make a session's worktree, as ``up`` does."""
    spec = plan_worktree(repo, session, settings)
    ensure_worktree(spec)
    return spec
