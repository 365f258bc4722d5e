"""Agent profiles: what each kind of agent runs by default and how to recognise it.

A profile is data. The detection rules for a profile's screens live with the detection code, keyed
by the profile's name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AgentProfile:
    """A kind of agent the tool knows how to launch and watch."""

    name: str
    command: tuple[str, ...]
    """Default command (argv) when a session gives none; empty means the user's ``$SHELL``."""
    process_names: tuple[str, ...] = ()
    """Process names that identify the agent itself under a wrapper shell."""
    install_hint: str = ""
    """What to tell a user whose PATH lacks the command."""
    hooks: bool = False
    """Whether the agent takes Claude Code style hooks through a ``--settings`` file."""


CLAUDE = AgentProfile(
    name="claude",
    command=("claude",),
    process_names=("claude",),
    install_hint=(
        "install Claude Code (`npm install -g @anthropic-ai/claude-code`), or use "
        '`agent = "shell"` with a `command`'
    ),
    hooks=True,
)

SHELL = AgentProfile(
    name="shell",
    command=(),  # the user's $SHELL
    install_hint="give the full path of the program in `command`",
)

PROFILES: dict[str, AgentProfile] = {profile.name: profile for profile in (CLAUDE, SHELL)}
