"""The README's quick-start install works with the system Python of a stock Debian/Ubuntu.

Such a Python is "externally managed" (PEP 668): `python3 -m pip install .` is refused, so the
README's first command must install into an environment of its own. These tests run that command
exactly as README.md writes it, as a fresh user would: HOME and the XDG folders in a temporary
folder, the system's default PATH (no project `.venv`, no pyenv), so `python3` is the system's
`/usr/bin/python3`.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = Path("/usr/bin/python3")
# PATH of a fresh Debian login whose ~/.local/bin does not exist yet (so it is not on PATH).
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# How this machine reaches PyPI (proxies, CA bundle, pip's index settings) is passed through; the
# user's own pip.conf is not, since HOME is fresh.
PASSED_THROUGH = re.compile(
    r"(PIP_.*|(HTTPS?|NO|ALL)_PROXY|(https?|no|all)_proxy|SSL_CERT_(FILE|DIR)|REQUESTS_CA_BUNDLE"
    r"|LANG|LC_ALL|TMPDIR)"
)


def quick_start_command() -> str:
    """The first shell block of README.md's "Quick start" section."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    assert blocks, "README.md's Quick start has no sh block"
    command: str = blocks[0].strip()
    return command


def split_quick_start() -> tuple[str, str]:
    """(install part, launch part) of `INSTALL && LAUNCH up`."""
    command = quick_start_command()
    install, sep, launch = command.rpartition(" && ")
    assert sep, f"expected 'INSTALL && ... up' in the README, got {command!r}"
    assert launch.endswith(" up"), f"the quick start should end by launching a fleet: {command!r}"
    return install, launch


def system_python_ok() -> bool:
    if not SYSTEM_PYTHON.exists():
        return False
    proc = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import sys; sys.exit(sys.version_info < (3, 11))"],
        check=False,
    )
    return proc.returncode == 0


needs_system_python = pytest.mark.skipif(
    not system_python_ok(), reason="needs a system Python 3.11+ at /usr/bin/python3"
)


def fresh_user_env(home: Path, path: str = SYSTEM_PATH) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if PASSED_THROUGH.fullmatch(key)}
    env.update(
        HOME=str(home),
        PATH=path,
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local/state"),
        # Not the default, to see that the script honours it.
        XDG_DATA_HOME=str(home / "xdg-data"),
    )
    return env


def sh(
    command: str, env: dict[str, str], cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", "-c", command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


def externally_managed_marker() -> Path | None:
    """The EXTERNALLY-MANAGED file of the system Python (PEP 668), if it has one."""
    proc = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    marker = Path(proc.stdout.strip()) / "EXTERNALLY-MANAGED"
    return marker if marker.exists() else None


@needs_system_python
def test_system_python_refuses_pip_install() -> None:
    """Why the README cannot say `python3 -m pip install .`: pip refuses on this machine."""
    marker = externally_managed_marker()
    if marker is None:
        pytest.skip("the system Python here is not externally managed (no EXTERNALLY-MANAGED)")
    has_pip = subprocess.run(
        [str(SYSTEM_PYTHON), "-m", "pip", "--version"], capture_output=True, check=False
    )
    if has_pip.returncode != 0:
        pytest.skip("the system Python has no pip at all (no python3-pip): refused either way")
    # --dry-run so that nothing is installed should the refusal ever be missing; pip makes the
    # PEP 668 check before anything else, dry run or not (only --dry-run --report skips it).
    proc = subprocess.run(
        [str(SYSTEM_PYTHON), "-m", "pip", "install", "--dry-run", "."],
        cwd=REPO,
        env=fresh_user_env(Path("/nonexistent")),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0, explain(proc)
    assert "externally-managed-environment" in proc.stderr, explain(proc)


@pytest.mark.slow
@pytest.mark.timeout(900)  # two installs, the first from PyPI
@needs_system_python
def test_readme_quick_start_installs_with_the_system_python(tmp_path: Path) -> None:
    install, launch = split_quick_start()
    home = tmp_path / "home"
    home.mkdir()
    elsewhere = tmp_path / "work"  # not the clone, so only the installed files are seen
    elsewhere.mkdir()
    env = fresh_user_env(home)
    which = sh("command -v python3", env, REPO)
    assert which.stdout.strip() == str(SYSTEM_PYTHON), explain(which)

    started = time.monotonic()
    proc = sh(install, env, REPO)
    first_install = time.monotonic() - started
    assert proc.returncode == 0, f"{install!r} failed:\n{explain(proc)}"

    venv = home / "xdg-data/orchestrator/venv"
    bin_dir = home / ".local/bin"
    for name in ("orchestrator", "orc"):
        assert (bin_dir / name).resolve() == (venv / "bin" / name).resolve()
    base = sh("bin/python -c 'import sys; print(sys.base_prefix)'", env, venv)
    assert base.stdout.strip() == "/usr", explain(base)

    # The README's own launch command, as written, with --version in place of `up`.
    version = sh(launch.removesuffix(" up") + " --version", env, elsewhere)
    assert version.returncode == 0, explain(version)
    assert re.fullmatch(r"orchestrator \S+\n", version.stdout), explain(version)

    # ~/.local/bin is not on this PATH: the script says so and prints the line to add.
    export_lines = [line.strip() for line in proc.stdout.splitlines() if "export PATH=" in line]
    assert len(export_lines) == 1, explain(proc)
    for command in ("orchestrator --version", "orc --help", "orc layouts"):
        run = sh(f"{export_lines[0]} && {command}", env, elsewhere)
        assert run.returncode == 0, f"{command}:\n{explain(run)}"
    layouts = sh(f"{export_lines[0]} && orc layouts", env, elsewhere)
    assert "built-in" in layouts.stdout, explain(layouts)  # the wheel carries the layouts
    assert str(venv) in layouts.stdout, explain(layouts)

    # Run again (with ~/.local/bin on PATH now): upgrades the same environment in place.
    (venv / "kept").write_text("")
    env["PATH"] = f"{bin_dir}:{SYSTEM_PATH}"
    started = time.monotonic()
    again = sh(install, env, REPO)
    second_install = time.monotonic() - started
    assert again.returncode == 0, explain(again)
    assert (venv / "kept").exists(), "the environment was made afresh instead of upgraded"
    assert "export PATH=" not in again.stdout, explain(again)
    assert sh("orc --version", env, elsewhere).stdout == version.stdout
    print(f"install: {first_install:.1f} s fresh, {second_install:.1f} s again")


@needs_system_python
def test_install_without_venv_module_says_what_to_install(tmp_path: Path) -> None:
    """Simulated: a Debian Python without python3-venv has no `ensurepip` module."""
    install, _ = split_quick_start()
    fake = tmp_path / "no-ensurepip"
    (fake / "ensurepip").mkdir(parents=True)
    (fake / "ensurepip/__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'ensurepip'\")\n"
    )
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "python3").write_text(f'#!/bin/sh\nPYTHONPATH={fake} exec {SYSTEM_PYTHON} "$@"\n')
    (shim / "python3").chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    env = fresh_user_env(home, path=f"{shim}:{SYSTEM_PATH}")

    proc = sh(install, env, REPO, timeout=60)
    assert proc.returncode != 0, explain(proc)
    assert "sudo apt install python3 python3-venv" in proc.stderr, explain(proc)
    assert not (home / "xdg-data/orchestrator").exists()
    assert not (home / ".local/bin/orchestrator").exists()
