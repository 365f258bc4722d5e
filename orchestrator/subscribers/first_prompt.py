"""A layout's ``prompt``: typed into a session once its agent is first ready (idle).

A watcher subscriber. Each run of an agent gets its layout prompt once: "this run" is the pane's
``@orc_started`` time, and a ``layout`` prompt recorded in the history since then means it was
sent. The history row is written before the keys are typed, so a watcher killed in between never
types it twice (at most once, rather than at least once: a prompt typed twice is work done
twice). A resumed conversation (``@orc_resumed``) had its prompt in an earlier run and gets none. A
session added with ``orchestrator new --prompt`` carries its prompt on its pane instead.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from orchestrator.detect.model import State
from orchestrator.fleet import keys
from orchestrator.fleet.adhoc import pane_prompt
from orchestrator.layout import load as layout
from orchestrator.store.db import Store
from orchestrator.tmux.client import Tmux, tag
from orchestrator.tmux.panes import PaneInfo
from orchestrator.watch.model import SessionState, Transition, WatcherHandle

log = logging.getLogger(__name__)

SOURCE = "layout"
"""The ``source`` of layout prompts this module sends, in the history."""
NEW_SOURCE = "new"
"""The ``source`` of the first prompts of sessions added with ``orchestrator new``."""


def send_keys(tmux: Tmux, pane: PaneInfo, text: str) -> None:
    """Type ``text`` into the pane and press Enter (see :mod:`orchestrator.fleet.keys`)."""
    keys.type_prompt(tmux, [pane], text)


class FirstPrompts:
    """Sends each session's layout prompt on its first idle; subscribe with :func:`subscribe`."""

    def __init__(self, watcher: WatcherHandle, store: Store) -> None:
        self.watcher = watcher
        self.store = store
        self._prompts: dict[str, str] | None = None
        self._in_layout: set[str] = set()
        self._pane_prompts: dict[str, str] = {}
        self.threads: list[threading.Thread] = []

    def prompts(self) -> dict[str, str]:
        """Each session's layout prompt, read once from the fleet's layout file."""
        if self._prompts is None:
            self._prompts = {}
            fleet = self.watcher.fleet
            rows = self.watcher.tmux.query(
                ["display-message", "-p", "-t", f"={fleet}:"], (tag("layout"), tag("root"))
            )
            source = rows[0].get(tag("layout"), "") if rows else ""
            root = rows[0].get(tag("root"), "") if rows else ""
            if source:
                try:
                    # Resolved where `up` resolved it (a layout without `root` starts there).
                    plan = layout.load_fleet(
                        source, check_commands=False, here=Path(root) if root else None
                    )
                except Exception:
                    log.exception("cannot read the layout %s for its prompts", source)
                else:
                    self._in_layout = {s.name for s in plan.sessions}
                    # A session with `after`/`needs` gets its prompt from the pipeline runner.
                    self._prompts = {
                        s.name: s.prompt for s in plan.sessions if s.prompt and not s.waits
                    }
        return self._prompts

    def __call__(self, transition: Transition, state: SessionState) -> None:
        """On a session's transition to idle, send its layout prompt if this run has not had it."""
        del state
        if transition.new != State.IDLE.value:
            return
        name = transition.session
        text = self.prompts().get(name)
        pane = self.watcher.pane(name)
        if pane is None or pane.resumed:
            return
        source = SOURCE
        if not text and name not in self._in_layout:
            # A session added with `orchestrator new` carries its first prompt on its pane.
            if pane.pane_id not in self._pane_prompts:
                self._pane_prompts[pane.pane_id] = pane_prompt(self.watcher.tmux, pane.pane_id)
            text, source = self._pane_prompts[pane.pane_id], NEW_SOURCE
        if not text:
            return
        started = pane.started or 0.0
        sent = self.store.prompts(name, fleet=self.watcher.fleet)
        if any(p.source in (SOURCE, NEW_SOURCE) and p.at >= started for p in sent):
            return
        self.store.add_prompt(self.watcher.fleet, name, text, source=source)
        log.info("sending the layout prompt to %s", name)
        # Typed from a thread: the Enter delay must not hold up the watcher's round.
        thread = threading.Thread(target=self._send, args=(pane, text), name=f"prompt-{name}")
        thread.daemon = True
        thread.start()
        self.threads.append(thread)

    def _send(self, pane: PaneInfo, text: str) -> None:
        try:
            send_keys(self.watcher.tmux, pane, text)
        except Exception:
            log.exception("sending the layout prompt to pane %s failed", pane.pane_id)


def subscribe(watcher: WatcherHandle, store: Store) -> FirstPrompts:
    """Send layout prompts from ``watcher``, recording them in ``store``."""
    sender = FirstPrompts(watcher, store)
    watcher.subscribe(sender)
    return sender
