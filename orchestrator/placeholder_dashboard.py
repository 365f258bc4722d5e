"""A plain-text stand-in for the dashboard: the fleet's sessions, refreshed every two seconds."""

from __future__ import annotations

import time

from orchestrator import fleet
from orchestrator.tmux import Tmux


def run(tmux: Tmux, name: str) -> int:
    """Print the fleet's sessions until interrupted."""
    try:
        while True:
            rows = fleet.status_rows(tmux, name)
            print("\x1b[H\x1b[2J", end="")
            print(f"fleet {name}: {len(rows)} session(s)   (Ctrl-C to close; the fleet runs on)\n")
            for row in rows:
                print(f"  {row['name']:<16} {row['state']:<15} {row['reason']}")
            time.sleep(2)
    except KeyboardInterrupt:
        return 0
