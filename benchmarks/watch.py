"""Benchmark what a user runs (watcher and dashboard) against a 500 ms capture-every-pane poller.

    .venv/bin/python benchmarks/watch.py --sessions 5,20,50 --keys 100

For each fleet size it launches a fleet of scripted fake Claude Code agents (``fake_agent.py``:
real screens for the real screen rules, the real hook command, ground-truth times of every state
change) on a private tmux server, with the real watcher and the real dashboard in their windows,
and in the same run the baseline poller (``baseline.py``). Half the sessions run hooks (the hook
path), half do not (the screen-only path). A real tmux client (attached through a pseudo-terminal,
200x50) plays the user: on the agents window (nobody sees the dashboard), or on the dashboard's.
It measures:

- latency from each scripted state change to the watcher's report (``transitions.jsonl``), and to
  the baseline's, for the hook path, the screen-only path, a burst, and exits;
- CPU (% of one core, each process with its tmux clients) with all sessions idle: ours (watcher
  and dashboard) with nobody looking and with the dashboard on screen, and the baseline, each in
  its own window with the others stopped (SIGSTOP), so that the tmux server's share of each can be
  told: the server's CPU in that window minus its CPU with all of them stopped;
- CPU with all sessions working, dashboard on screen, ours and the baseline side by side;
- tmux client calls per second; ``up`` time (tmux side); ``status --json`` wall time;
- with ``--keys N``: on a fleet of N idle sessions, the time from ``tmux send-keys`` of a cursor
  key to the dashboard's pane showing the selection moved (``capture-pane``, polled every few ms).

A markdown table goes to stdout and the figures as JSON to ``benchmarks/results/``. Every tmux
server and process started here is ended on the way out, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from orchestrator.fleet import jump  # noqa: E402
from orchestrator.fleet import up as fleet_mod  # noqa: E402
from orchestrator.layout.load import load_layout, resolve  # noqa: E402
from orchestrator.runtime import fleet_dir, watcher_running  # noqa: E402
from orchestrator.tmux.client import Tmux  # noqa: E402
from tests.tmux_client import attached, stop  # noqa: E402

Json = dict[str, Any]

CYCLE = (("work", 0.0), ("ask", 1.2), ("approve", 2.4), ("done", 3.6))
"""One scripted turn per session: seconds after the session's start offset."""
CYCLE_LENGTH = 6.6
"""A turn plus 3 s idle, so that a screen-only idle prompt is still long enough to count."""
SPREAD = 3.0
"""Seconds over which the sessions' turns are spread."""

SCREEN = (200, 50)
"""The user's terminal: the attached client's size, and the dashboard window's."""

TARGETS = {
    "hook": "p95 ≤ 250 ms",
    "exit-hook": "p95 ≤ 250 ms",
    "exit-process": "p95 ≤ 250 ms",
    "screen-awaiting_input": "p95 ≤ 1.5 s",
    "cpu-idle": "≤ 2 % at 50",
    "cpu-working": "≤ 10 % at 50, ≥ 5× below baseline",
    "ours-hidden": "≤ 1.0 % at 50",
    "ours-shown": "≤ 2.0 % at 50",
    "ours-working": "≤ 8 % at 50, ≥ 5× below baseline",
    "keys": "p95 ≤ 50 ms at 100",
    "status": "≤ 300 ms at 50",
    "up": "≤ 1 s at 5",
}
CATEGORIES = {
    "hook": "hook path (all states)",
    "screen-working": "screen only → working",
    "screen-awaiting_input": "screen only → awaiting input",
    "screen-idle": "screen only → idle (1.5 s stillness by design)",
    "burst": "burst: all sessions → working at once",
    "exit-hook": "exit with SessionEnd hook",
    "exit-process": "exit, process only (no hook)",
}


