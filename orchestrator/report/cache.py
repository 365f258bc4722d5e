"""Finding every agent's session files and summarising each one, once.

Which files each agent writes is in :mod:`orchestrator.report.sources`. Each file is looked
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
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.report import sources
from orchestrator.report.sources import Folders
from orchestrator.report.transcript import Summary
from orchestrator.store import summaries as cache_table
from orchestrator.store.db import Store

log = logging.getLogger(__name__)

POOL_FROM = 16
"""Files to read before a process pool pays for its start-up (~0.3 s to spawn two workers)."""
MAX_WORKERS = 2
"""Reading processes at most; the machines this runs on often have two cores."""


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


def _summarise_one(job: tuple[str, str]) -> bytes:
    return sources.encode(sources.summarise(job[0], Path(job[1])))


def _in_process(jobs: Sequence[tuple[str, str]]) -> list[list[Summary]]:
    return [sources.summarise(agent, Path(p)) for agent, p in jobs]


def _read_all(jobs: Sequence[tuple[str, str]], workers: int) -> list[list[Summary]]:
    if workers <= 1 or len(jobs) < POOL_FROM:
        return _in_process(jobs)
    # spawn, not fork: the dashboard calls this from a worker thread, and forking a threaded
    # process can copy a held lock into the child.
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            chunk = max(1, min(16, len(jobs) // (workers * 8)))
            return [sources.decode(b) for b in pool.map(_summarise_one, jobs, chunksize=chunk)]
    except (OSError, ValueError) as exc:
        # A pool that cannot start (no file descriptors to hand its helper, no processes
        # left) only costs speed: read here instead.
        log.warning("reading transcripts in one process: the process pool failed (%s)", exc)
        return _in_process(jobs)


def scan(folders: Folders, store: Store, *, workers: int | None = None) -> Scan:
    """Summaries of every agent's files under ``folders``, reading only what the cache lacks."""
    if workers is None:
        workers = min(MAX_WORKERS, os.cpu_count() or 1)
    result = Scan()
    known = cache_table.load_all(store)
    todo: list[tuple[str, str, int, int]] = []
    seen: set[str] = set()
    for agent, path in sources.find(folders):
        key = str(path)
        seen.add(key)
        try:
            size, mtime_ns = sources.file_facts(agent, path)
        except OSError as exc:
            result.failed.append((key, exc.strerror or str(exc)))
            continue
        cached = known.get(key)
        version = sources.VERSIONS[agent]
        if (
            cached is not None
            and cached.size == size
            and cached.mtime_ns == mtime_ns
            and cached.parser == version
        ):
            result.summaries += sources.decode(cached.summary)
            result.cached += 1
        else:
            todo.append((agent, key, size, mtime_ns))
    fresh: list[cache_table.CachedSummary] = []
    read = _read_all([(agent, key) for agent, key, _, _ in todo], workers)
    for (agent, key, size, mtime_ns), summaries in zip(todo, read, strict=True):
        result.read += 1
        broken = next((s.error for s in summaries if s.error is not None), None)
        if broken is not None:
            result.failed.append((key, broken))
            continue
        result.summaries += summaries
        blob = sources.encode(summaries)
        fresh.append(cache_table.CachedSummary(key, size, mtime_ns, sources.VERSIONS[agent], blob))
    if fresh:
        cache_table.save(store, fresh, at=time.time())
    roots = folders.roots()
    gone = [p for p in known if p not in seen and _under(p, roots)]
    if gone:
        cache_table.forget(store, gone)
    return result


def _under(path: str, roots: list[Path]) -> bool:
    return (
        any(path.startswith(os.path.realpath(folder) + os.sep) for folder in roots)
        and not Path(path).exists()
    )
