#!/usr/bin/env bash
# Install idgraph with its dev tools into .venv, then lint, type-check and test.
# The tests run on both storage backends: DuckDB (embedded) and PostgreSQL. A private
# PostgreSQL server is started with scripts/pg.sh (Debian's `postgresql` package,
# apt-installed when missing and we are root; as root the server runs as the `postgres`
# user) and its URL exported as IDGRAPH_TEST_DATABASE_URL; it is stopped at the end if
# this script started it. Set IDGRAPH_TEST_DATABASE_URL yourself to use another server.
# Chromium (Debian package `chromium`) renders the HTML reports and runs the browser
# tests (Playwright drives /usr/bin/chromium); it is installed here when missing and we
# may use apt (root). Without it the browser tests fail, they are never skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
    >/dev/null 2>&1 || echo "warning: could not install chromium; the browser tests will fail"
fi
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# Pinned versions (requirements/dev.lock, made by `uv pip compile`; see README).
python -m pip install -q -r requirements/dev.lock
python -m pip install -q --no-deps -e .
ruff check src tests benchmarks tools
mypy
if [ -z "${IDGRAPH_TEST_DATABASE_URL:-}" ]; then
  repo=$PWD pg_dir=/tmp/idgraph-pg
  if [ ! -S "$pg_dir/sock/.s.PGSQL.5432" ]; then
    # started here: stopped when the tests end (a server already running is left alone)
    trap 'bash "$repo/scripts/pg.sh" stop "$pg_dir"' EXIT
  fi
  # from / : the `postgres` user may not enter the checkout's folder
  pg_url=$(cd / && bash "$repo/scripts/pg.sh" "$pg_dir" | tail -1)
  case "$pg_url" in
    postgresql://*) export IDGRAPH_TEST_DATABASE_URL="$pg_url" ;;
    *) echo "error: scripts/pg.sh did not start PostgreSQL" >&2; exit 1 ;;
  esac
fi
if [ $# -eq 0 ] && [ "$(nproc)" -ge 2 ]; then
  # The API tests' PostgreSQL share (every test on the `live` server, again on PostgreSQL)
  # runs in a second process beside the rest: it mostly waits on its server and on
  # PostgreSQL, and run after the rest it would add ~3 minutes to the suite.
  # Then the tests of what only several processes sharing one PostgreSQL database do
  # (races between workers: @pytest.mark.postgres_only, deselected in the main run) in
  # the packages whose fixtures follow IDGRAPH_POLICY_TESTS_ON.
  pg_log=$(mktemp)
  (IDGRAPH_TEST_API_SHARE=postgres python -m pytest -p no:cacheprovider tests/api &&
   IDGRAPH_POLICY_TESTS_ON=postgres python -m pytest -p no:cacheprovider -m postgres_only \
     tests/monitor tests/cases tests/policy tests/app) >"$pg_log" 2>&1 &
  pg_pid=$!
  status=0
  IDGRAPH_TEST_API_SHARE=duckdb python -m pytest -p no:cacheprovider || status=$?
  pg_status=0
  wait "$pg_pid" || pg_status=$?
  echo "== on PostgreSQL, run beside the rest: tests/api (IDGRAPH_TEST_API_SHARE=postgres), then the postgres_only tests =="
  cat "$pg_log"
  rm -f "$pg_log"
  [ "$pg_status" = 0 ] || echo "error: the PostgreSQL share failed (exit $pg_status)" >&2
  [ "$status" != 0 ] && exit "$status"
  exit "$pg_status"
fi
python -m pytest -p no:cacheprovider "$@"
