"""The report's pictures, drawn with plotext: a timeline of sessions (which ran when, and in
which state from our history) and a weekday × hour heat map of session starts.

Each ``draw_*`` function draws on a plotext figure it is given: the ``plotext`` module itself
for the terminal (:func:`pictures_text`), or the figure of a ``textual_plotext.PlotextPlot``
widget in the dashboard, so both show the same picture. Markers differ per state as well as
colours, so a picture still reads where colour is lost (a pipe, a file, the README).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orchestrator.report.analysis import WEEKDAYS, Report

TIMELINE_ROWS = 20
"""How many sessions (the latest by start) the timeline shows."""

TIMELINE_FRAME = 5
"""Lines of the timeline that are not rows: title, two frame lines, time labels, the key. A
picture of exactly rows + this many lines gives each session one line of its own."""

STATE_LOOK = {
    "working": ("█", "green", "working"),
    "awaiting_input": ("▓", "red", "waiting for you"),
    "idle": ("░", "blue", "idle"),
}
"""Marker, colour and legend of each history state the timeline draws; other states (exited,
unknown) show as the plain session span."""
SPAN_LOOK = ("─", "gray", "ran (transcript)")
"""How a session's span looks where our history has no state for it."""
HEATMAP_HEIGHT = 13
"""Lines of the heat map: its seven days, a blank line above and below, title, frame, hours."""
HEAT_LEVELS = " ░▒▓█"
"""Heat map markers from none to most starts."""


def _label(entry: dict[str, Any]) -> str:
    if entry.get("fleet"):
        return f"{entry['fleet']}/{entry['name']}"[:18]
    project = str(entry.get("project") or "").rstrip("/").rsplit("/", 1)[-1]
    agent = entry.get("agent", "claude")
    # Claude's sessions by their id; another agent's by its name (aider's has no id).
    return f"{project[:9]}:{entry['session_id'][:8] if agent == 'claude' else agent}"


def draw_timeline(plt: Any, report: Report, *, rows: int = TIMELINE_ROWS) -> bool:
    """Draw the latest ``rows`` sessions as bars over time; False when there is nothing to draw."""
    shown = report.sessions[-rows:]
    if not shown:
        return False
    entries = {e["path"]: e for e in report.data["list"]}
    first = min(s.start for s in shown)
    last = max([s.end for s in shown] + [st.end for s in shown for st in s.states])
    span = max(last - first, 60.0)

    def x(at: float) -> float:
        return (at - first) / 3600

    for row, session in enumerate(reversed(shown)):
        y = row + 1
        # Waits are drawn last: a wait of seconds shares its mark with the work around it,
        # and whether the session waited for you is what the picture is for.
        states = [
            (*STATE_LOOK[st.state], st.start, st.end)
            for st in sorted(session.states, key=lambda st: st.state == "awaiting_input")
            if st.state in STATE_LOOK
        ]
        for marker, color, _, start, end in [(*SPAN_LOOK, session.start, session.end), *states]:
            # At least a 400th of the axis, so a short stretch still shows as one mark.
            stop = max(end, start + span / 400)
            plt.plot([x(start), x(stop)], [y, y], marker=marker, color=color)
    plt.ylim(0.5, len(shown) + 0.5)
    plt.yticks(
        list(range(1, len(shown) + 1)),
        [_label(entries.get(s.summary.path, {})) for s in reversed(shown)],
    )
    ticks = [first + span * i / 4 for i in range(5)]
    fmt = "%a %H:%M" if span < 6 * 86400 else "%m-%d %H:%M"
    plt.xticks([x(t) for t in ticks], [datetime.fromtimestamp(t).strftime(fmt) for t in ticks])
    plt.xlim(0, x(first + span))
    total = len(report.sessions)
    plt.title(f"Timeline: the latest {len(shown)} of {total} sessions, states from our history")
    # The key goes under the axis: plotext's own legend would cover the first rows.
    plt.xlabel(
        "   ".join(f"{m * 2} {legend}" for m, _, legend in (SPAN_LOOK, *STATE_LOOK.values()))
    )
    return True


def draw_heatmap(plt: Any, report: Report) -> bool:
    """Draw session starts by weekday (rows, Monday on top) and hour (columns)."""
    grid: list[list[int]] = report.data["by_weekday_hour"]
    most = max((n for row in grid for n in row), default=0)
    if most == 0:
        return False
    for day, row in enumerate(grid):
        for hour, n in enumerate(row):
            if not n:
                continue
            level = max(1, round((len(HEAT_LEVELS) - 1) * n / most))
            shade = 255 - 45 * level
            plt.scatter([hour], [6 - day], marker=HEAT_LEVELS[level], color=(255, shade, 40))
    plt.xlim(-0.5, 23.5)
    plt.ylim(-0.5, 6.5)
    plt.xticks(list(range(0, 24, 3)), [f"{h:02d}h" for h in range(0, 24, 3)])
    plt.yticks(list(range(7)), [d[:3] for d in reversed(WEEKDAYS)])
    plt.title(f"Sessions started by weekday and hour (█ = {most})")
    return True


def pictures_text(report: Report, *, width: int = 100, color: bool = False) -> str:
    """Both pictures as terminal text (ANSI colours only with ``color``); "" for no sessions."""
    import plotext

    out: list[str] = []
    for draw, height in (
        (draw_timeline, min(TIMELINE_ROWS, len(report.sessions)) + TIMELINE_FRAME),
        (draw_heatmap, HEATMAP_HEIGHT),
    ):
        plotext.clf()
        plotext.limitsize(False, False)  # the size asked for, not the terminal's (a pipe has none)
        plotext.plot_size(width, height)
        plotext.theme("clear")
        if draw(plotext, report):
            text = plotext.build()
            out.append(text if color else plotext.uncolorize(text))
    plotext.clf()
    return "\n\n".join(out)
