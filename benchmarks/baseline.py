"""The baseline the watcher is measured against: what the popular tools do.

Every 500 ms: one ``tmux list-panes`` for the pane set and exits, then one ``tmux capture-pane``
subprocess per live pane (as claude-squad and agent-deck do), each screen classified with the same
Claude screen rules and the same reconciler as the watcher (screen and pane death only, no hooks).
Every change of state is appended to a JSON-lines file with the time it was seen. Runs until
SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orchestrator.agents.claude import CLAUDE
from orchestrator.detect.reconcile import ProcessFacts, SessionTracker

SEP = "\x1f"


def main() -> int:
    """Poll the fleet's panes until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tmux", required=True, help="path of the tmux binary")
    parser.add_argument("--socket", required=True, help="tmux socket name (-L)")
    parser.add_argument("--fleet", required=True)
    parser.add_argument("--out", required=True, type=Path, help="JSON-lines file of transitions")
    parser.add_argument("--calls", required=True, type=Path, help="file for the tmux call count")
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args()
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    env = {k: v for k, v in os.environ.items() if k not in {"TMUX", "TMUX_PANE"}}
    base = [args.tmux, "-L", args.socket]
    trackers: dict[str, SessionTracker] = {}
    published: dict[str, str] = {}
    calls = 0
    fields = SEP.join(("#{pane_id}", "#{@orc_session}", "#{@orc_kind}", "#{pane_dead}"))
    with args.out.open("a", encoding="utf-8") as out:
        while not stop:
            started = time.time()
            listing = subprocess.run(
                [*base, "list-panes", "-s", "-t", f"={args.fleet}:", "-F", fields],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            calls += 1
            for row in listing.stdout.splitlines():
                pane_id, name, kind, dead = row.split(SEP)
                if kind != "agent":
                    continue
                tracker = trackers.setdefault(name, CLAUDE.tracker(started))
                tracker.facts = ProcessFacts(dead=dead == "1", dead_status=0)
                if dead != "1":
                    screen = subprocess.run(
                        [*base, "capture-pane", "-p", "-t", pane_id],
                        capture_output=True,
                        text=True,
                        env=env,
                        check=False,
                    )
                    calls += 1
                    tracker.see_screen(screen.stdout, time.time())
                now = time.time()
                verdict, _ = tracker.decide(now)
                if verdict.state.value != published.get(name):
                    old = published.get(name, "")
                    published[name] = verdict.state.value
                    record = {"session": name, "old": old, "new": verdict.state.value}
                    out.write(json.dumps({**record, "reported": now}) + "\n")
                    out.flush()
            args.calls.write_text(str(calls), encoding="utf-8")
            # Never pile up: a slow round is followed by the next one at once, not by a backlog.
            time.sleep(max(0.0, args.interval - (time.time() - started)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
