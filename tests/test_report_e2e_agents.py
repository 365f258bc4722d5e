"""``orchestrator report`` end to end over real Codex CLI, Gemini CLI and aider sessions.

One fleet (brought up with ``up``, so our watcher records its history) runs one session of each
agent in one project, each against its own scripted server. Each gets a prompt answered in text
and one that asks to run ``npm test``, cancelled at the approval. The report for the fleet then
lists the three sessions with their agent, their two prompts, their tokens as the servers
reported them (Codex, Gemini) or as aider printed them (aider counts its tokens itself when the
stream carries no usage), and the wait at each approval, from our history.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

from orchestrator.agents.catalog import profile_of
from orchestrator.cli.main import main
from orchestrator.tmux.client import Tmux
from tests.harness.agent_fleet import AgentFleet, start_fleet
from tests.harness.mock_llm import MockLLM, Shell, Text
from tests.test_e2e_agents import member, project, tail, tmux

pytest_plugins = ["tests.history_db"]
pytestmark = [pytest.mark.codex, pytest.mark.gemini, pytest.mark.aider]

__all__ = ["project", "tmux"]  # the fixtures, shared with the agents' life tests

USAGE = {
    "codex": ((1234, 56), (789, 12)),
    "gemini": ((2345, 67), (890, 23)),
    "aider": ((3456, 78), (901, 34)),
}
"""The tokens (input, output) each server reports for its two replies: distinct per agent and
reply, so a report that mixed them up or counted one twice would not match."""
APPROVAL = {
    "codex": "Would you like to run the following command?",
    "gemini": "Allow execution of",
    "aider": "Run shell command?",
}
"""What each agent shows when it asks to run a command."""


def report(history_db: Path, env: dict[str, str]) -> dict[str, Any]:
    """``report --fleet agents --json``, reading the Codex and Gemini homes in ``env``."""
    out = StringIO()
    argv = ["--db", str(history_db), "report", "--fleet", "agents", "--json"]
    argv += ["--codex-home", env["codex"], "--gemini-dir", env["gemini"]]
    with redirect_stdout(out):
        assert main(argv) == 0
    data: dict[str, Any] = json.loads(out.getvalue())
    return data


def settled(history_db: Path, env: dict[str, str], timeout: float = 30.0) -> dict[str, Any]:
    """The report once each agent's file holds both prompts and both replies (an agent paints
    its screen before it writes its file), or the last read after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        data = report(history_db, env)
        rows = data["list"]
        if (len(rows) == 3 and all(r["prompts"] == 2 and r["replies"] == 2 for r in rows)) or (
            time.monotonic() > deadline
        ):
            return data
        time.sleep(0.5)


def aider_printed(fleet: AgentFleet) -> tuple[int, int]:
    """The tokens aider printed ("Tokens: 2.3k sent, 112 received."), summed over its lines."""
    lines = fleet.tmux.run(["capture-pane", "-p", "-J", "-S", "-300", "-t", fleet.panes["aider"]])
    sent = received = 0
    for found in re.finditer(r"Tokens: ([\d.]+k?) sent, ([\d.]+k?) received", "\n".join(lines)):
        sent += _figure(found[1])
        received += _figure(found[2])
    return sent, received


def submit(fleet: AgentFleet, server: MockLLM, agent: str, text: str, requests: int) -> None:
    """Send a prompt and wait until it reached the agent's server as its ``requests``-th turn.

    On a loaded machine an agent now and then takes the Enter, sent a moment after the text,
    as part of the typed text (Gemini CLI left "run the tests" in its input box twice in one
    run at a load average of 15): then the Enter is sent again, up to twice. A second Enter
    on an empty input box does nothing in any of the three."""
    fleet.prompt(agent, text)
    for _ in range(2):
        try:
            server.wait_main(requests, timeout=20)
            return
        except TimeoutError:
            fleet.keys(agent, "Enter")
    server.wait_main(requests, timeout=20)


def showing(text: str) -> Callable[[str], bool]:
    """Whether a screen shows ``text``."""
    return lambda screen: text in screen


def gone(text: str) -> Callable[[str], bool]:
    """Whether ``text`` has left a screen's last lines."""
    return lambda screen: text not in tail(screen)


def _figure(text: str) -> int:
    return round(float(text.rstrip("k")) * (1000 if text.endswith("k") else 1))


def test_report_counts_every_agent(
    history_db: Path, tmux: Tmux, tmp_path: Path, project: Path
) -> None:
    servers = {agent: MockLLM().__enter__() for agent in USAGE}
    try:
        members = [member(a, tmp_path / a, servers[a], project) for a in USAGE]
        fleet = start_fleet(tmux, tmp_path, members)
        for agent in USAGE:
            fleet.expect(agent, "idle", label=f"{agent} start-up idle", deadline=90)
        for agent, (text_usage, shell_usage) in USAGE.items():
            servers[agent].enqueue(
                Text(f"Reply for the report from {agent}.", usage=text_usage),
                Shell("npm test", usage=shell_usage),
            )
            submit(fleet, servers[agent], agent, "say something", 1)
        for agent in USAGE:
            fleet.expect(agent, "idle", showing(f"from {agent}."), f"{agent} replied")
            submit(fleet, servers[agent], agent, "run the tests", 2)
        for agent in USAGE:
            fleet.expect(agent, "awaiting_input", showing(APPROVAL[agent]))
            fleet.keys(agent, profile_of(agent).interrupt_key)
        for agent in USAGE:
            fleet.expect(agent, "idle", gone(APPROVAL[agent]), f"{agent} esc")
        homes = {"codex": str(tmp_path / "codex" / ".codex"),
                 "gemini": str(tmp_path / "gemini" / ".gemini")}  # fmt: skip
        data = settled(history_db, homes)
        rows = {row["agent"]: row for row in data["list"]}
        assert sorted(rows) == ["aider", "codex", "gemini"], data["list"]
        for agent, row in rows.items():
            assert (row["fleet"], row["name"]) == ("agents", agent)
            assert (row["prompts"], row["replies"], row["messages"]) == (2, 2, 4), row
            assert row["project"] == str(project)
            assert len(row["waits"]) >= 1, row  # the approval, from our history
        for agent in ("codex", "gemini"):
            tokens = rows[agent]["tokens"]
            assert tokens["input"] == sum(u[0] for u in USAGE[agent]), tokens
            assert tokens["output"] == sum(u[1] for u in USAGE[agent]), tokens
            assert rows[agent]["outcome"] == "aborted"  # cancelled at the approval
        sent, received = aider_printed(fleet)
        assert sent and received
        aider_tokens = rows["aider"]["tokens"]
        assert (aider_tokens["input"], aider_tokens["output"]) == (sent, received)
        assert rows["aider"]["outcome"] == "unknown"
        assert data["attention"]["waits"] >= 3
        assert set(data["by_agent"]) == {"aider", "codex", "gemini"}
        fleet.report()
    finally:
        for server in servers.values():
            server.__exit__(None, None, None)
