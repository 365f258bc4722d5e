"""The remote session commands' pieces that need no host: the command lines sent, the answers
relayed, and the record kept through a later ``up``."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

import pytest

from orchestrator.errors import OrchestratorError
from orchestrator.remote import commands
from orchestrator.remote.fleet import Host, _keep_added, hosts_of, save_hosts
from orchestrator.remote.ssh import Connection, SshFailed


def host(*names: str, added: Sequence[str] = ()) -> Host:
    sessions = tuple(
        {"name": n, "role": "", "agent": "shell", **({"added": "yes"} if n in added else {})}
        for n in names
    )
    return Host("box", ("-p", "2222"), "agents", "/opt/orc", sessions)


def test_names_follow_a_double_dash_and_the_prompt_goes_on_stdin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[tuple[list[str], str | None]] = []

    def run(
        self: Connection, argv: Sequence[str], *, stdin: str | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        sent.append((list(argv), stdin))
        return subprocess.CompletedProcess(list(argv), 0, "sent to -x\n", "")

    monkeypatch.setattr(Connection, "run", run)
    answer = commands.send("f", host("-x"), ["-x"], "a $(b)\n", every=False, role=None)
    assert sent[-1] == (
        ["/opt/orc", "-L", "agents", "send", "--stdin", "--fleet", "f", "--", "-x"],
        "a $(b)\n\n",
    )
    assert answer.lines() == ["on box: sent to -x"]
    commands.restart("f", host("a"), "a", force=True, resume=False)
    assert sent[-1][0][3:] == ["restart", "--force", "--no-resume", "--fleet", "f", "--", "a"]


def test_an_unreachable_host_is_named_and_a_failure_relayed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unreachable(self: Connection, *args: object, **kwargs: object) -> None:
        raise SshFailed("Connection refused")

    monkeypatch.setattr(Connection, "run", unreachable)
    with pytest.raises(OrchestratorError, match=r"host box unreachable \(Connection refused\)"):
        commands.remove("f", host("a"), "a")
    failed = commands.Answer("box", 1, "", "orchestrator: error: no session named 'z'\n")
    with pytest.raises(OrchestratorError, match=r"^on box: no session named 'z'$"):
        failed.checked()


def test_up_keeps_the_sessions_new_added_on_a_host() -> None:
    save_hosts("f", [host("a", "b", "c", added=["c"])])
    (again,) = _keep_added([host("a", "b")], hosts_of("f"))
    assert [s["name"] for s in again.sessions] == ["a", "b", "c"]
    (kept,) = _keep_added([host("a", "c")], hosts_of("f"))  # listed once
    assert [s["name"] for s in kept.sessions] == ["a", "c"]
