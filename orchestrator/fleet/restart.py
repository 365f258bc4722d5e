"""Start one session of a fleet again, as its layout says: a Claude session continues its
conversation.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import NotFoundError, OrchestratorError
from orchestrator.fleet import worktrees as session_worktrees
from orchestrator.fleet.commands import pane_spec, tag_pane
from orchestrator.fleet.published import describe_state
from orchestrator.fleet.up import up, wake_watcher
from orchestrator.tmux.client import Tmux, respawning, tag
from orchestrator.tmux.panes import PaneInfo, list_sessions

EXIT_GRACE = 5.0
"""Seconds a session already shown as exited may take to leave its pane before a restart
replaces it anyway: Claude reports its end (the ``SessionEnd`` hook) before its process has
written its last lines and gone, and a restart that killed it then could cut its transcript."""


@dataclass(frozen=True)
class RestartReport:
    """What :func:`restart_session` did."""

    fleet: str
    name: str
    pane_id: str
    argv: list[str]
    """The command the pane runs now."""
    resumed: str | None
    """The Claude conversation it continues, if any."""


def layout_source(tmux: Tmux, fleet_name: str) -> str:
    """The layout file a live fleet was brought up from (its tmux session's ``@orc_layout``)."""
    rows = tmux.query(["display-message", "-p", "-t", f"={fleet_name}:"], (tag("layout"),))
    source = rows[0].get(tag("layout"), "") if rows else ""
    if not source:
        raise OrchestratorError(
            f"fleet {fleet_name!r} does not say which layout started it",
            hint="bring it up again with `orchestrator up LAYOUT`",
        )
    return source


def layout_root(tmux: Tmux, fleet_name: str) -> Path | None:
    """The base folder a live fleet's layout was resolved against when it was brought up (None
    for a fleet that did not record it)."""
    rows = tmux.query(["display-message", "-p", "-t", f"={fleet_name}:"], (tag("root"),))
    root = rows[0].get(tag("root"), "") if rows else ""
    return Path(root) if root else None


def restart_session(
    tmux: Tmux,
    fleet_name: str,
    name: str,
    resume_id: str | None = None,
    *,
    force: bool = False,
) -> RestartReport:
    """Start a session's agent again in its pane, as the fleet's layout says.

    With ``resume_id`` a Claude session continues that conversation (``--resume``); other agents
    simply start again. A session whose agent still runs is refused unless ``force``, which
    kills it first. A session whose pane is gone gets a new one.
    """
    from orchestrator.layout.load import load_fleet

    plan_fleet = load_fleet(layout_source(tmux, fleet_name), here=layout_root(tmux, fleet_name))
    plans = [plan for plan in plan_fleet.sessions if plan.name == name]
    if not plans:
        raise NotFoundError(f"session {name!r} is not in the layout {plan_fleet.source}")
    pane = _settled(tmux, fleet_name, name)
    if pane is not None and pane.cwd and not plans[0].worktree:
        # The folder it ran in: a shared layout's relative root was resolved against the folder
        # `up` ran in, which this process may not be in.
        plans[0] = dataclasses.replace(plans[0], cwd=Path(pane.cwd))
    folder = _conversation_folder(fleet_name, name, resume_id)
    if folder is not None and not plans[0].worktree and folder != plans[0].cwd:
        # `claude --resume` finds a conversation only from the folder it ran in.
        plans[0] = dataclasses.replace(plans[0], cwd=folder)
    one = dataclasses.replace(plan_fleet, sessions=(plans[0],))
    # A pane still alive whose agent is known to have exited (its SessionEnd came, the process is
    # on its way out; or it left its wrapper shell behind) needs no --force.
    exited = pane is not None and describe_state(pane)[0] == "exited"
    if pane is not None and not exited and not force:
        raise OrchestratorError(
            f"session {name!r} is still running (pane {pane.pane_id})",
            hint=f"use --force to end it and start it again, or `orchestrator jump {name}`",
        )
    prepared = session_worktrees.prepare(one)
    plan = prepared.fleet.sessions[0]
    options, command = pane_spec(prepared.fleet, plan, resume_id)
    try:
        if pane is None:
            up(prepared.fleet, tmux, services=(), resume={name: resume_id} if resume_id else None)
            pane = next(p for p in list_sessions(tmux, fleet_name) if p.name == name)
        else:
            respawn = ["respawn-pane", "-k", "-t", pane.pane_id, *options, *command]
            tmux.run(
                *respawning(
                    tmux,
                    pane.pane_id,
                    respawn,
                    *tag_pane(pane.pane_id, prepared.fleet, plan, resume_id),
                    *_starting(pane.pane_id),
                )
            )
            wake_watcher(tmux, fleet_name)
    except BaseException:
        prepared.undo()
        raise
    resumed = resume_id if plan.agent.resume_args(resume_id) else None
    return RestartReport(fleet_name, name, pane.pane_id, command[1:], resumed)


def _conversation_folder(fleet: str, name: str, resume_id: str | None) -> Path | None:
    """The folder conversation ``resume_id`` ran in, when the history and its transcript say."""
    if not resume_id:
        return None
    from orchestrator.store import history
    from orchestrator.store.db import Store

    with Store() as store:
        conversation = store.claude_session(fleet, name, resume_id)
    folder = None if conversation is None else history.conversation_folder(conversation)
    return folder if folder is not None and folder.is_dir() else None


def _settled(tmux: Tmux, fleet_name: str, name: str) -> PaneInfo | None:
    """The session's pane, after its agent has left it when the session already shows as
    exited (up to :data:`EXIT_GRACE`): an exited session needs no ``--force``."""
    deadline = time.monotonic() + EXIT_GRACE
    while True:
        pane = next((p for p in list_sessions(tmux, fleet_name) if p.name == name), None)
        if pane is None or pane.dead or describe_state(pane)[0] != "exited":
            return pane
        if time.monotonic() >= deadline:
            return pane  # its agent left from under a shell: the pane itself lives on
        time.sleep(0.1)


RESTARTED = "restarted; the watcher has not read it yet"
"""The reason a restarted session shows until the watcher reads its new process."""


def _starting(pane_id: str) -> list[list[str]]:
    """The tmux commands that publish a respawned pane as starting: the state its run before
    published (idle, say, for ``--force``) is not this run's."""
    values = (("state", "starting"), ("reason", RESTARTED), ("since", f"{time.time():.3f}"))
    return [["set-option", "-p", "-t", pane_id, tag(key), value] for key, value in values]
