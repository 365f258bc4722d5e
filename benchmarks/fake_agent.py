"""A scripted stand-in for Claude Code, for the watcher benchmark (standard library only).

It draws screens close enough to Claude Code 2.1.197's for the real screen rules (idle prompt with
``? for shortcuts``, a spinner line redrawn a few times a second over ``esc to interrupt``, a Bash
permission menu), runs the real hook command from its ``--settings`` file for each event (in
``hooks`` mode), and logs the wall-clock time of every state change to a ground-truth file.

It is told what to do through a FIFO, one command per line, optionally followed by a tag that is
copied into the ground truth:

- ``work``: a prompt is sent (UserPromptSubmit): working, spinner running
- ``ask``: a Bash permission prompt opens (PreToolUse, PermissionRequest): awaiting input
- ``approve``: the prompt is answered (PostToolUse): working again
- ``done``: the turn ends (Stop): idle prompt
- ``exit``: the session ends (SessionEnd in hooks mode) and the process exits
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

SPINNER = "·✢✳✶✻✽"
VERBS = ("Whirlpooling", "Swirling", "Brewing", "Crunching", "Pondering")
ANSWER = "● Here is a deliberately slow answer, streamed a few characters at a time."


class Agent:
    """One fake Claude session."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.name: str = args.name
        self.hooks_on = args.mode == "hooks" and bool(args.settings)
        self.truth_path: str = args.truth
        self.fps: float = args.fps
        self.session_id = str(uuid.uuid4())
        self.commands: dict[str, str] = {}
        if self.hooks_on:
            with Path(args.settings).open(encoding="utf-8") as handle:
                settings = json.load(handle)
            for event, entries in settings.get("hooks", {}).items():
                self.commands[event] = entries[0]["hooks"][0]["command"]
        self.state = "idle"
        self.turn_started = 0.0
        self.tokens = 0
        self.verb = VERBS[hash(self.name) % len(VERBS)]
        self.frame = 0

    # -- signals -------------------------------------------------------------------------------

    def hook(self, event: str, **extra: Any) -> None:
        """Run the real hook command for ``event``, as Claude does (synchronously)."""
        command = self.commands.get(event)
        if command is None:
            return
        data = {
            "hook_event_name": event,
            "session_id": self.session_id,
            "transcript_path": f"/tmp/{self.session_id}.jsonl",
            "cwd": str(Path.cwd()),
            **extra,
        }
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(
                ["sh", "-c", command], input=json.dumps(data).encode(), timeout=5, check=False
            )

    def truth(self, state: str, at: float, tag: str) -> None:
        """Log a state change: when it began, what it is, which path can see it."""
        record = {
            "session": self.name,
            "state": state,
            "at": at,
            "mode": "hooks" if self.hooks_on else "screen",
            "tag": tag,
        }
        with Path(self.truth_path).open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")

    # -- screens -------------------------------------------------------------------------------

    def draw(self, bottom: list[str]) -> None:
        """Clear the screen and draw the banner on top and ``bottom`` at the bottom."""
        size = shutil.get_terminal_size((80, 24))
        width, height = size.columns, size.lines
        top = [
            " ▐▛███▜▌   Claude Code v2.1.197",
            "▝▜█████▛▘  Opus 4.8 · API Usage Billing",
            f"  ▘▘ ▝▝    {Path.cwd()}",
        ]
        out = ["\x1b[H\x1b[2J"]
        for row, line in enumerate(top[: max(0, height - len(bottom))], start=1):
            out.append(f"\x1b[{row};1H{line[:width]}")
        first = max(1, height - len(bottom) + 1)
        for row, line in enumerate(bottom[-height:], start=first):
            out.append(f"\x1b[{row};1H{line[:width]}\x1b[K")
        self.write("".join(out))

    def write(self, text: str) -> None:
        """Write to the terminal in one go."""
        sys.stdout.write(text)
        sys.stdout.flush()

    def rule(self) -> str:
        """A horizontal line across the pane."""
        return "─" * shutil.get_terminal_size((80, 24)).columns

    def spinner_line(self) -> str:
        """The live spinner line: glyph, verb, elapsed seconds and tokens."""
        glyph = SPINNER[self.frame % len(SPINNER)]
        seconds = int(time.time() - self.turn_started)
        return f"{glyph} {self.verb}… ({seconds}s · ↓ {self.tokens} tokens)"

    def working_bottom(self) -> list[str]:
        """The bottom of the screen while a turn runs."""
        return [
            "❯ Run the tests",
            ANSWER,
            "",
            self.spinner_line(),
            self.rule(),
            "❯ ",
            self.rule(),
            "  esc to interrupt · ← for agents",
        ]

    def draw_idle(self, finished: bool) -> None:
        """The idle prompt (with the finished turn's line after a turn)."""
        lines = []
        if finished:
            lines += [ANSWER, f"✻ Brewed for {max(1, int(time.time() - self.turn_started))}s"]
        lines += [self.rule(), "❯ ", self.rule(), "  ? for shortcuts · ← for agents"]
        self.draw(lines)

    def draw_permission(self) -> None:
        """A Bash permission prompt."""
        self.draw(
            [
                self.rule(),
                " Bash command",
                "",
                "   npm test",
                "   Run the test suite",
                "",
                " Do you want to proceed?",
                " ❯ 1. Yes",
                "   2. Yes, and don’t ask again for: npm test *",
                "   3. No",
                "",
                " Esc to cancel · Tab to amend · ctrl+e to explain",
            ]
        )

    def tick(self) -> None:
        """Redraw the spinner line (a working Claude redraws several times a second)."""
        self.frame += 1
        self.tokens += 7
        height = shutil.get_terminal_size((80, 24)).lines
        row = max(1, height - 4)
        self.write(f"\x1b[{row};1H{self.spinner_line()}\x1b[K")

    def redraw(self) -> None:
        """Draw the current screen again at the pane's new size, as Claude does on a resize
        (``up`` tiles the panes after the agents start; a screen drawn before that at another
        size may not read as any state)."""
        if self.state == "working":
            self.draw(self.working_bottom())
        elif self.state == "awaiting_input":
            self.draw_permission()
        else:
            self.draw_idle(finished=self.turn_started > 0)

    # -- commands ------------------------------------------------------------------------------

    def handle(self, command: str, tag: str) -> bool:
        """Act on one command; False when the agent should exit."""
        at = time.time()
        bash = {"tool_name": "Bash", "tool_input": {"command": "npm test"}}
        if command == "work" and self.state in {"idle", "awaiting_input"}:
            self.hook("UserPromptSubmit", prompt="Run the tests")
            self.state, self.turn_started, self.tokens = "working", at, 0
            self.draw(self.working_bottom())
        elif command == "ask" and self.state == "working":
            self.hook("PreToolUse", **bash)
            self.hook("PermissionRequest", **bash)
            self.state = "awaiting_input"
            self.draw_permission()
        elif command == "approve" and self.state == "awaiting_input":
            self.hook("PostToolUse", **bash)
            self.state = "working"
            self.draw(self.working_bottom())
        elif command == "done" and self.state != "idle":
            self.hook("Stop")
            self.state = "idle"
            self.draw_idle(finished=True)
        elif command == "exit":
            self.hook("SessionEnd", reason="prompt_input_exit")
            self.truth("exited", at, tag)
            return False
        else:
            return True
        self.truth(self.state, at, tag)
        return True

    def run(self, control: str) -> int:
        """Start idle, then follow the commands that arrive on the FIFO."""
        # O_RDWR: the FIFO never reports end-of-file while nobody has it open for writing.
        fd = os.open(control, os.O_RDWR | os.O_NONBLOCK)
        resized, resize_note = os.pipe()
        os.set_blocking(resize_note, False)
        signal.signal(signal.SIGWINCH, lambda *_: os.write(resize_note, b"."))
        self.hook("SessionStart", source="startup")
        self.draw_idle(finished=False)
        self.truth("idle", time.time(), "start")
        pending = b""
        next_tick = 0.0
        while True:
            timeout = None
            if self.state == "working":
                now = time.time()
                if now >= next_tick:
                    self.tick()
                    next_tick = now + 1.0 / self.fps
                timeout = max(0.0, next_tick - time.time())
            ready, _, _ = select.select([fd, resized], [], [], timeout)
            if resized in ready:
                os.read(resized, 4096)
                self.redraw()
            if fd not in ready:
                continue
            try:
                pending += os.read(fd, 4096)
            except BlockingIOError:
                continue
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                parts = line.decode().split()
                if parts and not self.handle(parts[0], parts[1] if len(parts) > 1 else ""):
                    return 0


def main() -> int:
    """Parse the arguments (Claude's ``--settings`` comes first) and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--settings", help="Claude Code settings file with our hooks")
    parser.add_argument("--name", required=True, help="session name (for the ground truth)")
    parser.add_argument("--mode", choices=("hooks", "screen"), default="hooks")
    parser.add_argument("--control", required=True, help="FIFO to read commands from")
    parser.add_argument("--truth", required=True, help="JSON-lines file for the ground truth")
    parser.add_argument("--fps", type=float, default=5.0, help="spinner redraws per second")
    # Claude Code's own flags (--append-system-prompt, --model...) that up adds are not ours.
    args, _ = parser.parse_known_args()
    return Agent(args).run(args.control)


if __name__ == "__main__":
    sys.exit(main())
