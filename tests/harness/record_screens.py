"""Record real Claude Code screens, hook payloads and session-registry files.

Run with ``.venv/bin/python -m tests.harness.record_screens``. It starts the pinned ``claude`` in
tmux panes on a private socket, drives it through the cases below against the scripted mock API,
and writes:

- ``tests/screens/claude-<version>/w<cols>/<case>.txt`` (``capture-pane -p``) and ``<case>.ansi``
  (``capture-pane -p -e``) at 60 and 120 columns;
- ``tests/hook-samples/claude-<version>/<Event>.json``: one payload per hook event;
- ``tests/hook-samples/claude-<version>/cases.json``: the events each case fired, in order, with
  seconds since the case's key press, plus ``pane_dead_status`` after ``/exit``;
- ``tests/hook-samples/claude-<version>/registry-<state>.json``: ``~/.claude/sessions/<pid>.json``
  as seen in each state.

Nothing leaves 127.0.0.1: the environment is built from scratch by ``claude_env``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness.claude_env import (
    CLAUDE_CLI_DIR,
    REPO_ROOT,
    ClaudeHome,
    claude_version,
    find_claude_bin,
    make_claude_home,
)
from tests.harness.hooks import HookRecord, events_known_to, read_hook_log, write_hook_settings
from tests.harness.mock_api import (
    MockAnthropicAPI,
    TextReply,
    ask_user_question_tool_use,
    bash_tool_use,
    write_tool_use,
)
from tests.harness.private_tmux import PrivateTmux
from tests.harness.screen import (
    PERMISSION_QUESTION,
    QUESTION_MENU_FOOTER,
    TRUST_DIALOG,
    WORKING_FOOTER,
    idle_screen,
    wait_for_screen,
    wait_until,
)

HEIGHT = 40
WIDTHS = (60, 120)
SLOW_REPLY = (
    "Here is a deliberately slow answer, streamed a few characters at a time so that the "
    "session stays in its working state long enough to be recorded. " * 3
)
WORKING_COUNTER = re.compile(r"[(·] \d+s\b|\(\d+s\b")
"""The live counter of a running turn: ``(Ns · ↓ N tokens)`` (2.1), ``(esc to interrupt · Ns``
(2.0)."""
OLD_SPINNER = "(esc to interrupt)"
"""Claude Code 2.0's spinner line, which shows no counter for the first seconds and no text
while a reply streams."""


@dataclass
class CaseLog:
    """What one case fired."""

    name: str
    started: float
    events: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)


class Session:
    """One ``claude`` process in a tmux pane, with its hook log and registry folder."""

    def __init__(
        self,
        tmux: PrivateTmux,
        name: str,
        home: ClaudeHome,
        cwd: Path,
        width: int,
        out_dir: Path,
        settings: Path,
        hook_log: Path,
        extra_args: tuple[str, ...] = (),
        claude_bin: Path | None = None,
    ) -> None:
        self.tmux = tmux
        self.home = home
        self.out_dir = out_dir
        self.hook_log = hook_log
        self.cases: list[CaseLog] = []
        self.registry: dict[str, Any] = {}
        self._seen_hooks = 0
        command = home.shell_command(
            [claude_bin or find_claude_bin(), "--settings", settings, *extra_args], cwd=cwd
        )
        self.pane = tmux.new_session(name, command, width, HEIGHT)

    def capture(self) -> str:
        return self.tmux.capture(self.pane)

    def wait(
        self,
        until: str | re.Pattern[str] | Callable[[str], bool],
        timeout: float = 30.0,
        stable_for: float = 0.0,
    ) -> str:
        return wait_for_screen(self.capture, until, timeout=timeout, stable_for=stable_for)

    def save(self, case: str) -> None:
        """Write the current screen (plain and with escapes) as ``<case>``."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / f"{case}.txt").write_text(self.capture())
        (self.out_dir / f"{case}.ansi").write_text(self.tmux.capture(self.pane, escapes=True))

    def begin(self, case: str, *, prompt: str = "", key: str = "") -> CaseLog:
        """Start attributing hook events to ``case``; then type ``prompt`` or press ``key``."""
        self.collect()
        log = CaseLog(case, time.time())
        self.cases.append(log)
        if prompt:
            self.prompt(prompt)
        if key:
            self.tmux.send_key(self.pane, key)
        return log

    def keep(
        self, case: str, registry: str = "", *, quiet_for: float = 2.0, timeout: float = 10.0
    ) -> None:
        """Save the screen as ``case``, the registry as ``registry`` (if named), settle hooks."""
        self.save(case)
        if registry:
            self.snapshot_registry(registry)
        self.settle_hooks(quiet_for=quiet_for, timeout=timeout)

    def wait_dead(self, timeout: float, what: str) -> None:
        """Wait until the pane's process has ended."""
        wait_until(
            lambda: self.tmux.pane_format(self.pane, "#{pane_dead}") == "1",
            timeout=timeout,
            what=what,
        )

    def collect(self) -> list[HookRecord]:
        """Attach hook records written since the last call to the current case."""
        records = read_hook_log(self.hook_log)
        fresh = records[self._seen_hooks :]
        self._seen_hooks = len(records)
        if self.cases:
            current = self.cases[-1]
            for record in fresh:
                entry: dict[str, Any] = {
                    "event": record.event,
                    "after_s": round(record.t - current.started, 3),
                }
                for key in ("tool_name", "notification_type", "reason", "source", "message"):
                    if key in record.payload:
                        entry[key] = record.payload[key]
                current.events.append(entry)
        return fresh

    def prompt(self, text: str) -> None:
        """Type ``text``, wait until it shows in the prompt box, press Enter."""
        self.tmux.send_text(self.pane, text)
        self.wait(text[:20], timeout=10)
        self.tmux.send_key(self.pane, "Enter")

    def snapshot_registry(self, state: str) -> None:
        """Keep the session registry file(s) as seen now, under ``state``."""
        files = sorted(self.home.sessions_dir.glob("*.json"))
        self.registry[state] = [json.loads(path.read_text()) for path in files]

    def settle_hooks(self, quiet_for: float = 2.0, timeout: float = 10.0) -> None:
        """Wait until no hook record arrived for ``quiet_for`` s (late ``Notification``s)."""
        deadline = time.monotonic() + timeout
        last_count = len(read_hook_log(self.hook_log))
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            count = len(read_hook_log(self.hook_log))
            if count != last_count:
                last_count = count
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_for:
                break
            time.sleep(0.1)
        self.collect()


def dead_status(tmux: PrivateTmux, pane: str, timeout: float = 5.0) -> str:
    """``#{pane_dead_status}``, or ``""`` when tmux has not reaped the process in ``timeout`` s.

    ``pane_dead`` turns 1 as soon as the pty closes; the status needs the exit to be reaped. Now
    and then (tmux 3.3a) the agent stays a zombie child of the tmux server for 30 s and more.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = tmux.pane_format(pane, "#{pane_dead_status}")
        if status:
            return status
        time.sleep(0.1)
    return ""


def run_trusted_cases(session: Session, api: MockAnthropicAPI) -> None:
    """startup-idle, working, turn-finished-idle, permissions, question, Esc, /exit."""
    case = session.begin("startup-idle")
    session.wait(idle_screen, timeout=60, stable_for=1.5)
    case.notes["seconds_to_idle_prompt"] = round(time.time() - case.started, 2)
    session.keep("startup-idle", "idle", quiet_for=1.0)

    api.enqueue(TextReply(SLOW_REPLY, chunk_delay=0.25, chunk_chars=6))
    session.begin("working", prompt="Explain the project layout")
    session.wait(
        lambda s: (
            WORKING_FOOTER in s and (WORKING_COUNTER.search(s) is not None or OLD_SPINNER in s)
        ),
        timeout=30,
    )
    session.save("working")
    session.snapshot_registry("working")
    session.collect()

    session.begin("turn-finished-idle")
    session.wait(idle_screen, timeout=90, stable_for=1.5)
    session.keep("turn-finished-idle", "idle-after-turn")

    api.enqueue(bash_tool_use("npm test"))
    session.begin("permission-bash", prompt="Run the tests")
    session.wait(PERMISSION_QUESTION, timeout=30, stable_for=1.0)
    # Hold the prompt open to see whether, and how late, a Notification hook arrives.
    session.keep("permission-bash", "permission", quiet_for=8.0, timeout=15.0)

    session.begin("esc-at-permission", key="Escape")
    session.wait(lambda s: PERMISSION_QUESTION.search(s) is None and idle_screen(s), stable_for=1.5)
    session.keep("esc-at-permission", "after-esc-at-permission", quiet_for=3.0)

    api.enqueue(write_tool_use("notes/plan.md"))
    session.begin("permission-write", prompt="Write the plan")
    session.wait(PERMISSION_QUESTION, timeout=30, stable_for=1.0)
    session.keep("permission-write", "permission-write", quiet_for=1.0)
    session.begin("write-approved", key="Enter")
    session.wait(lambda s: idle_screen(s) and "Done." in s, timeout=30, stable_for=1.5)
    session.keep("write-approved-idle")

    api.enqueue(ask_user_question_tool_use())
    session.begin("ask-user-question", prompt="Set up the database")
    session.wait(QUESTION_MENU_FOOTER, timeout=30, stable_for=1.0)
    # As at the Bash prompt: does a Notification arrive for a question, and when?
    session.keep("ask-user-question", "question", quiet_for=8.0, timeout=15.0)
    case = session.begin("question-answered", key="Enter")
    screen = session.wait(
        lambda s: QUESTION_MENU_FOOTER not in s or "Submit" in s, timeout=15, stable_for=0.5
    )
    if "Submit" in screen:
        case.notes["submit_screen"] = True
        session.save("ask-user-question-submit")
        session.tmux.send_key(session.pane, "Enter")
    session.wait(idle_screen, timeout=30, stable_for=1.5)
    session.keep("question-answered-idle")

    api.enqueue(ask_user_question_tool_use())
    session.begin("ask-user-question-again", prompt="Pick a database")
    session.wait(QUESTION_MENU_FOOTER, timeout=30, stable_for=1.0)
    session.settle_hooks(quiet_for=1.0)
    session.begin("esc-at-question", key="Escape")
    session.wait(lambda s: QUESTION_MENU_FOOTER not in s and idle_screen(s), stable_for=1.5)
    session.keep("esc-at-question", "after-esc-at-question", quiet_for=3.0)

    api.enqueue(TextReply(SLOW_REPLY, chunk_delay=0.25, chunk_chars=6))
    session.begin("working-again", prompt="Explain it once more")
    session.wait(
        lambda s: (
            WORKING_FOOTER in s and (WORKING_COUNTER.search(s) is not None or OLD_SPINNER in s)
        )
    )
    session.settle_hooks(quiet_for=0.5)
    session.begin("esc-while-working", key="Escape")
    session.wait(idle_screen, timeout=15, stable_for=1.5)
    session.keep("esc-while-working", "after-esc-while-working", quiet_for=3.0)

    case = session.begin("exit", prompt="/exit")
    session.wait_dead(timeout=30, what="pane dead")
    case.notes["pane_dead_status"] = dead_status(session.tmux, session.pane)
    case.notes["pane_dead_signal"] = session.tmux.pane_format(session.pane, "#{pane_dead_signal}")
    case.notes["registry_files_after_exit"] = sorted(
        p.name for p in session.home.sessions_dir.glob("*.json")
    )
    session.keep("after-exit", quiet_for=1.0)


def run_resume_case(session: Session, api: MockAnthropicAPI, earlier_prompt: str) -> None:
    """``claude --resume <id>`` after ``/exit``: the old conversation is sent again."""
    session.begin("resume-startup")
    session.wait(idle_screen, timeout=60, stable_for=1.5)
    session.keep("resumed-idle", "resumed-idle", quiet_for=1.0)
    case = session.begin("resume-prompt")
    before = len(api.main_turn_requests())
    session.prompt("Carry on")
    api.wait_for_main_turns(before + 1)
    session.wait(idle_screen, timeout=30, stable_for=1.5)
    sent = api.main_turn_requests()[before].user_texts()
    case.notes["earlier_prompt_sent_again"] = earlier_prompt in sent
    session.settle_hooks(quiet_for=1.0)
    session.begin("resume-exit", prompt="/exit")
    session.wait_dead(timeout=30, what="resumed claude to exit")
    session.collect()


def run_trust_case(session: Session) -> None:
    """The trust dialog of an untrusted folder, then Esc."""
    session.begin("trust-dialog")
    session.wait(TRUST_DIALOG, timeout=60, stable_for=1.0)
    session.keep("trust-dialog", "trust-dialog", quiet_for=1.0)
    case = session.begin("esc-at-trust-dialog", key="Escape")
    session.wait_dead(timeout=15, what="claude to exit after Esc at the trust dialog")
    case.notes["pane_dead_status"] = dead_status(session.tmux, session.pane)
    session.keep("trust-dialog-after-esc", quiet_for=1.0)


def record_width(width: int, work: Path, screens_root: Path, claude_bin: Path) -> dict[str, Any]:
    """Run every case at ``width`` columns; return hook logs, registry snapshots and notes."""
    out_dir = screens_root / f"w{width}"
    result: dict[str, Any] = {}
    with MockAnthropicAPI() as api, PrivateTmux() as tmux:
        trusted = work / f"w{width}" / "project"
        untrusted = work / f"w{width}" / "untrusted"
        trusted.mkdir(parents=True)
        untrusted.mkdir(parents=True)
        home = make_claude_home(work / f"w{width}" / "home", api.base_url, [trusted])
        hook_log = work / f"w{width}" / "hooks.jsonl"
        events = events_known_to(claude_version(claude_bin))
        settings = write_hook_settings(work / f"w{width}" / "settings.json", hook_log, events)

        main = Session(
            tmux, "main", home, trusted, width, out_dir, settings, hook_log, claude_bin=claude_bin
        )
        run_trusted_cases(main, api)

        session_id = next(
            r.payload["session_id"] for r in read_hook_log(hook_log) if r.event == "SessionStart"
        )
        resume_log = work / f"w{width}" / "hooks-resume.jsonl"
        resume_settings = write_hook_settings(
            work / f"w{width}" / "settings-resume.json", resume_log, events
        )
        resumed = Session(
            tmux, "resumed", home, trusted, width, out_dir, resume_settings, resume_log,
            extra_args=("--resume", session_id), claude_bin=claude_bin,
        )  # fmt: skip
        run_resume_case(resumed, api, "Explain the project layout")

        trust_log = work / f"w{width}" / "hooks-trust.jsonl"
        trust_settings = write_hook_settings(
            work / f"w{width}" / "settings-trust.json", trust_log, events
        )
        trust = Session(
            tmux, "trust", home, untrusted, width, out_dir, trust_settings, trust_log,
            claude_bin=claude_bin,
        )  # fmt: skip
        run_trust_case(trust)

        sessions = (main, resumed, trust)
        result["cases"] = {
            c.name: {"events": c.events, **c.notes} for s in sessions for c in s.cases
        }
        result["hooks"] = [r for s in sessions for r in read_hook_log(s.hook_log)]
        result["registry"] = {k: v for s in sessions for k, v in s.registry.items()}
        result["requests"] = api.requests
    return result


def write_samples(samples: Path, version: str, results: dict[int, dict[str, Any]]) -> None:
    """One payload per event, the per-case sequences, registry snapshots and the tool schema."""
    samples.mkdir(parents=True, exist_ok=True)
    widest = results[max(results)]
    chosen: dict[str, dict[str, Any]] = {}
    for record in widest["hooks"]:
        name = record.event
        if name == "PermissionRequest":
            name = f"PermissionRequest-{record.payload.get('tool_name', 'unknown')}"
        elif name in ("PreToolUse", "PostToolUse") and name in chosen:
            continue
        chosen.setdefault(name, record.payload)
    for name, payload in chosen.items():
        (samples / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    for state, files in widest["registry"].items():
        (samples / f"registry-{state}.json").write_text(json.dumps(files, indent=2) + "\n")
    cases = {
        "claude_version": version,
        "widths": {f"w{w}": r["cases"] for w, r in sorted(results.items())},
    }
    (samples / "cases.json").write_text(json.dumps(cases, indent=2) + "\n")
    main_turns = [r for r in widest["requests"] if r.is_main_turn]
    if main_turns:
        tools = main_turns[0].body["tools"]
        question = next((t for t in tools if t["name"] == "AskUserQuestion"), None)
        if question is not None:  # 2.0 offers it only in some turns
            (samples / "tools-AskUserQuestion.json").write_text(
                json.dumps(question, indent=2) + "\n"
            )
        (samples / "tool-names.json").write_text(
            json.dumps(sorted(t["name"] for t in tools), indent=2) + "\n"
        )
    traffic = [
        {"method": r.method, "path": r.path, "main_turn": r.is_main_turn}
        for r in widest["requests"]
    ]
    (samples / "api-requests.json").write_text(json.dumps(traffic, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--widths", type=int, nargs="*", default=list(WIDTHS))
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("/tmp/orc-claude-record"),
        help="scratch folder, emptied first; a fixed path keeps the recorded screens stable",
    )
    parser.add_argument("--keep-work", action="store_true", help="keep the scratch folder")
    parser.add_argument(
        "--cli",
        type=Path,
        default=CLAUDE_CLI_DIR,
        help="a pinned CLI folder (tests/claude-cli-2.0)",
    )
    args = parser.parse_args()
    claude_bin = find_claude_bin(args.cli.resolve())
    version = claude_version(claude_bin)
    screens_root = REPO_ROOT / "tests" / "screens" / f"claude-{version}"
    samples = REPO_ROOT / "tests" / "hook-samples" / f"claude-{version}"
    work: Path = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        results = {
            width: record_width(width, work, screens_root, claude_bin) for width in args.widths
        }
        write_samples(samples, version, results)
    finally:
        if args.keep_work:
            print(f"scratch kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"screens in {screens_root}\nhook samples in {samples}")


if __name__ == "__main__":
    main()
