#!/usr/bin/env bash
# Start a private PostgreSQL server for the tests and print its URL.
#
#   bash scripts/pg.sh [DIR]        # default DIR: /tmp/idgraph-pg
#
# Uses Debian's `postgresql` package (installed here with apt when missing and we are
# root). The server listens on a Unix socket in DIR only (no TCP port), trusts local
# connections (test data only: synthetic), and is left running; `bash scripts/pg.sh stop`
# stops it. Prints `postgresql://...` on its last line; scripts/test.sh exports it as
# IDGRAPH_TEST_DATABASE_URL, which makes the contract suite and the API tests run on it.
set -euo pipefail
dir=${2:-${1:-/tmp/idgraph-pg}}
[ "${1:-}" = stop ] && dir=${2:-/tmp/idgraph-pg}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bin" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
    >/dev/null 2>&1 || { echo "error: could not install Debian's postgresql" >&2; exit 1; }
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
if [ -z "$bin" ]; then
  echo "error: PostgreSQL is not installed (Debian: apt-get install postgresql)" >&2
  exit 1
fi
# PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user
# the Debian package made.
run() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "${1:-}" = stop ]; then
  run "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  exit 0
fi
mkdir -p "$dir/sock"
[ "$(id -u)" = 0 ] && chown -R postgres "$dir"
if [ ! -f "$dir/data/PG_VERSION" ]; then
  run "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >/dev/null
fi
if ! run "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
  run "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses='' -k $dir/sock -c fsync=off -c max_connections=200" \
    start >/dev/null
fi
echo "postgresql://postgres@/postgres?host=$dir/sock"
