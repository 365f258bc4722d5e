"""The dashboard's real backend on a real tmux server: prompts reach the pane and the history;
finished turns, whether anyone sees the dashboard, and the branch cache."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import libtmux
import pytest

from orchestrator.store.db import Store
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import PaneInfo, list_sessions
from orchestrator.tui.backend import VISIBLE_FRESH, TmuxBackend
from orchestrator.tui.branches import BranchCache
from tests.gitrepo import commit, git
from tests.tmux_client import attached, shell_layout, start_fleet
from tests.waiting import wait_for


def test_send_prompt_types_it_and_records_it(
    server: libtmux.Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_DB", str(tmp_path / "history.sqlite3"))
    out = tmp_path / "got.txt"
    script = f'read line; printf "%s" "$line" > {out}; exec sleep 3600'
    tmux = Tmux.from_server(server)
    start_fleet(tmux, tmp_path, "one", shell_layout("one", ["s1"], script))
    backend = TmuxBackend(tmux, "one")
    backend.send_prompt(["s1"], "fix the 'quoted' bug; then $HOME")
    deadline = time.monotonic() + 10
    while not (out.exists() and out.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert out.read_text() == "fix the 'quoted' bug; then $HOME"
    with Store() as store:
        prompts = store.prompts("s1", fleet="one")
    assert [(p.text, p.source) for p in prompts] == [
        ("fix the 'quoted' bug; then $HOME", "dashboard")
    ]


LAYOUT = shell_layout("turns", ["a", "b"], "exec sleep 600")


def _fleet(server: libtmux.Server, tmp_path: Path) -> tuple[Tmux, dict[str, str]]:
    tmux = Tmux.from_server(server)
    return tmux, start_fleet(tmux, tmp_path, "turns", LAYOUT)


def _state(tmux: Tmux, pane_id: str, state: str, since: float) -> None:
    tmux.run(
        ["set-option", "-p", "-t", pane_id, "@orc_state", state],
        ["set-option", "-p", "-t", pane_id, "@orc_since", f"{since:.3f}"],
    )


def _watched_fleet(
    server: libtmux.Server, tmp_path: Path
) -> tuple[Tmux, dict[str, str], TmuxBackend]:
    """The two-session fleet and a backend on it."""
    tmux, panes = _fleet(server, tmp_path)
    return tmux, panes, TmuxBackend(tmux, "turns", runtime=tmp_path / "run")


def _publish_idle(backend: TmuxBackend, panes: dict[str, str], now: float) -> None:
    """Write what a watcher publishes when every session is idle since ``now``."""
    published = [
        {"name": name, "pane_id": pane_id, "state": "idle", "since": now, "reason": ""}
        for name, pane_id in panes.items()
    ]
    (backend.folder / "state.json").write_text(json.dumps({"sessions": published}))


def _write_log(backend: TmuxBackend, log: list[dict[str, object]]) -> None:
    """Write a watcher's transitions log."""
    (backend.folder / "transitions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))


def unseen(backend: TmuxBackend) -> dict[str, bool]:
    """Which sessions show as finished and not yet looked at."""
    return {row.name: row.unseen for row in backend.snapshot()}


def test_finished_means_a_turn_ended_since_the_user_looked(
    server: libtmux.Server, tmp_path: Path
) -> None:
    tmux, panes, backend = _watched_fleet(server, tmp_path)
    now = time.time()
    _state(tmux, panes["a"], "starting", now - 3)
    _state(tmux, panes["b"], "starting", now - 3)
    assert unseen(backend) == {"a": False, "b": False}
    # Fresh sessions reach their idle prompt: no turn ran, nothing finished.
    _state(tmux, panes["a"], "idle", now - 2)
    _state(tmux, panes["b"], "idle", now - 2)
    assert unseen(backend) == {"a": False, "b": False}
    # a runs a turn and finishes it: finished until the user looks at it.
    _state(tmux, panes["a"], "working", now - 1)
    assert unseen(backend) == {"a": False, "b": False}
    _state(tmux, panes["a"], "idle", now)
    rows = {row.name: row for row in backend.snapshot()}
    assert rows["a"].unseen and rows["a"].turn_ended == pytest.approx(now, abs=0.01)
    assert not rows["b"].unseen
    backend.mark_seen("a")
    assert unseen(backend) == {"a": False, "b": False}


def test_a_shell_printing_on_its_way_to_its_first_prompt_has_run_no_turn(
    server: libtmux.Server, tmp_path: Path
) -> None:
    tmux, panes, backend = _watched_fleet(server, tmp_path)
    now = time.time()
    # A shell session's start-up output reads as working, then it goes quiet: no turn ran.
    # Then working again from idle, then idle: that is a turn.
    seen = []
    for state, at in (("working", now - 3), ("idle", now - 2), ("working", now - 1), ("idle", now)):
        _state(tmux, panes["a"], state, at)
        seen.append(unseen(backend)["a"])
    assert seen == [False, False, False, True]


def test_turns_the_watcher_logged_count_even_when_no_snapshot_saw_them(
    server: libtmux.Server, tmp_path: Path
) -> None:
    _, panes, backend = _watched_fleet(server, tmp_path)
    now = time.time()
    _publish_idle(backend, panes, now)
    log = [
        # b is a shell: its start-up output reads as working, then idle; that is no turn.
        {"session": "b", "pane_id": panes["b"], "old": "", "new": "working", "at": now - 12},
        {"session": "b", "pane_id": panes["b"], "old": "working", "new": "idle", "at": now - 10},
        {"session": "a", "pane_id": panes["a"], "old": "starting", "new": "idle", "at": now - 9},
        {"session": "a", "pane_id": panes["a"], "old": "idle", "new": "working", "at": now - 5},
        {"session": "a", "pane_id": panes["a"], "old": "working", "new": "idle", "at": now},
        {"session": "b", "pane_id": panes["b"], "old": "starting", "new": "idle", "at": now},
    ]
    _write_log(backend, log)
    rows = {row.name: row for row in backend.snapshot()}
    assert rows["a"].unseen and not rows["b"].unseen


def test_a_turn_of_an_earlier_pane_with_the_same_id_does_not_count(
    server: libtmux.Server, tmp_path: Path
) -> None:
    # `down` then `up` on a server that restarted reuses pane ids; the log outlives the fleet.
    tmux, panes, backend = _watched_fleet(server, tmp_path)
    now = time.time()
    started = min(p.started or now for p in list_sessions(tmux, "turns"))
    log = [
        {"session": "a", "pane_id": panes["a"], "old": "idle", "new": "working", "at": started - 9},
        {"session": "a", "pane_id": panes["a"], "old": "working", "new": "idle", "at": started - 8},
    ]
    _write_log(backend, log)
    _publish_idle(backend, panes, now)
    rows = {row.name: row for row in backend.snapshot()}
    assert not rows["a"].unseen


def test_visible_only_while_a_real_client_shows_the_dashboard_window(
    server: libtmux.Server, tmp_path: Path
) -> None:
    tmux, _ = _fleet(server, tmp_path)
    own = tmux.run(
        ["new-window", "-d", "-t", "=turns:", "-n", "dash", "-P", "-F", "#{pane_id}", "sleep 600"]
    )[0]
    backend = TmuxBackend(tmux, "turns", runtime=tmp_path / "run", own_pane=own)
    assert not backend.visible()  # nobody attached
    socket = server.socket_name
    assert socket is not None
    with attached(socket, "=turns:agents"):
        wait_for(lambda: bool(tmux.run(["list-clients"])), what="client attached")
        backend.snapshot()  # a snapshot answers it too
        assert not backend.visible()  # the client shows another window
        tmux.run(["select-window", "-t", "=turns:dash"])
        backend.snapshot()
        assert backend.visible()
    tmux.run(["select-window", "-t", "=turns:dash"])
    wait_for(lambda: not tmux.run(["list-clients"]), what="client gone")
    # A control-mode client (the watcher has one) shows nobody anything.
    control = subprocess.Popen(
        ["tmux", "-L", socket, "-C", "attach-session", "-t", "=turns:", "-f", "read-only"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: bool(tmux.run(["list-clients"])), what="control client attached")
        time.sleep(VISIBLE_FRESH)
        assert not backend.visible()
    finally:
        control.terminate()
        control.wait(timeout=5)
    # Outside tmux the dashboard is on whatever terminal runs it: always seen.
    assert TmuxBackend(tmux, "turns", runtime=tmp_path / "run").visible()


def test_branch_cache_asks_git_once_per_repository_and_again_on_checkout(
    tmp_path: Path, git_identity: None
) -> None:
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "f.txt", "one")
    cache = BranchCache()
    panes = [
        PaneInfo.from_row({"@orc_session": f"s{i}", "@orc_cwd": str(folder)})
        for i, folder in enumerate((repo, repo / "sub", repo, tmp_path))
    ]
    assert [cache.text(p) for p in panes] == ["main", "main", "main", ""]
    assert cache.git_runs == 1
    assert [cache.text(p) for p in panes] == ["main", "main", "main", ""]
    assert cache.git_runs == 1
    git(repo, "checkout", "-q", "-b", "feature")
    assert [cache.text(p) for p in panes] == ["feature", "feature", "feature", ""]
    assert cache.git_runs == 2
