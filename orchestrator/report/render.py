"""The report as text: the founding analysis's tables, filled with the user's own numbers.

Everything here reads the JSON document (:attr:`Report.data`), so the text and ``--json`` can
never tell different stories.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> str:
    """Columns padded to their widest cell; numbers (and percentages) right-aligned."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            text = str(cell)
            numeric = (i > 0 and text[:1].isdigit()) or text.startswith(("$", "-"))
            out.append(text.rjust(widths[i]) if numeric else text.ljust(widths[i]))
        return indent + "  ".join(out).rstrip()

    rule = indent + "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def pct(part: float, whole: float) -> str:
    """``part`` as a percentage of ``whole`` with one decimal ("-" when whole is 0)."""
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _num(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


def _name(project: str) -> str:
    return Path(project).name or project or "(none)"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def _when(data: dict[str, Any]) -> list[str]:
    hours = [
        (f"{e['hour']:02d}:00", str(e["parallel"]), str(e["total"]), pct(e["parallel"], e["total"]))
        for e in data["by_hour"]
        if e["total"]
    ]
    days = [
        (e["day"], str(e["parallel"]), str(e["total"]), pct(e["parallel"], e["total"]))
        for e in data["by_weekday"]
    ]
    return [
        "Time of day (local hour of session start)",
        table(("Hour", "Parallel", "Total", "Parallel %"), hours) if hours else "  no sessions",
        "",
        "Day of week",
        table(("Day", "Parallel", "Total", "Parallel %"), days),
    ]


def _outcomes(data: dict[str, Any]) -> list[str]:
    rows = []
    unknown = 0
    for kind in ("parallel", "single"):
        counts = data["outcomes"][kind]
        done, aborted = counts["completed"], counts["aborted"]
        unknown += counts.get("unknown", 0)
        rows.append(
            (kind.title(), str(done), str(aborted), str(done + aborted), pct(done, done + aborted))
        )
    lines = [
        "Outcomes",
        table(("Session type", "Completed", "Aborted", "Total", "Success rate"), rows),
    ]
    if unknown:
        lines.append(f"  Not counted: {unknown} session(s) whose agent records no outcome (aider)")
    return lines


def _productivity(data: dict[str, Any]) -> list[str]:
    p, s = data["productivity"]["parallel"], data["productivity"]["single"]
    rows = [
        ("Average duration (h)", _num(p["mean_hours"], 2), _num(s["mean_hours"], 2)),
        ("Average lines changed", _num(p["mean_lines_changed"]), _num(s["mean_lines_changed"])),
        ("Average messages", _num(p["mean_messages"]), _num(s["mean_messages"])),
        ("Lines per hour", _num(p["lines_per_hour"]), _num(s["lines_per_hour"])),
    ]
    keys = ("mean_hours", "mean_lines_changed", "mean_messages", "lines_per_hour")
    if not p.get("sessions_with_lines", 1) and not s.get("sessions_with_lines", 1):
        rows[1] = (rows[1][0], "-", "-")
        rows[3] = (rows[3][0], "-", "-")
    lines = [
        "Productivity",
        table(
            ("Metric", "Parallel", "Single", "Ratio"),
            [(*row, _ratio(p[k], s[k])) for row, k in zip(rows, keys, strict=True)],
        ),
    ]
    total = data["sessions"]["total"]
    with_lines = p.get("sessions_with_lines", 0) + s.get("sessions_with_lines", 0)
    if with_lines < total:
        lines.append(
            f"  Lines changed: over the {with_lines} of {total} sessions whose agent records its"
            " edits (Claude Code); Codex, Gemini CLI and aider sessions are left out of them"
        )
    return lines


def _agents(data: dict[str, Any]) -> list[str]:
    rows = []
    notes: list[str] = []
    for agent, a in data.get("by_agent", {}).items():
        t = a["tokens"]
        total = t["input"] + t["cache_creation"] + t["cache_read"] + t["output"]
        tokens = f"{total:,}" if a["tokens_exact"] else f"~{total:,}"
        o = a["outcomes"]
        outcomes = "-" if o["unknown"] == a["sessions"] else f"{o['completed']}/{o['aborted']}"
        lines = "-" if a["lines_changed"] is None else str(a["lines_changed"])
        waits = f"{a['waits']}" if a["linked"] else "-"
        rows.append(
            (agent, str(a["sessions"]), _num(a["hours"], 2), str(a["prompts"]),
             str(a["replies"]), tokens, outcomes, lines, waits)
        )  # fmt: skip
        if not a["tokens_exact"]:
            notes.append(f"{agent}: tokens as the agent printed them, rounded (e.g. 2.3k)")
        if lines == "-":
            notes.append(f"{agent}: lines changed are not in its files")
        if outcomes == "-":
            notes.append(f"{agent}: its files record no turn end, so no outcome")
        if not a["linked"]:
            notes.append(f"{agent}: no session ran in one of our fleets, so no waits are known")
    headers = ("Agent", "Sessions", "Hours", "Prompts", "Replies", "Tokens",
               "Done/aborted", "Lines", "Waits")  # fmt: skip
    return ["By agent", table(headers, rows), *(f"  - {note}" for note in notes)]


def _overlaps(data: dict[str, Any]) -> list[str]:
    o = data["overlaps"]
    n = o["significant"]
    labels = {"0.5-2h": "Short", "2-8h": "Medium", "8-24h": "Long", "24h+": "Very long"}
    rows = [(f"{labels[k]} ({k})", str(v), pct(v, n)) for k, v in o["buckets"].items()]
    same = round(o["same_project_share"] * n)
    lines = [
        f"Overlaps: {o['pairs']} overlapping pairs, {n} significant (over 30 minutes)",
        table(("Category", "Count", "Percentage"), rows),
        f"  Average overlap: {_num(o['mean_hours'], 2)} hours; "
        f"longest: {_num(o['longest_hours'], 2)} hours",
        f"  Same project: {pct(same, n)} ({same} pairs); different projects: "
        f"{pct(n - same, n)} ({n - same} pairs)",
    ]
    if o["top_project_pairs"]:
        lines.append("  Most common project pairs:")
        lines += [
            f"    {i}. {' + '.join(_name(p) for p in pair['projects'])}: {pair['count']} times"
            for i, pair in enumerate(o["top_project_pairs"], 1)
        ]
    return lines


def _tokens(data: dict[str, Any]) -> list[str]:
    t = data["tokens"]
    rows = [
        (
            model,
            f"{m['input']:,}",
            f"{m['cache_creation']:,}",
            f"{m['cache_read']:,}",
            f"{m['output']:,}",
            _money(m["cost_usd"]),
            _money(m["cost_usd_without_cache"]),
        )
        for model, m in t["by_model"].items()
    ]
    rows.append(
        (
            "total",
            f"{t['input']:,}",
            f"{t['cache_creation']:,}",
            f"{t['cache_read']:,}",
            f"{t['output']:,}",
            _money(t["cost_usd"]),
            _money(t["cost_usd_without_cache"]),
        )
    )
    headers = ("Model", "Input", "Cache write", "Cache read", "Output", "Cost", "Without cache")
    return [
        f"Tokens and cost (cache hit rate {100 * t['cache_hit_rate']:.1f}%)",
        table(headers, rows),
    ]


def _attention(data: dict[str, Any]) -> list[str]:
    a = data["attention"]
    return [
        "Attention (from the orchestrator's history)",
        f"  Waits for you: {a['waits']}, {_num(a['awaiting_input_hours'], 2)} hours in total",
        f"  Response time: median {_num(a['median_response_seconds'])} s, "
        f"p90 {_num(a['p90_response_seconds'])} s",
        f"  Forgotten (waited over 5 minutes): {a['forgotten']}",
    ]


def render(data: dict[str, Any]) -> str:
    """The whole report as text tables."""
    s = data["sessions"]
    w = data["window"]
    window = f"from {w['since'] or 'the first'} until {w['until'] or 'now'}"
    head = [
        f"Agent sessions {window} (times in {w['timezone']})",
        f"  {s['total']} sessions: {s['parallel']} parallel ({pct(s['parallel'], s['total'])}), "
        f"{s['single']} single",
    ]
    if s["total"] == 0:
        return "\n".join([*head, "  no sessions in this window"])
    sections = [head, _agents(data), _when(data), _outcomes(data), _productivity(data)]
    sections.append(_overlaps(data))
    sections += [_tokens(data), _attention(data)]
    return "\n\n".join("\n".join(lines) for lines in sections)
