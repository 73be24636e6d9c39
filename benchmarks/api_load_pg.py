"""The REST API under load on each backend, side by side: DuckDB served by one process,
PostgreSQL served by ``idgraph serve --workers N`` (default 2).

    python benchmarks/api_load_pg.py [--people 2000] [--users 50] [--seconds 60]
        [--pg-workers 2] [--server-url postgresql://...] [--work DIR] [--keep]

1. synthesises ``--people`` people (``idgraph synth``, seed 7) and builds two stores
   from them with the same app calls (ingest, resolve, index rebuild), timing each
   stage: a DuckDB file in ``WORK/duckdb`` and a new PostgreSQL database
   (``idgraph_bench_<hex>`` on the server of ``--server-url``, default
   ``IDGRAPH_TEST_DATABASE_URL``; keys and the search index in ``WORK/postgres``);
2. runs ``benchmarks/api.py`` on each (locust: ``--users`` users looping searches and
   profiles for ``--seconds``; then ``audit verify`` and the audit entries counted
   against the responses): DuckDB with 1 worker, then PostgreSQL with each count of
   ``--pg-workers`` (e.g. ``1,2``);
3. prints one table: requests/s, p50, p99, errors, audit verified, response entries =
   responses; and drops the database (unless ``--keep``).

On one machine the workers share its cores with PostgreSQL and locust: the figures
compare the backends on that machine, not a deployment with a database server of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from pydantic import SecretStr

from idgraph.app import data
from idgraph.app.context import Caller, Env
from idgraph.settings import Settings
from idgraph.synth import generate

OPERATOR = Caller("operator:bench", via="cli")
HERE = Path(__file__).resolve().parent


def build(settings: Settings, synth: Path) -> dict[str, float]:
    """Ingest, resolve and index ``synth`` into the store of ``settings``: seconds each."""
    took: dict[str, float] = {}
    env = Env.open(settings)
    try:
        t0 = time.monotonic()
        outcome = data.ingest(env, OPERATOR, [synth])
        if not outcome.ok:
            raise SystemExit(f"ingest failed: {outcome.errors}")
        took["ingest"] = time.monotonic() - t0
        t0 = time.monotonic()
        data.resolve(env, OPERATOR)
        took["resolve"] = time.monotonic() - t0
        t0 = time.monotonic()
        data.index_rebuild(env, OPERATOR)
        took["index"] = time.monotonic() - t0
    finally:
        env.close()
    return took


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def run_api(data_dir: Path, out: Path, *, users: int, seconds: int,
            database_url: str | None, workers: int) -> dict[str, Any]:
    """``benchmarks/api.py`` on one store; its figures (``--json``)."""
    cmd = [sys.executable, str(HERE / "api.py"), "--data", str(data_dir), "--users",
           str(users), "--seconds", str(seconds), "--inproc-seconds", "0", "--workers",
           str(workers), "--json", str(out)]
    if database_url is not None:
        cmd += ["--database-url", database_url]
    env = {k: v for k, v in os.environ.items() if k != "IDGRAPH_DATABASE_URL"}
    res = subprocess.run(cmd, env=env, text=True, capture_output=True, timeout=seconds + 900)
    print(res.stdout, end="")
    if res.returncode != 0 or not out.exists():
        print(res.stderr, file=sys.stderr)
        raise SystemExit(f"benchmarks/api.py failed ({res.returncode})")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--pg-workers", default="2",
                        help="Worker counts to serve PostgreSQL with, comma-separated.")
    parser.add_argument("--server-url", default=os.environ.get("IDGRAPH_TEST_DATABASE_URL"),
                        help="A PostgreSQL server URL whose user may CREATE DATABASE.")
    parser.add_argument("--work", type=Path, default=None, help="Folder for the stores.")
    parser.add_argument("--keep", action="store_true", help="Keep the database and folder.")
    args = parser.parse_args()
    if not args.server_url:
        raise SystemExit("--server-url (or IDGRAPH_TEST_DATABASE_URL) is needed: "
                         "`export IDGRAPH_TEST_DATABASE_URL=$(bash scripts/pg.sh | tail -1)`")
    pg_workers = [int(w) for w in args.pg_workers.split(",")]
    work = args.work or Path(tempfile.mkdtemp(prefix="idgraph-bench-pg-"))
    work.mkdir(parents=True, exist_ok=True)
    name = f"idgraph_bench_{secrets.token_hex(4)}"
    url = with_database(args.server_url, name)
    with psycopg.connect(args.server_url, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    results: list[dict[str, Any]] = []
    builds: dict[str, dict[str, float]] = {}
    try:
        synth = work / "synth"
        t0 = time.monotonic()
        generate(synth, people=args.people, seed=7)
        print(f"synthesised {args.people} people in {time.monotonic() - t0:.1f} s")
        duck = Settings(data_dir=work / "duckdb", database_url=None, threads=2,
                        memory_limit="2GB", ingest_workers=0)
        pg = Settings(data_dir=work / "postgres", database_url=SecretStr(url), threads=2,
                      memory_limit="2GB", ingest_workers=0)
        for label, settings in (("duckdb", duck), ("postgres", pg)):
            builds[label] = build(settings, synth)
            print(f"built {label}: " + ", ".join(f"{k} {v:.1f} s"
                                                 for k, v in builds[label].items()))
        print("\n== DuckDB, 1 worker ==")
        results.append(run_api(duck.data_dir, work / "duckdb-1.json", users=args.users,
                               seconds=args.seconds, database_url=None, workers=1))
        for n in pg_workers:
            print(f"\n== PostgreSQL, {n} worker{'s' if n > 1 else ''} ==")
            results.append(run_api(pg.data_dir, work / f"postgres-{n}.json",
                                   users=args.users, seconds=args.seconds,
                                   database_url=url, workers=n))
    finally:
        if not args.keep:
            with psycopg.connect(args.server_url, autocommit=True) as con:
                con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if args.work is None:
                shutil.rmtree(work, ignore_errors=True)
    print(f"\n{args.people} people, {args.users} users, {args.seconds} s each")
    print("| backend | workers | ingest s | resolve s | index s | requests/s | p50 ms | "
          "p99 ms | errors | audit verify | response entries = responses |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for r in results:
        b = builds[r["backend"]]
        same = "yes" if r["response_entries"] == r["requests"] else (
            f"no ({r['response_entries']} vs {r['requests']})")
        print(f"| {r['backend']} | {r['workers']} | {b['ingest']:.1f} | {b['resolve']:.1f} | "
              f"{b['index']:.1f} | {r['rps']:.1f} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | "
              f"{r['errors']} | {'ok' if r['audit_ok'] else 'FAILED'} | {same} |")
    if args.keep:
        print(f"kept: {work}, {url}")


if __name__ == "__main__":
    main()
