"""What a layout file may say: frozen pydantic models that reject unknown keys, and their schema.

Validated once, at the boundary (:mod:`orchestrator.layout.load`); ``layouts/schema.json`` is
generated from these models (``orchestrator schema``).
"""

from __future__ import annotations

import posixpath
import re
import shlex
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

import orchestrator
from orchestrator.agents.custom import AgentSpec
from orchestrator.detect.model import State
from orchestrator.git.worktree import DEFAULT_PREFIX

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
STATES = tuple(state.value for state in State)
"""The state names an ``[[on]]`` table may match (:class:`orchestrator.detect.model.State`)."""
DEFAULT_CHECKIN = "20m"
"""How often a check-in digest comes when neither the layout nor the user config says."""
DEFAULT_MAX_SESSIONS = 5
"""Agent sessions on one tmux server past which ``up`` and ``new`` warn (the workflow's cap)."""
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
HOST_PATTERN = (
    r"^(?:[A-Za-z0-9_][A-Za-z0-9_.+-]*@)?(?:[A-Za-z0-9_][A-Za-z0-9_.-]*|\[[0-9A-Fa-f:.]+\])$"
)
"""An SSH destination: ``box``, ``user@box``, an alias, ``[::1]``; never an option (``-o...``)."""
Host = Annotated[
    str,
    Field(
        pattern=HOST_PATTERN,
        max_length=255,
        description="An SSH destination (user@box, or an alias from ~/.ssh/config).",
    ),
]
_UNSAFE_SSH = re.compile(r"stricthostkeychecking\s*[= ]\s*(no|off)\b", re.IGNORECASE)
Arrange = Literal["tiled", "even-horizontal", "even-vertical", "main-horizontal", "main-vertical"]
Command = str | list[str]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(_Strict):
    """Settings shared by every session; a session's own value wins."""

    agent: str = Field(
        "claude", description="Agent profile: 'claude', 'codex', 'gemini', 'aider' or 'shell'."
    )
    role: str = Field("", description="What the sessions are for, unless a session says.")
    cwd: str = Field(".", description="Working folder, relative to the layout's root.")
    args: list[str] = Field(
        default_factory=list,
        description=(
            "Extra arguments for this [defaults] agent: appended to its default command in the "
            "sessions that run it, never to another agent's or to a session's own command."
        ),
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="Environment for every session (after the top [env])."
    )
    worktree: bool = Field(False, description="Give each session its own git worktree and branch.")
    tell_role: bool = Field(
        True,
        description=(
            "Tell each agent which session it is, its role and the fleet's other sessions "
            "(Claude: --append-system-prompt); false turns it off."
        ),
    )
    instructions: str = Field("", description="Text added to every agent's system prompt.")
    model: str | None = Field(None, description="Model the agent uses (Claude: --model).")
    permission_mode: str | None = Field(
        None, description="Permission mode of the agent (Claude: --permission-mode)."
    )
    host: Host | None = Field(
        None,
        description="SSH destination the sessions run on; left out, they run on this machine.",
    )


class Session(_Strict):
    """One agent session: a named tmux pane running one agent."""

    name: Name = Field(description="Unique name of the session: letters, digits, '-', '_'.")
    role: str | None = Field(
        None, description="What this session is for, shown in status and dashboard."
    )
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
    tell_role: bool | None = Field(
        None,
        description=(
            "Tell the agent its name, role and the fleet's other sessions; defaults to "
            "[defaults].tell_role."
        ),
    )
    instructions: str | None = Field(
        None, description="Text added to this agent's system prompt (after [defaults]')."
    )
    model: str | None = Field(None, description="Model; defaults to [defaults].model.")
    permission_mode: str | None = Field(
        None, description="Permission mode; defaults to [defaults].permission_mode."
    )
    host: Host | None = Field(
        None, description="SSH destination this session runs on; defaults to [defaults].host."
    )
    after: list[Name] = Field(
        default_factory=list,
        description=(
            "Sessions that must each finish a turn (since the fleet came up) before this one "
            "gets its prompt."
        ),
    )
    needs: list[str] = Field(
        default_factory=list,
        description=(
            "Files (relative to the session's folder) that must exist before it gets its "
            "prompt; looked up in its own folder, then in its `after` sessions' folders (and "
            "copied over from there)."
        ),
    )

    @field_validator("needs")
    @classmethod
    def _needs_inside(cls, value: list[str]) -> list[str]:
        for path in value:
            check_needed_path(path)
        return value

    @field_validator("command")
    @classmethod
    def _command_not_empty(cls, value: Command | None) -> Command | None:
        if value is None:
            return value
        argv = split_command(value)
        if not argv:
            raise ValueError("command is empty; remove it to use the agent's default command")
        return value


class HostSettings(_Strict):
    """How to reach one remote host: a ``[hosts.<name>]`` table."""

    ssh: list[str] = Field(
        default_factory=list,
        description=(
            "Extra ssh options, e.g. ['-p', '2222'] or ['-F', '~/.ssh/work_config']; "
            "host keys are always checked (StrictHostKeyChecking=no is refused)."
        ),
    )
    socket: str | None = Field(
        None,
        pattern=NAME_PATTERN,
        description="tmux socket name on that host (tmux -L); default: its default server.",
    )

    @field_validator("ssh")
    @classmethod
    def _checked_host_keys(cls, value: list[str]) -> list[str]:
        joined = " ".join(value)
        if _UNSAFE_SSH.search(joined):
            raise ValueError(
                "StrictHostKeyChecking=no turns off host key checking; remove it and add the "
                "host's key to your known_hosts (ssh once by hand, or ssh-keyscan)"
            )
        return value


