"""The report's figures, from its sessions: the tables of the analysis this project was founded
on, filled with the user's own numbers, in the shape ``report --json`` prints.

Every definition is in the README's "Report" section; this module follows it to the letter.
Hours and weekdays are local time (``TZ`` honoured), by session start. An empty group gives 0.0
for its means and rates, as an empty report does.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orchestrator.report.prices import PriceTable
from orchestrator.report.sessions import SIGNIFICANT_S, Overlap, Session
from orchestrator.report.transcript import TOKEN_KINDS

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
"""Day names, Monday first (``datetime.weekday()`` order)."""

BUCKETS = (("0.5-2h", 2.0), ("2-8h", 8.0), ("8-24h", 24.0), ("24h+", math.inf))
"""Significant overlaps by length: each bucket holds lengths below its bound (hours) and at or
above the previous one's (the first starts just above 0.5 h)."""

FORGOTTEN_S = 5 * 60
"""A wait longer than this (seconds) is *forgotten*."""

TOP_PAIRS = 5
"""How many project pairs ``top_project_pairs`` lists."""


@dataclass
class Report:
    """A finished report: the JSON document, the sessions behind it, and what went wrong."""

    data: dict[str, Any]
    """The document ``report --json`` prints."""
    sessions: list[Session]
    """The sessions it covers, by start."""
    warnings: list[str] = field(default_factory=list)
    """What a person should know: files skipped or partly read, models without a price."""


def local(at: float) -> datetime:
    """An epoch time as a local, zone-aware datetime (``TZ`` honoured)."""
    return datetime.fromtimestamp(at).astimezone()


def timezone_name() -> str:
    """The local time zone's name: ``$TZ`` when set, else the system's abbreviation."""
    return os.environ.get("TZ") or time.strftime("%Z") or "UTC"


def _round(value: float, digits: int = 4) -> float:
    return round(value, digits)


def _mean(values: list[float]) -> float:
    return _round(sum(values) / len(values)) if values else 0.0


def _when(
    sessions: list[Session],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[list[int]]]:
    hours = [[0, 0] for _ in range(24)]
    days = [[0, 0] for _ in range(7)]
    grid = [[0] * 24 for _ in range(7)]
    for s in sessions:
        at = local(s.start)
        for row in (hours[at.hour], days[at.weekday()]):
            row[1] += 1
            row[0] += int(s.parallel)
        grid[at.weekday()][at.hour] += 1
    by_hour = [{"hour": h, "parallel": p, "total": t} for h, (p, t) in enumerate(hours)]
    by_day = [{"day": WEEKDAYS[d], "parallel": p, "total": t} for d, (p, t) in enumerate(days)]
    return by_hour, by_day, grid


def _overlaps(found: list[Overlap]) -> dict[str, Any]:
    significant = [o for o in found if o.seconds > SIGNIFICANT_S]
    hours = [o.seconds / 3600 for o in significant]
    buckets = dict.fromkeys((name for name, _ in BUCKETS), 0)
    for h in hours:
        buckets[next(name for name, bound in BUCKETS if h < bound)] += 1
    pairs: Counter[tuple[str, str]] = Counter()
    same = 0
    for o in significant:
        a, b = sorted((o.first.project, o.second.project))
        pairs[(a, b)] += 1
        same += a == b
    return {
        "pairs": len(found),
        "significant": len(significant),
        "mean_hours": _mean(hours),
        "longest_hours": _round(max(hours, default=0.0)),
        "buckets": buckets,
        "same_project_share": _round(same / len(significant)) if significant else 0.0,
        "top_project_pairs": [
            {"projects": [a, b], "count": n}
            for (a, b), n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_PAIRS]
        ],
    }


def _productivity(group: list[Session]) -> dict[str, Any]:
    # Lines changed count only over sessions whose agent records them (Claude Code): an agent
    # that does not is left out of both the lines and the hours they are divided by.
    counted = [s for s in group if s.summary.lines_changed is not None]
    hours = sum(s.hours for s in counted)
    lines = sum(s.summary.lines_changed or 0 for s in counted)
    return {
        "mean_hours": _mean([s.hours for s in group]),
        "mean_lines_changed": _mean([float(s.summary.lines_changed or 0) for s in counted]),
        "mean_messages": _mean([float(s.summary.messages) for s in group]),
        "lines_per_hour": _round(lines / hours) if hours > 0 else 0.0,
        "sessions_with_lines": len(counted),
    }


def outcome(s: Session) -> str:
    """``completed``, ``aborted``, or ``unknown`` when the agent's files cannot tell."""
    done = s.summary.completed
    return "unknown" if done is None else "completed" if done else "aborted"


def _outcomes(group: list[Session]) -> dict[str, int]:
    found = Counter(outcome(s) for s in group)
    return {name: found[name] for name in ("completed", "aborted", "unknown")}


