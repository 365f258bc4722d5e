"""``orchestrator report``: how the user's parallel agent sessions went (Claude Code, Codex CLI,
Gemini CLI, aider), from their files on disk and our own history (see the README's "Report"
section for every definition)."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import orjson

from orchestrator.cli.common import CommandFactory, warn


def add_commands(command: CommandFactory) -> None:
    """Declare the ``report`` command."""
    report = command(
        "report",
        "Report how your agent sessions went: parallel work, outcomes, tokens, attention.",
        _report,
    )
    report.add_argument("--since", metavar="DATE", help="only sessions starting at or after DATE")
    report.add_argument(
        "--until", metavar="DATE", help="only sessions starting before DATE (a date: through it)"
    )
    report.add_argument(
        "--project", metavar="PATH", help="only sessions of the repository (or folder) PATH is in"
    )
    report.add_argument("--fleet", help="only conversations our history links to this fleet")
    report.add_argument(
        "--claude-dir",
        metavar="DIR",
        action="append",
        default=[],
        help="another Claude config folder to read (besides $CLAUDE_CONFIG_DIR or ~/.claude)",
    )
    report.add_argument(
        "--codex-home",
        metavar="DIR",
        action="append",
        default=[],
        help="another Codex home to read (besides $CODEX_HOME or ~/.codex)",
    )
    report.add_argument(
        "--gemini-dir",
        metavar="DIR",
        action="append",
        default=[],
        help="another Gemini CLI .gemini folder to read (besides ~/.gemini)",
    )
    report.add_argument(
        "--aider-dir",
        metavar="DIR",
        action="append",
        default=[],
        help="another folder with an aider chat history (besides those aider ran in for us)",
    )
    report.add_argument(
        "--agent",
        choices=("claude", "codex", "gemini", "aider"),
        help="only sessions of this agent",
    )
    report.add_argument(
        "--prices",
        metavar="FILE",
        type=Path,
        help="model prices (TOML) instead of the shipped ones",
    )
    report.add_argument("--json", action="store_true", help="print JSON for scripts")
    report.add_argument("--no-pictures", action="store_true", help="tables only, no pictures")


def _report(args: argparse.Namespace) -> int:
    from orchestrator.report.build import Request, make_report
    from orchestrator.store.db import Store
    from orchestrator.store.history import recovery_message

    request = Request(
        claude_dirs=[Path(d) for d in args.claude_dir],
        codex_homes=[Path(d) for d in args.codex_home],
        gemini_dirs=[Path(d) for d in args.gemini_dir],
        aider_dirs=[Path(d) for d in args.aider_dir],
        agent=args.agent,
        since=args.since,
        until=args.until,
        project=args.project,
        fleet=args.fleet,
        prices=args.prices,
    )
    with Store(check=False) as store:
        warn(recovery_message(store))
        report = make_report(request, store)
    from orchestrator.remote import report as remote

    missing = remote.merge(report.data, remote.ask(args.fleet, args.since, args.until, args.agent))
    for message in report.warnings:
        warn(f"warning: {message}")
    for message in missing:
        warn(f"warning: {message}; its sessions are not in this report")
    if args.json:
        print(orjson.dumps(report.data, option=orjson.OPT_INDENT_2).decode())
        return 0
    from orchestrator.report.render import render

    print(render(report.data))
    if hosts := remote.render(report.data):
        print()
        print(hosts)
    if not args.no_pictures and report.sessions:
        from orchestrator.report.pictures import pictures_text

        width = min(140, shutil.get_terminal_size((100, 40)).columns)
        print()
        print(pictures_text(report, width=width, color=sys.stdout.isatty()))
    return 0
