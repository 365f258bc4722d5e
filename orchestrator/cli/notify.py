"""``orchestrator notify check``: the notification settings, validated, and what is in force."""

from __future__ import annotations

import argparse

from orchestrator.cli.common import CommandFactory


def add_commands(command: CommandFactory) -> None:
    """Declare the notification commands."""
    notify = command(
        "notify",
        "Check the notification settings (notify.toml) and show those in force.",
        _notify,
    )
    notify.add_argument(
        "action",
        choices=["check"],
        help="check: validate the settings file (exit 2 naming the line and key when it is not "
        "valid) and print the settings in force",
    )


def _notify(args: argparse.Namespace) -> int:
    from orchestrator.subscribers import notify_settings

    del args
    path = notify_settings.settings_path()
    settings = notify_settings.load(path)  # a SettingsError exits 2 with the line and key
    if path.is_file():
        print(f"{path}: ok")
    else:
        print(f"{path}: no such file; the defaults apply")
    for key, value in settings.model_dump().items():
        shown = str(value).lower() if isinstance(value, bool) else f"{value:g}"
        print(f"  {key} = {shown}")
    if notify_settings.switched_off():
        variable = notify_settings.ENV_VAR
        print(f"  ({variable} turns notifications off here, whatever the file says)")
    return 0
