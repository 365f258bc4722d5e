"""How fast ``orchestrator report`` reads a heavy user's disk: 1,000 transcripts, about 1 GB.

Generates the corpus in a temporary folder (each transcript about 1 MB of the records Claude
Code writes: prompts, replies split over records, Edit/Write/Read tool calls with their results
holding file contents), then runs the real command (``orchestrator report --json``) twice on a
fresh history database:

- the first run reads every transcript (targets: <= 30 s, <= 300 MB peak memory, the sum of
  the resident sizes of the command and its reading processes, sampled every 20 ms);
- the second run, with nothing new, reads only the cache (target: <= 2 s).

The baseline, measured in the same run on the same files: one process decoding every line with
the standard library's ``json`` (what a straightforward script does, before any counting).

    .venv/bin/python benchmarks/report.py [--files 1000] [--mb 1.0] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.report_corpus import Transcript  # noqa: E402

TARGET_FIRST_S = 30.0
TARGET_FIRST_MB = 300.0
TARGET_SECOND_S = 2.0
PROJECTS = ("api", "sdk", "web", "infra", "docs", "tools")


_WORDS = ("def", "return", "self", "value", "import", "class", "for", "in", "if", "None")
_POOL_RNG = random.Random(7)
_POOL = [
    " ".join(_POOL_RNG.choice(_WORDS) for _ in range(_POOL_RNG.randint(4, 12))) for _ in range(5000)
]


def _body(rng: random.Random, lines: int) -> str:
    start = rng.randrange(len(_POOL) - lines)
    return "\n".join(_POOL[start : start + lines])


def make_transcript(claude_dir: Path, index: int, size: int, rng: random.Random) -> int:
    """Write one transcript of about ``size`` bytes; return its size."""
    project = PROJECTS[index % len(PROJECTS)]
    t = Transcript(f"/home/dev/src/{project}")
    at = datetime(2026, 9, 1, tzinfo=UTC) + timedelta(hours=index * 7 % (24 * 60), minutes=index)
    written = 0
    step = 0
    while written < size:
        before = len(t.lines)
        t.prompt(at, "Please " + _body(rng, 1))
        at += timedelta(seconds=rng.randint(5, 60))
        t.reply(at, [{"type": "text", "text": _body(rng, 3)}] * 2, stop="tool_use", split=2)
        kind = step % 3
        if kind == 0:
            body = _body(rng, rng.randint(100, 400))  # a Read: the file comes back in the result
            t.tool(at, "Read", {"file_path": f"src/m{step}.py"})
            t.lines[-1] = t.lines[-1].replace("The file was updated.", json.dumps(body)[1:-1])
        elif kind == 1:
            old, new = _body(rng, 20), _body(rng, 24)
            t.tool(at, "Edit", {"file_path": "a.py", "old_string": old, "new_string": new})
        else:
            t.tool(at, "Write", {"file_path": f"b{step}.py", "content": _body(rng, 60)})
        t.reply(at + timedelta(seconds=2), [{"type": "text", "text": _body(rng, 2)}])
        at += timedelta(seconds=rng.randint(30, 600))
        written += sum(len(line) + 1 for line in t.lines[before:])
        step += 1
    return t.write(claude_dir, folder=f"-home-dev-src-{project}").stat().st_size


def run_report(
    db: Path, claude_dir: Path, empty: Path
) -> tuple[float, float, float, dict[str, Any]]:
    """Run the command; its wall time, CPU time (s, command plus workers), peak memory (MB,
    command plus workers) and JSON."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    # Every agent's default folder empty: only the generated corpus is read, never this machine's.
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(empty), "CODEX_HOME": str(empty),
           "GEMINI_CLI_HOME": str(empty)}  # fmt: skip
    command = [sys.executable, "-m", "orchestrator", "--db", str(db), "report", "--json"]
    out_path = db.with_name("report.json")
    start = time.perf_counter()
    with out_path.open("wb") as out:  # a file, not a pipe: the JSON is larger than a pipe holds
        proc = psutil.Popen(
            [*command, "--claude-dir", str(claude_dir)],
            env=env,
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
        peak = 0
        while proc.poll() is None:
            total = 0
            try:
                for p in [proc, *proc.children(recursive=True)]:
                    total += p.memory_info().rss
            except psutil.Error:
                pass
            peak = max(peak, total)
            time.sleep(0.02)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"report failed with exit status {proc.returncode}")
    data: dict[str, Any] = json.loads(out_path.read_bytes())
    return elapsed, cpu, peak / 1e6, data


def baseline(claude_dir: Path) -> float:
    """Seconds to decode every line of every transcript with stdlib json in one process."""
    start = time.perf_counter()
    for path in sorted(claude_dir.glob("projects/*/*.jsonl")):
        with path.open("rb") as f:
            for line in f:
                json.loads(line)
    return time.perf_counter() - start


def main() -> int:
    """Generate the corpus, run the report twice and the baseline once, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1000, help="transcripts to generate")
    parser.add_argument("--mb", type=float, default=1.0, help="size of each transcript (MB)")
    parser.add_argument("--keep", type=Path, help="generate into DIR and keep it")
    args = parser.parse_args()
    top = args.keep or Path(tempfile.mkdtemp(prefix="report-bench-"))
    claude_dir, empty, db = top / "claude", top / "empty", top / "history.sqlite3"
    empty.mkdir(parents=True, exist_ok=True)
    db.unlink(missing_ok=True)
    rng = random.Random(13)
    try:
        started = time.perf_counter()
        total = sum(
            make_transcript(claude_dir, i, int(args.mb * 1e6), rng) for i in range(args.files)
        )
        made = time.perf_counter() - started
        print(f"corpus: {args.files} transcripts, {total / 1e9:.2f} GB, made in {made:.1f} s")
        print(f"machine: {os.cpu_count()} cores; the files are in the page cache (just written)")
        first_s, first_cpu, first_mb, data = run_report(db, claude_dir, empty)
        sessions = data["sessions"]
        assert isinstance(sessions, dict) and sessions["total"] == args.files, sessions
        second_s, second_cpu, second_mb, again = run_report(db, claude_dir, empty)
        assert again["sources"]["cached"] == args.files, again["sources"]
        base_s = baseline(claude_dir)
        print(f"baseline (stdlib json, one process, decode only): {base_s:6.1f} s")
        for label, value, target, unit in (
            ("first run", first_s, TARGET_FIRST_S, "s"),
            ("first run peak memory", first_mb, TARGET_FIRST_MB, "MB"),
            ("second run (nothing new)", second_s, TARGET_SECOND_S, "s"),
            ("second run peak memory", second_mb, TARGET_FIRST_MB, "MB"),
        ):
            verdict = "meets" if value <= target else "MISSES"
            print(f"{label:>26}: {value:7.1f} {unit:<2} (target <= {target:g} {unit}: {verdict})")
        # CPU time does not depend on what else the machine runs; wall time does.
        print(
            f"CPU time (command plus readers): first run {first_cpu:.1f} s, "
            f"second {second_cpu:.2f} s"
        )
        print(
            f"first run took {first_s / base_s:.2f}x the baseline's time "
            f"(reading and counting on {os.cpu_count()} cores vs decoding alone on one)"
        )
        print(f"load average during the runs: {os.getloadavg()[0]:.1f}")
    finally:
        if args.keep is None:
            shutil.rmtree(top, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
