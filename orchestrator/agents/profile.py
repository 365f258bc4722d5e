"""What the tool needs to know of a kind of agent: the base that every agent module fills in.

An agent is one module here (``claude.py``, ``shell.py``, ...) defining an :class:`AgentProfile`,
plus its screen rules beside it (``<name>.toml``, read by :meth:`AgentProfile.rules`). A profile
says how the agent is launched (its default command, our hooks), how to read its hook events, how
to continue one of its conversations, and where it reports its own status. The watcher and the
fleet ask the profile; they know no agent by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from orchestrator.detect.hooks import HookEvent
from orchestrator.detect.model import Signal, State
from orchestrator.detect.reconcile import SessionTracker
from orchestrator.detect.screen import RuleSet, parse_rules


@dataclass(frozen=True)
class AgentProfile:
    """A kind of agent the tool knows how to launch and watch. The base is a plain program."""

    name: str
    command: tuple[str, ...]
    """Default command (argv) when a session gives none; empty means the user's ``$SHELL``."""
    process_names: tuple[str, ...] = ()
    """Process names that identify the agent itself under a wrapper shell."""
    install_hint: str = ""
    """What to tell a user whose PATH lacks the command."""
    hooks: bool = False
    """Whether the agent reports its events through our hook files."""
    resume_flag: str = ""
    """The flag that continues a conversation by its id (empty: the agent cannot resume one)."""
    option_flags: tuple[tuple[str, str], ...] = ()
    """The agent's flag for each session option it supports, as (option, flag) pairs: ``name``
    (display name), ``system_prompt`` (text appended to its system prompt), ``model``,
    ``permission_mode``. A pair per option keeps the profile hashable."""
    permission_modes: tuple[str, ...] = ()
    """The values its ``permission_mode`` flag takes (as the agent's own ``--help`` lists them)."""
    interrupt_key: str = "Escape"
    """The key (tmux ``send-keys`` name) that interrupts the agent's reply."""
    enter_delay: float = 0.2
    """Seconds between typing a prompt and pressing Enter: agents read text and an Enter that
    arrive together as one paste (Claude Code 0.2 s, Codex 0.5 s)."""

    def launch_argv(
        self,
        fleet: str,
        session: str,
        argv: Sequence[str],
        runtime: Path | None = None,
        options: Sequence[str] = (),
    ) -> list[str]:
        """The argv a session of this agent runs: its planned argv, plus whatever wires our
        hooks and the session's ``options`` (see :meth:`option_args`) into it."""
        del fleet, session, runtime, options
        return list(argv)

    def runs_itself(self, argv: Sequence[str]) -> bool:
        """Whether ``argv`` starts the agent's own program (not a wrapper such as ``sh -c``):
        only then do our hooks and the session's options go into it."""
        return bool(argv) and Path(argv[0]).name in self.process_names

    def prompt_pending(self, screen: Sequence[str], text: str) -> bool | None:
        """Whether ``text`` still sits unsent in the agent's input box on this screen (None:
        the agent's screen does not say; the sender then goes by whether the screen moved)."""
        del screen, text
        return None

    def supports(self, option: str) -> bool:
        """Whether the agent takes session option ``option`` (a key of ``option_flags``)."""
        return option in dict(self.option_flags)

    def option_args(self, values: Mapping[str, str | None]) -> list[str]:
        """The flags for the session options given (empty or None values are left out, and so
        are options the agent does not take)."""
        args: list[str] = []
        flags = dict(self.option_flags)
        for option, value in values.items():
            flag = flags.get(option)
            if flag and value:
                args += [flag, value]
        return args

    def launch_env(
        self, fleet: str, session: str, env: Mapping[str, str], runtime: Path | None = None
    ) -> dict[str, str]:
        """Variables the session's pane gets on top of its own environment ``env`` to wire our
        hooks into the agent (none by default)."""
        del fleet, session, env, runtime
        return {}

    def resume_args(self, conversation: str | None) -> list[str]:
        """The arguments that continue ``conversation`` (none when there is nothing to resume)."""
        if not conversation or not self.resume_flag:
            return []
        return [self.resume_flag, conversation]

    def hook_state(self, event: HookEvent) -> tuple[State, str] | None:
        """The state one of the agent's hook events announces, with its reason (None: says
        nothing)."""
        del event
        return None

    def status_folder(self, environ: dict[str, str]) -> Path | None:
        """Where a process of this agent with this environment reports its own status."""
        del environ
        return None

    def status_signal(self, folder: Path, pid: int) -> Signal | None:
        """What the agent's own status report says about process ``pid`` (None: no report)."""
        del folder, pid
        return None

    def version_seen(self, folder: Path) -> str:
        """The agent and version a session was launched with, from its hook folder ("" when
        not known)."""
        del folder
        return ""

    def tracker(self, started: float) -> SessionTracker:
        """A fresh tracker of one session of this agent, whose process started at ``started``."""
        return SessionTracker(rules=self.rules(), started=started, hook_state_of=self.hook_state)

    def rules(self) -> RuleSet | None:
        """The agent's screen rules (``<name>.toml`` beside its module), None when it has none."""
        return _packaged_rules(self.name)


def short(text: str, limit: int = 80) -> str:
    """``text`` on one line, cut to ``limit`` characters: a reason the dashboard can show."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@cache
def _packaged_rules(name: str) -> RuleSet | None:
    resource = resources.files(__package__ or "orchestrator.agents").joinpath(f"{name}.toml")
    if not resource.is_file():
        return None
    return parse_rules(name, resource.read_text("utf-8"))
