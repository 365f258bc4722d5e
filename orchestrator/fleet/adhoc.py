"""Sessions on the fly: add one to a running fleet, type a prompt into some, remove one.

``new`` adds a session the layout does not have, launched exactly as ``up`` launches the layout's
own (the layout's defaults, hooks, tags, worktree; the watcher finds the pane by its tags), so a
later ``up`` of the layout neither removes it nor starts it twice. Its first prompt rides on the
pane (``@orc_prompt``), where the watcher's first-prompt sender finds it. ``rm`` ends one
session's pane and nothing else: its worktree, branch and history stay.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from orchestrator.agents.catalog import PROFILES
from orchestrator.errors import LayoutError, NotFoundError, OrchestratorError
from orchestrator.fleet import keys
from orchestrator.fleet.restart import layout_root, layout_source
from orchestrator.fleet.up import up
from orchestrator.layout import load
from orchestrator.layout.model import Session
from orchestrator.layout.plan import Fleet
from orchestrator.tmux.client import Tmux, tag
from orchestrator.tmux.panes import PaneInfo, list_sessions

PROMPT_TAG = "prompt"
"""The pane tag (``@orc_prompt``) carrying the first prompt of a session added with ``new``."""


@dataclass(frozen=True)
class NewSession:
    """What ``orchestrator new`` asks for."""

    name: str
    agent: str | None = None
    role: str = ""
    cwd: Path | None = None
    worktree: bool | None = None
    prompt: str | None = None


def plan_new(tmux: Tmux, fleet_name: str, wanted: NewSession) -> Fleet:
    """The one-session fleet that ``new`` brings up: the layout's defaults, the fleet's sessions
    (and those added before) in its role text, and the folder and command checked."""
    panes = list_sessions(tmux, fleet_name)
    if any(pane.name == wanted.name for pane in panes):
        raise OrchestratorError(
            f"fleet {fleet_name} already has a session named {wanted.name!r}",
            hint="choose another name, or `orchestrator rm` that one first",
        )
    path, origin = load.locate_layout(layout_source(tmux, fleet_name))
    layout = load.load_layout(path)
    known = {session.name for session in layout.sessions}
    try:
        # Sessions added before this one, so that its role text names them too (never launched
        # from here: only the new one is).
        others = [
            Session(
                name=pane.name, role=pane.role, agent=pane.agent if pane.agent in PROFILES else None
            )
            for pane in panes
            if pane.name not in known
        ]
        new = Session(
            name=wanted.name,
            role=wanted.role,
            agent=wanted.agent,
            cwd=str(wanted.cwd) if wanted.cwd is not None else None,
            worktree=wanted.worktree,
            prompt=wanted.prompt,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "name"
        raise LayoutError(
            f"session {wanted.name!r}: {field}: {first['msg']}",
            hint="names use only letters, digits, '-' and '_'",
        ) from None
    layout = layout.model_copy(update={"sessions": [*layout.sessions, *others, new]})
    whole = load.resolve(
        layout, path, origin=origin, here=layout_root(tmux, fleet_name), check_commands=False
    )
    plan = whole.sessions[-1]
    load.resolve(
        layout.model_copy(update={"sessions": [new]}),
        path,
        origin=origin,
        here=layout_root(tmux, fleet_name),
    )  # the folder exists and the command is on PATH, as for `up`
    return dataclasses.replace(whole, sessions=(plan,))


def add_session(tmux: Tmux, fleet_name: str, wanted: NewSession) -> PaneInfo:
    """Bring up one new session in a running fleet; return its pane."""
    one = plan_new(tmux, fleet_name, wanted)
    up(one, tmux, services=())
    pane = next((p for p in list_sessions(tmux, fleet_name) if p.name == wanted.name), None)
    if pane is None:
        raise OrchestratorError(f"session {wanted.name!r} did not come up in fleet {fleet_name}")
    if wanted.prompt:
        tmux.run(["set-option", "-p", "-t", pane.pane_id, tag(PROMPT_TAG), wanted.prompt])
    return pane


def pane_prompt(tmux: Tmux, pane_id: str) -> str:
    """The first prompt a session added with ``new`` carries ('' when none)."""
    lines = tmux.run(["show-options", "-p", "-v", "-t", pane_id, tag(PROMPT_TAG)], check=False)
    return "\n".join(lines)


def choose(
    panes: list[PaneInfo], names: list[str], *, every: bool = False, role: str | None = None
) -> list[PaneInfo]:
    """The sessions a ``send`` means: the names given, every one, or those of one role."""
    if every:
        return panes
    if role is not None:
        chosen = [p for p in panes if p.role.strip().casefold() == role.strip().casefold()]
        if not chosen:
            roles = sorted({p.role for p in panes if p.role}) or ["none set"]
            raise NotFoundError(
                f"no session has the role {role!r}", hint=f"roles here: {', '.join(roles)}"
            )
        return chosen
    by_name = {pane.name: pane for pane in panes}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise NotFoundError(
            f"no session named {', '.join(map(repr, missing))} in this fleet",
            hint=f"sessions: {', '.join(by_name) or 'none'}",
        )
    return [by_name[name] for name in dict.fromkeys(names)]


def send(tmux: Tmux, panes: list[PaneInfo], text: str) -> None:
    """Type ``text`` into the sessions' panes and press Enter (the caller records it)."""
    keys.type_prompt(tmux, panes, text)


def remove_session(tmux: Tmux, fleet_name: str, name: str) -> PaneInfo:
    """End one session's pane (its worktree, branch and history stay); return the pane it had."""
    pane = next((p for p in list_sessions(tmux, fleet_name) if p.name == name), None)
    if pane is None:
        raise NotFoundError(
            f"no session named {name!r} in fleet {fleet_name}",
            hint="run `orchestrator status` to list the sessions",
        )
    tmux.run(["kill-pane", "-t", pane.pane_id])
    return pane
