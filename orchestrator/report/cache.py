"""Finding Claude Code's transcripts and summarising each one, once.

The transcripts are ``projects/*/*.jsonl`` under each Claude config folder. Each file is looked
up in the cache (:mod:`orchestrator.store.summaries`) by its path, size and modification time;
only files that are new or changed are read, on up to two processes when there are many
(reading is CPU-bound JSON decoding, and each worker streams one file at a time, so memory stays
bounded by the largest line, not the largest file). Files that vanish or cannot be read are
reported, never cached, and tried again next time.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.report.transcript import PARSER_VERSION, Summary, summarise
from orchestrator.store import summaries as cache_table
from orchestrator.store.db import Store

log = logging.getLogger(__name__)

POOL_FROM = 16
"""Files to read before a process pool pays for its start-up (~0.3 s to spawn two workers)."""
MAX_WORKERS = 2
"""Reading processes at most; the machines this runs on often have two cores."""


def default_claude_dirs() -> list[Path]:
    """Claude Code's config folder: ``$CLAUDE_CONFIG_DIR``, else ``~/.claude``."""
    configured = os.environ.get("CLAUDE_CONFIG_DIR", "")
    return [Path(configured).expanduser() if configured else Path.home() / ".claude"]


def transcripts(dirs: Iterable[Path]) -> list[Path]:
    """Every transcript under the given config folders, each once, in path order."""
    found: dict[str, Path] = {}
    for folder in dirs:
        # Resolved once per folder, not per file: the same folder given twice (or through a
        # link) is read once, at the cost of one realpath call instead of thousands.
        projects = Path(os.path.realpath(folder / "projects"))
        if not projects.is_dir():
            continue
        for path in projects.glob("*/*.jsonl"):
            found.setdefault(str(path), path)
    return [found[key] for key in sorted(found)]


@dataclass
class Scan:
    """The summaries of every transcript found, and how they were come by."""

    summaries: list[Summary] = field(default_factory=list)
    """One per readable transcript."""
    read: int = 0
    """Transcripts read (new or changed) in this scan."""
    cached: int = 0
    """Transcripts whose cached summary was still valid."""
    failed: list[tuple[str, str]] = field(default_factory=list)
    """Transcripts that vanished or could not be read, with why."""


def _summarise_one(path: str) -> bytes:
    return summarise(Path(path)).to_json()


def _read_all(paths: Sequence[str], workers: int) -> list[Summary]:
    if workers <= 1 or len(paths) < POOL_FROM:
        return [summarise(Path(p)) for p in paths]
    # spawn, not fork: the dashboard calls this from a worker thread, and forking a threaded
    # process can copy a held lock into the child.
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            chunk = max(1, min(16, len(paths) // (workers * 8)))
            return [Summary.from_json(b) for b in pool.map(_summarise_one, paths, chunksize=chunk)]
    except (OSError, ValueError) as exc:
        # A pool that cannot start (no file descriptors to hand its helper, no processes
        # left) only costs speed: read here instead.
        log.warning("reading transcripts in one process: the process pool failed (%s)", exc)
        return [summarise(Path(p)) for p in paths]


def scan(dirs: Iterable[Path], store: Store, *, workers: int | None = None) -> Scan:
    """Summaries of every transcript under ``dirs``, reading only what the cache lacks."""
    if workers is None:
        workers = min(MAX_WORKERS, os.cpu_count() or 1)
    result = Scan()
    known = cache_table.load_all(store)
    todo: list[tuple[str, os.stat_result]] = []
    seen: set[str] = set()
    for path in transcripts(dirs):
        key = str(path)
        seen.add(key)
        try:
            st = path.stat()
        except OSError as exc:
            result.failed.append((key, exc.strerror or str(exc)))
            continue
        cached = known.get(key)
        if (
            cached is not None
            and cached.size == st.st_size
            and cached.mtime_ns == st.st_mtime_ns
            and cached.parser == PARSER_VERSION
        ):
            result.summaries.append(Summary.from_json(cached.summary))
            result.cached += 1
        else:
            todo.append((key, st))
    fresh: list[cache_table.CachedSummary] = []
    for (key, st), summary in zip(todo, _read_all([k for k, _ in todo], workers), strict=True):
        result.read += 1
        if summary.error is not None:
            result.failed.append((key, summary.error))
            continue
        result.summaries.append(summary)
        fresh.append(
            cache_table.CachedSummary(
                key, st.st_size, st.st_mtime_ns, PARSER_VERSION, summary.to_json()
            )
        )
    if fresh:
        cache_table.save(store, fresh, at=time.time())
    gone = [p for p in known if p not in seen and _under(p, dirs)]
    if gone:
        cache_table.forget(store, gone)
    return result


def _under(path: str, dirs: Iterable[Path]) -> bool:
    return (
        any(path.startswith(os.path.realpath(folder) + os.sep) for folder in dirs)
        and not Path(path).exists()
    )
