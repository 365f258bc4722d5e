"""The parallel-sessions workflow end to end, with the real Claude Code CLI and a scripted API:
roles reaching Claude, a two-stage pipeline with file hand-off (shared folder and worktrees), and
sessions added, prompted and removed on a live fleet.

Each Claude session's replies are scripted apart by its role text (``You are "<name>"``), which
the scripted API finds in the system prompt; that is also the proof that the role reached it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from functools import partial
from io import StringIO
from pathlib import Path

import libtmux
import pytest

from orchestrator.cli.main import main
from orchestrator.fleet import up as fleet
from orchestrator.layout import load as layout
from orchestrator.store.db import Store
from orchestrator.tmux.client import Tmux
from tests.harness.claude_env import make_claude_home
from tests.harness.mock_api import MockAnthropicAPI, TextReply, write_tool_use
from tests.waiting import wait_for

pytestmark = pytest.mark.claude

SLOW = 60.0
"""Seconds a Claude step may take on a loaded 2-core machine (start-up, a turn, a hand-off)."""


def you_are(name: str) -> str:
    """The start of a session's role text, by which the scripted API tells sessions apart."""
    return f'You are "{name}"'


class Cli:
    """The command line against one private tmux server, as a user runs it."""

    def __init__(self, tmux: Tmux) -> None:
        self.tmux = tmux

    def run(self, *args: str) -> tuple[int, str]:
        out = StringIO()
        with redirect_stdout(out):
            code = main(["-L", str(self.tmux.socket_name), *args])
        return code, out.getvalue()

    def sessions(self) -> dict[str, dict[str, object]]:
        code, out = self.run("status", "--json")
        assert code == 0
        return {str(row["name"]): row for row in json.loads(out)["sessions"]}

    def state(self, name: str) -> object:
        return self.sessions().get(name, {}).get("state")

    def wait(self, predicate: Callable[[], bool], what: str) -> None:
        """Wait up to :data:`SLOW` seconds; on failure, show every pane's screen."""
        try:
            wait_for(predicate, SLOW, what)
        except AssertionError as exc:
            screens = []
            for pane in self.tmux.query(["list-panes", "-a"], ("pane_id", "@orc_session")):
                shown = self.tmux.run(["capture-pane", "-p", "-t", pane["pane_id"]], check=False)
                screens.append(
                    f"--- {pane['@orc_session'] or pane['pane_id']}\n" + "\n".join(shown)
                )
            raise AssertionError(f"{exc}\n" + "\n".join(screens)) from None


@pytest.fixture
def cli(server: libtmux.Server) -> Cli:
    return Cli(Tmux.from_server(server))


@pytest.fixture
def bring_up(
    tmp_path: Path, claude_bin: Path, mock_api: MockAnthropicAPI, cli: Cli
) -> Iterator[Callable[..., Path]]:
    """Write a layout of Claude sessions (trusting ``trusted``) and bring it up detached."""

    def start(body: str, trusted: list[Path]) -> Path:
        home = make_claude_home(tmp_path / "claude-home", mock_api.base_url, trusted)
        env = {k: v for k, v in home.env.items() if k != "TERM"}
        # `claude` on PATH, so that a session added with `new` finds it as `up` would.
        env["PATH"] = f"{claude_bin.parent}:{env['PATH']}"
        inline = ", ".join(f"{key} = {json.dumps(value)}" for key, value in env.items())
        text = (
            f'name = "flow"\n[defaults]\nagent = "claude"\nenv = {{ {inline} }}\n'
            + body.replace("CLAUDE", json.dumps(str(claude_bin)))
        )
        path = tmp_path / "flow.toml"
        path.write_text(text)
        fleet.up(layout.load_fleet(str(path)), cli.tmux, size=(240, 60))
        return path

    yield start


PIPELINE = """\
[[sessions]]
name = "research-3"
role = "Study the auth module and write findings"
cwd = "{research}"
command = [CLAUDE]
permission_mode = "acceptEdits"
prompt = "Study the auth module; write your findings to findings.md"

[[sessions]]
name = "dev-1"
role = "Implement what research recommends"
cwd = "{dev}"
command = [CLAUDE]
after = ["research-3"]
needs = ["findings.md"]
prompt = "Read findings.md and implement what it recommends"
"""


