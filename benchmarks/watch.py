"""Benchmark the watcher against a 500 ms capture-every-pane poller, on real tmux fleets.

    .venv/bin/python benchmarks/watch.py --sessions 5,20,50

For each fleet size it launches a fleet of scripted fake Claude Code agents (``fake_agent.py``:
real screens for the real screen rules, the real hook command, ground-truth times of every state
change) on a private tmux server, with the real watcher in its window, and in the same run the
baseline poller (``baseline.py``). Half the sessions run hooks (the hook path), half do not (the
screen-only path). It measures:

- latency from each scripted state change to the watcher's report (``transitions.jsonl``), and to
  the baseline's, for the hook path, the screen-only path, a burst, and exits;
- CPU (% of one core, the process and its tmux clients) with all sessions idle, then all working;
- tmux client calls per second; ``up`` time (tmux side); ``status --json`` wall time.

A markdown table goes to stdout and the figures as JSON to ``benchmarks/results/``. Every tmux
server and process started here is ended on the way out, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from orchestrator.fleet import up as fleet_mod  # noqa: E402
from orchestrator.layout.load import load_layout, resolve  # noqa: E402
from orchestrator.runtime import fleet_dir, watcher_running  # noqa: E402
from orchestrator.tmux.client import Tmux  # noqa: E402

Json = dict[str, Any]

CYCLE = (("work", 0.0), ("ask", 1.2), ("approve", 2.4), ("done", 3.6))
"""One scripted turn per session: seconds after the session's start offset."""
CYCLE_LENGTH = 6.6
"""A turn plus 3 s idle, so that a screen-only idle prompt is still long enough to count."""
SPREAD = 3.0
"""Seconds over which the sessions' turns are spread."""

TARGETS = {
    "hook": "p95 ≤ 250 ms",
    "exit-hook": "p95 ≤ 250 ms",
    "exit-process": "p95 ≤ 250 ms",
    "screen-awaiting_input": "p95 ≤ 1.5 s",
    "cpu-idle": "≤ 2 % at 50",
    "cpu-working": "≤ 10 % at 50, ≥ 5× below baseline",
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
            if proc.poll() is None:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=3)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
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
    """CPU and tmux calls of the watcher, the baseline and the tmux server over some seconds."""

    watcher: float
    baseline: float | None
    server: float
    watcher_tmux: float
    baseline_tmux: float | None


def measure(
    seconds: float, watcher: int, baseline: int | None, server: int, bench: Bench, calls: Path
) -> Window:
    """Sample everything at the start and end of a window of ``seconds``."""

    def sample() -> tuple[float, float, float, float, int, int]:
        base_cpu = cpu_seconds(baseline) if baseline else 0.0
        base_calls = int(calls.read_text() or 0) if baseline and calls.exists() else 0
        counts = shim_counts(bench.tmux_log)
        return (
            time.time(),
            cpu_seconds(watcher),
            base_cpu,
            cpu_seconds(server),
            counts[str(watcher)],
            base_calls,
        )

    start = sample()
    time.sleep(seconds)
    end = sample()
    wall = end[0] - start[0]
    return Window(
        watcher=100 * (end[1] - start[1]) / wall,
        baseline=100 * (end[2] - start[2]) / wall if baseline else None,
        server=100 * (end[3] - start[3]) / wall,
        watcher_tmux=(end[4] - start[4]) / wall,
        baseline_tmux=(end[5] - start[5]) / wall if baseline else None,
    )


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

    def __init__(self, bench: Bench, sessions: int) -> None:
        self.bench = bench
        self.size = sessions
        self.name = f"bench-{sessions}"
        self.socket = f"orc-bench-{os.getpid()}-{sessions}"
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
        """Launch the fleet with its watcher window; return ``up``'s tmux-side seconds."""
        path = self.layout()
        plan = resolve(load_layout(path), path)
        columns = math.ceil(math.sqrt(self.size))
        rows = math.ceil(self.size / columns)
        size = (max(200, 81 * columns), max(50, 25 * rows))
        self.bench.sockets.append(self.socket)
        report = fleet_mod.up(plan, self.tmux, size=size, services=("watcher",))
        return report.seconds

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


