"""Layout files: read, validate, resolve.

A layout is a TOML file describing a fleet: its name, where its sessions run and which agent each
one hosts. It is validated once, here, into frozen pydantic models; everything after this module
works on :class:`Fleet`, with every path absolute and every command an argument list.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

import orchestrator
from orchestrator import paths
from orchestrator.agents.catalog import PROFILES
from orchestrator.agents.profile import AgentProfile
from orchestrator.errors import LayoutError
from orchestrator.git.worktree import DEFAULT_PREFIX, WorktreeSettings, WorktreeSpec

NAME_PATTERN = r"^[A-Za-z0-9_-]+$"
DEFAULT_LAYOUT = orchestrator.DEFAULT_LAYOUT

Name = Annotated[
    str,
    Field(
        pattern=NAME_PATTERN,
        min_length=1,
        max_length=64,
        description="Letters, digits, '-' and '_' only.",
    ),
]
Arrange = Literal["tiled", "even-horizontal", "even-vertical", "main-horizontal", "main-vertical"]
Command = str | list[str]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(_Strict):
    """Settings shared by every session; a session's own value wins."""

    agent: str = Field("claude", description="Agent profile: 'claude' or 'shell'.")
    cwd: str = Field(".", description="Working folder, relative to the layout's root.")
    args: list[str] = Field(
        default_factory=list, description="Extra arguments appended to the agent's command."
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="Environment for every session (after the top [env])."
    )
    worktree: bool = Field(False, description="Give each session its own git worktree and branch.")


class Session(_Strict):
    """One agent session: a named tmux pane running one agent."""

    name: Name = Field(description="Unique name of the session: letters, digits, '-', '_'.")
    role: str = Field("", description="What this session is for, shown in status and dashboard.")
    agent: str | None = Field(None, description="Agent profile; defaults to [defaults].agent.")
    cwd: str | None = Field(None, description="Working folder, relative to the layout's root.")
    command: Command | None = Field(
        None,
        description=(
            "Command to run instead of the profile's default. A string is split like a shell "
            "would split words (quotes honoured) but never run by a shell; a list is used as is."
        ),
    )
    args: list[str] = Field(
        default_factory=list, description="Extra arguments appended to the command."
    )
    env: dict[str, str] = Field(default_factory=dict, description="Environment for this session.")
    prompt: str | None = Field(None, description="First prompt, typed once the agent is ready.")
    worktree: bool | None = Field(
        None, description="Own git worktree and branch; defaults to [defaults].worktree."
    )

    @field_validator("command")
    @classmethod
    def _command_not_empty(cls, value: Command | None) -> Command | None:
        if value is None:
            return value
        argv = split_command(value)
        if not argv:
            raise ValueError("command is empty; remove it to use the agent's default command")
        return value


class Worktrees(_Strict):
    """Where sessions with ``worktree = true`` get their branch and worktree."""

    prefix: str = Field(
        DEFAULT_PREFIX,
        min_length=1,
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9._/-]*$",
        description=(
            "Branch name prefix: a session's branch is this plus its name (e.g. 'orc/dev-1'). "
            "Cleanup only ever considers branches with this prefix."
        ),
    )
    base: str | None = Field(
        None,
        min_length=1,
        description=(
            "Local branch new session branches start from, and are compared with and merged "
            "into; default: the branch the repository has checked out."
        ),
    )
    folder: str | None = Field(
        None,
        min_length=1,
        description=(
            "Folder holding the worktrees, relative to the layout's root; it must be outside the "
            "repository. Default: '.<repo name>-worktrees' beside the repository."
        ),
    )


class Layout(_Strict):
    """A fleet of agent sessions, as written in a layout file."""

    name: Name = Field(description="The fleet's name; also its tmux session name.")
    description: str = Field("", description="What this fleet is for.")
    root: str = Field(".", description="Base folder for relative cwd, relative to this file.")
    arrange: Arrange = Field("tiled", description="tmux layout of the agents' window.")
    env: dict[str, str] = Field(default_factory=dict, description="Environment for every session.")
    defaults: Defaults = Field(default_factory=Defaults, description="Defaults for all sessions.")
    worktrees: Worktrees = Field(
        default_factory=Worktrees,
        description="Branch prefix, base and folder for sessions with worktree = true.",
    )
    sessions: list[Session] = Field(min_length=1, description="The sessions, in pane order.")

    @model_validator(mode="after")
    def _unique_names(self) -> Layout:
        seen: set[str] = set()
        for session in self.sessions:
            if session.name in seen:
                raise ValueError(f"two sessions are named {session.name!r}; names must be unique")
            seen.add(session.name)
        return self


def split_command(command: Command) -> list[str]:
    """Turn a layout ``command`` into an argument list without involving a shell."""
    if isinstance(command, list):
        return list(command)
    return shlex.split(command)


# ---------------------------------------------------------------------------------------------
# Resolved form


@dataclass(frozen=True)
class SessionPlan:
    """A session ready to launch: absolute folder, full argv, merged environment."""

    name: str
    role: str
    agent: AgentProfile
    cwd: Path
    argv: tuple[str, ...]
    env: dict[str, str]
    prompt: str | None
    worktree: bool
    checkout: WorktreeSpec | None = None
    """The session's own worktree and branch, once ``up`` has made or found it (then ``cwd`` is
    inside that worktree)."""


