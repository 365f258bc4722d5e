"""Layout files: find, read, validate, resolve.

A layout is a TOML file describing a fleet: its name, where its sessions run and which agent each
one hosts. It is validated once, here, into the frozen models of :mod:`orchestrator.layout.model`;
everything after this module works on a :class:`~orchestrator.layout.plan.Fleet`, with every path
absolute and every command an argument list. Errors name the file, the line and the field.
"""

from __future__ import annotations

import os
import re
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from orchestrator import paths
from orchestrator.agents import custom
from orchestrator.agents.catalog import PROFILES
from orchestrator.agents.profile import AgentProfile
from orchestrator.errors import LayoutError
from orchestrator.git.worktree import WorktreeSettings
from orchestrator.layout import pipeline, remote
from orchestrator.layout.model import (
    DEFAULT_LAYOUT,
    Layout,
    Session,
    check_needed_path,
    split_command,
)
from orchestrator.layout.plan import Fleet, SessionPlan
from orchestrator.layout.roles import role_prompt

# ---------------------------------------------------------------------------------------------
# Finding layout files


def builtin_layouts_dir() -> Path:
    """The layouts shipped in the package (the checkout's ``layouts/`` when run from source)."""
    package = Path(__file__).parents[1]
    packaged = package / "builtin_layouts"
    if packaged.is_dir():
        return packaged
    return package.parent / "layouts"


def search_dirs() -> list[tuple[str, Path]]:
    """Folders searched for a layout given by name, first match wins."""
    return [
        ("project", Path.cwd() / "layouts"),
        ("user", paths.config_dir() / "layouts"),
        ("built-in", builtin_layouts_dir()),
    ]


def find_layout(arg: str | None) -> Path:
    """Resolve a layout argument (a path, or a name) to a file path."""
    return locate_layout(arg)[0]


def locate_layout(arg: str | None) -> tuple[Path, str]:
    """Resolve a layout argument to its file and origin (path, project, user or built-in)."""
    if arg is None:
        arg = DEFAULT_LAYOUT
    candidate = Path(arg).expanduser()
    looks_like_path = "/" in arg or arg.endswith(".toml") or arg.startswith(".")
    if looks_like_path or candidate.is_file():
        if not candidate.is_file():
            raise LayoutError(
                f"{arg}: no such layout file",
                hint="check the path, or run `orchestrator layouts` to list known layouts",
            )
        return candidate.resolve(), "path"
    for origin, folder in search_dirs():
        path = folder / f"{arg}.toml"
        if path.is_file():
            return path.resolve(), origin
    where = ", ".join(str(folder) for _, folder in search_dirs())
    raise LayoutError(
        f"no layout named {arg!r} (looked in {where})",
        hint="run `orchestrator layouts` to list known layouts, or give a path to a .toml file",
    )


@dataclass(frozen=True)
class LayoutEntry:
    """A layout found by :func:`list_layouts`."""

    name: str
    origin: str
    path: Path
    description: str
    shadowed: bool


def list_layouts() -> list[LayoutEntry]:
    """Every layout in the search folders, marking names hidden by an earlier folder."""
    entries: list[LayoutEntry] = []
    seen: set[str] = set()
    folders: set[Path] = set()
    for origin, folder in search_dirs():
        if not folder.is_dir() or folder.resolve() in folders:
            continue
        folders.add(folder.resolve())
        for path in sorted(folder.glob("*.toml")):
            name = path.stem
            try:
                description = str(tomllib.loads(path.read_text("utf-8")).get("description", ""))
            except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
                description = "(does not parse: run `orchestrator validate` on it)"
            entries.append(LayoutEntry(name, origin, path, description, name in seen))
            seen.add(name)
    return entries


# ---------------------------------------------------------------------------------------------
# Loading and validating


