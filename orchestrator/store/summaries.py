"""The report's cache of transcript summaries, kept in the history database.

``orchestrator report`` reads every Claude Code transcript once; what it learnt from a file (a
small JSON summary, see :mod:`orchestrator.report.transcript`) is stored here under the file's
path with the size and modification time it had then. A later report re-reads only files whose
size or time changed, or that an older parser version summarised. The table is a cache: losing
it costs one slower report, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from orchestrator.store.db import Store


@dataclass(frozen=True)
class CachedSummary:
    """One transcript's cached summary and the file facts it is valid for."""

    path: str
    """The transcript file."""
    size: int
    """Its size in bytes when it was read."""
    mtime_ns: int
    """Its modification time (nanoseconds since the epoch) when it was read."""
    parser: int
    """The parser version that read it."""
    summary: bytes
    """The summary, as JSON."""


def load_all(store: Store) -> dict[str, CachedSummary]:
    """Every cached summary, by path."""
    # The store part owns its connection; this module is the table's only reader and writer.
    rows = store._conn.execute(
        "SELECT path, size, mtime_ns, parser, summary FROM transcript_summaries"
    ).fetchall()
    return {
        str(path): CachedSummary(str(path), int(size), int(mtime), int(parser), bytes(summary))
        for path, size, mtime, parser, summary in rows
    }


def save(store: Store, rows: Iterable[CachedSummary], *, at: float) -> None:
    """Store (or replace) summaries, all in one transaction."""
    with store._write() as conn:
        conn.executemany(
            "INSERT OR REPLACE INTO transcript_summaries"
            " (path, size, mtime_ns, parser, summary, read_at) VALUES (?, ?, ?, ?, ?, ?)",
            [(r.path, r.size, r.mtime_ns, r.parser, r.summary, at) for r in rows],
        )


def forget(store: Store, paths: Iterable[str]) -> None:
    """Drop the summaries of files that are gone."""
    with store._write() as conn:
        conn.executemany("DELETE FROM transcript_summaries WHERE path = ?", [(p,) for p in paths])
