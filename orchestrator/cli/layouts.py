"""The commands about layout files: ``layouts``, ``validate``, ``schema``."""

from __future__ import annotations

import argparse
import json
import sys

from orchestrator import DEFAULT_LAYOUT
from orchestrator.cli.common import CommandFactory
from orchestrator.errors import OrchestratorError


def add_commands(command: CommandFactory) -> None:
    """Declare the layout commands."""
    command("layouts", "List the layouts found by name, and where they come from.", _layouts)

    validate = command("validate", "Check a layout file without launching anything.", _validate)
    validate.add_argument("file", help="layout file or name")

    schema = command("schema", "Print the JSON Schema of layout files.", _schema)
    schema.add_argument("-o", "--output", help="write to this file instead of standard output")


def _layouts(args: argparse.Namespace) -> int:
    from orchestrator.layout import load as layout

    del args
    entries = layout.list_layouts()
    if not entries:
        print("no layouts found")
        return 0
    width = max(len(entry.name) for entry in entries)
    for entry in entries:
        note = "  (hidden by an earlier one)" if entry.shadowed else ""
        default = " [default]" if entry.name == DEFAULT_LAYOUT and not entry.shadowed else ""
        print(f"{entry.name.ljust(width)}  {entry.origin:<8}  {entry.path}{default}{note}")
        if entry.description:
            print(f"{'':{width}}  {entry.description}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from orchestrator.layout import load as layout

    path, origin = layout.locate_layout(args.file)
    parsed = layout.load_layout(path)
    plan = layout.resolve(parsed, path, origin=origin, check_commands=False)
    remote = sum(len(part.sessions) for part in plan.remote)
    where = f" here, {remote} on other hosts" if remote else ""
    print(f"{path}: ok: fleet {plan.name!r} with {len(plan.sessions)} session(s){where}")
    try:
        layout.resolve(parsed, path, origin=origin)
    except OrchestratorError as exc:
        print(f"warning: {exc}\n  (`orchestrator up` refuses to launch until this is fixed)")
    for session in plan.sessions:
        print(f"  {session.name}: {session.agent.name} in {session.cwd}: {' '.join(session.argv)}")
    for part in plan.remote:
        for one in part.sessions:
            print(f"  {one.name}: {one.agent} on {part.host} (checked there by `up`)")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from orchestrator.layout.model import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:  # noqa: PTH123
            out.write(text)
    else:
        sys.stdout.write(text)
    return 0
