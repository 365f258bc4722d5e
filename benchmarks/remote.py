"""A remote host that is up, black-holed, then down: how the dashboard's keys and ``status`` fare.

A fleet of four local shell sessions and one on the loopback host (the tests' sshd on
127.0.0.1, :mod:`tests.harness.sshd`), everything in a private HOME and private tmux servers.
The dashboard is on screen through a real client; for each phase, ``j``/``k`` keys are sent and
the time to the pane showing the next row selected is measured (as ``benchmarks/watch.py`` does),
and ``status --json`` is timed. Phases: the host up (the baseline of the same run), the host
black-holed (sshd and every sshd child stopped with SIGSTOP: connections open, nothing answers),
the host down (sshd stopped: refused), and the host back (time until ``status`` shows the
remote session's state again, on the same pane).

    .venv/bin/python benchmarks/remote.py [--keys 20]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from watch import SGR_BACKGROUND, backgrounds  # noqa: E402

from tests.harness.sshd import ALIAS, LoopbackSshd  # noqa: E402
from tests.tmux_client import attached  # noqa: E402

LOCAL = ["here-1", "here-2", "here-3", "here-4"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=20, help="keys sent per phase")
    args = parser.parse_args()
    top = Path(tempfile.mkdtemp(prefix="orc-remote-bench-"))
    home = top / "home"
    home.mkdir()
    os.environ.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".local/state"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        ORCHESTRATOR_RUNTIME_DIR=str(home / "run"),
        ORCHESTRATOR_NOTIFY="off",
    )
    for name in ("TMUX", "TMUX_PANE", "XDG_RUNTIME_DIR", "ORCHESTRATOR_DB", "SSH_AUTH_SOCK"):
        os.environ.pop(name, None)
    (top / "sshd").mkdir()
    sshd = LoopbackSshd(top / "sshd")
    sshd.start()
    socket = f"orc-rbench-{os.getpid()}"
    remote_socket = f"orc-rbench-remote-{os.getpid()}"
    program = [sys.executable, "-m", "orchestrator", "-L", socket]
    layout = top / "bench.toml"
    layout.write_text(
        'name = "rbench"\n[defaults]\nagent = "shell"\n'
        f'[hosts.{ALIAS}]\nssh = {json.dumps(sshd.ssh_options)}\nsocket = "{remote_socket}"\n'
        + "".join(f'[[sessions]]\nname = "{n}"\n' for n in LOCAL)
        + f'[[sessions]]\nname = "there-1"\nhost = "{ALIAS}"\n'
    )
    results: dict[str, dict[str, object]] = {}
    try:
        subprocess.run([*program, "up", str(layout), "-d"], check=True, capture_output=True)

        def status() -> tuple[float, dict[str, dict[str, object]]]:
            started = time.perf_counter()
            done = subprocess.run([*program, "status", "--json"], capture_output=True, text=True)
            took = time.perf_counter() - started
            rows = {str(r["name"]): r for r in json.loads(done.stdout)["sessions"]}
            return took, rows

        deadline = time.time() + 60
        while {r["state"] for r in status()[1].values()} != {"idle"}:
            if time.time() > deadline:
                raise RuntimeError("the fleet did not settle")
            time.sleep(0.5)
        pane_there = status()[1]["there-1"]["pane_id"]
        tmux = ["tmux", "-L", socket]
        dashboard = subprocess.run(
            [*tmux, "list-panes", "-a", "-F", "#{pane_id} #{@orc_kind}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        pane = next(line.split()[0] for line in dashboard if line.endswith(" dashboard"))
        subprocess.run([*tmux, "select-window", "-t", pane], check=True)
        with attached(socket, "=rbench:", (160, 40)):

            def screen() -> list[str]:
                done = subprocess.run(
                    [*tmux, "capture-pane", "-p", "-e", "-t", pane], capture_output=True, text=True
                )
                return done.stdout.splitlines()

            def line_of(lines: list[str], name: str) -> str:
                plain = (SGR_BACKGROUND.sub("", line) for line in lines)
                return next(
                    (raw for raw, text in zip(lines, plain, strict=True) if f" {name} " in text), ""
                )

            deadline = time.time() + 30
            while time.time() < deadline and not line_of(screen(), "there-1"):
                time.sleep(0.2)
            time.sleep(2.0)
            lines = screen()
            selected = backgrounds(line_of(lines, LOCAL[0])) - backgrounds(line_of(lines, LOCAL[1]))

            def keys() -> dict[str, object]:
                position, found = 0, []
                for i in range(args.keys):
                    key = "j" if i % 2 == 0 else "k"
                    position += 1 if key == "j" else -1
                    started = time.perf_counter()
                    subprocess.run([*tmux, "send-keys", "-t", pane, key], check=False)
                    seen = None
                    while time.perf_counter() - started < 5.0:
                        if selected <= backgrounds(line_of(screen(), LOCAL[position])):
                            seen = 1000 * (time.perf_counter() - started)
                            break
                        time.sleep(0.003)
                    found.append(seen)
                    time.sleep(0.3)
                got = sorted(x for x in found if x is not None)
                return {
                    "p50_ms": round(statistics.median(got)) if got else None,
                    "max_ms": round(got[-1]) if got else None,
                    "missed": len(found) - len(got),
                }

            def phase(name: str) -> None:
                took = [status()[0] for _ in range(3)]
                results[name] = {**keys(), "status_s": round(statistics.median(took), 2)}
                print(name, results[name], flush=True)

            phase("host up (baseline)")
            assert sshd.process is not None
            stopped = [
                psutil.Process(sshd.process.pid),
                *psutil.Process(sshd.process.pid).children(),
            ]
            for proc in stopped:
                proc.send_signal(signal.SIGSTOP)
            phase("host black-holed")
            for proc in stopped:
                proc.send_signal(signal.SIGCONT)
            sshd.stop()
            phase("host down (refused)")
            sshd.start()
            started = time.perf_counter()
            while True:
                rows = status()[1]
                if rows["there-1"]["state"] == "idle":
                    break
                time.sleep(0.2)
            back = time.perf_counter() - started
            same = rows["there-1"]["pane_id"] == pane_there
            started = time.perf_counter()
            while "unknown" in SGR_BACKGROUND.sub("", line_of(screen(), "there-1")):
                time.sleep(0.2)
            shown = time.perf_counter() - started + back
            print(
                f"host back: status shows there-1 idle after {back:.1f} s (same pane: {same}); "
                f"the dashboard row after {shown:.1f} s"
            )
    finally:
        subprocess.run([*program, "down", "rbench"], capture_output=True, check=False)
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)
        sshd.remote_tmux(remote_socket, "kill-server")
        sshd.stop()
    print()
    print(
        "| phase | keystroke to frame, p50 / max ms (missed) | `status --json`, s (median of 3) |"
    )
    print("|---|---|---|")
    for name, got in results.items():
        print(
            f"| {name} | {got['p50_ms']} / {got['max_ms']} ({got['missed']}) | {got['status_s']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