def load_layout(path: Path) -> Layout:
    """Read and validate a layout file; raise :class:`LayoutError` naming the line and field."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise LayoutError(f"{path}: no such layout file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LayoutError(f"{path}: cannot read the layout file: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LayoutError(
            f"{path}: not valid TOML: {exc}",
            hint="fix the syntax at the line and column shown",
        ) from None
    try:
        parsed = Layout.model_validate(data)
    except ValidationError as exc:
        raise LayoutError(describe_validation(path, text, data, exc)) from None
    _check_unique_names(path, text, parsed)
    if found := pipeline.problems(parsed):
        lines = [f"{path}: the layout is not valid ({len(found)} problem(s)):"]
        for problem in found:
            line = _line_of(text, problem.loc)
            where = f"line {line}, " if line else ""
            lines.append(f"  {where}{_field_name(problem.loc, data)}: {problem.message}")
        raise LayoutError("\n".join(lines))
    return parsed


_SCHEMA_HINT = "`orchestrator schema` lists every key"

_MISSING_ADVICE = {
    ("name",): 'add `name = "my-fleet"` at the top of the file, before any [table]',
    ("sessions",): 'add at least one session: a `[[sessions]]` line, then `name = "dev-1"`',
}


def _advice(error: Any, loc: tuple[int | str, ...]) -> str:
    """What to do about one validation error, in the layout's own words."""
    kind = error["type"]
    message = str(error["msg"])
    if kind == "extra_forbidden":
        return f"unknown key; remove it or check its spelling ({_SCHEMA_HINT})"
    if kind == "string_pattern_mismatch":
        if loc[-1] == "host":
            return (
                "not an SSH destination; write a host name, an alias or user@host "
                "(letters, digits, '.', '-', '_'; never starting with '-')"
            )
        return "use only letters, digits, '-' and '_'"
    if kind == "missing":
        if loc in _MISSING_ADVICE:
            return f"missing; {_MISSING_ADVICE[loc]}"
        if len(loc) == 3 and loc[0] == "sessions" and loc[2] == "name":
            return 'missing; every [[sessions]] table needs its own `name = "..."`'
        return f"missing; add `{loc[-1]} = ...` ({_SCHEMA_HINT})"
    if kind == "too_short" and loc == ("sessions",):
        return f"no sessions; {_MISSING_ADVICE[('sessions',)]}"
    return message.removeprefix("Value error, ")


def describe_validation(
    path: Path, text: str, data: Any, exc: ValidationError, what: str = "the layout"
) -> str:
    """Every problem of a file that does not validate, each with its line and field."""
    lines = [f"{path}: {what} is not valid ({exc.error_count()} problem(s)):"]
    for error in exc.errors():
        loc = tuple(error["loc"])
        field = _field_name(loc, data)
        line = _line_of(text, loc)
        where = f"line {line}, " if line else ""
        value = error.get("input")
        shown = f" (got {value!r})" if error["type"] not in {"missing", "extra_forbidden"} else ""
        if isinstance(value, dict | list):
            shown = ""
        lines.append(f"  {where}{field}: {_advice(error, loc)}{shown}")
    return "\n".join(lines)


def _check_unique_names(path: Path, text: str, layout: Layout) -> None:
    """Refuse two sessions of one name, naming both lines."""
    first: dict[str, int] = {}
    for index, session in enumerate(layout.sessions):
        if session.name not in first:
            first[session.name] = index
            continue
        earlier = _line_of(text, ("sessions", first[session.name], "name"))
        where = _position(text, ("sessions", index, "name"))
        raise LayoutError(
            f"{path}: {where}sessions[{index}] ({session.name}).name: another session is already "
            f"named {session.name!r}" + (f" (line {earlier})" if earlier else ""),
            hint="session names must be unique within a layout: rename one of them",
        )


def _position(text: str, loc: tuple[int | str, ...]) -> str:
    """``line N, `` for a field of the layout text, or nothing when it cannot be found."""
    line = _line_of(text, loc)
    return f"line {line}, " if line else ""


def _field_name(loc: tuple[int | str, ...], data: Any) -> str:
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            name = ""
            if isinstance(node, list) and item < len(node) and isinstance(node[item], dict):
                name = str(node[item].get("name", ""))
            parts.append(f"[{item}]" + (f" ({name})" if name else ""))
        else:
            parts.append(("." if parts else "") + item)
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            node = None
    return "".join(parts) or "layout"


_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.@\"'+-]+)\s*\]")


