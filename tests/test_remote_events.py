"""Events and the report across hosts, over the real loopback sshd (marker ``ssh``).

The remote fleet is driven directly through its own tmux socket (as a user on the host would),
while ``orchestrator events`` here follows both sides, through a dropped connection.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import libtmux
import pytest

from orchestrator.cli.main import main
from orchestrator.store.db import Store
from tests.harness.sshd import ALIAS, SSHD, LoopbackSshd
from tests.report_corpus import Transcript

# The loopback sshd fixture and helpers of the remote-host tests (the fixture by import).
from tests.test_remote_ssh import REMOTE_SOCKET, layout, sshd, status  # noqa: F401
from tests.waiting import wait_for

pytestmark = [
    pytest.mark.ssh,
    pytest.mark.skipif(not SSHD.exists(), reason="no sshd: run `bash tests/setup.sh`"),
]
BURST = "for i in 1 2 3 4; do echo tick $i; sleep 1; done"
"""Output moving for four seconds: a shell session works, then goes idle."""


class Lines:
    """The JSON lines a command prints, collected by a thread."""

    def __init__(self, argv: list[str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ},
        )
        self.got: list[dict[str, object]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.got.append(json.loads(line))

    def of(self, session: str) -> list[tuple[object, object, object]]:
        """A session's transitions so far: (host, from, to)."""
        return [
            (e["host"], e["from"], e["to"])
            for e in list(self.got)
            if e["kind"] == "transition" and e["session"] == session
        ]

    def stop(self) -> str:
        self.process.terminate()
        _, errors = self.process.communicate(timeout=20)
        return errors


def remote_state(daemon: LoopbackSshd, pane: str) -> str:
    shown = daemon.remote_tmux(REMOTE_SOCKET, "show-options", "-pqv", "-t", pane, "@orc_state")
    return shown.stdout.strip()


def test_events_follow_remote_sessions_through_a_dropped_connection(
    server: libtmux.Server,
    sshd: LoopbackSshd,  # noqa: F811
    tmp_path: Path,
) -> None:
    path = layout(
        tmp_path,
        sshd,
        f'[[sessions]]\nname = "here-1"\n[[sessions]]\nname = "there-1"\nhost = "{ALIAS}"\n',
    )
    socket = ["-L", str(server.socket_name)]
    assert main([*socket, "up", str(path), "-d"]) == 0
    wait_for(
        lambda: {row["state"] for row in status(server).values()} == {"idle"},
        timeout=40,
        what="both sessions idle",
    )
    panes = {name: str(row["pane_id"]) for name, row in status(server).items()}
    events = Lines([*socket, "events", "--json", "--fleet", "mixed"])
    try:
        # Wait until the stream follows the host: a remote change shows up.
        sshd.remote_tmux(REMOTE_SOCKET, "send-keys", "-t", panes["there-1"], BURST, "Enter")
        wait_for(
            lambda: (ALIAS, "working", "idle") in events.of("there-1"),
            timeout=60,
            what="there-1 worked then went idle, named by its host",
        )
        server.cmd("send-keys", "-t", panes["here-1"], BURST, "Enter")
        wait_for(
            lambda: (None, "working", "idle") in events.of("here-1"),
            timeout=60,
            what="here-1's local transitions in the same stream",
        )
        before = len(events.of("there-1"))

        sshd.stop()  # the connection drops; the host's fleet and watcher run on
        wait_for(
            lambda: any(e["kind"] == "host" and e["to"] == "unreachable" for e in events.got),
            timeout=40,
            what="a 'host unreachable' event",
        )
        # Meanwhile on the host: there-1 works and goes idle again, recorded only there.
        sshd.remote_tmux(REMOTE_SOCKET, "send-keys", "-t", panes["there-1"], BURST, "Enter")
        wait_for(lambda: remote_state(sshd, panes["there-1"]) == "working", timeout=30)
        wait_for(lambda: remote_state(sshd, panes["there-1"]) == "idle", timeout=60)
        assert len(events.of("there-1")) == before  # nothing came through while down

        sshd.start()
        wait_for(
            lambda: len(events.of("there-1")) >= before + 2,
            timeout=90,
            what="the transitions made while unreachable, after the host is back",
        )
        kinds = [(e["kind"], e["to"]) for e in events.got if e["kind"] == "host"]
        assert kinds == [("host", "unreachable"), ("host", "back")]
        back = next(i for i, e in enumerate(events.got) if e["to"] == "back")
        missed = [e for e in events.got[back:] if e["session"] == "there-1"]
        assert [(e["from"], e["to"]) for e in missed][:2] == [
            ("idle", "working"),
            ("working", "idle"),
        ]
        assert all(e["host"] == ALIAS for e in missed)
    finally:
        errors = events.stop()
    # Each event once: no transition of the host came twice.
    seen = [(e["session"], e["at"], e["to"]) for e in events.got if e["kind"] == "transition"]
    assert len(seen) == len(set(seen)), errors

    # Replayed: both sides, in time order, the host's named.
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert (
            main([*socket, "events", "--json", "--fleet", "mixed", "--since", "1h", "--no-follow"])
            == 0
        )
    replay = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["at"] for e in replay] == sorted(e["at"] for e in replay)
    hosts = {(e["session"], e["host"]) for e in replay if e["kind"] == "transition"}
    assert hosts == {("here-1", None), ("there-1", ALIAS)}
    remote = [(e["at"], e["to"]) for e in replay if e["session"] == "there-1"]
    assert len(remote) == len(set(remote)) >= 5  # starting, idle, and two bursts
    assert main([*socket, "down", "mixed"]) == 0


