"""The ``diff``, ``merge`` and ``clean`` commands: a thin shell over the worktree core.

A running session is found from its pane's tags. A session whose fleet has ended is found by its
branch in the repository (``--repo``, default the current folder's), with the branch prefix and
worktree folder of ``--layout`` if given, else those of a fleet running on that repository, else
the defaults.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from orchestrator.cli.common import CommandFactory, Handler, fleet_of_session, tmux_of
from orchestrator.errors import OrchestratorError
from orchestrator.fleet import worktrees as session_worktrees
from orchestrator.fleet.clean_targets import Target, settings_in
from orchestrator.fleet.clean_targets import find as find_targets
from orchestrator.git import clean as cleanup
from orchestrator.git import review
from orchestrator.git.clean import CleanItem
from orchestrator.git.repo import NotARepositoryError, find_repo
from orchestrator.git.worktree import WorktreeSettings, WorktreeSpec, default_folder
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import PaneInfo, list_sessions


def add_commands(command: CommandFactory) -> None:
    """Declare ``diff``, ``merge`` and ``clean`` with the CLI's own ``command`` helper."""

    def bound(handler: Callable[[argparse.Namespace, Tmux], int]) -> Handler:
        return lambda args: handler(args, tmux_of(args))

    diff = command(
        "diff", "Show a worktree session's work against its base branch, as a patch.", bound(_diff)
    )
    diff.add_argument("name", help="session name")
    _where(diff, fleet_option=True)

    merge = command(
        "merge",
        "Bring a worktree session's branch into its base, in the main checkout.",
        bound(_merge),
    )
    merge.add_argument("name", help="session name")
    merge.add_argument(
        "--mode",
        choices=("ff-only", "merge-commit"),
        default="ff-only",
        help="fast-forward only (default; refused if the base moved on), or a merge commit",
    )
    _where(merge, fleet_option=True)

    clean = command(
        "clean",
        "List session worktrees and branches; remove those that hold nothing unsaved.",
        bound(_clean),
    )
    _names(
        clean,
        "--force",
        "also remove these items although they hold work (prints how to restore the branch); "
        "a session's name, or its branch where two share a name",
    )
    _names(
        clean,
        "--squash-merged",
        "these branches were squash-merged: their changes in the base are enough",
    )
    clean.add_argument(
        "-n", "--dry-run", action="store_true", help="list what would go, remove nothing"
    )
    _where(clean, fleet_option=False)


def _names(parser: argparse.ArgumentParser, flag: str, help_text: str) -> None:
    """An option naming one or more sessions; given again, it adds to the names."""
    parser.add_argument(
        flag, nargs="+", action="extend", default=[], metavar="NAME", help=help_text
    )


def _where(parser: argparse.ArgumentParser, *, fleet_option: bool) -> None:
    if fleet_option:
        parser.add_argument("--fleet", help="the fleet, when several have a session of that name")
    parser.add_argument(
        "--repo", metavar="PATH", help="the repository (default: the current folder's)"
    )
    parser.add_argument(
        "--layout",
        metavar="FILE",
        help="take the branch prefix, base and worktree folder from this layout",
    )


def _target(args: argparse.Namespace) -> tuple[Path, WorktreeSettings | None]:
    """The folder to find the repository from, and the layout's settings if one was given."""
    folder = Path.cwd()
    settings = None
    if args.layout:
        from orchestrator.layout import (
            load as layout,  # pydantic: loaded only when a layout is read
        )

        plan = layout.load_fleet(args.layout, check_commands=False)
        settings = plan.worktrees
        first = next((session for session in plan.sessions if session.worktree), None)
        if first is not None:
            folder = first.cwd
    if args.repo:
        folder = Path(args.repo).expanduser().resolve()
    return folder, settings


def _spec(args: argparse.Namespace, tmux: Tmux) -> WorktreeSpec:
    # The fleet by the rule every command follows (the fleet this runs in wins over others).
    panes = list_sessions(tmux, args.fleet or fleet_of_session(tmux, args, args.name))
    folder, settings = _target(args)
    if settings is None and not any(pane.name == args.name for pane in panes):
        # Not in a repository: `locate` says so, naming the session it looked for.
        with contextlib.suppress(NotARepositoryError):
            repo = find_repo(folder)
            settings = session_worktrees.settings_from_panes(panes, repo)
    return session_worktrees.locate(
        args.name, panes, repo=folder, settings=settings or WorktreeSettings()
    )


def _diff(args: argparse.Namespace, tmux: Tmux) -> int:
    spec = _spec(args, tmux)
    patch = review.diff(spec)
    if not patch:
        print(f"session {spec.session}: no changes on {spec.branch} against {spec.base}")
        return 0
    sys.stdout.write(patch)
    return 0


def _merge(args: argparse.Namespace, tmux: Tmux) -> int:
    spec = _spec(args, tmux)
    result = review.merge(spec, mode=args.mode)
    if result.commits == 0:
        print(f"{spec.base} already has everything on {spec.branch}; nothing merged")
        return 0
    how = "fast-forward" if result.mode == "ff-only" else "merge commit"
    print(
        f"merged {result.commits} commit(s) of {spec.branch} into {spec.base} ({how}) in "
        f"{spec.repo}: {result.before[:10]}..{result.after[:10]}"
    )
    return 0


