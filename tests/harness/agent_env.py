"""Closed environments for running Codex CLI, Gemini CLI and aider for real, offline.

Each builder makes a private home under a test folder and returns the complete environment for
the agent's process (nothing copied from ``os.environ`` but ``PATH``), pointed at a
:class:`~tests.harness.mock_llm.MockLLM` on 127.0.0.1. The CLIs are the versions pinned in
``tests/codex-cli``, ``tests/gemini-cli`` and ``tests/aider-cli`` (installed by ``tests/setup.sh``).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import stat
import tempfile
import time
from pathlib import Path

import psutil

from tests.harness.mock_llm import MockLLM

REPO = Path(__file__).resolve().parents[2]
CODEX_BIN = REPO / "tests" / "codex-cli" / "node_modules" / ".bin" / "codex"
GEMINI_BIN = REPO / "tests" / "gemini-cli" / "node_modules" / ".bin" / "gemini"
AIDER_BIN = REPO / "tests" / "aider-cli" / "venv" / "bin" / "aider"

CODEX_MODEL = "gpt-5-codex"
GEMINI_MODEL = "gemini-2.5-flash"
AIDER_MODEL = "openai/mock-model"


def secure_runtime(name: str) -> Path:
    """A private runtime folder no group- or world-writable folder sits above (Gemini CLI skips a
    settings layer under one, such as anything in ``/tmp``)."""
    # The user's real home (the tests give HOME a throwaway folder, in /tmp most often).
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    for root in (REPO / ".test-runtime", home / ".cache" / "orchestrator-tests"):
        if not _shared_above(root):
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
            return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
    raise RuntimeError(
        f"no private folder for the agents' runtime: {REPO} and {home} both sit under a "
        "group- or world-writable folder"
    )


def _shared_above(path: Path) -> bool:
    """Whether a folder above ``path`` (a clone in ``/tmp``, say) is group- or world-writable."""
    for folder in path.resolve().parents:
        with contextlib.suppress(OSError):
            if folder.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return True
    return False


def processes_with(marker: str) -> list[psutil.Process]:
    """The processes whose environment holds ``marker`` (this user's, readable ones)."""
    found = []
    for proc in psutil.process_iter():
        try:
            with open(f"/proc/{proc.pid}/environ", "rb") as handle:
                if marker.encode() in handle.read():
                    found.append(proc)
        except OSError:
            continue
    return found


def missing(binary: Path) -> str | None:
    """Why an agent's tests cannot run (its pinned CLI is not installed), or None."""
    if os.access(binary, os.X_OK):
        return None
    return f"{binary} is not installed: run tests/setup.sh"


def _base(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "SHELL": "/bin/sh",
        "NO_PROXY": "127.0.0.1,localhost",
    }


def codex_env(home: Path, mock: MockLLM, trusted: list[Path]) -> dict[str, str]:
    """A ``CODEX_HOME`` whose config uses a custom provider on the mock's Responses API, asks
    before shell commands, and never checks for updates or sends analytics."""
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    projects = "".join(
        f'\n[projects.{json.dumps(str(path))}]\ntrust_level = "trusted"\n' for path in trusted
    )
    (codex_home / "config.toml").write_text(
        f'model = "{CODEX_MODEL}"\n'
        'model_provider = "mock"\n'
        'approval_policy = "on-request"\n'
        'sandbox_mode = "read-only"\n'
        "check_for_update_on_startup = false\n"
        "\n[analytics]\nenabled = false\n"
        "\n[model_providers.mock]\n"
        'name = "mock"\n'
        f'base_url = "{mock.openai_url}"\n'
        'env_key = "MOCK_API_KEY"\n'
        'wire_api = "responses"\n'
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n" + projects
    )
    return {**_base(home), "CODEX_HOME": str(codex_home), "MOCK_API_KEY": "mock-key"}


def gemini_env(home: Path, mock: MockLLM) -> dict[str, str]:
    """A ``GEMINI_CLI_HOME`` with API-key auth, folder trust, updates and telemetry off, and a
    pinned model (with "auto" every prompt first asks a routing classifier)."""
    settings = {
        "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
        "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        "model": {"name": GEMINI_MODEL},
        "ui": {"hideTips": True, "hideBanner": True},
    }
    folder = home / ".gemini"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(json.dumps(settings, indent=2))
    return {
        **_base(home),
        "GEMINI_CLI_HOME": str(home),
        "GEMINI_API_KEY": "mock-key",
        "GOOGLE_GEMINI_BASE_URL": mock.base_url,
        "GEMINI_CLI_TRUST_WORKSPACE": "true",
    }


def aider_env(home: Path, mock: MockLLM) -> dict[str, str]:
    """aider on the mock's chat completions, ``diff`` edit format, no analytics or update check;
    litellm's model-price file pre-written (it would try to download it at every start)."""
    cache = home / ".aider" / "caches"
    cache.mkdir(parents=True, exist_ok=True)
    prices = cache / "model_prices_and_context_window.json"
    entry = {
        "max_tokens": 8192,
        "max_input_tokens": 128000,
        "max_output_tokens": 8192,
        "input_cost_per_token": 0.0,
        "output_cost_per_token": 0.0,
        "litellm_provider": "openai",
        "mode": "chat",
    }
    prices.write_text(json.dumps({AIDER_MODEL.split("/", 1)[1]: entry, AIDER_MODEL: entry}))
    now = time.time()
    os.utime(prices, (now, now))
    return {
        **_base(home),
        "OPENAI_API_BASE": mock.openai_url,
        "OPENAI_API_KEY": "mock-key",
        "AIDER_MODEL": AIDER_MODEL,
        "AIDER_EDIT_FORMAT": "diff",
        "AIDER_ANALYTICS_DISABLE": "true",
        "AIDER_CHECK_UPDATE": "false",
        "AIDER_SHOW_MODEL_WARNINGS": "false",
        "AIDER_SHOW_RELEASE_NOTES": "false",
        "AIDER_GITIGNORE": "false",
        "AIDER_GIT": "false",
    }
