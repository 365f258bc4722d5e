"""The part of a layout that runs on other hosts: one generated layout file per SSH host.

A session with ``host`` set runs in that host's tmux, brought up by the orchestrator installed
there, from a layout holding only that host's sessions. It is written here as TOML text (the
layout's own keys, minus ``host`` and ``hosts``) and handed to the host on ssh's standard input,
never on a command line, so no name, folder or prompt ever reaches a remote shell. Folders are the
host's: a relative ``cwd`` starts at the remote user's home folder, or at ``root`` when the layout
gives an absolute one.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from typing import Any

from orchestrator.layout.model import Layout
from orchestrator.layout.plan import RemotePlan, RemoteSession


def plans(layout: Layout, source: Path, text: str = "") -> tuple[RemotePlan, ...]:
    """One plan per host named by a session (or ``[defaults]``), in the order they first appear."""
    del source, text  # the layout was checked where it was read
    data = layout.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True)
    hosts: dict[str, list[int]] = {}
    for index, session in enumerate(layout.sessions):
        host = session.host or layout.defaults.host
        if host is not None:
            hosts.setdefault(host, []).append(index)
    found: list[RemotePlan] = []
    for host, indexes in hosts.items():
        settings = layout.hosts.get(host)
        sessions = tuple(
            RemoteSession(
                name=layout.sessions[i].name,
                role=layout.sessions[i].role or layout.defaults.role,
                agent=layout.sessions[i].agent or layout.defaults.agent,
            )
            for i in indexes
        )
        found.append(
            RemotePlan(
                host=host,
                ssh=tuple(settings.ssh) if settings else (),
                socket=settings.socket if settings else None,
                sessions=sessions,
                layout=_host_layout(data, indexes),
            )
        )
    return tuple(found)


def _host_layout(data: dict[str, Any], indexes: list[int]) -> str:
    """The TOML text of the layout one host brings up."""
    top = {key: value for key, value in data.items() if key not in {"hosts", "sessions"}}
    root = top.pop("root", None)
    if isinstance(root, str) and posixpath.isabs(root):
        top["root"] = root
    defaults = dict(top.pop("defaults", {}))
    defaults.pop("host", None)
    worktrees = top.pop("worktrees", {})
    rules = top.pop("on", [])
    sessions = []
    for index in indexes:
        session = dict(data["sessions"][index])
        session.pop("host", None)
        sessions.append(session)
    lines = [f"{key} = {_value(value)}" for key, value in top.items()]
    for name, table in (("defaults", defaults), ("worktrees", worktrees)):
        if table:
            lines += ["", f"[{name}]", *(f"{k} = {_value(v)}" for k, v in table.items())]
    for name, tables in (("on", rules), ("sessions", sessions)):
        for table in tables:
            lines += ["", f"[[{name}]]", *(f"{k} = {_value(v)}" for k, v in table.items())]
    return "\n".join(lines) + "\n"


def _value(value: object) -> str:
    """A TOML value: strings as basic strings (JSON's escapes are TOML's), lists, inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{json.dumps(str(k))} = {_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    raise TypeError(f"no TOML form for {value!r}")
