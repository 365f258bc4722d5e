"""Agents of the user's own: ``[agents.<name>]`` tables in ``agents.toml`` (the user's config
folder) or in a layout, each a command, the process names that identify it and screen rules in
the format of the built-in profiles' ``<name>.toml``.

Example (``examples/opencode.toml`` is a whole one)::

    [agents.opencode]
    command = ["opencode"]
    process_names = ["opencode"]

    [[agents.opencode.rules]]
    name = "permission"
    state = "awaiting_input"
    pattern = 'Permission required'
    reason = "permission prompt"

Validated once, here: an unknown key, a bad state, a regular expression that does not compile or
a name taken by a built-in agent is an error naming the file, the line and the field. ``up``
records a fleet's own agents in its runtime folder (``agents.json``), so the watcher, the
dashboard and ``status`` read those sessions with the same rules without reading the layout.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from orchestrator import paths
from orchestrator.agents.profile import AgentProfile
from orchestrator.detect.model import State
from orchestrator.detect.screen import PRIORITY, Rule, RuleSet

FILE_NAME = "agents.toml"
RECORD = "agents.json"
"""A fleet's own agents, as ``up`` recorded them in the fleet's runtime folder."""

AgentName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$", min_length=1, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSpec(_Strict):
    """One screen rule, as in the built-in profiles' rule files."""

    name: str = Field(min_length=1, description="A name for the rule (shown by `explain`).")
    state: Literal["awaiting_input", "working", "idle"] = Field(
        description="The state a line it matches stands for."
    )
    pattern: str = Field(description="Regular expression (Python) for one screen line.")
    reason: str = Field("{0}", description="The reason shown: {0} the line, {1}.. its groups.")
    context: str | None = Field(
        None, description="Only counts when this pattern is on a line above ({context})."
    )
    unless: str | None = Field(
        None, description="Does not count when this pattern is on a line above."
    )

    @field_validator("pattern", "context", "unless")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class AgentSpec(_Strict):
    """An agent of the user's own."""

    command: str | list[str] = Field(description="The command that starts it (argv or a string).")
    process_names: list[str] = Field(
        default_factory=list,
        description="Process names that identify it under a wrapper shell (its exit is seen).",
    )
    install_hint: str = Field("", description="What to tell someone whose PATH lacks it.")
    interrupt_key: str = Field("Escape", description="The key that interrupts it (tmux name).")
    enter_delay: float = Field(
        0.2, ge=0, le=5, description="Seconds between a prompt's text and its Enter."
    )
    region: int = Field(30, ge=1, le=500, description="Screen lines the rules read, from the end.")
    rules: list[RuleSpec] = Field(default_factory=list, description="Its screen rules.")

    @field_validator("command")
    @classmethod
    def _not_empty(cls, value: str | list[str]) -> str | list[str]:
        if not (value.split() if isinstance(value, str) else value):
            raise ValueError("the command is empty")
        return value

    def argv(self) -> tuple[str, ...]:
        """The command as an argument list (a string is split like a shell would, unrun)."""
        import shlex

        return tuple(shlex.split(self.command) if isinstance(self.command, str) else self.command)


class AgentsFile(_Strict):
    """``agents.toml``: the user's own agents."""

    agents: dict[AgentName, AgentSpec] = Field(default_factory=dict)


@dataclass(frozen=True)
class CustomProfile(AgentProfile):
    """An agent of the user's own: no hooks, its screen rules from its table."""

    rule_set: RuleSet | None = None

    def rules(self) -> RuleSet | None:
        """The rules its table gave."""
        return self.rule_set


def to_profile(name: str, spec: AgentSpec) -> CustomProfile:
    """The profile of agent ``name``."""
    rules = [
        Rule(
            name=rule.name,
            state=State(rule.state),
            pattern=re.compile(rule.pattern),
            reason=rule.reason,
            context=re.compile(rule.context) if rule.context else None,
            unless=re.compile(rule.unless) if rule.unless else None,
        )
        for rule in spec.rules
    ]
    rules.sort(key=lambda rule: PRIORITY[rule.state])
    rule_set = RuleSet(profile=name, region=spec.region, rules=tuple(rules)) if rules else None
    return CustomProfile(
        name=name,
        command=spec.argv(),
        process_names=tuple(spec.process_names),
        install_hint=spec.install_hint or "install it, or give its full path in `command`",
        interrupt_key=spec.interrupt_key,
        enter_delay=spec.enter_delay,
        rule_set=rule_set,
    )


# ---------------------------------------------------------------------------------------------
# Where an error is


_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"-]+)\s*\]")