def _clean(args: argparse.Namespace, tmux: Tmux) -> int:
    panes = list_sessions(tmux)
    if args.layout or args.repo:
        folder, settings = _target(args)
        repo = find_repo(folder)
        chosen = [settings] if settings else settings_in(repo, panes)
        targets = [Target(repo, one) for one in chosen]
    else:
        targets = find_targets(panes, Path.cwd())
    if not targets:
        print(
            "no session worktrees or branches found: no running fleet has worktree sessions, the "
            f"history names no repository, and {Path.cwd()} is not in a git repository"
        )
        print("  hint: run it in the repository, or give --repo PATH or --layout FILE")
        return 0
    asked = set(args.force) | set(args.squash_merged)
    planned = [
        (
            target,
            cleanup.plan_clean(
                *target,
                _live(panes, target),
                assume_squash_merged=_names_in(set(args.squash_merged), target),
            ),
        )
        for target in targets
    ]
    _check_names(asked, planned)
    shown: set[tuple[Path, str]] = set()
    for target, items in planned:
        fresh = [item for item in items if (target.repo, item.spec.branch) not in shown]
        shown.update((target.repo, item.spec.branch) for item in items)
        if fresh or len(targets) == 1:
            force = _names_in(set(args.force), target)
            squash = _names_in(set(args.squash_merged), target)
            _clean_one(args, panes, target, fresh, force, squash)
    return 0


def _live(panes: Sequence[PaneInfo], target: Target) -> frozenset[str]:
    return session_worktrees.live_sessions(panes, target.repo, target.settings)


def _names_in(names: set[str], target: Target) -> set[str]:
    """The session names ``--force``/``--squash-merged`` mean in ``target``: a session's name,
    or its branch (``team/dev-1``), which tells two sessions of one name apart."""
    prefix = target.settings.prefix
    found = {name for name in names if "/" not in name}
    return found | {name.removeprefix(prefix) for name in names if name.startswith(prefix)}


def _check_names(names: set[str], planned: Sequence[tuple[Target, Sequence[CleanItem]]]) -> None:
    """Refuse --force/--squash-merged names that match no item, or several."""
    for name in sorted(names):
        matches = {
            (target.repo, item.spec.branch)
            for target, items in planned
            for item in items
            if item.spec.session in _names_in({name}, target)
        }
        if not matches:
            known = sorted({item.spec.session for _, items in planned for item in items})
            where = ", ".join(sorted({f"{t.repo} ({t.settings.prefix}*)" for t, _ in planned}))
            raise OrchestratorError(
                f"no worktree or branch named {name} in {where} (found: "
                f"{', '.join(known) or 'none'})",
                hint="use the names `orchestrator clean --dry-run` lists",
            )
        if len(matches) > 1:
            which = ", ".join(f"{branch} in {repo}" for repo, branch in sorted(matches))
            raise OrchestratorError(
                f"{name} names several branches ({which})",
                hint="name the branch instead (e.g. `--force BRANCH`), or give --repo PATH",
            )


def _clean_one(
    args: argparse.Namespace,
    panes: Sequence[PaneInfo],
    target: Target,
    items: Sequence[CleanItem],
    force: set[str],
    squash: set[str],
) -> None:
    repo, settings = target.repo, target.settings
    where = settings.folder or default_folder(repo)
    print(f"{repo}: branches {settings.prefix}*, worktrees in {where}")
    if not items:
        print("  nothing to clean")
        return
    width = max(len(item.spec.session) for item in items)
    if args.dry_run:
        for item in items:
            forced = item.spec.session in force and item.safety.forceable
            verdict = "would remove" if item.safety.safe or forced else "would keep"
            _print_item(item, width, verdict, "" if item.safety.safe else item.safety.verdict)
    else:
        live = _live(panes, target)
        for outcome in cleanup.clean(
            repo, settings, live, force=force, assume_squash_merged=squash
        ):
            verdict = "removed" if outcome.removed else "kept"
            detail = outcome.detail.removeprefix("kept: ")
            _print_item(outcome.item, width, verdict, detail)
            if outcome.restore:
                print(f"  {'':{width}}  restore the branch with: {outcome.restore}")
    orphans = [item.spec.session for item in items if item.orphaned]
    if orphans:
        print(f"no running session (left by a crash or an ended fleet): {', '.join(orphans)}")


def _print_item(item: CleanItem, width: int, verdict: str, detail: str) -> None:
    name = item.spec.session
    where = item.worktree or "(no worktree)"
    branch = item.spec.branch if item.has_branch else "(no branch)"
    print(f"  {name.ljust(width)}  {verdict}: {branch}, {where}")
    if detail:
        print(f"  {'':{width}}  {detail}")
    if verdict.endswith("keep") or verdict == "kept":
        safety = item.safety
        if safety.squash_merged and not safety.safe:
            print(f"  {'':{width}}  if it was squash-merged: --squash-merged {name}")
        if safety.forceable and not safety.safe:
            print(f"  {'':{width}}  to remove it anyway: --force {name}")


def branch_cell(row: dict[str, object]) -> str:
    """The BRANCH column of ``status``: ``orc/dev-1 +2/-0 3 changed`` (empty for shared folders)."""
    branch = row.get("branch")
    if not branch:
        return ""
    if row.get("ahead") is None:
        return f"{branch} (?)"
    return f"{branch} +{row['ahead']}/-{row['behind']} {row['changed']} changed"
