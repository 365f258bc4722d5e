"""Where each agent keeps its sessions, and which reader summarises each kind of file.

- claude: ``projects/*/*.jsonl`` under ``$CLAUDE_CONFIG_DIR`` or ``~/.claude``;
- codex: ``sessions/YYYY/MM/DD/rollout-*.jsonl`` under ``$CODEX_HOME`` or ``~/.codex``;
- gemini: ``tmp/*/chats/session-*.jsonl`` under ``$GEMINI_CLI_HOME/.gemini`` or ``~/.gemini``;
- aider: ``.aider.chat.history.md`` in each folder our history saw an aider session run in.

A file is summarised into a list of :class:`Summary` (one for every agent but aider, whose one
history file holds every session started in its folder); the cache stores that list as JSON,
under the file's path, with the reader's version.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson

from orchestrator.report import aider, codex, gemini
from orchestrator.report import transcript as claude
from orchestrator.report.transcript import Summary

AGENTS = ("claude", "codex", "gemini", "aider")
"""The agents whose files the report reads, in the order it lists them."""

VERSIONS = {
    "claude": claude.PARSER_VERSION,
    "codex": codex.PARSER_VERSION * 1000 + 1,
    "gemini": gemini.PARSER_VERSION * 1000 + 2,
    "aider": aider.PARSER_VERSION * 1000 + 3,
}
"""The cache's parser number for each agent's reader (distinct per agent and version)."""

_READERS: dict[str, Callable[[Path], list[Summary]]] = {
    "claude": lambda p: [claude.summarise(p)],
    "codex": lambda p: [codex.summarise(p)],
    "gemini": lambda p: [gemini.summarise(p)],
    "aider": aider.summarise,
}


@dataclass(frozen=True)
class Folders:
    """The folders a report reads, per agent."""

    claude: list[Path]
    """Claude config folders (each has ``projects/``)."""
    codex: list[Path]
    """Codex homes (each has ``sessions/``)."""
    gemini: list[Path]
    """Gemini CLI ``.gemini`` folders (each has ``tmp/``)."""
    aider: list[Path]
    """Folders aider ran in."""

    def roots(self) -> list[Path]:
        """Every folder, for telling a vanished file under them from one elsewhere."""
        return [*self.claude, *self.codex, *self.gemini, *self.aider]


def _env_home(variable: str, default: Path, inside: str = "") -> Path:
    configured = os.environ.get(variable, "")
    if not configured:
        return default
    return Path(configured).expanduser() / inside if inside else Path(configured).expanduser()


def default_folders(aider_folders: Iterable[Path] = ()) -> Folders:
    """Each agent's own folder from its environment variable, else its default in ``~``."""
    home = Path.home()
    return Folders(
        claude=[_env_home("CLAUDE_CONFIG_DIR", home / ".claude")],
        codex=[_env_home("CODEX_HOME", home / ".codex")],
        gemini=[_env_home("GEMINI_CLI_HOME", home / ".gemini", ".gemini")],
        aider=list(aider_folders),
    )


def _glob(folders: Iterable[Path], sub: str, pattern: str) -> list[Path]:
    found: dict[str, Path] = {}
    for folder in folders:
        # Resolved once per folder, not per file: the same folder given twice (or through a
        # link) is read once, at the cost of one realpath call instead of thousands.
        real = Path(os.path.realpath(folder / sub))
        if real.is_dir():
            for path in real.glob(pattern):
                found.setdefault(str(path), path)
    return [found[key] for key in sorted(found)]


def find(folders: Folders) -> list[tuple[str, Path]]:
    """Every file of every agent under ``folders``, as ``(agent, path)``, each once."""
    out = [("claude", p) for p in _glob(folders.claude, "projects", "*/*.jsonl")]
    out += [("codex", p) for p in _glob(folders.codex, "sessions", "*/*/*/rollout-*.jsonl")]
    out += [("gemini", p) for p in _glob(folders.gemini, "tmp", "*/chats/session-*.jsonl")]
    out += [("aider", p) for p in _glob(folders.aider, ".", aider.CHAT_FILE)]
    return out


def file_facts(agent: str, path: Path) -> tuple[int, int]:
    """The size and modification time a cached summary is valid for (aider's history counts
    its input history too: a session's end comes from there)."""
    st = path.stat()
    size, mtime = st.st_size, st.st_mtime_ns
    if agent == "aider":
        try:
            other = (path.parent / aider.INPUT_FILE).stat()
        except OSError:
            return size, mtime
        return size + other.st_size, max(mtime, other.st_mtime_ns)
    return size, mtime


def summarise(agent: str, path: Path) -> list[Summary]:
    """The summaries of one file of ``agent``."""
    return _READERS[agent](path)


def encode(summaries: list[Summary]) -> bytes:
    """Summaries as the cache stores them: one object, or a list for a file of several."""
    if len(summaries) == 1 and summaries[0].agent != "aider":
        return summaries[0].to_json()
    return b"[" + b",".join(s.to_json() for s in summaries) + b"]"


def decode(data: bytes) -> list[Summary]:
    """What :func:`encode` stored."""
    raw = orjson.loads(data)
    items = raw if isinstance(raw, list) else [raw]
    return [Summary(**item) for item in items]
