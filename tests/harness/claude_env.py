"""A throwaway HOME and a closed environment for running the real Claude Code CLI offline.

The environment is built from scratch (not copied from ``os.environ``) so no real API key, proxy
or ``TMUX`` variable leaks in, and ``ANTHROPIC_BASE_URL`` always points at a loopback server.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The repository root (``tests/harness`` is two levels below it)."""

CLAUDE_CLI_DIR = REPO_ROOT / "tests" / "claude-cli"
"""Where ``package.json`` pins the Claude Code version the tests run."""

CLAUDE_BIN = CLAUDE_CLI_DIR / "node_modules" / ".bin" / "claude"
"""The pinned ``claude`` binary, present after ``npm ci --prefix tests/claude-cli``."""

OLD_CLAUDE_CLI_DIR = REPO_ROOT / "tests" / "claude-cli-2.0"
"""An older release (the last 2.0.x), pinned the same way: its screens are recorded too, so a
change of wording between versions shows up as a failing recorded screen."""

FAKE_API_KEY = "sk-ant-api03-orchestrator-tests-fake-key-0123456789abcdefghij"
"""A key-shaped string; the mock server accepts anything and no real server ever sees it."""

OFFLINE_ENV: Mapping[str, str] = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_BUG_COMMAND": "1",
    "CLAUDE_CODE_DISABLE_TERMINAL_TITLE": "1",
}
"""Switches that keep Claude Code from talking to anything but ``ANTHROPIC_BASE_URL``."""


class ClaudeCliMissingError(RuntimeError):
    """The pinned Claude Code CLI is not installed."""


def find_claude_bin(cli_dir: Path = CLAUDE_CLI_DIR) -> Path:
    """Return the ``claude`` binary pinned in ``cli_dir`` or raise with the command that
    installs it."""
    binary = cli_dir / "node_modules" / ".bin" / "claude"
    if not os.access(binary, os.X_OK):
        raise ClaudeCliMissingError(
            f"Claude Code CLI not found at {binary}. "
            f"Install the pinned version with: npm ci --prefix {cli_dir.relative_to(REPO_ROOT)}"
        )
    return binary


