"""What a layout file may say: frozen pydantic models that reject unknown keys, and their schema.

Validated once, at the boundary (:mod:`orchestrator.layout.load`); ``layouts/schema.json`` is
generated from these models (``orchestrator schema``).
"""

from __future__ import annotations

import shlex
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

import orchestrator
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


def json_schema() -> dict[str, Any]:
    """The JSON Schema of layout files, for editors (written to ``layouts/schema.json``)."""
    schema = Layout.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "orchestrator layout"
    return schema
