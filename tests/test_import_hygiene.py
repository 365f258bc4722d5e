"""The core is headless: importing it never loads Textual (only orchestrator.tui may)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import orchestrator

CORE = sorted(
    module.name
    for module in pkgutil.walk_packages(orchestrator.__path__, "orchestrator.")
    if not module.name.startswith("orchestrator.tui") and module.name != "orchestrator.__main__"
)


def test_core_modules_exist() -> None:
    for expected in (
        "orchestrator.fleet.up",
        "orchestrator.watch.watcher",
        "orchestrator.detect.reconcile",
    ):
        assert expected in CORE


def test_core_imports_without_textual() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {CORE!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(loaded))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    assert proc.stdout.strip() == ""
