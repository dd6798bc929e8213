#!/usr/bin/env bash
# The whole test suite, on a fresh machine or CI: installs what the tests need, runs them, and
# stops what it started. Usage: tests/run.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=never
# Terraform, when present, must never reach out to the network from tests.
export TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
# Snapshots are compared, never rewritten, here.
export INSTA_UPDATE=no

if ! command -v cargo >/dev/null 2>&1; then
  echo "tests/run.sh: cargo is required (https://rustup.rs)" >&2
  exit 1
fi
if command -v terraform >/dev/null 2>&1; then
  echo "tests/run.sh: using $(terraform version | head -n1)"
else
  echo "tests/run.sh: no terraform on PATH: tests that run it print SKIP (Terraform >= 1.4 is not in the package registries this machine reaches)"
fi
command -v pkill >/dev/null 2>&1 || echo "tests/run.sh: pkill not found; the crash test kills less precisely"

# tmux drives the real console in tests/tui_e2e.rs.
if ! command -v tmux >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "tests/run.sh: installing tmux"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux) >/dev/null 2>&1 \
      || echo "tests/run.sh: could not install tmux: the console end-to-end test will print SKIP"
  else
    echo "tests/run.sh: no tmux: the console end-to-end test will print SKIP"
  fi
fi

# The official Python MCP SDK drives `opsdeck mcp` in tests/mcp.rs: keep it in its own venv.
PYENV=target/pyenv
if ! "$PYENV/bin/python" -c "import mcp.client.stdio" >/dev/null 2>&1; then
  echo "tests/run.sh: installing the Python MCP SDK into $PYENV"
  python3 -m venv "$PYENV"
  "$PYENV/bin/pip" install --quiet --disable-pip-version-check mcp
fi
export OPSDECK_TEST_PYTHON="$PWD/$PYENV/bin/python"

cargo test --locked "$@"