Matcher = str | list[str]
"""One value or a list of values; session and fleet names may use ``*`` and ``?`` (fnmatch)."""


class OnRule(_Strict):
    """An ``[[on]]`` table: a command run (without a shell) on matching state transitions."""

    to: Matcher | None = Field(
        None, description="Only transitions into this state (or one of these); default: any."
    )
    from_: Matcher | None = Field(
        None, alias="from", description="Only transitions out of this state (or these)."
    )
    session: Matcher | None = Field(
        None, description="Only these sessions (names, '*' and '?' allowed); default: any."
    )
    fleet: Matcher | None = Field(
        None, description="Only these fleets (names, '*' and '?' allowed); default: any."
    )
    run: list[str] = Field(
        description=(
            "The program and its arguments, run without a shell; {session}, {fleet}, {from}, "
            "{to} and {reason} are replaced in each argument."
        ),
    )
    timeout: float = Field(
        10.0, gt=0, le=3600, description="Seconds the command may run before it is killed."
    )

    @field_validator("to", "from_")
    @classmethod
    def _known_states(cls, value: Matcher | None) -> Matcher | None:
        for name in [value] if isinstance(value, str) else value or []:
            if name not in STATES:
                raise ValueError(f"unknown state {name!r}; use one of: {', '.join(STATES)}")
        return value

    @field_validator("run")
    @classmethod
    def _run_not_empty(cls, value: list[str]) -> list[str]:
        if not value or not value[0].strip():
            raise ValueError(
                "run is empty; give the program and its arguments, "
                'e.g. ["notify-send", "{session}"]'
            )
        return value


class Workflow(_Strict):
    """Check-ins, the session cap and ``[[on]]`` commands: in a layout or the user's
    ``workflow.toml``."""

    checkin: str | None = Field(
        None,
        description=(
            "How often a check-in digest comes: a duration such as '20m', '90s' or '1h30m', "
            f"or 'off'. Default: the user config's, else {DEFAULT_CHECKIN}."
        ),
    )
    max_sessions: int | None = Field(
        None,
        ge=1,
        description=(
            "Agent sessions on the tmux server past which up and new warn. Default: the user "
            f"config's, else {DEFAULT_MAX_SESSIONS}."
        ),
    )
    on: list[OnRule] = Field(
        default_factory=list, description="Commands run on matching state transitions."
    )

    @field_validator("checkin")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            checkin_seconds(value)
        return value


def checkin_seconds(value: str) -> float | None:
    """A ``checkin`` value in seconds (None: ``off``); ValueError when it is not a duration."""
    text = value.strip().lower()
    if text == "off":
        return None
    match = _DURATION.match(text)
    if not text or match is None:
        raise ValueError(f"not a duration: {value!r}; write e.g. '20m', '90s', '1h30m' or 'off'")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ValueError("the check-in interval must be longer than 0s; write 'off' to disable")
    return float(total)


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


class Layout(Workflow):
    """A fleet of agent sessions, as written in a layout file."""

    name: Name = Field(description="The fleet's name; also its tmux session name.")
    description: str = Field("", description="What this fleet is for.")
    root: str | None = Field(
        None,
        description=(
            "Base folder for relative cwd. A relative root starts at this file's folder; "
            "left out, the base is the folder the command runs in."
        ),
    )
    arrange: Arrange = Field("tiled", description="tmux layout of the agents' window.")
    env: dict[str, str] = Field(default_factory=dict, description="Environment for every session.")
    defaults: Defaults = Field(default_factory=Defaults, description="Defaults for all sessions.")
    agents: dict[str, AgentSpec] = Field(
        default_factory=dict,
        description=(
            "Agents of your own, by name: [agents.NAME] with command, process_names and screen "
            "rules ([[agents.NAME.rules]]), as in the user's agents.toml."
        ),
    )
    worktrees: Worktrees = Field(
        default_factory=Worktrees,
        description="Branch prefix, base and folder for sessions with worktree = true.",
    )
    sessions: list[Session] = Field(
        min_length=1, description="The sessions, in pane order; names must be unique."
    )
    hosts: dict[str, HostSettings] = Field(
        default_factory=dict,
        description="How to reach the remote hosts sessions name in `host` (optional per host).",
    )

    @field_validator("hosts")
    @classmethod
    def _host_names(cls, value: dict[str, HostSettings]) -> dict[str, HostSettings]:
        for name in value:
            if not re.match(HOST_PATTERN, name):
                raise ValueError(
                    f"{name!r} is not an SSH destination; write a host name, an alias or "
                    "user@host (letters, digits, '.', '-', '_')"
                )
        return value


def check_needed_path(path: str) -> str:
    """A ``needs`` path, normalised; ValueError if it is empty, absolute or leaves the folder."""
    if not path.strip():
        raise ValueError("an empty path; name a file relative to the session's folder")
    if posixpath.isabs(path) or path.startswith("~"):
        raise ValueError(
            f"{path!r} is not relative; name the file relative to the session's folder"
        )
    normal = posixpath.normpath(path)
    if normal == "." or normal == ".." or normal.startswith("../"):
        raise ValueError(
            f"{path!r} leaves the session's folder; name a file inside it (e.g. 'findings.md')"
        )
    return normal


def split_command(command: Command) -> list[str]:
    """Turn a layout ``command`` into an argument list without involving a shell."""
    if isinstance(command, list):
        return list(command)
    return shlex.split(command)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of layout files, for editors (written to ``layouts/schema.json``)."""
    schema = Layout.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "orchestrator layout"
    return schema
