"""The house rules: arrows point down, modules stay small, code is not written twice.

- No import circle between modules of ``orchestrator/``, nor between its parts (the folders, and the
  small foundation modules beside them), counting imports made inside functions and for types only.
- The shells (``cli``, ``tui``) use the core; the core never imports a shell.
- The watcher knows no subscriber by name: subscribers register from outside.
- No module over 500 lines, no class over 300.
- At most 5 pairs of places repeat a block of six or more lines (pylint's ``duplicate-code``).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "orchestrator"
SHELLS = ("orchestrator.cli", "orchestrator.tui")
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 300
MAX_DUPLICATE_PAIRS = 5


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """The ``orchestrator`` modules that module ``name`` imports, anywhere in its body."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from a.b import c` imports module a.b.c when c is one, else a name of a.b.
            targets = [
                f"{node.module}.{alias.name}"
                if f"{node.module}.{alias.name}" in MODULES
                else node.module
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in MODULES and t != name)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def part_of(name: str) -> str:
    """The part a module belongs to: its folder under orchestrator/, or the module itself."""
    parts = name.split(".")
    if len(parts) >= 2 and (PACKAGE / parts[1]).is_dir():
        return ".".join(parts[:2])
    return name


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_imports() -> None:
    # Guards the test itself: a parser that found no edges would pass every rule below.
    assert "orchestrator.tmux.client" in GRAPH["orchestrator.fleet.up"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle_between_modules() -> None:
    assert cycles(GRAPH) == []


def test_no_import_circle_between_parts() -> None:
    parts: dict[str, set[str]] = {}
    for name, targets in GRAPH.items():
        edges = parts.setdefault(part_of(name), set())
        edges.update(part_of(t) for t in targets if part_of(t) != part_of(name))
    assert cycles(parts) == []


def test_the_core_never_imports_a_shell() -> None:
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        if not name.startswith(SHELLS) and name != "orchestrator.__main__"
        for target in targets
        if target.startswith(SHELLS)
    )
    assert wrong == []


def test_the_watcher_imports_no_subscriber() -> None:
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        if name.startswith("orchestrator.watch")
        for target in targets
        if target.startswith("orchestrator.subscribers")
    )
    assert wrong == []


def classes(tree: ast.AST) -> Iterator[ast.ClassDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            yield node


def test_modules_and_classes_stay_small() -> None:
    too_big: list[str] = []
    for name, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines > MAX_MODULE_LINES:
            too_big.append(f"{name}: {lines} lines")
        for node in classes(ast.parse(text)):
            size = (node.end_lineno or node.lineno) - node.lineno + 1
            if size > MAX_CLASS_LINES:
                too_big.append(f"{name}.{node.name}: class of {size} lines")
    assert too_big == []


@pytest.mark.timeout(120)
def test_few_repeated_blocks() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pylint",
            "--disable=all",
            "--enable=duplicate-code",
            "--min-similarity-lines=6",
            "--score=n",
            "--ignore=claude-cli",
            "orchestrator",
            "tests",
            "benchmarks",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    pairs = proc.stdout.count("Similar lines in")
    assert proc.returncode in (0, 8), proc.stderr  # 8: refactoring messages were issued
    assert pairs <= MAX_DUPLICATE_PAIRS, proc.stdout
