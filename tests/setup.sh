#!/usr/bin/env bash
# Installs everything the test suite needs, on a fresh machine or an old one:
#   - tmux 3.2+, git and openssh-server (Debian/Ubuntu packages, when missing; the remote-host tests
#     start their own sshd on 127.0.0.1, never the system's service),
#   - the package with its dev tools in ./.venv,
#   - the Claude Code CLI pinned in tests/claude-cli (the end-to-end tests drive it for real,
#     against a scripted API server on 127.0.0.1), and an older one in tests/claude-cli-2.0 (the
#     rule tests read its recorded screens too),
#   - the other agents the end-to-end tests drive the same way: Codex CLI (tests/codex-cli) and
#     Gemini CLI (tests/gemini-cli) from npm, aider in its own venv (tests/aider-cli/venv).
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

have_tmux() {
    command -v tmux >/dev/null 2>&1 || return 1
    local v
    v=$(tmux -V | sed -E 's/[^0-9]*([0-9]+)\.([0-9]+).*/\1 \2/')
    set -- $v
    [ "${1:-0}" -gt 3 ] || { [ "${1:-0}" -eq 3 ] && [ "${2:-0}" -ge 2 ]; }
}

missing=()
have_tmux || missing+=(tmux)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1; then
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        echo "setup: installing ${missing[*]} with apt-get"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "setup: please install: ${missing[*]} (tmux must be 3.2 or newer)" >&2
        exit 1
    fi
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'

if [ ! -x tests/claude-cli/node_modules/.bin/claude ]; then
    npm ci --prefix tests/claude-cli --no-audit --no-fund --loglevel=error
fi
for agent in codex gemini; do
    if [ ! -x "tests/$agent-cli/node_modules/.bin/$agent" ]; then
        npm ci --prefix "tests/$agent-cli" --no-audit --no-fund --loglevel=error
    fi
done
# An older Claude Code too (the last 2.0.x), to record its screens (version drift).
if [ ! -x tests/claude-cli-2.0/node_modules/.bin/claude ]; then
    npm ci --prefix tests/claude-cli-2.0 --no-audit --no-fund --loglevel=error
fi
if [ ! -x tests/aider-cli/venv/bin/aider ]; then
    python3 -m venv tests/aider-cli/venv
    tests/aider-cli/venv/bin/python -m pip install --quiet --disable-pip-version-check \
        -r tests/aider-cli/requirements.txt
fi
echo "setup: ready ($(tmux -V), Claude Code $(tests/claude-cli/node_modules/.bin/claude --version 2>/dev/null | cut -d" " -f1), Codex $(tests/codex-cli/node_modules/.bin/codex --version 2>/dev/null | awk '{print $NF}'), Gemini CLI $(tests/gemini-cli/node_modules/.bin/gemini --version 2>/dev/null), $(tests/aider-cli/venv/bin/aider --version 2>/dev/null), $(.venv/bin/python --version))"
