"""The watcher's file watcher: inotify reports appends in the fleet folder and its subfolders."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.watch.inotify import TreeWatcher


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[TreeWatcher, queue.Queue[Path]]]:
    (tmp_path / "old").mkdir()
    tree = TreeWatcher(tmp_path)
    seen: queue.Queue[Path] = queue.Queue()
    thread = threading.Thread(target=tree.run, args=(seen.put,), daemon=True)
    thread.start()
    yield tree, seen
    tree.close()
    thread.join(timeout=5)
    assert not thread.is_alive(), "close() must make run() return"
    tree.release()


def reported(seen: queue.Queue[Path], path: Path) -> bool:
    """Whether ``path`` is reported within 5 s (one write may be reported more than once)."""
    try:
        while seen.get(timeout=5) != path:
            pass
    except queue.Empty:
        return False
    return True


def test_appends_at_the_top_and_in_subfolders_are_reported(
    watched: tuple[TreeWatcher, queue.Queue[Path]], tmp_path: Path
) -> None:
    _, seen = watched
    with (tmp_path / "pane-died").open("a") as out:
        out.write("%1\n")
    assert reported(seen, tmp_path / "pane-died")
    with (tmp_path / "old" / "events.jsonl").open("a") as out:
        out.write("x\n")
    assert reported(seen, tmp_path / "old" / "events.jsonl")


def test_a_subfolder_made_later_is_watched_too(
    watched: tuple[TreeWatcher, queue.Queue[Path]], tmp_path: Path
) -> None:
    _, seen = watched
    new = tmp_path / "dev-1"
    new.mkdir()
    (new / "events.jsonl").write_text("first\n")  # may land before the watch exists
    assert reported(seen, new / "events.jsonl")
    while not seen.empty():
        seen.get()
    with (new / "events.jsonl").open("a") as out:
        out.write("second\n")
    assert reported(seen, new / "events.jsonl")


def test_nothing_is_reported_while_nothing_is_written(
    watched: tuple[TreeWatcher, queue.Queue[Path]], tmp_path: Path
) -> None:
    _, seen = watched
    assert [p.name for p in tmp_path.iterdir()] == ["old"]  # reading is not writing
    with pytest.raises(queue.Empty):
        seen.get(timeout=0.3)