@dataclass
class Bench:
    """The run's private folder, environment and everything to clean up."""

    root: Path
    real_tmux: str
    sockets: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def bin(self) -> Path:
        """Wrappers that come first on PATH: ``claude`` (the fake agent) and a counting tmux."""
        return self.root / "bin"

    @property
    def tmux_log(self) -> Path:
        """One line per tmux client started through the shim: its parent's pid."""
        return self.root / "tmux-calls.log"

    def prepare(self) -> None:
        """Write the wrappers and point the environment at private folders."""
        self.bin.mkdir(parents=True)
        claude = self.bin / "claude"
        # A script named `claude` so that launch.py adds --settings and the watcher's process
        # pass recognises the agent, as it does for the real CLI.
        claude.write_text(
            f"#!{sys.executable}\nimport runpy\n"
            f"runpy.run_path({str(HERE / 'fake_agent.py')!r}, run_name='__main__')\n",
            encoding="utf-8",
        )
        shim = self.bin / "tmux"
        shim.write_text(
            f'#!/bin/sh\necho "$PPID" >> {self.tmux_log}\nexec {self.real_tmux} "$@"\n',
            encoding="utf-8",
        )
        for path in (claude, shim):
            path.chmod(0o755)
        self.tmux_log.touch()
        (self.root / "work").mkdir()
        for key in ("TMUX", "TMUX_PANE"):
            os.environ.pop(key, None)
        os.environ["PATH"] = f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}"
        os.environ["ORCHESTRATOR_RUNTIME_DIR"] = str(self.root / "runtime")
        os.environ["ORCHESTRATOR_DB"] = str(self.root / "history.sqlite3")
        os.environ["ORCHESTRATOR_NOTIFY"] = "off"
        os.environ["ORCHESTRATOR_SOCKET"] = ""

    def cleanup(self) -> list[str]:
        """End every process and tmux server of the run; return what had to be killed."""
        for proc in self.processes:
            stop(proc)
        for socket in self.sockets:
            subprocess.run(
                [self.real_tmux, "-L", socket, "kill-server"], capture_output=True, check=False
            )
        return [desc for socket in self.sockets for desc in reap_leftovers(socket)]


def reap_leftovers(socket: str, wait: float = 3.0) -> list[str]:
    """Processes still naming the socket after its server was killed (leaks); kill them."""
    deadline = time.time() + wait
    while True:
        found = []
        for proc in psutil.process_iter(["pid", "cmdline"]):
            cmdline = proc.info["cmdline"] or []
            if any(socket == arg for arg in cmdline) and proc.pid != os.getpid():
                found.append(proc)
        if not found or time.time() > deadline:
            break
        time.sleep(0.2)
    leaked = []
    for proc in found:
        with contextlib.suppress(psutil.Error):
            leaked.append(f"{proc.pid} {' '.join(proc.cmdline())}")
            proc.kill()
    return leaked


# ---------------------------------------------------------------------------------------------
# Measuring


def cpu_seconds(pid: int) -> float:
    """CPU time of a process, its reaped children (tmux clients) and its live descendants."""
    proc = psutil.Process(pid)
    times = proc.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            child_times = child.cpu_times()
            total += child_times.user + child_times.system
    return total


def shim_counts(log: Path) -> Counter[str]:
    """tmux clients started so far, by parent pid."""
    return Counter(log.read_text(encoding="utf-8").split())


@dataclass
class Window:
    """CPU (% of a core) and tmux calls per second of named processes over some seconds."""

    cpu: dict[str, float]
    calls: dict[str, float]


def measure(
    seconds: float, pids: dict[str, int], bench: Bench, baseline_calls: Path | None
) -> Window:
    """Sample the named processes at the start and end of a window of ``seconds``. tmux calls
    are counted by the shim (by parent pid), the baseline's by the baseline itself."""

    def sample() -> tuple[float, dict[str, float], dict[str, float]]:
        counts = shim_counts(bench.tmux_log)
        cpu, calls = {}, {}
        for name, pid in pids.items():
            with contextlib.suppress(psutil.Error):
                cpu[name] = cpu_seconds(pid)
            if name == "baseline":
                found = baseline_calls is not None and baseline_calls.exists()
                text = baseline_calls.read_text() if baseline_calls and found else ""
                calls[name] = float(text or 0)
            elif name != "server":
                calls[name] = float(counts[str(pid)])
        return time.time(), cpu, calls

    start = sample()
    time.sleep(seconds)
    end = sample()
    wall = end[0] - start[0]
    return Window(
        cpu={k: 100 * (end[1][k] - start[1][k]) / wall for k in end[1] if k in start[1]},
        calls={k: (end[2][k] - start[2][k]) / wall for k in end[2] if k in start[2]},
    )


def process_tree(pid: int) -> list[psutil.Process]:
    """A process and its live descendants (the watcher's control-mode client, hooks...)."""
    try:
        proc = psutil.Process(pid)
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []


@contextlib.contextmanager
def stopped(pids: list[int]) -> Iterator[None]:
    """SIGSTOP these processes and their descendants for a while (CPU windows of one side)."""
    procs = [proc for pid in pids for proc in process_tree(pid)]
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.suspend()
    try:
        yield
    finally:
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.resume()