def _by_agent(sessions: list[Session]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for agent in sorted({s.summary.agent for s in sessions}):
        group = [s for s in sessions if s.summary.agent == agent]
        totals = [0, 0, 0, 0]
        for s in group:
            for counts in s.summary.tokens.values():
                totals = [a + b for a, b in zip(totals, counts, strict=True)]
        lines = [s.summary.lines_changed for s in group]
        waits = [w.end - w.start for s in group for w in s.waits]
        out[agent] = {
            "sessions": len(group),
            "parallel": sum(1 for s in group if s.parallel),
            "hours": _round(sum(s.hours for s in group)),
            "prompts": sum(s.summary.prompts for s in group),
            "replies": sum(s.summary.replies for s in group),
            "messages": sum(s.summary.messages for s in group),
            "lines_changed": None if None in lines else sum(x or 0 for x in lines),
            "outcomes": _outcomes(group),
            "tokens": dict(zip(TOKEN_KINDS, totals, strict=True)),
            "tokens_exact": all(s.summary.tokens_exact for s in group),
            "linked": sum(1 for s in group if s.link is not None),
            "waits": len(waits),
            "forgotten": sum(1 for x in waits if x > FORGOTTEN_S),
        }
    return out


def _tokens(sessions: list[Session], prices: PriceTable) -> tuple[dict[str, Any], list[str]]:
    per_model: dict[str, list[int]] = {}
    for s in sessions:
        for model, counts in s.summary.tokens.items():
            total = per_model.setdefault(model, [0, 0, 0, 0])
            for i, value in enumerate(counts):
                total[i] += value
    warnings: list[str] = []
    by_model: dict[str, Any] = {}
    cost: float | None = 0.0
    cost_plain: float | None = 0.0
    for model in sorted(per_model):
        counts = per_model[model]
        with_cache, without = prices.cost(model, counts)
        if with_cache is None or without is None:
            cost = cost_plain = None
            warnings.append(
                f"no price for model {model!r} ({sum(counts)} tokens): its cost and the total"
                " cost are unknown (give --prices FILE with its price)"
            )
        else:
            cost = None if cost is None else cost + with_cache
            cost_plain = None if cost_plain is None else cost_plain + without
        by_model[model] = {
            **dict(zip(TOKEN_KINDS, counts, strict=True)),
            "cost_usd": None if with_cache is None else _round(with_cache),
            "cost_usd_without_cache": None if without is None else _round(without),
        }
    totals = [sum(c[i] for c in per_model.values()) for i in range(4)]
    plain, written, read, _ = totals
    base = plain + written + read
    return {
        **dict(zip(TOKEN_KINDS, totals, strict=True)),
        "cache_hit_rate": _round(read / base) if base else 0.0,
        "cost_usd": None if cost is None else _round(cost),
        "cost_usd_without_cache": None if cost_plain is None else _round(cost_plain),
        "by_model": by_model,
    }, warnings


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0-1) of ``values``; 0.0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _attention(sessions: list[Session]) -> dict[str, Any]:
    return attention_of([w.end - w.start for s in sessions for w in s.waits])


def attention_of(lengths: list[float]) -> dict[str, Any]:
    """The attention figures of these waits' lengths (seconds)."""
    return {
        "waits": len(lengths),
        "awaiting_input_hours": _round(sum(lengths) / 3600),
        "median_response_seconds": _round(statistics.median(lengths), 2) if lengths else 0.0,
        "p90_response_seconds": _round(percentile(lengths, 0.9), 2),
        "forgotten": sum(1 for x in lengths if x > FORGOTTEN_S),
    }


def _entry(s: Session) -> dict[str, Any]:
    summary = s.summary
    totals = [0, 0, 0, 0]
    for counts in summary.tokens.values():
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
    return {
        "session_id": summary.session_id,
        "agent": summary.agent,
        "project": s.project,
        "start": local(s.start).isoformat(timespec="seconds"),
        "end": local(s.end).isoformat(timespec="seconds"),
        "hours": _round(s.hours),
        "parallel": s.parallel,
        "outcome": outcome(s),
        "messages": summary.messages,
        "lines_changed": summary.lines_changed,
        "fleet": None if s.link is None else s.link.fleet,
        "name": None if s.link is None else s.link.name,
        "path": summary.path,
        "prompts": summary.prompts,
        "replies": summary.replies,
        "models": sorted(summary.tokens),
        "tokens": dict(zip(TOKEN_KINDS, totals, strict=True)),
        "tokens_exact": summary.tokens_exact,
        "waits": [
            {
                "start": local(w.start).isoformat(timespec="seconds"),
                "seconds": _round(w.end - w.start, 2),
            }
            for w in s.waits
        ],
    }


def analyse(
    sessions: list[Session],
    found: list[Overlap],
    prices: PriceTable,
    window: dict[str, Any],
    *,
    skipped_lines: int,
    skipped_files: int,
) -> Report:
    """The report over ``sessions`` (kept, by start, parallel marked) and their ``found``
    overlaps."""
    by_hour, by_day, grid = _when(sessions)
    parallel = [s for s in sessions if s.parallel]
    single = [s for s in sessions if not s.parallel]
    tokens, warnings = _tokens(sessions, prices)
    data: dict[str, Any] = {
        "window": window,
        "sessions": {
            "total": len(sessions),
            "parallel": len(parallel),
            "single": len(single),
            "skipped_lines": skipped_lines,
            "skipped_files": skipped_files,
        },
        "overlaps": _overlaps(found),
        "by_hour": by_hour,
        "by_weekday": by_day,
        "by_weekday_hour": grid,
        "outcomes": {"parallel": _outcomes(parallel), "single": _outcomes(single)},
        "productivity": {"parallel": _productivity(parallel), "single": _productivity(single)},
        "tokens": tokens,
        "attention": _attention(sessions),
        "by_agent": _by_agent(sessions),
        "list": [_entry(s) for s in sessions],
    }
    return Report(data, sessions, warnings)
