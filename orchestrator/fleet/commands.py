"""The tmux commands that build a fleet: each pane's folder, environment, command and tags, and
the options of the fleet's tmux session and agents window.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence

from orchestrator import paths
from orchestrator.fleet import handoff
from orchestrator.fleet import worktrees as session_worktrees
from orchestrator.layout.plan import Fleet, SessionPlan
from orchestrator.tmux.client import TmuxCommand, escape_format, tag

AGENTS_WINDOW = "agents"


DASHBOARD_WINDOW = "dashboard"


DEFAULT_SIZE = (200, 50)


def session_env(fleet: Fleet, plan: SessionPlan) -> dict[str, str]:
    """The environment a session's pane gets on top of the tmux server's."""
    env = dict(plan.env)
    env.update(plan.agent.launch_env(fleet.name, plan.name, plan.env))
    env["ORCHESTRATOR_FLEET"] = fleet.name
    env["ORCHESTRATOR_SESSION"] = plan.name
    return env


def command_args(argv: Sequence[str]) -> list[str]:
    # With two or more arguments tmux runs the program directly; a single argument would be
    # handed to `sh -c` as shell code, so it is quoted to stay one word.
    if len(argv) == 1:
        return [shlex.quote(argv[0])]
    return list(argv)


def pane_spec(
    fleet: Fleet, plan: SessionPlan, resume_id: str | None = None
) -> tuple[list[str], list[str]]:
    """The ``-c/-e`` options and the command for a session's pane."""
    env = session_env(fleet, plan)
    options = plan.agent.option_args(
        {
            "name": plan.name,
            "system_prompt": plan.system_prompt,
            "model": plan.model,
            "permission_mode": plan.permission_mode,
        }
    )
    argv = [
        *plan.agent.launch_argv(fleet.name, plan.name, plan.argv, options=options),
        *plan.agent.resume_args(resume_id),
    ]
    if "PATH" in env:
        # tmux (3.3a spawn.c) gives a new pane the PATH of the tmux client that asked for it,
        # over any `-e PATH=`, and looks the program up there; `env` puts the session's PATH
        # back and finds the program through it, as `validate` did.
        argv = ["/usr/bin/env", f"PATH={env['PATH']}", *argv]
    pane_options = ["-c", escape_format(str(plan.cwd))]
    for key, value in env.items():
        pane_options += ["-e", f"{key}={value}"]
    return pane_options, ["--", *command_args(argv)]


def tag_pane(
    target: str, fleet: Fleet, plan: SessionPlan, resume_id: str | None = None
) -> list[TmuxCommand]:
    tags = {
        "fleet": fleet.name,
        "session": plan.name,
        "kind": "agent",
        "role": " ".join(plan.role.split()),
        "agent": plan.agent.name,
        "cwd": str(plan.cwd),
        "started": f"{time.time():.3f}",
        # The conversation this run continues: its layout prompt was sent in an earlier run.
        "resumed": (resume_id or "") if plan.agent.resume_args(resume_id) else "",
    }
    commands: list[TmuxCommand] = [
        ["set-option", "-p", "-t", target, tag(key), value] for key, value in tags.items()
    ]
    commands += session_worktrees.tag_commands(target, plan)
    # Until the pipeline runner in the watcher says otherwise, a waiting session waits for all
    # of it; a resumed conversation had its prompt in an earlier run and waits for nothing.
    waits = plan.waits and not tags["resumed"]
    commands.append(handoff.tag_command(target, [*plan.after, *plan.needs] if waits else []))
    commands.append(["select-pane", "-t", target, "-T", escape_format(plan.name)])
    return commands


def session_options(name: str, source: str, root: str = "") -> list[TmuxCommand]:
    target = f"={name}:"
    waiting = "#{?@orc_waiting,#[reverse] needs you: #{@orc_waiting} #[noreverse] ,}"
    return [
        ["set-option", "-t", target, tag("fleet"), name],
        ["set-option", "-t", target, tag("layout"), source],
        # The layout's base folder as `up` resolved it: a layout without `root` starts where
        # `up` ran, and a later `restart` or `up` from elsewhere must start there too.
        ["set-option", "-t", target, tag("root"), root],
        ["set-option", "-t", target, tag("runtime"), str(paths.runtime_dir())],
        # Claude Code asks for focus events (it prints a hint without them); a server option.
        ["set-option", "-s", "focus-events", "on"],
        # The names of the sessions awaiting input, on the status line of every window.
        ["set-option", "-t", target, "status-right", f"{waiting}%H:%M"],
        ["set-option", "-t", target, "status-right-length", "80"],
        ["set-option", "-t", target, "status-interval", "2"],
        # tmux's default status-left, "[#{session_name}] ", is cut at 10 columns: room for the
        # whole fleet name, and never less than tmux's own default.
        ["set-option", "-t", target, "status-left-length", str(max(10, len(f"[{name}] ")))],
    ]


def window_options(target: str) -> list[TmuxCommand]:
    return [
        ["set-option", "-w", "-t", target, "remain-on-exit", "on"],
        ["set-option", "-w", "-t", target, "pane-border-status", "top"],
        [
            "set-option",
            "-w",
            "-t",
            target,
            "pane-border-format",
            " #{?@orc_session,#{@orc_session},#{pane_title}}"
            "#{?@orc_state, [#{@orc_state}],} #{?pane_dead,(exit #{pane_dead_status}) ,}",
        ],
        # Agents set their terminal title; where tmux can refuse that (3.4+), keep the session's
        # name as the pane title. -q: older tmux does not know the option.
        ["set-option", "-q", "-w", "-t", target, "allow-set-title", "off"],
    ]