def _line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """Best-effort line number for a validation error (tomllib keeps no positions).

    Finds the table the error is in (``[[sessions]]`` or ``[[on]]`` number N, ``[defaults]``,
    ``[env]`` or the top level), then the ``key =`` line inside it; falls back to the table's
    header line.
    """
    if loc and loc[0] == "agents":
        return custom.line_of(text, loc)
    table, index, key = "", None, loc[0] if loc else None
    if len(loc) >= 2 and loc[0] in {"sessions", "on"} and isinstance(loc[1], int):
        table, index, key = str(loc[0]), loc[1], loc[2] if len(loc) > 2 else None
    elif loc and loc[0] in {"defaults", "env", "worktrees"}:
        table, key = str(loc[0]), loc[1] if len(loc) > 1 else None
    elif len(loc) >= 2 and loc[0] == "hosts":
        table, key = f"hosts.{loc[1]}", loc[2] if len(loc) > 2 else None
    current: tuple[str, int | None] = ("", None)
    counts: dict[str, int] = {}
    header_line: int | None = None
    key_line = re.compile(rf"^\s*{re.escape(str(key))}\s*=") if isinstance(key, str) else None
    for number, raw in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(raw)
        if header:
            name = re.sub("[\"']", "", header.group(2))
            if header.group(1) == "[[":
                counts[name] = counts.get(name, -1) + 1
                current = (name, counts[name])
            else:
                current = (name, None)
            if current == (table, index):
                header_line = number
        elif current == (table, index) and key_line and key_line.match(raw):
            return number
    return header_line


def resolve(
    layout: Layout,
    source: Path,
    *,
    check_commands: bool = True,
    origin: str = "path",
    here: Path | None = None,
) -> Fleet:
    """Turn a validated layout into a launch plan, checking folders, agents and commands.

    A relative ``root`` starts at the layout file's folder, wherever the file was found; a layout
    without ``root`` (the built-in default) has its base in ``here``, the folder the command runs
    in unless given (a live fleet passes the folder it was brought up in).
    """
    del origin  # where the file was found no longer changes what its root means
    if layout.root is None:
        base = (here or Path.cwd()).resolve()
    else:
        base = (source.parent / Path(layout.root).expanduser()).resolve()
    text = _text_of(source)
    if not base.is_dir():
        raise LayoutError(
            f"{source}: {_position(text, ('root',))}root: folder {base} does not exist",
            hint="create it, or fix `root` (it is relative to the layout file's folder)",
        )
    try:
        own = custom.own_agents(dict(layout.agents), source, text, set(PROFILES))
    except ValueError as exc:
        hint = "see examples/opencode.toml for an agent of your own"
        raise LayoutError(str(exc), hint=hint) from None
    profiles = {**{name: custom.to_profile(name, spec) for name, spec in own.items()}, **PROFILES}
    plans: list[SessionPlan] = []
    for index, spec in enumerate(layout.sessions):
        if (spec.host or layout.defaults.host) is not None:
            continue  # it runs on its host, which checks it (orchestrator.layout.remote)
        where = f"{source}: sessions[{index}] ({spec.name})"
        agent_name = spec.agent or layout.defaults.agent
        profile = profiles.get(agent_name)
        if profile is None:
            known = ", ".join(sorted(profiles))
            field = _field_at(source, text, index, spec.name, "agent", spec.agent)
            raise LayoutError(
                f"{field}: unknown agent {agent_name!r}",
                hint=f"use one of: {known}",
            )
        cwd = (base / Path(spec.cwd or layout.defaults.cwd).expanduser()).resolve()
        if not cwd.is_dir():
            field = _field_at(source, text, index, spec.name, "cwd", spec.cwd)
            raise LayoutError(
                f"{field}: folder {cwd} does not exist",
                hint="create the folder, or fix `cwd` (relative paths start at the layout's "
                f"root, {base})",
            )
        env = {**layout.env, **layout.defaults.env, **spec.env}
        if spec.command is not None:
            argv = split_command(spec.command)
        else:
            argv = list(profile.command) or [os.environ.get("SHELL") or "sh"]
            if profile.name == layout.defaults.agent:
                # [defaults] args belong to the [defaults] agent: Claude's flags given to $SHELL
                # would make every shell session exit at once.
                argv += layout.defaults.args
        argv += spec.args
        if check_commands:
            _check_on_path(argv[0], env, where, profile)
        plans.append(
            SessionPlan(
                name=spec.name,
                role=_role(layout, spec),
                agent=profile,
                cwd=cwd,
                argv=tuple(argv),
                env=env,
                prompt=spec.prompt,
                worktree=spec.worktree if spec.worktree is not None else layout.defaults.worktree,
                **_agent_options(layout, index, profile, where),
            )
        )
    options = layout.worktrees
    folder = (base / Path(options.folder).expanduser()).resolve() if options.folder else None
    return Fleet(
        name=layout.name,
        description=layout.description,
        arrange=layout.arrange,
        source=source,
        root=base,
        sessions=tuple(plans),
        worktrees=WorktreeSettings(prefix=options.prefix, base=options.base, folder=folder),
        remote=remote.plans(layout, source, text),
        agents={name: own[name] for name in {p.agent.name for p in plans} if name in own},
    )


