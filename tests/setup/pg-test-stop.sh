#!/usr/bin/env bash
# Stop the private test PostgreSQL started by pg-test-start.sh (idempotent).
#
#   tests/setup/pg-test-stop.sh           stop (fast: open transactions roll back), keep the data
#   tests/setup/pg-test-stop.sh --purge   stop and delete the cluster directory
#
# Env: PGTEST_DIR as for pg-test-start.sh.
set -euo pipefail

dir=${PGTEST_DIR:-${TMPDIR:-/tmp}/helpline-pgtest}
data=$dir/data
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)

if [ "$(id -u)" = 0 ]; then
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi

if [ -n "$bin" ] && [ -s "$data/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$data" -w -t 60 stop -m fast >/dev/null
fi

if [ "${1:-}" = "--purge" ]; then
    rm -rf "$dir"
fi
