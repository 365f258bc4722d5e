"""The dashboard's report view: ``orchestrator report``'s tables and pictures, in a screen.

Opened with the report key from the dashboard. The report is made in a worker thread (reading
transcripts can take seconds the first time; the cache makes later ones quick) with its own
history store, reading on that one thread (see ``_make``), then shown: the tables as text, the
timeline and the heat map drawn by ``textual_plotext`` with the same drawing code as the
terminal's pictures. ``f`` switches between every agent session and only this fleet's; ``r``
makes the report again. Fleets with sessions on other hosts add each host's part, asked for in
the same worker (a host that cannot be reached is named as missing in the title and the tables).
"""

from __future__ import annotations

import logging
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual_plotext import PlotextPlot

from orchestrator.errors import OrchestratorError
from orchestrator.remote import report as remote
from orchestrator.report.analysis import Report
from orchestrator.report.build import Request, make_report
from orchestrator.report.pictures import (
    HEATMAP_HEIGHT,
    TIMELINE_FRAME,
    TIMELINE_ROWS,
    draw_heatmap,
    draw_timeline,
)
from orchestrator.report.render import render
from orchestrator.store.db import Store

log = logging.getLogger(__name__)


class ReportScreen(Screen[None]):
    """How the sessions went: the report's tables and pictures."""

    DEFAULT_CSS = """
    ReportScreen #report-title { height: 1; background: $primary; color: $text; padding: 0 1; }
    ReportScreen #timeline { height: 28; }
    ReportScreen #heatmap { height: 13; }
    ReportScreen #tables { height: auto; padding: 1 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back"),
        Binding("f", "toggle_fleet", "This fleet / all"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self, fleet: str | None) -> None:
        super().__init__()
        self.fleet = fleet
        """The dashboard's fleet."""
        self.fleet_only = False
        """Show only the conversations our history links to the fleet."""
        self.report: Report | None = None
        """The report on screen, once made."""

    def compose(self) -> ComposeResult:
        yield Static("report: reading transcripts...", id="report-title")
        with VerticalScroll():
            yield PlotextPlot(id="timeline")
            yield PlotextPlot(id="heatmap")
            yield Static(id="tables")
        yield Footer()

    def on_mount(self) -> None:
        """Make the first report."""
        self.action_refresh()

    def action_close(self) -> None:
        """Back to the dashboard."""
        self.dismiss(None)

    def action_toggle_fleet(self) -> None:
        """Switch between every session and only the fleet's."""
        self.fleet_only = not self.fleet_only and self.fleet is not None
        self.action_refresh()

    def action_refresh(self) -> None:
        """Make the report again, in a worker."""
        scope = f"fleet {self.fleet}" if self.fleet_only else "every agent session"
        self.query_one("#report-title", Static).update(f"report ({scope}): reading transcripts...")
        self._make(self.fleet if self.fleet_only else None)

    @work(thread=True, exclusive=True, group="report")
    def _make(self, fleet: str | None) -> None:
        # One reader, in this thread: a process pool cannot start inside a Textual app (its
        # standard error has no file descriptor to hand the pool's helper process).
        try:
            with Store(check=False) as store:
                report = make_report(Request(fleet=fleet, workers=1), store)
            remote.merge(report.data, remote.ask(fleet, None, None))
        except OrchestratorError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        except Exception as exc:  # a report that fails must not take the dashboard down
            log.exception("the report failed")
            self.app.call_from_thread(self._failed, f"failed: {exc!r}")
            return
        self.app.call_from_thread(self.show, report)

    def _failed(self, message: str) -> None:
        self.query_one("#report-title", Static).update(f"report: {message}")

    def show(self, report: Report) -> None:
        """Put a finished report on screen."""
        self.report = report
        scope = f"fleet {self.fleet}" if self.fleet_only else "every agent session"
        data = report.data
        title = f"report ({scope}): {data['sessions']['total']} sessions"
        if data.get("hosts"):
            title += f", {len(data['hosts'])} host part(s)"
        if data.get("missing"):
            title += f", MISSING {len(data['missing'])} host(s)"
        if report.warnings:
            title += f", {len(report.warnings)} warning(s) (see `orchestrator report`)"
        self.query_one("#report-title", Static).update(title)
        hosts = remote.render(data)
        tables = render(data) + (f"\n\n{hosts}" if hosts else "")
        self.query_one("#tables", Static).update(Text(tables))
        rows = min(TIMELINE_ROWS, len(report.sessions))
        for widget_id, draw, height in (
            ("#timeline", draw_timeline, rows + TIMELINE_FRAME),
            ("#heatmap", draw_heatmap, HEATMAP_HEIGHT),
        ):
            plot = self.query_one(widget_id, PlotextPlot)
            plot.plt.clear_figure()
            plot.display = draw(plot.plt, report)
            plot.styles.height = height
            plot.refresh()