def claude_version(claude_bin: Path) -> str:
    """The version the binary reports, e.g. ``"2.1.197"``."""
    out = subprocess.run(
        [str(claude_bin), "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **OFFLINE_ENV},
    ).stdout
    match = re.search(r"\d+\.\d+\.\d+", out)
    if match is None:
        raise RuntimeError(f"cannot parse claude --version output: {out!r}")
    return match.group(0)


@dataclass(frozen=True)
class ClaudeHome:
    """A private HOME prepared for Claude Code, and the environment that uses it."""

    home: Path
    """The throwaway HOME directory (holds ``.claude.json`` and ``.claude/``)."""
    env: dict[str, str]
    """The complete environment for the ``claude`` process (nothing inherited)."""
    api_key: str
    """The fake ``ANTHROPIC_API_KEY`` in ``env``."""

    @property
    def sessions_dir(self) -> Path:
        """Where Claude Code writes its session registry, ``<pid>.json`` per live process."""
        return self.home / ".claude" / "sessions"

    def shell_command(self, argv: Sequence[str | Path], cwd: Path | None = None) -> str:
        """A ``sh`` command line that runs ``argv`` with exactly ``env`` (via ``env -i``).

        Meant for ``tmux new-window``/``split-window``, whose panes would otherwise inherit the
        tmux server's environment.
        """
        assignments = [f"{key}={value}" for key, value in sorted(self.env.items()) if key != "TERM"]
        # Keep the TERM tmux gives the pane; everything else comes from ``env`` alone.
        command = 'env -i TERM="${TERM:-xterm-256color}" ' + shlex.join(
            [*assignments, *(str(arg) for arg in argv)]
        )
        if cwd is not None:
            command = f"cd {shlex.quote(str(cwd))} && exec {command}"
        return command


def make_claude_home(
    home: Path,
    base_url: str,
    trusted_dirs: Sequence[Path] = (),
    api_key: str = FAKE_API_KEY,
    extra_env: Mapping[str, str] | None = None,
) -> ClaudeHome:
    """Create ``home`` with a ``.claude.json`` that skips first-run screens.

    Folders in ``trusted_dirs`` skip the trust dialog; any other folder shows it.
    ``base_url`` must be a loopback URL (the mock API); anything else is refused.
    """
    if not re.match(r"^http://(127\.0\.0\.1|localhost)(:\d+)?/?$", base_url):
        raise ValueError(f"refusing a non-loopback ANTHROPIC_BASE_URL: {base_url!r}")
    home.mkdir(parents=True, exist_ok=True)
    (home / ".claude").mkdir(exist_ok=True)
    config: dict[str, Any] = {
        "hasCompletedOnboarding": True,
        "lastOnboardingVersion": "2.1.197",
        "numStartups": 1,
        "theme": "dark",
        "customApiKeyResponses": {"approved": [api_key[-20:]], "rejected": []},
        # 2.0.x would otherwise try to clone its plugin marketplace from GitHub at start-up.
        "officialMarketplaceAutoInstallAttempted": True,
        "officialMarketplaceAutoInstallFailReason": "policy_blocked",
        "projects": {
            str(path.resolve()): {
                "hasTrustDialogAccepted": True,
                "hasCompletedProjectOnboarding": True,
                "allowedTools": [],
            }
            for path in trusted_dirs
        },
    }
    (home / ".claude.json").write_text(json.dumps(config, indent=2) + "\n")
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "xterm-256color",
        "SHELL": "/bin/sh",
        "ANTHROPIC_BASE_URL": base_url.rstrip("/"),
        "ANTHROPIC_API_KEY": api_key,
        **OFFLINE_ENV,
        **(extra_env or {}),
    }
    return ClaudeHome(home=home, env=env, api_key=api_key)


FAKE_OAUTH_TOKEN = "sk-ant-oat01-orchestrator-tests-fake-oauth-token"
"""An OAuth-token-shaped string for :func:`with_subscription_login`; only the mock API sees it."""


def with_subscription_login(home: ClaudeHome, proxy_url: str) -> ClaudeHome:
    """``home`` logged in as a claude.ai subscriber instead of with an API key.

    Claude Code then sends ``Authorization: Bearer`` to ``ANTHROPIC_BASE_URL`` and reads the
    unified rate-limit headers, so a usage limit shows as it does to subscribers ("You've hit
    your session limit · resets 12:25am (UTC)"). The token comes from ``CLAUDE_CODE_OAUTH_TOKEN``
    (no refresh, no login). A logged-in 2.0.77 also fetches its profile from api.anthropic.com and
    checks the npm registry: ``proxy_url`` (a :class:`RefusingProxy` on 127.0.0.1) takes every
    request not for loopback and refuses it, so nothing leaves the machine.
    """
    if not re.match(r"^http://127\.0\.0\.1:\d+$", proxy_url):
        raise ValueError(f"refusing a non-loopback proxy: {proxy_url!r}")
    env = {key: value for key, value in home.env.items() if key != "ANTHROPIC_API_KEY"}
    env.update(
        {
            "CLAUDE_CODE_OAUTH_TOKEN": FAKE_OAUTH_TOKEN,
            "CLAUDE_CODE_SUBSCRIPTION_TYPE": "max",
            "HTTPS_PROXY": proxy_url,
            "HTTP_PROXY": proxy_url,
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    return ClaudeHome(home=home.home, env=env, api_key="")


class RefusingProxy:
    """An HTTP proxy on 127.0.0.1 that refuses every request and remembers what was asked
    (``CONNECT registry.npmjs.org:443``, ``GET https://api.anthropic.com/...``)."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RefusingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    first = conn.recv(4096).split(b"\r\n", 1)[0]
                    self.attempts.append(first.decode("latin-1"))
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    continue