def run_size(bench: Bench, sessions: int, args: argparse.Namespace) -> Json:
    """Launch one fleet, run the scripted phases, and return its figures."""
    fleet = Fleet(bench, sessions)
    say = print if args.verbose else (lambda *_: None)
    try:
        up_seconds = fleet.up()
        watcher = fleet.watcher_pid()
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
        base_pid = baseline.pid if baseline else None
        ready = fleet.wait_for("idle", 0.0, 30 + sessions * 0.3)
        say(f"  {sessions}: up {up_seconds:.2f}s, all idle: {ready}")
        time.sleep(2.0)

        idle = measure(args.window, watcher, base_pid, server, bench, calls)
        say(f"  idle: {idle}")
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
        working = measure(args.window, watcher, base_pid, server, bench, calls)
        say(f"  working: {working}")
        fleet.send(fleet.names, "done", "burst")
        time.sleep(3.0)

        exit_start = time.time()
        for index, name in enumerate(fleet.names):
            time.sleep(max(0.0, exit_start + index * 2.0 / sessions - time.time()))
            fleet.send([name], "exit", "exit")
        all_exited = fleet.wait_for("exited", exit_start, 15)
        time.sleep(1.0)
        watcher_alive = psutil.pid_exists(watcher)
        if baseline is not None:
            baseline.terminate()
            baseline.wait(timeout=5)
    finally:
        fleet.close()
        subprocess.run(
            [bench.real_tmux, "-L", fleet.socket, "kill-server"], capture_output=True, check=False
        )
    leaked = reap_leftovers(fleet.socket)

    truths = read_jsonl(fleet.truth)
    mine, extra = match(truths, read_jsonl(fleet.transitions))
    theirs, base_extra = match(truths, read_jsonl(baseline_out)) if baseline else ({}, 0)
    return {
        "sessions": sessions,
        "up_seconds": round(up_seconds, 3),
        "status_json": status,
        "all_exited_reported": all_exited,
        "watcher_alive_after_fleet_ended": watcher_alive,
        "leaked_processes": leaked,
        "cpu_percent": {
            "idle": {
                "watcher": idle.watcher,
                "baseline": idle.baseline,
                "tmux_server": idle.server,
            },
            "working": {
                "watcher": working.watcher,
                "baseline": working.baseline,
                "tmux_server": working.server,
            },
        },
        "tmux_calls_per_second": {
            "idle": {"watcher": idle.watcher_tmux, "baseline": idle.baseline_tmux},
            "working": {"watcher": working.watcher_tmux, "baseline": working.baseline_tmux},
        },
        "latency_ms": {
            name: {"watcher": stats(mine[name]), "baseline": stats(theirs.get(name, []))}
            for name in CATEGORIES
        },
        "extra_transitions": {"watcher": extra, "baseline": base_extra},
    }


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
        "| metric | watcher | baseline (capture all, 500 ms) | baseline ÷ watcher | target |",
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
    for phase in ("idle", "working"):
        cpu = result["cpu_percent"][phase]
        calls = result["tmux_calls_per_second"][phase]
        base_cpu, base_calls = cpu["baseline"], calls["baseline"]
        rows.append(
            f"| CPU, all {phase}, % of a core | {cpu['watcher']:.1f} | "
            f"{'-' if base_cpu is None else f'{base_cpu:.1f}'} | "
            f"{_ratio(base_cpu, cpu['watcher'])} | {TARGETS[f'cpu-{phase}']} |"
        )
        rows.append(
            f"| tmux calls/s, all {phase} | {calls['watcher']:.1f} | "
            f"{'-' if base_calls is None else f'{base_calls:.1f}'} | "
            f"{_ratio(base_calls, calls['watcher'])} | |"
        )
        rows.append(
            f"| tmux server CPU, all {phase} (both clients) | {cpu['tmux_server']:.1f} | | | |"
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


def main() -> int:
    """Run the benchmark for each fleet size; print tables and write JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", default="5,20,50", help="fleet sizes, comma-separated")
    parser.add_argument("--window", type=float, default=10.0, help="seconds per CPU window")
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
            print(table(results[-1]) + "\n")
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
