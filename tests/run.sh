#!/usr/bin/env bash
# The whole test suite, on a fresh machine or CI: installs what the tests need, runs them, and
# stops what it started. Usage: tests/run.sh [extra cargo test args]
# With `bench` first, the same set-up runs the benchmarks instead: tests/run.sh bench [--bench NAME]
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=never
# Terraform, when present, must never reach out to the network from tests: no user CLI config,
# and opsdeck's dry runs install providers only from an empty mirror (plans that need the AWS
# provider then fall back to the template's resource list, as on a host without internet).
export TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
mkdir -p target/no-providers
export OPSDECK_PROVIDER_MIRROR="$PWD/target/no-providers"
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

# moto stands in for AWS (the agents and the shared backend reach it through the normal SDK
# clients); ansible-core runs the generated playbooks. Both live in the same venv.
if ! "$PYENV/bin/python" -c "import moto.server, ansible" >/dev/null 2>&1; then
  echo "tests/run.sh: installing moto[server] and ansible-core into $PYENV"
  "$PYENV/bin/pip" install --quiet --disable-pip-version-check 'moto[server]' ansible-core
fi
export OPSDECK_TEST_ANSIBLE_BIN="$PWD/$PYENV/bin"

# One moto server on a free loopback port for the whole run; tests isolate themselves (unique
# names, or a per-binary lock with a reset). Never any other address: no real AWS from tests.
MOTO_PORT=$("$PYENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p target
# tests/moto_server.py is moto_server with each DynamoDB call atomic, as DynamoDB's are (moto's
# own transactions are not thread-safe); see the file.
"$PYENV/bin/python" tests/moto_server.py -H 127.0.0.1 -p "$MOTO_PORT" >target/moto.log 2>&1 &
MOTO_PID=$!
trap 'kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if "$PYENV/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$MOTO_PORT/moto-api/data.json', timeout=1)" >/dev/null 2>&1; then
    break
  fi
  kill -0 "$MOTO_PID" 2>/dev/null || { echo "tests/run.sh: moto_server exited; see target/moto.log" >&2; exit 1; }
  sleep 0.2
done
echo "tests/run.sh: moto on 127.0.0.1:$MOTO_PORT"
export OPSDECK_TEST_MOTO="http://127.0.0.1:$MOTO_PORT"
# Static test credentials for moto; no instance metadata lookups.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
# Nothing reaches a real AWS address: SDK calls a test does not aim at moto go to a closed
# loopback port (tests that use moto set their own endpoint).
export AWS_ENDPOINT_URL=http://127.0.0.1:1

if [ "${1:-}" = bench ]; then
  shift
  cargo bench --locked "$@"
else
  cargo test --locked "$@"
fi
