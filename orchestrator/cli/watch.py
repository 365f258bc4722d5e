"""``orchestrator watch``: the watcher with its subscribers, composed and run in the foreground.

The one place that knows both the watcher and every subscriber: it builds the
:class:`~orchestrator.watch.watcher.Watcher`, opens the history, registers the history recorder,
first prompts, the pipeline runner, notifications and ``[[on]]`` commands, starts the check-in
clock, and turns SIGTERM and SIGHUP into a clean stop.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

from orchestrator import paths
from orchestrator.layout import load, user
from orchestrator.runtime import LockHeld
from orchestrator.store import history
from orchestrator.store.db import Store
from orchestrator.subscribers import (
    checkin,
    first_prompt,
    looks,
    notify,
    notify_settings,
    on_commands,
    pipeline,
)
from orchestrator.subscribers.history import record_history
from orchestrator.tmux.client import Tmux
from orchestrator.watch.watcher import Watcher

log = logging.getLogger(__name__)


def _workflow_settings(layout_path: str | None) -> user.Settings:
    """Check-ins and ``[[on]]`` rules from the fleet's layout and the user's ``workflow.toml``;
    a file that no longer validates is logged and left out (``up`` refuses it beforehand)."""
    from orchestrator.errors import LayoutError

    layout_model = user_model = None
    if layout_path:
        try:
            layout_model = load.load_layout(Path(layout_path))
        except LayoutError as exc:
            log.warning("workflow settings of the layout left out: %s", exc)
    try:
        user_model = user.load_user_workflow()
    except LayoutError as exc:
        log.warning("workflow settings of the user left out: %s", exc)
    return user.settings(layout_model, user_model)


def run_watcher(tmux: Tmux, fleet: str) -> int:
    """Entry point of ``orchestrator watch``: watch until the fleet ends or a signal arrives.

    Refuses to start (exit 2) while the notification settings do not validate, as ``up`` does.
    """
    settings = notify_settings.SettingsFile()
    if (problem := settings.current().error) is not None:
        raise problem
    watcher = Watcher(tmux, fleet)
    paths.ensure_private_dir(watcher.folder)
    logging.getLogger("watchfiles").setLevel(logging.WARNING)
    logging.basicConfig(
        filename=watcher.folder / "watcher.log",
        level=logging.DEBUG if os.environ.get("ORCHESTRATOR_DEBUG") else logging.INFO,
        format="%(asctime)s %(process)d %(levelname)s %(message)s",
    )
    log.info("watching fleet %s (tmux %s)", fleet, " ".join(tmux.base_args()))
    store = Store()
    log.info("history in %s", store.path)
    if (recovered := history.recovery_message(store)) is not None:
        log.warning("%s", recovered)
        print(f"orchestrator: {recovered}", file=sys.stderr, flush=True)
    rows = tmux.query(["display-message", "-p", "-t", f"={fleet}:"], ("@orc_layout",))
    layout_path = rows[0].get("@orc_layout") if rows else None
    store.upsert_fleet(fleet, Path(layout_path) if layout_path else None)
    record_history(watcher, store)
    first_prompt.subscribe(watcher, store)
    runner = pipeline.subscribe(watcher, store.path)
    if notify_settings.ENV_VAR in os.environ:  # `up` always passes it; by hand, when set
        notify_settings.record_switch(tmux, fleet)
    notifier = notify.subscribe(watcher, settings)
    looks.subscribe(watcher)
    workflow = _workflow_settings(layout_path)
    on_commands.subscribe(watcher, workflow.rules)
    checkin.start(tmux, fleet, workflow.checkin, notifier)
    signal.signal(signal.SIGTERM, lambda *_: watcher.stop())
    signal.signal(signal.SIGHUP, lambda *_: watcher.stop())
    try:
        watcher.run()
    except LockHeld as exc:
        print(f"orchestrator: {exc}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        runner.stop()
        store.close()
    return 0
