#!/usr/bin/env bash
# The whole test suite, on a fresh machine or CI: installs what the tests need (Python tools
# exactly as tests/*.lock pin them), checks formatting and lints, runs every test binary, stops
# what it started and ends with a summary per binary. Usage: tests/run.sh [extra cargo test args]
# With `bench` first, the same set-up runs the benchmarks instead: tests/run.sh bench [--bench NAME]
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=never
# CI builds once in a fresh clone: incremental state (about 2 GB here) would only be written.
if [ "${CI:-}" = true ]; then
  export CARGO_INCREMENTAL=0
fi
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

# Python tools come from lock files only (every package pinned, dependencies included), each in
# its own venv under target/. A venv is rebuilt from scratch whenever its lock file or python3
# changes, or when what is installed differs from the lock: nothing already there is trusted.
if ! command -v python3 >/dev/null 2>&1; then
  echo "tests/run.sh: python3 is required (the locks are made for CPython 3.11)" >&2
  exit 1
fi
# name==version lines, normalised (case, `_`, extras, comments) so a lock and `pip freeze` compare.
requirements() {
  sed -e 's/#.*//' -e 's/\[[^]]*\]//' -e 's/[[:space:]]//g' | tr 'A-Z_' 'a-z-' | grep -v '^$' | sort
}
venv_from_lock() {
  local dir=$1 lock=$2 want
  want="$(sha256sum "$lock" | cut -d' ' -f1) $(python3 -c 'import sys; print(sys.version.split()[0])')"
  if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.lock-sha256" 2>/dev/null)" = "$want" ] \
    && diff <(requirements <"$lock") <("$dir/bin/pip" freeze --disable-pip-version-check | requirements) >/dev/null; then
    return
  fi
  echo "tests/run.sh: building $dir from $lock"
  rm -rf "$dir"
  python3 -m venv "$dir"
  # --no-deps: the lock lists every dependency; pip check then proves none is missing.
  "$dir/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$lock"
  local broken
  broken=$("$dir/bin/pip" check --disable-pip-version-check) || {
    echo "tests/run.sh: $lock is incomplete:" >&2
    echo "$broken" >&2
    exit 1
  }
  echo "$want" >"$dir/.lock-sha256"
}

# moto stands in for AWS (the agents and the shared backend reach it through the normal SDK
# clients); ansible-core runs the generated playbooks; the official Python MCP SDK drives
# `opsdeck mcp` in tests/mcp.rs.
PYENV=target/pyenv
venv_from_lock "$PYENV" tests/python-requirements.lock
export OPSDECK_TEST_PYTHON="$PWD/$PYENV/bin/python"
export OPSDECK_TEST_ANSIBLE_BIN="$PWD/$PYENV/bin"
# checkov and ansible-lint, for the generated Terraform and playbooks: their own venv, as
# checkov pins a boto3 too old for moto.
venv_from_lock target/pyenv-lint tests/python-lint-requirements.lock
export OPSDECK_TEST_LINT_BIN="$PWD/target/pyenv-lint/bin"

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
  exec cargo bench --locked "$@"
fi

# Checks first, then every test binary even when one fails (--no-fail-fast); the summary at
# the end counts tests per binary from the log and the exit status says whether all passed.
failed_checks=()
cargo fmt --check || failed_checks+=("cargo fmt --check")
cargo clippy --all-targets --locked -- -D warnings || failed_checks+=("cargo clippy")
LOG=target/test-run.log
set +e
rm -f target/lint-checkov.txt target/lint-ansible-lint.txt
cargo test --locked --no-fail-fast "$@" 2>&1 | tee "$LOG"
test_status=${PIPESTATUS[0]}
set -e

echo
echo "tests/run.sh: summary (full log in $LOG)"
# `Running <target> (<path>)` or `Doc-tests <crate>` opens a binary's output; its
# `test result:` line closes it. A binary with no result line crashed: one failure.
awk -v checks="${#failed_checks[@]}" -v status="$test_status" '
  function close_binary() {
    if (name != "" && !done) { printf "  %-40s no result (crashed?): counted as 1 failed\n", name; failed++ }
    name = ""; done = 0
  }
  /^ *Running / {
    close_binary(); name = $0; sub(/^ *Running /, "", name); sub(/ \(.*$/, "", name); next
  }
  /^ *Doc-tests / { close_binary(); name = $0; sub(/^ *Doc-tests /, "doc-tests ", name); next }
  /^test result: / {
    p = f = ig = 0
    for (i = 1; i <= NF; i++) {
      if ($i ~ /^passed;?$/) p = $(i - 1)
      if ($i ~ /^failed;?$/) f = $(i - 1)
      if ($i ~ /^ignored;?$/) ig = $(i - 1)
    }
    printf "  %-40s %d passed, %d failed, %d ignored\n", (name == "" ? "?" : name), p, f, ig
    passed += p; failed += f; ignored += ig; done = 1
  }
  END {
    close_binary()
    if (status != 0 && failed == 0) { print "  cargo test exited " status " with no failing test (a build error?): counted as 1 failed"; failed = 1 }
    failed += checks
    printf "%d passed, %d failed, %d skipped\n", passed, failed, ignored
  }' "$LOG" >target/test-summary.txt
for c in "${failed_checks[@]}"; do
  echo "  $c failed: counted as 1 failed"
done
# The linters' figures and the exceptions they accept (tests/lint.rs), printed where a reviewer
# reads them.
for report in target/lint-checkov.txt target/lint-ansible-lint.txt; do
  if [ -f "$report" ]; then
    echo "--- $report"
    cat "$report"
  fi
done
cat target/test-summary.txt
if [ "$test_status" -ne 0 ] || [ "${#failed_checks[@]}" -ne 0 ]; then
  exit 1
fi