@dataclass(frozen=True)
class Fleet:
    """A validated layout with everything resolved."""

    name: str
    description: str
    arrange: str
    source: Path
    sessions: tuple[SessionPlan, ...]
    worktrees: WorktreeSettings = field(default_factory=WorktreeSettings)
    """Branch prefix, base and (absolute) folder for the sessions with ``worktree`` set."""


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
        return Layout.model_validate(data)
    except ValidationError as exc:
        raise LayoutError(_describe_validation(path, text, data, exc)) from None


def _describe_validation(path: Path, text: str, data: Any, exc: ValidationError) -> str:
    lines = [f"{path}: the layout is not valid ({exc.error_count()} problem(s)):"]
    for error in exc.errors():
        loc = tuple(error["loc"])
        field = _field_name(loc, data)
        line = _line_of(text, loc)
        where = f"line {line}, " if line else ""
        message = str(error["msg"])
        if error["type"] == "extra_forbidden":
            message = "unknown key; remove it or check its spelling (see layouts/schema.json)"
        elif error["type"] == "string_pattern_mismatch":
            message = "use only letters, digits, '-' and '_'"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        value = error.get("input")
        shown = f" (got {value!r})" if error["type"] not in {"missing", "extra_forbidden"} else ""
        if isinstance(value, dict | list):
            shown = ""
        lines.append(f"  {where}{field}: {message}{shown}")
    return "\n".join(lines)


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


_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]")


def _line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """Best-effort line number for a validation error (tomllib keeps no positions).

    Finds the table the error is in (``[[sessions]]`` number N, ``[defaults]``, ``[env]`` or the
    top level), then the ``key =`` line inside it; falls back to the table's header line.
    """
    table, index, key = "", None, loc[0] if loc else None
    if len(loc) >= 2 and loc[0] == "sessions" and isinstance(loc[1], int):
        table, index, key = "sessions", loc[1], loc[2] if len(loc) > 2 else None
    elif loc and loc[0] in {"defaults", "env", "worktrees"}:
        table, key = str(loc[0]), loc[1] if len(loc) > 1 else None
    current: tuple[str, int | None] = ("", None)
    counts: dict[str, int] = {}
    header_line: int | None = None
    key_line = re.compile(rf"^\s*{re.escape(str(key))}\s*=") if isinstance(key, str) else None
    for number, raw in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(raw)
        if header:
            name = header.group(2)
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
    layout: Layout, source: Path, *, check_commands: bool = True, origin: str = "path"
) -> Fleet:
    """Turn a validated layout into a launch plan, checking folders, agents and commands.

    A relative ``root`` starts at the layout file's folder, except for layouts found by name in
    the user's config folder or among the built-ins: those are shared by every project, so their
    ``root`` starts at the folder the command runs in.
    """
    anchor = Path.cwd() if origin in {"user", "built-in"} else source.parent
    base = (anchor / Path(layout.root).expanduser()).resolve()
    if not base.is_dir():
        raise LayoutError(
            f"{source}: root: folder {base} does not exist",
            hint="create it, or fix `root` (it is relative to the layout file's folder)",
        )
    plans: list[SessionPlan] = []
    for index, spec in enumerate(layout.sessions):
        where = f"{source}: sessions[{index}] ({spec.name})"
        agent_name = spec.agent or layout.defaults.agent
        profile = PROFILES.get(agent_name)
        if profile is None:
            known = ", ".join(sorted(PROFILES))
            raise LayoutError(
                f"{where}: agent: unknown agent {agent_name!r}",
                hint=f"use one of: {known}",
            )
        cwd = (base / Path(spec.cwd or layout.defaults.cwd).expanduser()).resolve()
        if not cwd.is_dir():
            raise LayoutError(
                f"{where}: cwd: folder {cwd} does not exist",
                hint="create the folder, or fix `cwd` (relative paths start at the layout's root)",
            )
        env = {**layout.env, **layout.defaults.env, **spec.env}
        if spec.command is not None:
            argv = split_command(spec.command)
        else:
            argv = list(profile.command) or [os.environ.get("SHELL") or "sh"]
            argv += layout.defaults.args
        argv += spec.args
        if check_commands:
            _check_on_path(argv[0], env, where, profile)
        plans.append(
            SessionPlan(
                name=spec.name,
                role=spec.role,
                agent=profile,
                cwd=cwd,
                argv=tuple(argv),
                env=env,
                prompt=spec.prompt,
                worktree=spec.worktree if spec.worktree is not None else layout.defaults.worktree,
            )
        )
    options = layout.worktrees
    folder = (base / Path(options.folder).expanduser()).resolve() if options.folder else None
    return Fleet(
        name=layout.name,
        description=layout.description,
        arrange=layout.arrange,
        source=source,
        sessions=tuple(plans),
        worktrees=WorktreeSettings(prefix=options.prefix, base=options.base, folder=folder),
    )


def _check_on_path(program: str, env: dict[str, str], where: str, profile: AgentProfile) -> None:
    search = env.get("PATH", os.environ.get("PATH", ""))
    if shutil.which(program, path=search) is None:
        hint = profile.install_hint or "install it, or give the full path in `command`"
        raise LayoutError(f"{where}: command: {program!r} was not found on PATH", hint=hint)


def load_fleet(arg: str | None, *, check_commands: bool = True) -> Fleet:
    """Find, read, validate and resolve a layout in one step."""
    path, origin = locate_layout(arg)
    return resolve(load_layout(path), path, check_commands=check_commands, origin=origin)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of layout files, for editors (written to ``layouts/schema.json``)."""
    schema = Layout.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "orchestrator layout"
    return schema
