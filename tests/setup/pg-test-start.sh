#!/usr/bin/env bash
# Start a private PostgreSQL cluster for the tests (idempotent) and print its admin URL.
#
#   export HELPLINE_TEST_PG_URL="$(tests/setup/pg-test-start.sh)"
#
# Env: PGTEST_DIR  cluster directory (default ${TMPDIR:-/tmp}/helpline-pgtest)
#      PGTEST_PORT port on 127.0.0.1  (default: the port this cluster used before, else 55432;
#                  ignored while the cluster runs)
# Installs Debian's `postgresql` when the server binaries are missing and we are root.
# As root, the server runs as the `postgres` user (initdb refuses root). Trust auth, fsync off:
# for tests only. Stop it with tests/setup/pg-test-stop.sh.
set -euo pipefail

dir=${PGTEST_DIR:-${TMPDIR:-/tmp}/helpline-pgtest}
data=$dir/data
port=${PGTEST_PORT:-$(cat "$dir/port" 2>/dev/null || echo 55432)}

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1; }

bin=$(find_bin)
if [ -z "$bin" ] && [ "$(id -u)" = 0 ]; then
    echo "pg-test-start: installing postgresql" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q postgresql >&2 || { apt-get update -q >&2 && apt-get install -y -q postgresql >&2; }
    bin=$(find_bin)
fi
if [ -z "$bin" ]; then
    echo "pg-test-start: PostgreSQL server binaries not found under /usr/lib/postgresql; apt-get install postgresql" >&2
    exit 1
fi

if [ "$(id -u)" = 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir "$dir" --shell /usr/sbin/nologin postgres
    fi
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi

mkdir -p "$dir"
[ "$(id -u)" = 0 ] && chown postgres: "$dir"
chmod 700 "$dir"

if [ ! -s "$data/PG_VERSION" ]; then
    if ! as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        exit 1
    fi
fi

if as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    port=$(sed -n 4p "$data/postmaster.pid")
else
    if ! as_pg "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null; then
        echo "pg-test-start: PostgreSQL did not start; last lines of $dir/server.log:" >&2
        tail -n 20 "$dir/server.log" >&2 || true
        exit 1
    fi
fi
echo "$port" >"$dir/port"

echo "postgres://postgres@127.0.0.1:$port/postgres"