class Client:
    """A real tmux client attached through a pseudo-terminal: the user's terminal."""

    def __init__(self, bench: Bench, socket: str, target: str, size: tuple[int, int]) -> None:
        self._stack = contextlib.ExitStack()
        terminal = self._stack.enter_context(attached(socket, target, size, bench.real_tmux))
        bench.processes.append(terminal.proc)

    def close(self) -> None:
        """Detach: end the client."""
        self._stack.close()


def read_jsonl(path: Path) -> list[Json]:
    """The records of a JSON-lines file (a partial last line is skipped)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            records.append(json.loads(line))
    return records


def category(truth: Json) -> str | None:
    """Which latency row a ground-truth state change belongs to."""
    if truth["tag"] == "start":
        return None
    if truth["state"] == "exited":
        return "exit-hook" if truth["mode"] == "hooks" else "exit-process"
    if truth["tag"] == "burst":
        return "burst" if truth["state"] == "working" else None
    return "hook" if truth["mode"] == "hooks" else f"screen-{truth['state']}"


def match(truths: list[Json], reports: list[Json]) -> tuple[dict[str, list[float | None]], int]:
    """Latency of each scripted change (None: never reported while it lasted); extra reports."""
    by_session: dict[str, list[Json]] = {}
    for truth in sorted(truths, key=lambda t: float(t["at"])):
        by_session.setdefault(truth["session"], []).append(truth)
    used: set[int] = set()
    found: dict[str, list[float | None]] = {name: [] for name in CATEGORIES}
    for session, changes in by_session.items():
        mine = [(i, r) for i, r in enumerate(reports) if r["session"] == session]
        for index, truth in enumerate(changes):
            end = changes[index + 1]["at"] if index + 1 < len(changes) else math.inf
            hit = next(
                (
                    (i, r)
                    for i, r in mine
                    if i not in used
                    and r["new"] == truth["state"]
                    and truth["at"] <= r["reported"]
                    and r["reported"] < end
                ),
                None,
            )
            if hit is not None:
                used.add(hit[0])
            name = category(truth)
            if name is not None:
                found[name].append(None if hit is None else hit[1]["reported"] - truth["at"])
    warm = min((t["at"] for t in truths if t["tag"] != "start"), default=math.inf)
    extra = sum(
        1
        for i, r in enumerate(reports)
        if i not in used and r["reported"] >= warm and r["new"] not in {"starting"}
    )
    return found, extra


def stats(latencies: list[float | None]) -> Json:
    """Count, missed, and p50 / p95 / max in milliseconds."""
    seen = sorted(x for x in latencies if x is not None)
    result: Json = {"count": len(latencies), "missed": len(latencies) - len(seen)}
    if seen:

        def rank(p: float) -> float:
            return round(1000 * seen[max(0, math.ceil(p * len(seen)) - 1)], 1)

        result.update(p50=rank(0.5), p95=rank(0.95), max=round(1000 * seen[-1], 1))
    return result


# ---------------------------------------------------------------------------------------------
# One fleet size


class Fleet:
    """A live benchmark fleet: its tmux server, agents' FIFOs and ground truth."""

    def __init__(self, bench: Bench, sessions: int, label: str = "bench") -> None:
        self.bench = bench
        self.size = sessions
        self.name = f"{label}-{sessions}"
        self.socket = f"orc-{label}-{os.getpid()}-{sessions}"
        self.folder = bench.root / self.name
        self.folder.mkdir()
        self.truth = self.folder / "truth.jsonl"
        self.names = [f"s{i:03d}" for i in range(sessions)]
        self.fifos: dict[str, int] = {}
        self.tmux = Tmux(socket_name=self.socket)

    def layout(self) -> Path:
        """Write the fleet's layout file: every other session runs without hooks."""
        lines = [
            f"name = {json.dumps(self.name)}",
            f"root = {json.dumps(str(self.bench.root / 'work'))}",
            'arrange = "tiled"',
        ]
        for index, name in enumerate(self.names):
            fifo = self.folder / f"{name}.fifo"
            os.mkfifo(fifo, 0o600)
            self.fifos[name] = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
            mode = "hooks" if index % 2 == 0 else "screen"
            command = [
                str(self.bench.bin / "claude"),
                *("--name", name, "--mode", mode),
                *("--control", str(fifo), "--truth", str(self.truth)),
            ]
            lines += ["", "[[sessions]]", f"name = {json.dumps(name)}"]
            lines.append(f"command = {json.dumps(command)}")
        path = self.folder / "layout.toml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def up(self) -> float:
        """Launch the fleet with its dashboard and watcher windows; return ``up``'s tmux-side
        seconds. The agents' window keeps the size that gives every pane Claude's width whatever
        client attaches; the dashboard's is a terminal's, :data:`SCREEN`."""
        path = self.layout()
        plan = resolve(load_layout(path), path)
        columns = math.ceil(math.sqrt(self.size))
        rows = math.ceil(self.size / columns)
        size = (max(200, 81 * columns), max(50, 25 * rows))
        self.bench.sockets.append(self.socket)
        report = fleet_mod.up(plan, self.tmux, size=size, services=("dashboard", "watcher"))
        width, height = (str(n) for n in SCREEN)
        self.tmux.run(
            ["set-option", "-w", "-t", f"={self.name}:agents", "window-size", "manual"],
            ["resize-window", "-t", f"={self.name}:dashboard", "-x", width, "-y", height],
        )
        return report.seconds

    def dashboard_pid(self) -> int:
        """The dashboard's process (its pane runs it directly)."""
        pane = jump.dashboard_pane(self.tmux, self.name)
        return int(self.tmux.run(["display-message", "-p", "-t", pane, "#{pane_pid}"])[0])

    def show(self, window: str) -> None:
        """Make ``window`` the fleet's current window: what the attached client shows."""
        self.tmux.run(["select-window", "-t", f"={self.name}:{window}"])

    def dashboard_screen(self, escapes: bool = False) -> list[str]:
        """The dashboard pane's screen, with its colours as escapes if asked."""
        pane = jump.dashboard_pane(self.tmux, self.name)
        return self.tmux.run(["capture-pane", "-p", *(["-e"] if escapes else []), "-t", pane])

    def send(self, names: list[str], command: str, tag: str) -> None:
        """Tell some agents what to do next."""
        for name in names:
            os.write(self.fifos[name], f"{command} {tag}\n".encode())

    @property
    def transitions(self) -> Path:
        """The watcher's transitions log."""
        return fleet_dir(self.name) / "transitions.jsonl"

    def reached(self, state: str, since: float = 0.0) -> set[str]:
        """Sessions for which the watcher reported ``state`` after ``since``."""
        return {
            r["session"]
            for r in read_jsonl(self.transitions)
            if r["new"] == state and r["reported"] >= since
        }

    def wait_for(self, state: str, since: float, timeout: float) -> bool:
        """Wait until the watcher reported ``state`` for every session."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.reached(state, since) >= set(self.names):
                return True
            time.sleep(0.25)
        return False

    def watcher_pid(self, timeout: float = 20.0) -> int:
        """The watcher process, from its lock file."""
        deadline = time.time() + timeout
        lock = fleet_dir(self.name) / "watcher.lock"
        while time.time() < deadline:
            if watcher_running(self.name) and lock.read_text().strip():
                return int(lock.read_text().split()[0])
            time.sleep(0.1)
        raise RuntimeError(f"the watcher of {self.name} did not start")

    def close(self) -> None:
        """Close the FIFOs."""
        for fd in self.fifos.values():
            with contextlib.suppress(OSError):
                os.close(fd)


def time_status(socket: str, runs: int = 5) -> Json:
    """Wall time of ``orchestrator status --json`` (a fresh process each run)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "orchestrator", "-L", socket, "status", "--json"],
            capture_output=True,
            check=True,
            cwd=HERE.parent,
        )
        times.append(time.perf_counter() - started)
    return {
        "median_ms": round(1000 * statistics.median(times), 1),
        "max_ms": round(1000 * max(times), 1),
    }