def line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """The line of an error at ``loc`` (``("agents", name, "rules", i, key)`` or
    ``("agents", name, key)``) in a TOML text; the table's header line when the key is not
    written there."""
    if len(loc) < 2:
        return None
    name = str(loc[1])
    table, index, key = f"agents.{name}", None, loc[2] if len(loc) > 2 else None
    if len(loc) > 3 and loc[2] == "rules" and isinstance(loc[3], int):
        table, index, key = f"agents.{name}.rules", loc[3], loc[4] if len(loc) > 4 else None
    current: tuple[str, int | None] = ("", None)
    counts: dict[str, int] = {}
    header_line: int | None = None
    key_line = re.compile(rf"^\s*{re.escape(str(key))}\s*=") if isinstance(key, str) else None
    for number, raw in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(raw)
        if header:
            found = header.group(2).replace('"', "")
            if header.group(1) == "[[":
                counts[found] = counts.get(found, -1) + 1
                current = (found, counts[found])
            else:
                current = (found, None)
            if current == (table, index) and header_line is None:
                header_line = number
        elif current == (table, index) and key_line and key_line.match(raw):
            return number
    return header_line


def describe(path: Path, text: str, exc: ValidationError) -> str:
    """A validation error of agent tables, one line per problem with its line and field."""
    lines = [f"{path}: the agents are not valid ({exc.error_count()} problem(s)):"]
    for error in exc.errors():
        loc = tuple(error["loc"])
        field = ".".join(str(part) if isinstance(part, str) else f"[{part}]" for part in loc)
        field = field.replace(".[", "[")
        line = line_of(text, loc)
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key; remove it or check its spelling"
        lines.append(f"  {f'line {line}, ' if line else ''}{field}: {message}")
    return "\n".join(lines)


def check_names(path: Path, text: str, names: list[str], built_in: set[str]) -> str | None:
    """The error for an own agent that takes a built-in agent's name, or None."""
    for name in names:
        if name in built_in:
            line = line_of(text, ("agents", name))
            where = f"line {line}, " if line else ""
            return (
                f"{path}: {where}agents.{name}: {name!r} is a built-in agent; "
                "give yours another name"
            )
    return None


# ---------------------------------------------------------------------------------------------
# The user's file and a fleet's record


def user_path() -> Path:
    """Where the user's own agents are looked for."""
    return paths.config_dir() / FILE_NAME


def load_file(path: Path) -> tuple[dict[str, AgentSpec], str]:
    """The agents of a TOML file (none when it does not exist) and its text; ValueError with the
    file, line and field when it is not valid."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return {}, ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the file: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    try:
        return dict(AgentsFile.model_validate(data).agents), text
    except ValidationError as exc:
        raise ValueError(describe(path, text, exc)) from None


def record_path(fleet: str, runtime: Path | None = None) -> Path:
    """Where ``up`` records a fleet's own agents."""
    return (runtime or paths.runtime_dir()) / "fleets" / fleet / RECORD


def record(fleet: str, specs: dict[str, AgentSpec], runtime: Path | None = None) -> None:
    """Record the fleet's own agents for the watcher and the dashboard (nothing when none),
    keeping those recorded before (``new`` brings up one session at a time)."""
    if not specs:
        return
    path = record_path(fleet, runtime)
    paths.ensure_private_dir(path.parent)
    try:
        document = dict(json.loads(path.read_text("utf-8")))
    except (OSError, ValueError, TypeError):
        document = {}
    document.update({name: spec.model_dump() for name, spec in specs.items()})
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(document, indent=2), "utf-8")
    tmp.replace(path)


def recorded(fleet: str, runtime: Path | None = None) -> dict[str, CustomProfile]:
    """The fleet's own agents as ``up`` recorded them (none when unreadable)."""
    try:
        data: Any = json.loads(record_path(fleet, runtime).read_text("utf-8"))
        specs = {str(k): AgentSpec.model_validate(v) for k, v in dict(data).items()}
    except (OSError, ValueError, TypeError):
        return {}
    return {name: to_profile(name, spec) for name, spec in specs.items()}


def own_agents(
    layout_agents: dict[str, AgentSpec], source: Path, text: str, built_in: set[str]
) -> dict[str, AgentSpec]:
    """The agents of the user's own a layout may use: the user's ``agents.toml``, then the
    layout's own tables (which win); ValueError naming the file, line and field of a problem."""
    user, user_text = load_file(user_path())
    for path, body, specs in ((user_path(), user_text, user), (source, text, layout_agents)):
        problem = check_names(path, body, list(specs), built_in)
        if problem:
            raise ValueError(problem)
    return {**user, **layout_agents}
