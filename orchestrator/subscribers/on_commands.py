"""``[[on]]`` tables: a command run on each matching state transition.

A watcher subscriber, registered by the composition root (``cli/watch.py``) with the rules of the
fleet's layout and the user's ``workflow.toml``. A rule matches a transition when each matcher it
has does: ``to`` and ``from`` name states, ``session`` and ``fleet`` names (``*`` and ``?`` as in
shell patterns). Its ``run`` list is the program and its arguments, with ``{session}``,
``{fleet}``, ``{from}``, ``{to}`` and ``{reason}`` replaced in each argument; the same values are
in its environment as ``ORC_SESSION``, ``ORC_FLEET``, ``ORC_FROM``, ``ORC_TO`` and ``ORC_REASON``.

Commands run without a shell, in a small pool of threads (the watcher's loop only queues them),
each in a process group of its own that is killed, children and all, when it outlives its
``timeout``. A command that fails (non-zero exit, a signal, a timeout, a program not found) is
reported in the fleet's log (``watcher.log``) with the end of its output; it never stops the
watcher or the next command.
"""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import os
import signal
import subprocess
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from orchestrator.layout.model import Matcher, OnRule
from orchestrator.watch.model import SessionState, Transition, WatcherHandle

log = logging.getLogger(__name__)

WORKERS = 4
"""Commands that may run at once; more wait in line (a hanging one holds one worker until its
timeout)."""
OUTPUT_TAIL = 400
"""Characters of a failed command's output kept in the log."""


@dataclass(frozen=True)
class Event:
    """What a command is told about the transition that set it off."""

    fleet: str
    session: str
    old: str
    new: str
    reason: str

    def values(self) -> dict[str, str]:
        """Placeholder name -> value."""
        return {
            "session": self.session,
            "fleet": self.fleet,
            "from": self.old,
            "to": self.new,
            "reason": self.reason,
        }

    def environment(self) -> dict[str, str]:
        """The ``ORC_*`` variables added to the command's environment."""
        return {f"ORC_{key.upper()}": value for key, value in self.values().items()}


def _matches(matcher: Matcher | None, value: str, *, pattern: bool) -> bool:
    if matcher is None:
        return True
    options = [matcher] if isinstance(matcher, str) else matcher
    if pattern:
        return any(fnmatch.fnmatchcase(value, option) for option in options)
    return value in options


def matches(rule: OnRule, event: Event) -> bool:
    """Whether every matcher of ``rule`` accepts ``event``."""
    return (
        _matches(rule.to, event.new, pattern=False)
        and _matches(rule.from_, event.old, pattern=False)
        and _matches(rule.session, event.session, pattern=True)
        and _matches(rule.fleet, event.fleet, pattern=True)
    )


def argv(rule: OnRule, event: Event) -> list[str]:
    """The rule's ``run`` with the placeholders filled in (never parsed by a shell)."""
    values = event.values()
    filled = []
    for argument in rule.run:
        for key, value in values.items():
            argument = argument.replace("{" + key + "}", value)
        filled.append(argument)
    return filled


@dataclass(frozen=True)
class Outcome:
    """How one command ended."""

    argv: list[str]
    returncode: int | None
    """Its exit status (negative: killed by that signal; None: it never started)."""
    problem: str = ""
    """Empty when it succeeded; else what went wrong, for the log."""


def run_command(command: list[str], env: dict[str, str], timeout: float) -> Outcome:
    """Run ``command`` (no shell) with ``env`` added to ours; kill its whole process group after
    ``timeout`` seconds."""
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            start_new_session=True,
        )
    except OSError as exc:
        return Outcome(command, None, f"cannot run {command[0]!r}: {exc.strerror or exc}")
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return Outcome(command, process.returncode, f"timed out after {timeout:g}s (killed)")
    if process.returncode == 0:
        return Outcome(command, 0)
    tail = output.decode("utf-8", "replace").strip()[-OUTPUT_TAIL:]
    ended = (
        f"killed by signal {-process.returncode}"
        if process.returncode < 0
        else f"exit status {process.returncode}"
    )
    return Outcome(command, process.returncode, f"{ended}" + (f": {tail}" if tail else ""))


class OnCommands:
    """The subscriber: matches each transition against the rules and queues their commands."""

    def __init__(self, rules: Sequence[OnRule], *, workers: int = WORKERS) -> None:
        self.rules = tuple(rules)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="on")
        self.started: list[Future[Outcome]] = []
        """Every command queued (for tests and diagnostics)."""

    def __call__(self, transition: Transition, state: SessionState) -> None:
        del state
        event = Event(
            transition.fleet, transition.session, transition.old, transition.new, transition.reason
        )
        for rule in self.rules:
            if matches(rule, event):
                command = argv(rule, event)
                future = self.pool.submit(self._run, command, event, rule.timeout)
                self.started.append(future)

    @staticmethod
    def _run(command: list[str], event: Event, timeout: float) -> Outcome:
        outcome = run_command(command, event.environment(), timeout)
        where = f"{event.fleet}/{event.session} {event.old or '-'} -> {event.new}"
        if outcome.problem:
            log.warning("[[on]] command %s for %s failed: %s", command, where, outcome.problem)
        else:
            log.info("[[on]] command %s for %s done", command, where)
        return outcome


def subscribe(watcher: WatcherHandle, rules: Sequence[OnRule]) -> OnCommands | None:
    """Run the ``[[on]]`` commands of ``rules`` on the watcher's transitions (None: no rules)."""
    if not rules:
        return None
    commands = OnCommands(rules)
    watcher.subscribe(commands)
    return commands