def idle_windows(
    args: argparse.Namespace,
    fleet: Fleet,
    pids: dict[str, int],
    calls: Path,
    say: Any,
) -> dict[str, Window]:
    """With every session idle: the tmux server with all of ours and the baseline stopped and the
    client on the agents window (the floor); ours with nobody seeing the dashboard; the floor
    again with the client on the dashboard's window; ours with the dashboard on screen; the
    baseline alone (client on the agents window). Ends with the client on the dashboard."""
    bench = fleet.bench
    ours = [pids["watcher"], pids["dashboard"]]
    base = [pids["baseline"]] if "baseline" in pids else []
    windows: dict[str, Window] = {}
    with stopped(ours + base):
        time.sleep(0.5)
        windows["floor"] = measure(args.window, {"server": pids["server"]}, bench, None)
    say(f"  floor: {windows['floor']}")
    mine = {k: v for k, v in pids.items() if k != "baseline"}
    with stopped(base):
        time.sleep(1.0)
        windows["hidden"] = measure(args.window, mine, bench, None)
        say(f"  hidden: {windows['hidden']}")
    # What tmux spends on a client showing the dashboard's window whatever the dashboard does
    # (its status line, every 2 s): the floor for the on-screen window.
    with stopped(ours + base):
        fleet.show("dashboard")
        time.sleep(0.5)
        windows["floor-shown"] = measure(args.window, {"server": pids["server"]}, bench, None)
    say(f"  floor, client on the dashboard: {windows['floor-shown']}")
    with stopped(base):
        time.sleep(2.0)  # the focus event wakes the dashboard; it repaints once
        windows["shown"] = measure(args.window, mine, bench, None)
        say(f"  on screen: {windows['shown']}")
    if base:
        fleet.show("agents")
        theirs = {"baseline": pids["baseline"], "server": pids["server"]}
        with stopped(ours):
            time.sleep(0.5)
            windows["baseline"] = measure(args.window, theirs, bench, calls)
        say(f"  baseline alone: {windows['baseline']}")
    fleet.show("dashboard")
    return windows


