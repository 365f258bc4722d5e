"""What the dashboard says about the fleet as a whole: the session count against the cap, and the
latest check-in (its banner).

Both are cheap and change seldom: the count is one tmux call at most every :data:`COUNT_EVERY`
seconds while someone sees the dashboard; the check-in is ``checkin.json`` in the fleet's runtime
folder, written by the watcher's check-in clock, read again only when its modification time moves.
No Textual here: the backend uses it from its worker thread.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from orchestrator.fleet import sprawl
from orchestrator.tmux.client import Tmux
from orchestrator.watch.checkin import DIGEST_FILE

COUNT_EVERY = 10.0
"""Seconds between two counts of the agent sessions on the server."""


@dataclass(frozen=True)
class Notes:
    """The fleet-wide lines of the dashboard."""

    sessions: int
    """Live agent sessions on the tmux server (every fleet)."""
    cap: int
    """``max_sessions`` in force for this fleet."""
    checkin: str = ""
    """The latest check-in digest, one line per list; empty when it listed nobody."""
    checkin_at: float | None = None
    """When that check-in was taken."""

    def cap_text(self) -> str:
        """``3/5 agent sessions``, with a warning once past the cap."""
        text = f"{self.sessions}/{self.cap} agent sessions on this server"
        return f"{text}, past max_sessions" if self.sessions > self.cap else text

    def banner(self) -> str:
        """The check-in banner (empty: none to show)."""
        if not self.checkin or self.checkin_at is None:
            return ""
        when = time.strftime("%H:%M", time.localtime(self.checkin_at))
        return f"check-in {when}: " + "; ".join(self.checkin.splitlines())


class NotesReader:
    """Keeps :class:`Notes` current for one fleet."""

    def __init__(self, tmux: Tmux, fleet: str, folder: Path) -> None:
        self.tmux = tmux
        self.fleet = fleet
        self.folder = folder
        self._cap: int | None = None
        self._counted: tuple[float, int] | None = None
        self._digest: tuple[float, str, float | None] = (0.0, "", None)

    def _limit(self) -> int:
        if self._cap is None:
            self._cap = sprawl.fleet_cap(self.tmux, self.fleet)
        return self._cap

    def _count(self, shown: bool) -> int:
        now = time.monotonic()
        if self._counted is None or (shown and now - self._counted[0] >= COUNT_EVERY):
            self._counted = (now, sprawl.agent_sessions(self.tmux))
        return self._counted[1]

    def _checkin(self) -> tuple[str, float | None]:
        path = self.folder / DIGEST_FILE
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return "", None
        if mtime != self._digest[0]:
            text, at = "", None
            try:
                data = json.loads(path.read_text("utf-8"))
                at = float(data["at"])
                text = "\n".join(_lines(data))
            except (OSError, ValueError, KeyError, TypeError):
                pass
            self._digest = (mtime, text, at)
        return self._digest[1], self._digest[2]

    def read(self, shown: bool) -> Notes:
        """The notes now (the count is refreshed only while ``shown``)."""
        text, at = self._checkin()
        return Notes(self._count(shown), self._limit(), text, at)


def _lines(data: object) -> list[str]:
    """The digest's lines, as the watcher wrote them in ``checkin.json``."""
    lines = data.get("lines") if isinstance(data, dict) else None
    return [str(line) for line in lines] if isinstance(lines, list) else []
