"""Linux inotify through ``ctypes``: a blocking wait on a folder tree, with no polling at all.

The watcher's hook files live one level down (``<fleet>/<session>/events.jsonl``) and the
``pane-died`` file at the top (``<fleet>/pane-died``). A thread blocks in ``poll`` on the inotify
descriptor and a wake-up pipe: it costs nothing while nothing happens and reports an append within
a millisecond. (``watchfiles`` wakes every ``step`` milliseconds to check for a stop request:
cheaper latency meant more idle wake-ups. It remains the fallback where inotify is missing.)
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import select
import struct
from collections.abc import Callable
from pathlib import Path

IN_MODIFY = 0x00000002
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ISDIR = 0x40000000
WATCH_MASK = IN_MODIFY | IN_MOVED_TO | IN_CREATE
"""A file written (appended to, or replaced by a rename), a file or folder made."""
_HEADER = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then the name


class InotifyUnavailableError(OSError):
    """This system has no inotify (not Linux), or it refused a descriptor (too many open)."""


class TreeWatcher:
    """Reports files written in ``root`` and in its direct subfolders (present or future).

    ``on_change(path)`` is called from the thread that runs :meth:`run`, once per written file per
    wake-up; :meth:`close` (from any thread) makes :meth:`run` return.
    """

    def __init__(self, root: Path, *, subfolders: bool = True) -> None:
        name = ctypes.util.find_library("c")
        try:
            self._libc = ctypes.CDLL(name, use_errno=True)
            init = self._libc.inotify_init1
        except (OSError, AttributeError) as exc:
            raise InotifyUnavailableError(f"inotify is not available: {exc}") from exc
        self._fd = init(os.O_CLOEXEC | os.O_NONBLOCK)
        if self._fd < 0:
            raise InotifyUnavailableError(ctypes.get_errno(), "inotify_init1 failed")
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.root = root
        self.subfolders = subfolders
        """Whether files in the root's direct subfolders are reported too."""
        self._folders: dict[int, Path] = {}
        self._add(root)
        for child in _subfolders(root) if subfolders else ():
            self._add(child)

    def _add(self, folder: Path) -> None:
        wd = self._libc.inotify_add_watch(self._fd, os.fsencode(folder), WATCH_MASK)
        if wd < 0:
            code = ctypes.get_errno()
            if folder == self.root or code not in (errno.ENOENT, errno.ENOTDIR):
                raise OSError(code, f"cannot watch {folder}: {os.strerror(code)}")
            return  # a subfolder that went away again
        self._folders[wd] = folder

    def run(self, on_change: Callable[[Path], None]) -> None:
        """Block, reporting written files, until :meth:`close` is called."""
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while True:
            ready = {fd for fd, _ in poller.poll()}
            if self._wake_r in ready:
                return
            for path in dict.fromkeys(self._read()):
                on_change(path)

    def _read(self) -> list[Path]:
        try:
            data = os.read(self._fd, 65536)
        except BlockingIOError:
            return []
        found: list[Path] = []
        offset = 0
        while offset + _HEADER.size <= len(data):
            wd, mask, _, length = _HEADER.unpack_from(data, offset)
            raw = data[offset + _HEADER.size : offset + _HEADER.size + length]
            offset += _HEADER.size + length
            name = raw.rstrip(b"\0").decode("utf-8", "surrogateescape")
            if mask & IN_Q_OVERFLOW:
                found += self._everything()  # events were dropped: say every file may have changed
                continue
            folder = self._folders.get(wd)
            if mask & IN_IGNORED:
                self._folders.pop(wd, None)
                continue
            if folder is None or not name:
                continue
            path = folder / name
            if mask & IN_ISDIR:
                if mask & (IN_CREATE | IN_MOVED_TO) and folder == self.root and self.subfolders:
                    self._add(path)
                    # Files written before the watch existed would go unseen: report them now.
                    found += _files(path)
                continue
            found.append(path)
        return found

    def _everything(self) -> list[Path]:
        return [p for folder in list(self._folders.values()) for p in _files(folder)]

    def close(self) -> None:
        """Make :meth:`run` return (safe from any thread, and more than once)."""
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def release(self) -> None:
        """Close the descriptors (after :meth:`run` has returned)."""
        for fd in (self._fd, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)


def _subfolders(folder: Path) -> list[Path]:
    with contextlib.suppress(OSError):
        return [entry for entry in folder.iterdir() if entry.is_dir()]
    return []


def _files(folder: Path) -> list[Path]:
    with contextlib.suppress(OSError):
        return [entry for entry in folder.iterdir() if entry.is_file()]
    return []