def run_pipeline(
    cli: Cli, mock_api: MockAnthropicAPI, research_dir: Path, dev_dir: Path
) -> list[dict[str, object]]:
    """Script research-3 to write findings.md, then watch dev-1 get its prompt after it."""
    findings = research_dir / "findings.md"
    mock_api.enqueue_for(
        you_are("research-3"),
        write_tool_use(str(findings), "# Findings\n\nUse bcrypt.\n"),
        TextReply("Findings written.", chunk_delay=0.05, chunk_chars=4),
    )
    assert cli.sessions()["dev-1"]["waiting_for"] == ["research-3", "findings.md"]
    cli.wait(findings.exists, "research-3 writes findings.md (its Write allowed)")
    written_at = findings.stat().st_mtime
    cli.wait(lambda: cli.sessions()["dev-1"]["waiting_for"] == [], "dev-1 handed its prompt")
    dev_turns = mock_api.wait_for_main_turns(3, SLOW)
    dev_turn = next(r for r in dev_turns if you_are("dev-1") in r.system_text())
    assert "Read findings.md and implement what it recommends" in dev_turn.user_texts()[-1]
    research_turn = next(r for r in dev_turns if you_are("research-3") in r.system_text())
    assert dev_turn.received_at > research_turn.received_at
    assert (dev_dir / "findings.md").read_text() == "# Findings\n\nUse bcrypt.\n"
    # The history has the hand-off and the prompt, sent once, after the file was written.
    with Store() as store:
        (handoff,) = store.handoffs("dev-1", fleet="flow")
        prompts = [p for p in store.prompts("dev-1", fleet="flow") if p.source == "pipeline"]
    assert handoff.after == "research-3"
    assert handoff.at >= written_at
    assert len(prompts) == 1
    files: list[dict[str, object]] = json.loads(handoff.files)
    return files


def test_pipeline_hands_off_once_the_file_is_written_and_roles_reach_claude(
    cli: Cli, bring_up: Callable[..., Path], mock_api: MockAnthropicAPI, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    bring_up(PIPELINE.format(research=project, dev=project), [project])
    (entry,) = run_pipeline(cli, mock_api, project, project)
    assert entry["copied"] is False
    # The role text reached Claude: name, role, and the other session with its role.
    system = next(
        r.system_text()
        for r in mock_api.main_turn_requests()
        if you_are("dev-1") in r.system_text()
    )
    assert "Your role: Implement what research recommends" in system
    assert "- research-3: Study the auth module and write findings" in system


def test_pipeline_between_worktrees_copies_the_file(
    cli: Cli,
    bring_up: Callable[..., Path],
    mock_api: MockAnthropicAPI,
    repo: Path,
    tmp_path: Path,
) -> None:
    worktrees = tmp_path / "wt"
    body = f'[worktrees]\nfolder = "{worktrees}"\n' + PIPELINE.format(research=repo, dev=repo)
    body = body.replace("command = [CLAUDE]\n", "command = [CLAUDE]\nworktree = true\n")
    research, dev = worktrees / "research-3", worktrees / "dev-1"
    bring_up(body, [research, dev])
    (entry,) = run_pipeline(cli, mock_api, research, dev)
    assert entry["copied"] is True
    assert entry["producer"] == "research-3"
    assert not (repo / "findings.md").exists()


def got(api: MockAnthropicAPI, name: str, text: str) -> bool:
    """Whether session ``name`` has sent the scripted API a turn carrying ``text``."""
    return any(
        text in " ".join(r.user_texts())
        for r in api.main_turn_requests()
        if you_are(name) in r.system_text()
    )


def test_new_send_all_and_rm_on_a_live_fleet(
    cli: Cli, bring_up: Callable[..., Path], mock_api: MockAnthropicAPI, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    layout_file = bring_up(
        f'[[sessions]]\nname = "dev-1"\nrole = "Implement"\ncwd = "{project}"\n', [project]
    )
    code, out = cli.run(
        "new", "qa-2", "--role", "Review the changes", "--cwd", str(project),
        "--prompt", "Review what dev-1 did",
    )  # fmt: skip
    assert code == 0, out
    assert "added flow/qa-2 (claude" in out
    cli.wait(partial(got, mock_api, "qa-2", "Review what dev-1 did"), "qa-2's first prompt")
    system = next(
        r.system_text() for r in mock_api.main_turn_requests() if you_are("qa-2") in r.system_text()
    )
    assert "Your role: Review the changes" in system
    assert "- dev-1: Implement" in system
    # A later `up` of the layout keeps the added session, and starts nothing twice.
    code, out = cli.run("up", str(layout_file), "--detach")
    assert code == 0, out
    assert sorted(cli.sessions()) == ["dev-1", "qa-2"]
    cli.wait(lambda: {cli.state("dev-1"), cli.state("qa-2")} == {"idle"}, "both idle")
    code, out = cli.run("send", "--all", "Summarise your work")
    assert code == 0, out
    for name in ("dev-1", "qa-2"):
        cli.wait(partial(got, mock_api, name, "Summarise your work"), f"{name} gets it too")
    code, out = cli.run("rm", "qa-2")
    assert code == 0, out
    assert sorted(cli.sessions()) == ["dev-1"]
    with Store() as store:
        sent = [
            (p.session, p.source)
            for p in store.prompts(fleet="flow")
            if p.text == "Summarise your work"
        ]
        assert sorted(sent) == [("dev-1", "cli"), ("qa-2", "cli")]
        assert store.prompts("qa-2", fleet="flow")[0].source == "new"
        assert store.transitions("qa-2", fleet="flow")[-1].reason == "removed with orchestrator rm"
