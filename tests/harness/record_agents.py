"""Record the screens of Codex CLI, Gemini CLI or aider for the screen-rule tests.

Runs the pinned CLI in a private tmux server through ``orchestrator up`` (so it runs exactly as
users' sessions do, with our hooks), drives it with a scripted :class:`MockLLM` and keys, and
writes each screen to ``tests/screens/<agent>-<version>/w<width>/<case>.txt``::

    .venv/bin/python -m tests.harness.record_agents codex 80 0.171.0
    .venv/bin/python -m tests.harness.record_agents codex 80 0.171.0 edit   # one part only

Parts: ``life`` (the default: start-up, a reply, a shell approval, Esc, exit), ``edit`` (Codex: a
file-edit approval through ``apply_patch``, Esc at it, the same approved), ``draft`` (text typed
at the prompt and not sent). A part writes only its own cases.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.harness import agent_env
from tests.harness.mock_llm import MockLLM, Shell, Text

SCREENS = Path(__file__).resolve().parents[1] / "screens"
EXIT = {"codex": "/quit", "gemini": "/quit", "aider": "/exit"}
READY = {"codex": "? for shortcuts", "gemini": "Type your message", "aider": "diff>"}
"""What each agent's screen shows once it takes a prompt."""


def _sentences(count: int) -> str:
    """A reply of distinct sentences (Gemini halts a reply that repeats itself as a loop)."""
    return " ".join(f"Sentence number {i} of the reply." for i in range(count))


PATCH = (
    "apply_patch <<'EOF'\n*** Begin Patch\n*** Update File: src/app.py\n@@\n"
    "-print('hello')\n+print('hello, world')\n*** End Patch\nEOF\n"
)
"""A shell call that runs ``apply_patch``: Codex takes it as a file edit (its edit approval)."""


def main(agent: str, width: int, version: str, part: str = "life") -> None:
    out = SCREENS / f"{agent}-{version}" / f"w{width}"
    out.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix=f"orc-record-{agent}-"))
    project = base / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "app.py").write_text("print('hello')\n")
    os.environ.pop("TMUX", None)
    os.environ.pop("TMUX_PANE", None)
    os.environ["ORCHESTRATOR_RUNTIME_DIR"] = str(agent_env.secure_runtime("record") / "run")
    os.environ["XDG_STATE_HOME"] = str(base / "state")
    os.environ["XDG_CONFIG_HOME"] = str(base / "config")
    socket = f"orc-record-{agent}-{os.getpid()}"

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True).stdout

    with MockLLM() as mock:
        if agent == "codex":
            env, binary = agent_env.codex_env(base / "home", mock, [project]), agent_env.CODEX_BIN
        elif agent == "gemini":
            env, binary = agent_env.gemini_env(base / "home", mock), agent_env.GEMINI_BIN
        else:
            env, binary = agent_env.aider_env(base / "home", mock), agent_env.AIDER_BIN
        inline = ", ".join(f"{key} = {json.dumps(value)}" for key, value in env.items())
        layout = base / "layout.toml"
        layout.write_text(
            f'name = "rec"\n[defaults]\nagent = "{agent}"\nenv = {{ {inline} }}\n'
            f'[[sessions]]\nname = "a"\ncwd = "{project}"\ncommand = [{json.dumps(str(binary))}]\n'
        )
        orc = [sys.executable, "-m", "orchestrator", "-L", socket]
        subprocess.run([*orc, "up", "--detach", str(layout)], check=True)
        pane = next(
            line.split(":")[0]
            for line in tmux("list-panes", "-a", "-F", "#{pane_id}:#{@orc_session}").splitlines()
            if line.endswith(":a")
        )
        tmux("resize-window", "-t", pane, "-x", str(width), "-y", "40")
        delay = 0.5
        interrupt = "C-c" if agent == "aider" else "Escape"

        def save(case: str) -> str:
            screen = tmux("capture-pane", "-p", "-t", pane)
            (out / f"{case}.txt").write_text(screen)
            return screen

        def prompt(text: str) -> None:
            tmux("send-keys", "-t", pane, "-l", text)
            time.sleep(delay)
            tmux("send-keys", "-t", pane, "Enter")

        def wait_for(text: str, timeout: float = 90.0) -> None:
            end = time.monotonic() + timeout
            while text not in tmux("capture-pane", "-p", "-t", pane) and time.monotonic() < end:
                time.sleep(0.2)

        def edit() -> None:
            mock.enqueue(Shell(PATCH, "I'll edit it."))
            prompt("fix the greeting")
            wait_for("Press enter to confirm")
            time.sleep(3)
            save("permission-edit")
            tmux("send-keys", "-t", pane, "Escape")
            time.sleep(4)
            save("esc-at-edit")
            mock.enqueue(Shell(PATCH, "I'll edit it."))
            prompt("fix the greeting, please")
            wait_for("Press enter to confirm")
            time.sleep(3)
            tmux("send-keys", "-t", pane, "Enter")
            end = time.monotonic() + 30
            while "world" not in (project / "src" / "app.py").read_text():
                assert time.monotonic() < end, "the approved edit was not applied"
                time.sleep(0.2)
            time.sleep(4)
            save("edit-approved-idle")

        def draft() -> None:
            tmux("send-keys", "-t", pane, "-l", "a draft, not sent")
            time.sleep(3)
            save("draft")
            tmux("send-keys", "-t", pane, "C-u")
            time.sleep(1)

        try:
            wait_for(READY[agent])
            time.sleep(2)
            if part != "life":
                {"edit": edit, "draft": draft}[part]()
                prompt(EXIT[agent])
                time.sleep(3)
                return
            save("startup-idle")
            mock.enqueue(Text(_sentences(10), chunk_delay=0.3, first_delay=5.0))
            prompt("say something")
            time.sleep(2.5)
            save("working")
            time.sleep(4.5)
            save("streaming")
            wait_for("Sentence number 9 of the reply.")
            time.sleep(3)
            save("turn-finished-idle")
            mock.enqueue(Shell("npm test"))
            prompt("run the tests")
            time.sleep(6)
            save("permission-shell")
            tmux("send-keys", "-t", pane, interrupt)
            time.sleep(4)
            save("esc-at-permission")
            mock.enqueue(Text(_sentences(20), chunk_delay=0.3, first_delay=3.0))
            prompt("a long one")
            time.sleep(2)
            tmux("send-keys", "-t", pane, interrupt)
            time.sleep(4)
            save("esc-while-working")
            prompt(EXIT[agent])
            time.sleep(5)
            save("after-exit")
        finally:
            tmux("kill-server")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], *sys.argv[4:5])