def report(server: libtmux.Server, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main(["-L", str(server.socket_name), "report", "--fleet", "mixed", *argv]) == 0
    return capsys.readouterr().out


def test_report_lists_a_remote_session_with_its_host_and_its_wait(
    server: libtmux.Server,
    sshd: LoopbackSshd,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = layout(tmp_path, sshd, f'[[sessions]]\nname = "there-1"\nhost = "{ALIAS}"\n')
    assert main(["-L", str(server.socket_name), "up", str(path), "-d"]) == 0
    # A Claude conversation of there-1 as the host keeps it: the transcript in the host's
    # ~/.claude, and in the host's history its link and a wait of 40 s.
    start = datetime.now(UTC) - timedelta(minutes=10)
    talk = Transcript(str(sshd.remote_home))
    talk.prompt(start, "Fix the tests")
    talk.reply(start + timedelta(minutes=2))
    folder = sshd.remote_home / ".claude" / "projects" / "-remote-home"
    folder.mkdir(parents=True)
    transcript = folder / f"{talk.session_id}.jsonl"
    transcript.write_text("\n".join(talk.lines) + "\n")
    database = sshd.remote_home / ".local" / "state" / "orchestrator" / "history.sqlite3"
    with Store(database) as store:
        store.note_claude_session("mixed", "there-1", talk.session_id, transcript_path=transcript)
        for after, state in ((30, "awaiting_input"), (70, "working"), (130, "idle")):
            at = (start + timedelta(seconds=after)).timestamp()
            store.record_transition("mixed", "there-1", state, source="test", at=at)

    data = json.loads(report(server, capsys, "--json"))
    ((there,),) = [h["list"] for h in data["hosts"]]
    assert (there["host"], there["fleet"], there["name"]) == (ALIAS, "mixed", "there-1")
    assert [w["seconds"] for w in there["waits"]] == [40.0]
    assert data["everywhere"]["attention"]["waits"] == 1
    assert data["everywhere"]["attention"]["median_response_seconds"] == 40.0
    assert data["missing"] == []
    text = report(server, capsys, "--no-pictures")
    assert f"mixed/there-1@{ALIAS}" in text and "MISSING" not in text

    sshd.stop()  # an unreachable host is named, never left out silently
    data = json.loads(report(server, capsys, "--json"))
    (missing,) = data["missing"]
    assert missing.startswith(f"host {ALIAS} (fleet mixed) unreachable")
    assert data["hosts"][0]["error"].startswith("unreachable")
    text = report(server, capsys, "--no-pictures")
    assert f"MISSING from this report: host {ALIAS} (fleet mixed) unreachable" in text
