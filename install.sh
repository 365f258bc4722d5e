#!/bin/sh
# Installs orchestrator from this clone into a virtual environment of its own and links the
# `orchestrator` and `orc` commands into ~/.local/bin. It never installs into the system Python,
# so it works where `pip install` is refused (PEP 668, "externally-managed-environment", as on
# Debian 12 and Ubuntu 23.04 or newer). Run it again, e.g. after `git pull`, to upgrade in place.
#
#   PYTHON         the Python to build the environment with (default: python3; 3.11 or newer)
#   XDG_DATA_HOME  the environment goes to $XDG_DATA_HOME/orchestrator/venv
#                  (default: ~/.local/share/orchestrator/venv)
#
# Uninstall: rm ~/.local/bin/orchestrator ~/.local/bin/orc and that venv folder.
set -eu

say() { printf 'install.sh: %s\n' "$*"; }
die() {
    printf 'install.sh: %s\n' "$*" >&2
    exit 1
}

[ -n "${HOME:-}" ] || die "HOME is not set"
src=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
[ -f "$src/pyproject.toml" ] || die "no pyproject.toml next to install.sh (in $src)"
python=${PYTHON:-python3}
venv=${XDG_DATA_HOME:-$HOME/.local/share}/orchestrator/venv
bin=$HOME/.local/bin
apt_hint="on Debian/Ubuntu: sudo apt install python3 python3-venv"

command -v "$python" >/dev/null 2>&1 || die "$python not found: install Python 3.11 or newer ($apt_hint)"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    die "$("$python" -V 2>&1) is too old: orchestrator needs Python 3.11 or newer (PYTHON=/path/to/python3.11 $0 picks another)"

# An environment from an earlier run is reused (upgrade in place) when it still works; one whose
# Python is gone (e.g. after a distribution upgrade) or that was left half-made is made afresh.
if "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    say "upgrading the environment in $venv"
else
    if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        v=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
        die "$python cannot create virtual environments (no venv/ensurepip module); $apt_hint (or python$v-venv)"
    fi
    say "creating a virtual environment in $venv"
    mkdir -p "$(dirname -- "$venv")"
    "$python" -m venv --clear "$venv" ||
        die "could not create $venv with $python; $apt_hint"
fi

say "installing orchestrator from $src (dependencies come from PyPI; this can take a minute the first time)"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$src" ||
    die "pip could not install orchestrator into $venv (see above)"

mkdir -p "$bin"
for name in orchestrator orc; do
    target=$venv/bin/$name
    link=$bin/$name
    [ -x "$target" ] || die "the install made no $target"
    if [ -e "$link" ] && [ ! -L "$link" ]; then
        die "$link exists and is not a link (from an earlier 'pip install --user'?); remove it and run $0 again"
    fi
    ln -sf "$target" "$link"
done
say "installed $("$bin/orchestrator" --version); linked orchestrator and orc into $bin"

case ":${PATH:-}:" in
*":$bin:"*)
    found=$(command -v orchestrator || true)
    if [ "$found" != "$bin/orchestrator" ]; then
        say "note: 'orchestrator' on your PATH is $found, which comes before $bin"
    fi
    ;;
*)
    say "$bin is not on your PATH (a Debian/Ubuntu login adds it once the folder exists)."
    say "Until your next login, run $bin/orchestrator, or add this line to ~/.profile and run it now:"
    printf '    export PATH="$HOME/.local/bin:$PATH"\n'
    ;;
esac
