#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need, then runs the Rust tests
# (unit and integration, SQLite and PostgreSQL) and the end-to-end tests with real SIP peers.
set -euo pipefail
cd "$(dirname "$0")/.."

tests/setup/install-deps.sh
export HELPLINE_TEST_PG_URL=$(tests/setup/pg-test-start.sh)
trap 'tests/setup/pg-test-stop.sh' EXIT
echo "run-all: PostgreSQL at $HELPLINE_TEST_PG_URL"

cargo build --bins
if cargo nextest --version >/dev/null 2>&1; then
  runner=(cargo nextest run --no-fail-fast); integration=(-E 'kind(test)')
else
  runner=(cargo test --no-fail-fast); integration=(--test '*')
fi

echo "run-all: Rust unit and integration tests (store tests on SQLite and PostgreSQL)"
"${runner[@]}"
echo "run-all: server integration tests again with the server on PostgreSQL"
HELPLINE_TEST_DB=postgres "${runner[@]}" "${integration[@]}"

echo "run-all: end-to-end tests with PJSIP (SQLite and PostgreSQL)"
python3 -m pytest -q tests/e2e
