"""``notify.toml``: validated like a layout (file, line, key, what to do), checked by
``orchestrator notify check`` and ``up``, read again when edited; and ``ORCHESTRATOR_NOTIFY``
handed to the watcher ``up`` starts (real tmux)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import libtmux
import pytest

from orchestrator.cli.main import main
from orchestrator.subscribers import notify, notify_settings
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import list_panes
from orchestrator.watch.model import SessionState, Transition
from tests.tmux_client import attached, shell_layout
from tests.waiting import wait_for

BAD = 'enabled = "no"\nturn_finshed = true\n'


def _write(text: str) -> Path:
    path = notify_settings.settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    if path.stat().st_mtime_ns == before:  # a coarse clock: make the edit visible
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))
    return path


def test_notify_check_names_the_file_line_and_key(capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(BAD)
    assert main(["notify", "check"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert "line 1, enabled: write true or false, without quotes (got 'no')" in err
    assert "line 2, turn_finshed: unknown key" in err and "turn_finished" in err
    assert "orchestrator notify check" in err  # what to do

    _write("forgotten_after = 1\nenabled = tru\n")
    assert main(["notify", "check"]) == 2
    err = capsys.readouterr().err
    assert "not valid TOML" in err and "line 2" in err

    _write("turn_finished = true\nforgotten_after = 60\n")
    assert main(["notify", "check"]) == 0
    out = capsys.readouterr().out
    assert f"{path}: ok" in out and "turn_finished = true" in out and "forgotten_after = 60" in out


def test_notify_check_without_a_file_says_the_defaults_apply(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_NOTIFY", "off")
    assert main(["notify", "check"]) == 0
    out = capsys.readouterr().out
    assert "no such file; the defaults apply" in out
    assert "enabled = false" in out and "ORCHESTRATOR_NOTIFY turns notifications off" in out


def test_up_refuses_invalid_settings_and_starts_nothing(
    server: libtmux.Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(BAD)
    source = tmp_path / "nst.toml"
    source.write_text(shell_layout("nst", ["a"], "exec sleep 600"))
    assert main(["-L", str(server.socket_name), "up", str(source), "--detach"]) == 2
    assert "turn_finshed: unknown key" in capsys.readouterr().err
    assert not Tmux.from_server(server).has_session("nst")


def test_edits_apply_without_a_restart_and_a_bad_edit_keeps_the_last_good() -> None:
    _write("turn_finished = true\n")
    held = notify_settings.SettingsFile()
    assert held.current().settings.turn_finished
    _write("turn_finished = false\nforgotten_after = 30\n")
    assert held.current().settings.forgotten_after == 30
    _write(BAD)
    first = held.current()
    assert first.error is not None and "turn_finshed" in str(first.error)
    assert first.settings.forgotten_after == 30  # the previous settings stay in force
    again = held.current()
    assert again.error is None and held.error is not None  # reported once
    notify_settings.settings_path().unlink()
    assert held.current().settings == notify_settings.NotifySettings()


def _change(pane_id: str) -> tuple[Transition, SessionState]:
    now = time.time()
    transition = Transition("nst", "a", pane_id, "working", "awaiting_input", now, "screen", "x")
    state = SessionState("nst", "a", "", "shell", pane_id, "", "awaiting_input", now, "x", "screen")
    return transition, state


def test_the_notifier_follows_edits_and_tells_the_fleets_clients_of_a_bad_one(
    server: libtmux.Server, tmp_path: Path
) -> None:
    tmux = Tmux.from_server(server)
    source = tmp_path / "nst.toml"
    source.write_text(shell_layout("nst", ["a"], "exec sleep 600"))
    assert main(["-L", str(server.socket_name), "up", str(source), "--detach"]) == 0
    pane = next(p for p in list_panes(tmux, "nst") if p.name == "a")
    notifier = notify.Notifier(tmux, "nst", run=lambda argv: None)
    transition, state = _change(pane.pane_id)
    notifier(transition, state)
    assert notifier.settings.enabled
    _write("enabled = false\n")
    notifier(transition, state)
    assert not notifier.settings.enabled and not notifier.wants(transition)
    with attached(str(server.socket_name), "=nst:agents") as _:
        wait_for(lambda: bool(tmux.run(["list-clients"])), what="client attached")
        _write(BAD)
        notifier(transition, state)
        wait_for(lambda: bool(notifier.problems), what="the bad edit told")
        shown = tmux.run(["display-message", "-p", "#{client_tty}"], check=False)
        assert shown  # the client is still attached
    assert not notifier.settings.enabled  # kept the last good settings
    assert "turn_finshed" not in str(notifier.settings)


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().partition("=")[::2] for item in raw if b"=" in item)


def test_orchestrator_notify_of_a_later_up_reaches_the_restarted_watcher(
    server: libtmux.Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmux = Tmux.from_server(server)
    socket = str(server.socket_name)
    source = tmp_path / "nst.toml"
    source.write_text(shell_layout("nst", ["a"], "exec sleep 600"))
    assert main(["-L", socket, "up", str(source), "--detach"]) == 0

    def watcher_pid() -> int | None:
        found = [p for p in list_panes(tmux, "nst") if p.kind == "watcher" and not p.dead]
        return found[0].pane_pid if found else None

    wait_for(lambda: watcher_pid() is not None, what="watcher started")
    first = watcher_pid()
    assert first is not None and _environ(first).get("ORCHESTRATOR_NOTIFY", "") == ""
    tmux.run(["kill-window", "-t", "=nst:watcher"])
    monkeypatch.setenv("ORCHESTRATOR_NOTIFY", "off")
    assert main(["-L", socket, "up", str(source), "--detach"]) == 0
    wait_for(lambda: watcher_pid() not in {None, first}, what="watcher restarted")
    second = watcher_pid()
    assert second is not None and _environ(second)["ORCHESTRATOR_NOTIFY"] == "off"


def test_the_latest_up_turns_a_running_watchers_notifications_off_and_on(
    server: libtmux.Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmux = Tmux.from_server(server)
    socket = str(server.socket_name)
    source = tmp_path / "nst.toml"
    source.write_text(shell_layout("nst", ["a"], "exec sleep 600"))
    assert main(["-L", socket, "up", str(source), "--detach"]) == 0
    pane = next(p for p in list_panes(tmux, "nst") if p.name == "a")
    monkeypatch.setattr(notify, "desktop_command", lambda note: ["true"])
    notifier = notify.Notifier(tmux, "nst", run=lambda argv: None)  # the running watcher's
    transition, state = _change(pane.pane_id)
    assert notifier.notify(transition, state) is not None
    monkeypatch.setenv("ORCHESTRATOR_NOTIFY", "off")
    assert main(["-L", socket, "up", str(source), "--detach"]) == 0
    assert notifier.notify(transition, state) is None
    monkeypatch.delenv("ORCHESTRATOR_NOTIFY")
    assert main(["-L", socket, "up", str(source), "--detach"]) == 0
    assert notifier.notify(transition, state) is not None
