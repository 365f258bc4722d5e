"""The dashboard's real backend on a real tmux server: prompts reach the pane and the history."""

from __future__ import annotations

import json
import time
from pathlib import Path

import libtmux
import pytest

from orchestrator.fleet import up as fleet
from orchestrator.layout import load as layout
from orchestrator.store.db import Store
from orchestrator.tmux.client import Tmux
from orchestrator.tui.backend import TmuxBackend


def test_send_prompt_types_it_and_records_it(
    server: libtmux.Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_DB", str(tmp_path / "history.sqlite3"))
    out = tmp_path / "got.txt"
    script = f'read line; printf "%s" "$line" > {out}; exec sleep 3600'
    path = tmp_path / "one.toml"
    path.write_text(
        'name = "one"\n[[sessions]]\nname = "s1"\nagent = "shell"\n'
        f"command = {json.dumps(['sh', '-c', script])}\n"
    )
    tmux = Tmux.from_server(server)
    fleet.up(layout.load_fleet(str(path)), tmux, services=())
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