def _agent_options(layout: Layout, index: int, profile: AgentProfile, where: str) -> dict[str, Any]:
    """A session's role text, model, permission mode and pipeline, as its agent takes them."""
    spec, defaults = layout.sessions[index], layout.defaults
    model = spec.model or defaults.model
    mode = spec.permission_mode or defaults.permission_mode
    for option, value in (("model", model), ("permission_mode", mode)):
        if value and not profile.supports(option):
            raise LayoutError(
                f"{where}: {option}: agent {profile.name!r} has no {option} setting",
                hint=f"remove `{option}`, or pass the agent's own flag in `args`",
            )
    if mode and profile.permission_modes and mode not in profile.permission_modes:
        raise LayoutError(
            f"{where}: permission_mode: {profile.name} does not know {mode!r}",
            hint=f"use one of: {', '.join(profile.permission_modes)}",
        )
    tell = spec.tell_role if spec.tell_role is not None else defaults.tell_role
    extra = "\n\n".join(t for t in (defaults.instructions, spec.instructions or "") if t.strip())
    text = role_prompt(
        layout.name,
        spec.name,
        _role(layout, spec),
        ((s.name, _role(layout, s)) for s in layout.sessions),
        tell_role=tell,
        instructions=extra,
    )
    return {
        "system_prompt": text,
        "model": model,
        "permission_mode": mode,
        "after": tuple(spec.after),
        "needs": tuple(check_needed_path(path) for path in spec.needs),
    }


def _role(layout: Layout, spec: Session) -> str:
    """A session's role: its own, else the one in [defaults]."""
    return spec.role if spec.role is not None else layout.defaults.role


def _field_at(source: Path, text: str, index: int, name: str, key: str, own: object) -> str:
    """``FILE: line N, FIELD`` for a session's ``key``: its own, else the one in [defaults]."""
    if own is None:
        loc: tuple[int | str, ...] = ("defaults", key)
        field = f"defaults.{key} (for sessions[{index}] ({name}))"
    else:
        loc = ("sessions", index, key)
        field = f"sessions[{index}] ({name}).{key}"
    return f"{source}: {_position(text, loc)}{field}"


def _text_of(source: Path) -> str:
    """The layout's text, to find lines in (empty if it cannot be read again)."""
    try:
        return source.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _check_on_path(program: str, env: dict[str, str], where: str, profile: AgentProfile) -> None:
    search = env.get("PATH", os.environ.get("PATH", ""))
    if shutil.which(program, path=search) is None:
        hint = profile.install_hint or "install it, or give the full path in `command`"
        raise LayoutError(f"{where}: command: {program!r} was not found on PATH", hint=hint)


def load_fleet(arg: str | None, *, check_commands: bool = True, here: Path | None = None) -> Fleet:
    """Find, read, validate and resolve a layout in one step (``here``: see :func:`resolve`)."""
    path, origin = locate_layout(arg)
    return resolve(load_layout(path), path, check_commands=check_commands, origin=origin, here=here)