def run_size(bench: Bench, sessions: int, args: argparse.Namespace) -> Json:
    """Launch one fleet, run the scripted phases, and return its figures."""
    fleet = Fleet(bench, sessions)
    say = print if args.verbose else (lambda *_: None)
    client: Client | None = None
    try:
        up_seconds = fleet.up()
        watcher = fleet.watcher_pid()
        dashboard = fleet.dashboard_pid()
        server = int(fleet.tmux.run(["display-message", "-p", "#{pid}"])[0])
        baseline_out = fleet.folder / "baseline.jsonl"
        calls = fleet.folder / "baseline-calls"
        baseline: subprocess.Popen[bytes] | None = None
        if not args.no_baseline:
            baseline = subprocess.Popen(
                [
                    sys.executable,
                    str(HERE / "baseline.py"),
                    *("--tmux", bench.real_tmux, "--socket", fleet.socket),
                    *("--fleet", fleet.name, "--out", str(baseline_out), "--calls", str(calls)),
                ],
                cwd=HERE.parent,
            )
            bench.processes.append(baseline)
        pids = {"watcher": watcher, "dashboard": dashboard, "server": server}
        if baseline is not None:
            pids["baseline"] = baseline.pid
        ready = fleet.wait_for("idle", 0.0, 30 + sessions * 0.3)
        say(f"  {sessions}: up {up_seconds:.2f}s, all idle: {ready}")
        fleet.show("agents")
        client = Client(bench, fleet.socket, f"={fleet.name}:", SCREEN)
        time.sleep(3.0)

        idle = idle_windows(args, fleet, pids, calls, say)
        status = time_status(fleet.socket)

        cycles = max(args.cycles, math.ceil(args.min_samples / max(1, sessions // 2)))
        schedule = []
        for index, name in enumerate(fleet.names):
            offset = index * SPREAD / sessions
            for cycle in range(cycles):
                for command, at in CYCLE:
                    schedule.append((offset + cycle * CYCLE_LENGTH + at, name, command))
        schedule.sort()
        started = time.time()
        for at, name, command in schedule:
            time.sleep(max(0.0, started + at - time.time()))
            fleet.send([name], command, "spread")
        time.sleep(CYCLE_LENGTH - CYCLE[-1][1])

        fleet.send(fleet.names, "work", "burst")
        time.sleep(2.0)
        working = measure(args.window, pids, bench, calls)
        say(f"  working, dashboard on screen: {working}")
        fleet.send(fleet.names, "done", "burst")
        time.sleep(3.0)

        exit_start = time.time()
        for index, name in enumerate(fleet.names):
            time.sleep(max(0.0, exit_start + index * 2.0 / sessions - time.time()))
            fleet.send([name], "exit", "exit")
        all_exited = fleet.wait_for("exited", exit_start, 15)
        time.sleep(1.0)
        watcher_alive = psutil.pid_exists(watcher)
        dashboard_alive = psutil.pid_exists(dashboard)
        if baseline is not None:
            baseline.terminate()
            baseline.wait(timeout=5)
    finally:
        if client is not None:
            client.close()
        fleet.close()
        subprocess.run(
            [bench.real_tmux, "-L", fleet.socket, "kill-server"], capture_output=True, check=False
        )
    leaked = reap_leftovers(fleet.socket)

    truths = read_jsonl(fleet.truth)
    mine, extra = match(truths, read_jsonl(fleet.transitions))
    theirs, base_extra = match(truths, read_jsonl(baseline_out)) if baseline else ({}, 0)
    floor = idle["floor"].cpu["server"]
    floor_shown = idle["floor-shown"].cpu["server"]

    def ours(window: Window, floor: float) -> Json:
        cpu = window.cpu
        return {
            "watcher": cpu["watcher"],
            "dashboard": cpu["dashboard"],
            "tmux_server": cpu["server"],
            "tmux_server_share": max(0.0, cpu["server"] - floor),
            "calls_per_second": window.calls["watcher"] + window.calls["dashboard"],
        }

    cpu: Json = {
        "idle": {
            "tmux_server_floor": floor,
            "tmux_server_floor_shown": floor_shown,
            "hidden": ours(idle["hidden"], floor),
            "shown": ours(idle["shown"], floor_shown),
        },
        "working": {
            "shown": ours(working, floor_shown),
            "baseline": working.cpu.get("baseline"),
            "baseline_calls_per_second": working.calls.get("baseline"),
        },
    }
    if "baseline" in idle:
        window = idle["baseline"]
        cpu["idle"]["baseline"] = {
            "baseline": window.cpu["baseline"],
            "tmux_server": window.cpu["server"],
            "tmux_server_share": max(0.0, window.cpu["server"] - floor),
            "calls_per_second": window.calls["baseline"],
        }
    return {
        "sessions": sessions,
        "up_seconds": round(up_seconds, 3),
        "status_json": status,
        "all_exited_reported": all_exited,
        "watcher_alive_after_fleet_ended": watcher_alive,
        "dashboard_alive_after_fleet_ended": dashboard_alive,
        "leaked_processes": leaked,
        "cpu_percent": cpu,
        "latency_ms": {
            name: {"watcher": stats(mine[name]), "baseline": stats(theirs.get(name, []))}
            for name in CATEGORIES
        },
        "transitions": {
            "scripted": sum(1 for t in truths if category(t) is not None),
            "missed": sum(e.count(None) for e in mine.values()),
            "extra": extra,
        },
        "extra_transitions": {"watcher": extra, "baseline": base_extra},
    }


# ---------------------------------------------------------------------------------------------
# Keystroke to frame


SGR_BACKGROUND = re.compile(r"\x1b\[([0-9;]*)m")


def backgrounds(line: str) -> set[str]:
    """The background colours a captured line sets (``48;5;N``, ``48;2;R;G;B`` or ``4N``)."""
    found = set()
    for params in SGR_BACKGROUND.findall(line):
        parts = params.split(";")
        index = 0
        while index < len(parts):
            part = parts[index]
            if part == "48" and index + 1 < len(parts):
                width = 3 if parts[index + 1] == "5" else 5
                found.add(";".join(parts[index : index + width]))
                index += width
                continue
            if len(part) == 2 and part.startswith("4") and part != "49":
                found.add(part)
            index += 1
    return found


def run_keys(bench: Bench, sessions: int, args: argparse.Namespace) -> Json:
    """Cursor keys sent to the dashboard of a fleet of idle sessions, on screen through a real
    client: milliseconds from ``send-keys`` to the pane showing the next row selected."""
    fleet = Fleet(bench, sessions, label="keys")
    say = print if args.verbose else (lambda *_: None)
    client: Client | None = None
    base = [bench.real_tmux, "-L", fleet.socket]
    latencies: list[float | None] = []
    try:
        fleet.up()
        ready = fleet.wait_for("idle", 0.0, 30 + sessions * 0.3)
        fleet.show("dashboard")
        client = Client(bench, fleet.socket, f"={fleet.name}:", SCREEN)
        pane = jump.dashboard_pane(fleet.tmux, fleet.name)

        def screen() -> list[str]:
            proc = subprocess.run(
                [*base, "capture-pane", "-p", "-e", "-t", pane],
                capture_output=True,
                text=True,
                check=False,
            )
            return proc.stdout.splitlines()

        deadline = time.time() + 30
        while time.time() < deadline and not any(
            f"{sessions} session(s)" in line for line in screen()
        ):
            time.sleep(0.2)
        time.sleep(2.0)
        order = fleet.names  # all idle: pane order

        def line_of(lines: list[str], name: str) -> str:
            return next((line for line in lines if f" {name} " in SGR_BACKGROUND.sub("", line)), "")

        lines = screen()
        selected = backgrounds(line_of(lines, order[0])) - backgrounds(line_of(lines, order[1]))
        say(f"  keys: all idle {ready}, selection colours {selected}")
        position = 0
        steps = ["j"] * (args.key_count // 2) + ["k"] * (args.key_count - args.key_count // 2)
        for key in steps:
            position += 1 if key == "j" else -1
            target = order[position]
            started = time.perf_counter()
            subprocess.run([*base, "send-keys", "-t", pane, key], check=False)
            seen = None
            while time.perf_counter() - started < 2.0:
                if selected and selected <= backgrounds(line_of(screen(), target)):
                    seen = time.perf_counter() - started
                    break
                time.sleep(0.003)
            latencies.append(seen)
            time.sleep(0.3)
    finally:
        if client is not None:
            client.close()
        fleet.close()
        subprocess.run([*base, "kill-server"], capture_output=True, check=False)
    leaked = reap_leftovers(fleet.socket)
    return {"sessions": sessions, "keys": stats(latencies), "leaked_processes": leaked}


# ---------------------------------------------------------------------------------------------
# Report


def _ms(entry: Json) -> str:
    if "p95" not in entry:
        return f"none of {entry['count']}"
    missed = f", {entry['missed']} missed" if entry["missed"] else ""
    return f"{entry['p50']:.0f} / {entry['p95']:.0f} / {entry['max']:.0f}{missed}"


def _ratio(baseline: float | None, watcher: float) -> str:
    if baseline is None:
        return "-"
    return f"{baseline / watcher:.1f}×" if watcher > 0 else "∞"


def table(result: Json) -> str:
    """The markdown table of one fleet size."""
    n = result["sessions"]
    rows = [
        f"**{n} sessions** (up: {1000 * result['up_seconds']:.0f} ms tmux side; "
        f"`status --json`: {result['status_json']['median_ms']:.0f} ms median, "
        f"{result['status_json']['max_ms']:.0f} ms max)",
        "",
        "| metric | ours (watcher, dashboard) | baseline (capture all, 500 ms) "
        "| baseline ÷ ours | target |",
        "|---|---|---|---|---|",
    ]
    for name, label in CATEGORIES.items():
        entry = result["latency_ms"][name]
        if not entry["watcher"]["count"]:
            continue
        mine, theirs = entry["watcher"], entry["baseline"]
        ratio = _ratio(theirs.get("p95"), mine["p95"]) if "p95" in mine else "-"
        rows.append(
            f"| {label}, ms p50 / p95 / max (n={mine['count']}) | {_ms(mine)} | "
            f"{_ms(theirs) if theirs['count'] else '-'} | {ratio} | {TARGETS.get(name, '')} |"
        )
    cpu = result["cpu_percent"]
    idle, working = cpu["idle"], cpu["working"]
    base_idle = idle.get("baseline")

    def total(entry: Json) -> float:
        return float(entry["watcher"] + entry["dashboard"] + entry["tmux_server_share"])

    def parts(entry: Json) -> str:
        return (
            f"{total(entry):.1f} (watcher {entry['watcher']:.1f}, dashboard "
            f"{entry['dashboard']:.1f}, tmux server {entry['tmux_server_share']:.1f})"
        )

    base_total = (
        base_idle["baseline"] + base_idle["tmux_server_share"] if base_idle is not None else None
    )
    base_text = (
        f"{base_total:.1f} (poller {base_idle['baseline']:.1f}, tmux server "
        f"{base_idle['tmux_server_share']:.1f})"
        if base_idle is not None and base_total is not None
        else "-"
    )
    for mode, label in (("hidden", "nobody looking"), ("shown", "dashboard on screen")):
        entry = idle[mode]
        rows.append(
            f"| CPU, all idle, {label}: ours + tmux server share, % of a core | {parts(entry)} | "
            f"{base_text} | {_ratio(base_total, total(entry))} | {TARGETS[f'ours-{mode}']} |"
        )
    base_calls = base_idle["calls_per_second"] if base_idle is not None else None
    for mode, label in (("hidden", "nobody looking"), ("shown", "dashboard on screen")):
        calls = idle[mode]["calls_per_second"]
        rows.append(
            f"| tmux calls/s, all idle, {label} | {calls:.1f} | "
            f"{'-' if base_calls is None else f'{base_calls:.1f}'} | "
            f"{_ratio(base_calls, calls)} | |"
        )
    rows.append(
        f"| tmux server CPU, all idle, everything stopped (the floors): client on the agents "
        f"window / on the dashboard's | {idle['tmux_server_floor']:.1f} / "
        f"{idle.get('tmux_server_floor_shown', idle['tmux_server_floor']):.1f} | | | |"
    )
    shown = working["shown"]
    mine = shown["watcher"] + shown["dashboard"]
    base_cpu = working["baseline"]
    rows.append(
        f"| CPU, all working, dashboard on screen, % of a core (processes and their tmux "
        f"clients) | {mine:.1f} (watcher {shown['watcher']:.1f}, dashboard "
        f"{shown['dashboard']:.1f}) | {'-' if base_cpu is None else f'{base_cpu:.1f}'} | "
        f"{_ratio(base_cpu, mine)} | {TARGETS['ours-working']} |"
    )
    base_calls = working["baseline_calls_per_second"]
    rows.append(
        f"| tmux calls/s, all working | {shown['calls_per_second']:.1f} | "
        f"{'-' if base_calls is None else f'{base_calls:.1f}'} | "
        f"{_ratio(base_calls, shown['calls_per_second'])} | |"
    )
    rows.append(
        f"| tmux server CPU, all working (agents' output, both clients, the attached client) | "
        f"{shown['tmux_server']:.1f} | | | |"
    )
    moves = result["transitions"]
    rows.append(
        f"| scripted transitions reported / missed (reported after the next change or never) | "
        f"{moves['scripted'] - moves['missed']} of {moves['scripted']} / {moves['missed']} | | | |"
    )
    extra = result["extra_transitions"]
    rows.append(
        f"| extra transitions (no scripted change) | {extra['watcher']} | {extra['baseline']} | | |"
    )
    if result["leaked_processes"] or not result["all_exited_reported"]:
        rows.append(
            f"\nleaked: {result['leaked_processes']}; "
            f"all exits seen: {result['all_exited_reported']}"
        )
    return "\n".join(rows)


def keys_table(result: Json) -> str:
    """The markdown line of the keystroke run."""
    keys = result["keys"]
    return (
        f"**Dashboard keystroke to frame, {result['sessions']} idle sessions, on screen** "
        "(`send-keys` of j/k until `capture-pane` shows the next row selected, "
        f"n={keys['count']}): "
        f"ms p50 / p95 / max {_ms(keys)}; target {TARGETS['keys']}"
        + (f"\n\nleaked: {result['leaked_processes']}" if result["leaked_processes"] else "")
    )


def main() -> int:
    """Run the benchmark for each fleet size; print tables and write JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", default="5,20,50", help="fleet sizes, comma-separated")
    parser.add_argument(
        "--window",
        type=float,
        default=20.0,
        help="seconds per CPU window (a multiple of the hidden dashboard's 10 s snapshot, so a "
        "window holds the same number of snapshots in every run)",
    )
    parser.add_argument(
        "--keys", type=int, default=100, help="sessions for the keystroke run (0: skip it)"
    )
    parser.add_argument("--key-count", type=int, default=30, help="keys in the keystroke run")
    parser.add_argument(
        "--cycles", type=int, default=2, help="scripted turns per session (at least)"
    )
    parser.add_argument("--min-samples", type=int, default=24, help="turns per mode (at least)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the 500 ms poller")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (logs)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sessions.split(",") if x.strip()]
    real_tmux = shutil.which("tmux")
    if real_tmux is None:
        print("tmux is not on PATH", file=sys.stderr)
        return 2

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    bench = Bench(root=Path(tempfile.mkdtemp(prefix="orc-bench-")), real_tmux=real_tmux)
    bench.prepare()
    results: list[Json] = []
    leaked: list[str] = []
    try:
        for size in sizes:
            print(f"fleet of {size} sessions...", file=sys.stderr)
            results.append(run_size(bench, size, args))
            print(table(results[-1]) + "\n", flush=True)
        if args.keys:
            print(f"keystrokes, fleet of {args.keys} sessions...", file=sys.stderr)
            results.append(run_keys(bench, args.keys, args))
            print(keys_table(results[-1]) + "\n", flush=True)
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        leaked = bench.cleanup()
        if leaked:
            print(f"killed leftover processes: {leaked}", file=sys.stderr)
        if args.keep:
            print(f"run folder kept: {bench.root}", file=sys.stderr)
        else:
            shutil.rmtree(bench.root, ignore_errors=True)
        if results:
            write_json(results, leaked)
    return 0


def machine() -> str:
    """One line about the machine the figures come from."""
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    tmux = subprocess.run(
        [shutil.which("tmux", path=os.defpath) or "tmux", "-V"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return f"{psutil.cpu_count()} cores, {cpu}, {tmux.strip()}, Python {sys.version.split()[0]}"


def write_json(results: list[Json], leaked: list[str]) -> None:
    """Write the figures to benchmarks/results/watch-<time>.json."""
    folder = HERE / "results"
    folder.mkdir(exist_ok=True)
    path = folder / f"watch-{time.strftime('%Y%m%d-%H%M%S')}.json"
    document = {"machine": machine(), "when": time.time(), "results": results, "leaked": leaked}
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    print(f"figures written to {path}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
