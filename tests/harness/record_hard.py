"""Record Claude Code's harder moments: a plan awaiting approval, a subagent at work, a background
shell task, API errors, retries, a usage limit, compaction, a draft at the prompt, an interrupt,
and the same screens in a pane resized to 40 columns or 10 rows.

Run with ``.venv/bin/python -m tests.harness.record_hard [--cli tests/claude-cli-2.0]``. Like
``record_screens`` it drives the pinned ``claude`` (or the one under ``--cli``) in tmux panes on a
private socket against the scripted API, and writes:

- ``tests/screens/claude-<version>/w120/<case>.txt`` (and ``.ansi``); the resized screens under
  ``w40/`` (40 columns) and ``w120h10/`` (10 rows);
- ``tests/hook-samples/claude-<version>/hard-cases.json``: the hook events each case fired, and
  one payload per new event kind (``StopFailure.json``, ``SubagentStart.json``, ...).

Retries are capped with ``CLAUDE_CODE_MAX_RETRIES=2`` so a failing request gives up in seconds.
Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from tests.harness import mcp_server
from tests.harness.claude_env import (
    CLAUDE_CLI_DIR,
    REPO_ROOT,
    RefusingProxy,
    claude_version,
    find_claude_bin,
    make_claude_home,
    with_subscription_login,
)
from tests.harness.hooks import events_known_to, read_hook_log, write_hook_settings
from tests.harness.mock_api import (
    ErrorReply,
    MockAnthropicAPI,
    Reply,
    TextReply,
    ToolUseReply,
    ask_user_question_tool_use,
    bash_tool_use,
    usage_limit_error,
)
from tests.harness.private_tmux import PrivateTmux
from tests.harness.record_screens import HEIGHT, Session
from tests.harness.screen import QUESTION_MENU_FOOTER, WORKING_FOOTER, idle_screen

WIDTH = 120
RETRIES = 2
"""``CLAUDE_CODE_MAX_RETRIES`` for the recording: a failing request is tried 3 times."""
SLOW = "A slow answer, streamed a few characters at a time, to keep the turn going. " * 3
PLAN = "# Plan\n\n1. Read the auth module\n2. Write the tests\n3. Fix the token check\n"
SUBAGENT_TASK = "Survey the auth module"
DRAFT = "a draft I have not sent yet"
ERROR_SHOWN = re.compile(r"API Error|Invalid API key|limit")
"""What a turn that ended on an error leaves on screen."""
PLAN_FOOTER = "plan mode on"
BACKGROUNDED = "Running in the background"
LIMIT_MENU = "Stop and wait for limit to reset"
MODE_FOOTERS = {"accept-edits": "accept edits on", "bypass": "bypass permissions on"}
"""Recording name -> the footer Claude shows in that permission mode."""
RESIZES = {"w40": (40, HEIGHT), "w120h10": (WIDTH, 10)}
"""Folder name -> pane size for the resized recordings."""


def at_prompt(screen: str) -> bool:
    """Idle at the prompt, in the default mode or in plan mode (whose footer replaces Claude's
    "? for shortcuts")."""
    return idle_screen(screen) or (PLAN_FOOTER in screen and WORKING_FOOTER not in screen)


def slow(seconds: float) -> TextReply:
    """A reply that streams for about ``seconds``."""
    chunks = max(1, int(seconds / 0.25))
    return TextReply(SLOW[: chunks * 4].ljust(chunks * 4, "."), chunk_delay=0.25, chunk_chars=4)


def subagent_tool_use(description: str = SUBAGENT_TASK) -> ToolUseReply:
    """The ``Agent`` tool (``Task`` before 2.1): a general-purpose subagent with a task."""
    return ToolUseReply(
        name="Agent",
        input={
            "description": description,
            "prompt": "Read the auth module and list what it does.",
            "subagent_type": "general-purpose",
        },
        text="I'll ask a subagent.",
    )


def api_error(status: int) -> ErrorReply:
    """An error answer of the kind the API gives for ``status``."""
    kinds = {
        400: ("invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"),
        401: ("authentication_error", "invalid x-api-key"),
        429: ("rate_limit_error", "Number of request tokens has exceeded your rate limit."),
        500: ("api_error", "Internal server error"),
        529: ("overloaded_error", "Overloaded"),
    }
    kind, message = kinds[status]
    headers = {"retry-after": "2"} if status == 429 else {}
    return ErrorReply(status, kind, message, headers)


class Recorder:
    """Runs the cases on one session and keeps the screens under each folder."""

    def __init__(self, session: Session, api: MockAnthropicAPI, root: Path, name: str = "") -> None:
        self.s = session
        self.name = name
        self.api = api
        self.root = root

    def idle(self, timeout: float = 60.0) -> None:
        self.s.wait(at_prompt, timeout=timeout, stable_for=1.5)
        self.s.settle_hooks(quiet_for=1.0)

    def resized(self, case: str) -> None:
        """Save ``case`` again in a pane resized to each of :data:`RESIZES`, then restore it."""
        for folder, (cols, rows) in RESIZES.items():
            self.s.tmux.run("resize-window", "-t", self.s.pane, "-x", str(cols), "-y", str(rows))
            time.sleep(1.5)  # Claude redraws for the new size (a spinner never stands still)
            out = self.root / folder
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{case}.txt").write_text(self.s.capture())
        self.s.tmux.run("resize-window", "-t", self.s.pane, "-x", str(WIDTH), "-y", str(HEIGHT))
        time.sleep(1.0)

    def turn(
        self, case: str, prompt: str, replies: tuple[Any, ...], until: Any, **wait: Any
    ) -> str:
        """Script ``replies``, send ``prompt``, wait for ``until``, save the screen as ``case``."""
        self.api.enqueue(*replies)
        self.s.begin(case, prompt=prompt)
        screen = self.s.wait(until, **wait)
        self.s.save(case)
        return screen


def run_main_cases(rec: Recorder) -> None:
    """The cases of the default mode, one after the other in one session."""
    s = rec.s
    s.begin("startup-idle")
    rec.idle()
    rec.resized("startup-idle")

    s.begin("draft")
    s.tmux.send_text(s.pane, DRAFT)
    s.wait(DRAFT, stable_for=1.0)
    s.keep("draft", quiet_for=1.0)
    rec.resized("draft")
    s.tmux.send_key(s.pane, "C-u")
    rec.idle()

    rec.turn("working", "Explain the project", (slow(14),), WORKING_FOOTER, stable_for=0.0)
    rec.resized("working")
    rec.idle()

    rec.api.enqueue(ask_user_question_tool_use())
    s.begin("ask-user-question", prompt="Set up the database")
    s.wait(QUESTION_MENU_FOOTER, stable_for=1.0)
    s.keep("ask-user-question", quiet_for=1.0)
    rec.resized("ask-user-question")
    s.tmux.send_key(s.pane, "Escape")
    rec.idle()

    rec.api.enqueue(bash_tool_use("npm test"))
    s.begin("permission-bash", prompt="Run the tests")
    s.wait("Do you want to proceed?", stable_for=1.0)
    s.keep("permission-bash", quiet_for=1.0)
    rec.resized("permission-bash")
    s.tmux.send_key(s.pane, "Escape")
    rec.idle()

    replies: tuple[Reply, ...] = (subagent_tool_use(), slow(25), TextReply("The subagent is done."))
    rec.turn(
        "subagent-working", "Look into auth", replies,
        lambda screen: SUBAGENT_TASK in screen and WORKING_FOOTER in screen,
    )  # fmt: skip
    time.sleep(3.0)  # the subagent's own request streams: the main screen barely moves
    s.keep("subagent-working", quiet_for=0.5)
    rec.resized("subagent-working")
    s.begin("subagent-finished")
    rec.idle(timeout=90)
    s.save("subagent-finished-idle")

    for case, status in (("retry-overloaded", 529), ("retry-rate-limit", 429)):
        rec.api.failing = api_error(status)
        rec.api.enqueue(slow(4))
        s.begin(case, prompt=f"Try once more ({status})")
        screen = s.wait(
            lambda x: "Retrying" in x or (ERROR_SHOWN.search(x) is not None and at_prompt(x)),
            timeout=60,
        )
        # 2.0 shows no retry: it gives up at once, which is worth keeping too.
        s.save(case if "Retrying" in screen else f"api-error-{status}")
        s.settle_hooks(quiet_for=0.5)  # no resized copy: Claude gives up within seconds
        rec.api.failing = None
        rec.idle(timeout=90)
        rec.api.clear_script()  # when Claude gave up before the failures stopped

    errors = (
        ("api-error-400", api_error(400)),
        ("api-error-401", api_error(401)),
        ("api-error-500", api_error(500)),
        ("api-error-529", api_error(529)),
        ("usage-limit", usage_limit_error(time.time() + 3 * 3600)),
    )
    for case, error in errors:
        rec.api.failing = error
        s.begin(case, prompt=f"Go on ({case})")
        try:
            s.wait(lambda x: ERROR_SHOWN.search(x) is not None and at_prompt(x), timeout=30,
                   stable_for=2.0)  # fmt: skip
        except TimeoutError:
            # 2.0 waits out a usage limit's retry-after (hours), working all along.
            s.save(f"{case}-waiting")
            s.tmux.send_key(s.pane, "Escape")
            rec.api.failing = None
            rec.idle()
            continue
        s.save(case)
        s.settle_hooks(quiet_for=1.0)
        rec.resized(case)
        rec.api.failing = None


def run_late_cases(rec: Recorder) -> None:
    """Compaction (after a few exchanges) and an interrupt, in a session of their own."""
    s = rec.s
    s.begin("late-startup")
    rec.idle()
    for prompt in ("Say hello", "Say fine"):
        rec.api.enqueue(TextReply(f"Answer to {prompt}. " * 4))
        s.begin(f"exchange: {prompt}", prompt=prompt)
        rec.idle()

    rec.api.compaction_reply = slow(10)
    s.begin("compacting", prompt="/compact")
    s.wait("Compacting", timeout=30, stable_for=0.0)
    s.save("compacting")
    rec.resized("compacting")
    s.begin("compacted")
    rec.idle(timeout=60)
    s.save("compacted-idle")

    rec.turn("working-again", "Explain it again", (slow(20),), WORKING_FOOTER)
    time.sleep(2.0)  # Esc before any output puts the prompt back in the box instead
    s.settle_hooks(quiet_for=0.5)
    s.begin("interrupted", key="Escape")
    s.wait("Interrupted", stable_for=1.5, timeout=15)
    s.keep("interrupted", quiet_for=2.0)


def run_background_case(rec: Recorder) -> None:
    """A background shell still running after the turn."""
    s = rec.s
    s.begin("background-startup")
    rec.idle()
    background = ToolUseReply(
        name="Bash",
        input={"command": "sleep 600", "description": "Wait", "run_in_background": True},
        text="I'll start it in the background.",
    )
    rec.api.enqueue(background, TextReply("It runs in the background."))
    s.begin("background-permission", prompt="Start the long job")
    screen = s.wait(lambda x: "Do you want to proceed?" in x or BACKGROUNDED in x)
    if BACKGROUNDED not in screen:  # `sleep` needs no permission in a fresh session
        s.tmux.send_key(s.pane, "Enter")
    s.begin("background-task-idle")
    s.wait(lambda x: "It runs in the background." in x and WORKING_FOOTER not in x)
    time.sleep(2.0)
    s.keep("background-task-idle", quiet_for=1.0)
    rec.resized("background-task-idle")


def run_plan_case(rec: Recorder) -> None:
    """``--permission-mode plan``: the plan, awaiting approval."""
    rec.s.begin("plan-startup")
    rec.idle()
    rec.s.save("plan-mode-idle")
    rec.turn("plan-mode-working", "Think first", (slow(6),), WORKING_FOOTER)
    rec.idle()
    plan = ToolUseReply(name="ExitPlanMode", input={"plan": PLAN}, text="Here is my plan.")
    rec.turn("plan-approval", "Plan the fix", (plan,), "plan", timeout=30, stable_for=1.5)
    rec.s.settle_hooks(quiet_for=1.0)
    rec.resized("plan-approval")
    rec.s.begin("plan-rejected", key="Escape")
    rec.idle()


def run_mcp_case(rec: Recorder) -> None:
    """An MCP tool: Claude's permission prompt for it, then the server's elicitation dialog."""
    rec.s.begin("mcp-startup")
    rec.idle()
    tool = ToolUseReply(name=f"mcp__{mcp_server.NAME}__deploy", input={}, text="Deploying.")
    rec.turn("mcp-permission", "Deploy it", (tool, TextReply("Deployed.")), "proceed?")
    rec.s.keep("mcp-permission", quiet_for=1.0)
    rec.resized("mcp-permission")
    rec.s.begin("mcp-elicitation", key="Enter")
    rec.s.wait(mcp_server.QUESTION, timeout=30)
    time.sleep(1.0)
    rec.s.keep("mcp-elicitation", quiet_for=3.0)
    rec.resized("mcp-elicitation")
    rec.s.begin("mcp-elicitation-cancelled", key="Escape")
    rec.idle()


def run_subscription_case(rec: Recorder) -> None:
    """Logged in as a subscriber: a usage limit with its reset time (the API's 429 with the
    unified rate-limit headers). 2.1 opens a menu (wait, or upgrade); 2.0 goes back to the
    prompt."""
    s = rec.s
    s.begin("subscription-startup")
    rec.idle()
    rec.api.failing = usage_limit_error(time.time() + 3 * 3600)
    s.begin("usage-limit-resets", prompt="Go on (usage limit)")
    screen = s.wait(
        lambda x: "resets" in x and (LIMIT_MENU in x or at_prompt(x)), timeout=30, stable_for=2.0
    )
    s.save("usage-limit-resets")
    s.settle_hooks(quiet_for=1.0)
    rec.resized("usage-limit-resets")
    rec.api.failing = None
    if LIMIT_MENU in screen:
        s.begin("usage-limit-resets-idle", key="Enter")  # 1. Stop and wait for limit to reset
        rec.idle()
        s.save("usage-limit-resets-idle")
        rec.resized("usage-limit-resets-idle")


def run_mode_case(rec: Recorder) -> None:
    """A permission mode's footer ("accept edits on", "bypass permissions on"): idle, working,
    and a permission prompt where the mode still asks (a command in accept-edits mode)."""
    s = rec.s
    mode = rec.name
    s.begin(f"{mode}-startup")
    screen = s.wait(lambda x: MODE_FOOTERS[mode] in x or "Yes, I accept" in x, timeout=60)
    if "Yes, I accept" in screen:  # bypass mode's one-time warning
        s.wait("Enter to confirm", stable_for=1.0)
        s.save(f"{mode}-warning")
        s.tmux.send_key(s.pane, "Down")
        s.wait(re.compile(r"❯ 2\. Yes, I accept"), stable_for=0.5)
        s.tmux.send_key(s.pane, "Enter")
    s.wait(lambda x: MODE_FOOTERS[mode] in x and WORKING_FOOTER not in x, stable_for=1.5)
    s.settle_hooks(quiet_for=1.0)
    s.save(f"{mode}-idle")
    rec.resized(f"{mode}-idle")
    rec.turn(f"{mode}-working", "Explain the project", (slow(14),), WORKING_FOOTER)
    rec.resized(f"{mode}-working")
    s.wait(lambda x: MODE_FOOTERS[mode] in x and WORKING_FOOTER not in x, timeout=60,
           stable_for=1.5)  # fmt: skip
    s.settle_hooks(quiet_for=1.0)
    if mode == "accept-edits":
        rec.api.enqueue(bash_tool_use("npm test"), TextReply("Tests ran."))
        s.begin(f"{mode}-permission-bash", prompt="Run the tests")
        s.wait("Do you want to proceed?", stable_for=1.0)
        s.keep(f"{mode}-permission-bash", quiet_for=1.0)
        rec.resized(f"{mode}-permission-bash")
        s.tmux.send_key(s.pane, "Escape")
        s.wait(lambda x: MODE_FOOTERS[mode] in x and WORKING_FOOTER not in x, stable_for=1.5)


def record(cli: Path, work: Path, only: list[str]) -> tuple[str, dict[str, Any]]:
    """Record every case with the ``claude`` pinned in ``cli``; return its version and logs."""
    claude_bin = find_claude_bin(cli)
    version = claude_version(claude_bin)
    root = REPO_ROOT / "tests" / "screens" / f"claude-{version}"
    cases: dict[str, Any] = {}
    hooks: list[Any] = []
    with MockAnthropicAPI() as api, PrivateTmux() as tmux, RefusingProxy() as proxy:
        project = work / "project"
        project.mkdir(parents=True)
        env = {"CLAUDE_CODE_MAX_RETRIES": str(RETRIES)}
        home = make_claude_home(work / "home", api.base_url, [project], extra_env=env)
        mcp_config = work / "mcp.json"
        mcp_config.write_text(json.dumps(mcp_server.config(sys.executable, mcp_config)))
        mcp_args = ("--mcp-config", str(mcp_config), "--strict-mcp-config")
        for name, args, run in (
            ("mcp", mcp_args, run_mcp_case),
            ("plan", ("--permission-mode", "plan"), run_plan_case),
            ("main", (), run_main_cases),
            ("late", (), run_late_cases),
            ("background", (), run_background_case),
            ("subscription", (), run_subscription_case),
            ("accept-edits", ("--permission-mode", "acceptEdits"), run_mode_case),
            ("bypass", ("--permission-mode", "bypassPermissions"), run_mode_case),
        ):
            if only and name not in only:
                continue
            api.clear_script()
            api.failing = None
            log = work / f"hooks-{name}.jsonl"
            settings = write_hook_settings(
                work / f"settings-{name}.json", log, events_known_to(version)
            )
            login = home
            if name == "subscription":
                login = with_subscription_login(home, proxy.url)
            elif name == "bypass":  # root may use bypass mode only in a sandbox, which this is
                login = dataclasses.replace(home, env={**home.env, "IS_SANDBOX": "1"})
            session = Session(
                tmux, name, login, project, WIDTH, root / f"w{WIDTH}", settings, log,
                extra_args=args, claude_bin=claude_bin,
            )  # fmt: skip
            try:
                run(Recorder(session, api, root, name))
            except Exception as exc:  # keep what the other cases recorded
                traceback.print_exc()
                cases[f"{name}-failed"] = f"{exc!r}"[:3000]
            finally:
                session.collect()
                cases.update({c.name: {"events": c.events, **c.notes} for c in session.cases})
                hooks += read_hook_log(log)
    if proxy.attempts:
        print(f"refused (never left the machine): {sorted(set(proxy.attempts))}")
    return version, {"cases": cases, "hooks": hooks}


def write_samples(version: str, result: dict[str, Any]) -> Path:
    """``hard-cases.json`` and one payload per event kind not already sampled."""
    samples = REPO_ROOT / "tests" / "hook-samples" / f"claude-{version}"
    samples.mkdir(parents=True, exist_ok=True)
    chosen: dict[str, dict[str, Any]] = {}
    for record in result["hooks"]:
        name = record.event
        if name == "PermissionRequest":
            name = f"PermissionRequest-{record.payload.get('tool_name', 'unknown')}"
        elif name in ("PreToolUse", "PostToolUse") and record.payload.get("tool_name") in (
            "Agent",
            "Task",
        ):
            name = f"{name}-{record.payload['tool_name']}"
        elif name == "Notification":
            name = f"Notification-{record.payload.get('notification_type', 'unknown')}"
        elif name == "StopFailure":
            name = f"StopFailure-{record.payload.get('error', 'unknown')}"
            if "resets" in str(record.payload.get("last_assistant_message")):
                name += "-subscription"  # a subscriber's usage limit, with its reset time
        chosen.setdefault(name, record.payload)
    for name, payload in chosen.items():
        path = samples / f"{name}.json"
        if not path.exists() or name.startswith(("StopFailure", "Subagent", "PreCompact")):
            path.write_text(json.dumps(payload, indent=2) + "\n")
    path = samples / "hard-cases.json"
    cases = json.loads(path.read_text())["cases"] if path.exists() else {}
    cases = {k: v for k, v in cases.items() if not k.endswith("-failed")}
    cases.update(result["cases"])  # a run of some sessions (--only) keeps the others' cases
    document = {"claude_version": version, "cases": cases}
    path.write_text(json.dumps(document, indent=2) + "\n")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cli", type=Path, default=CLAUDE_CLI_DIR, help="a pinned CLI folder")
    parser.add_argument("--work", type=Path, default=Path("/tmp/orc-claude-record-hard"))
    parser.add_argument(
        "--only",
        nargs="*",
        default=[],
        help="sessions: mcp, plan, main, late, background, subscription, accept-edits, bypass",
    )
    args = parser.parse_args()
    work: Path = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        version, result = record(args.cli.resolve(), work, args.only)
        print(f"hook samples in {write_samples(version, result)}")
        failed = [name for name in result["cases"] if name.endswith("-failed")]
        if failed:
            raise SystemExit(f"failed: {', '.join(failed)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
