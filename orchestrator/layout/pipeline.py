"""The checks a layout's pipeline (``after``) needs that one session alone cannot make.

Each ``after`` must name another session of the layout, and following ``after`` from any session
must never lead back to it (it would wait for itself forever). The problems come back with the
location of the field, so :mod:`orchestrator.layout.load` can name the line.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.layout.model import Layout


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the pipeline, and where it is."""

    loc: tuple[int | str, ...]
    """Where in the layout, as pydantic locates errors (``("sessions", 1, "after")``)."""
    message: str
    """What is wrong and what to do."""


def problems(layout: Layout) -> list[Problem]:
    """Unknown or self-naming ``after`` entries, and ``after`` cycles (each reported once)."""
    names = [session.name for session in layout.sessions]
    hosts = {s.name: s.host or layout.defaults.host for s in layout.sessions}
    found: list[Problem] = []
    for index, session in enumerate(layout.sessions):
        where = ("sessions", index, "after")
        for name in session.after:
            if name in hosts and hosts[name] != hosts[session.name]:
                found.append(
                    Problem(
                        where,
                        f"{name!r} runs on {hosts[name] or 'this machine'}, this session on "
                        f"{hosts[session.name] or 'this machine'}; `after` waits only for "
                        "sessions on the same host",
                    )
                )
            elif name == session.name:
                found.append(Problem(where, f"{name!r} is this session; it would wait for itself"))
            elif name not in names:
                known = ", ".join(n for n in names if n != session.name) or "none"
                found.append(Problem(where, f"no session is named {name!r}; use one of: {known}"))
    if found:
        return found
    graph = {s.name: list(dict.fromkeys(s.after)) for s in layout.sessions}
    reported: set[frozenset[str]] = set()
    for index, session in enumerate(layout.sessions):
        cycle = _cycle_from(session.name, graph)
        if cycle is None or frozenset(cycle) in reported:
            continue
        reported.add(frozenset(cycle))
        path = " -> ".join([*cycle, cycle[0]])
        found.append(
            Problem(
                ("sessions", index, "after"),
                f"`after` makes a cycle ({path}): these sessions would wait for each other "
                "forever; remove one of the `after` entries",
            )
        )
    return found


def _cycle_from(start: str, graph: dict[str, list[str]]) -> list[str] | None:
    """The cycle through ``start``, in order, if following ``after`` leads back to it."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, []):
            if nxt == start:
                return path
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None
