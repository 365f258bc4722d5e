"""The dashboard's wait for the watcher's writes (orchestrator.tui.changes): woken by a write of
``state.json`` at once, not by other files, and released by ``close``."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from orchestrator.tui.changes import StateWrites


def replace_later(path: Path, delay: float) -> threading.Timer:
    """Write ``path`` the way the watcher does (a new file renamed over it) after ``delay``."""

    def write() -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("{}")
        tmp.replace(path)

    timer = threading.Timer(delay, write)
    timer.start()
    return timer


def test_a_write_of_the_state_file_wakes_the_wait(tmp_path: Path) -> None:
    writes = StateWrites(tmp_path)
    try:
        assert not writes.wait(0.2)  # starts watching; nothing written
        replace_later(tmp_path / "state.json", 0.3)
        started = time.monotonic()
        assert writes.wait(5.0)
        assert time.monotonic() - started < 2.0
    finally:
        writes.close()


def test_other_files_and_subfolders_do_not_wake_it(tmp_path: Path) -> None:
    writes = StateWrites(tmp_path)
    try:
        assert not writes.wait(0.1)
        (tmp_path / "dev").mkdir()
        (tmp_path / "dev" / "state.json").write_text("{}")  # a session's folder: not ours
        (tmp_path / "transitions.jsonl").write_text("{}\n")
        started = time.monotonic()
        assert not writes.wait(0.5)
        assert time.monotonic() - started >= 0.45
    finally:
        writes.close()


def test_close_releases_a_waiter(tmp_path: Path) -> None:
    writes = StateWrites(tmp_path)
    writes.wait(0.05)
    done = threading.Event()

    def waiter() -> None:
        writes.wait(30.0)
        done.set()

    threading.Thread(target=waiter, daemon=True).start()
    time.sleep(0.1)
    writes.close()
    assert done.wait(2.0)


def test_a_folder_made_later_is_watched_once_there(tmp_path: Path) -> None:
    folder = tmp_path / "fleet"
    writes = StateWrites(folder)
    try:
        assert not writes.wait(0.05)  # no folder yet: a plain wait
        folder.mkdir()
        assert not writes.wait(0.05)
        replace_later(folder / "state.json", 0.1)
        assert writes.wait(5.0)
    finally:
        writes.close()
