"""How long the store's contract suite (``tests/store/``) takes on each backend.

    python benchmarks/store_contract.py [--server-url postgresql://...] [--paths tests/store]

Runs pytest once per backend (``-k duckdb`` / ``-k postgres``: every contract test takes
the ``any_store`` fixture, parametrised over both) and prints, per backend, the wall
time, the tests passed and failed, and the slowest tests; PostgreSQL runs on the server
of ``--server-url`` (default ``IDGRAPH_TEST_DATABASE_URL``), each test in a fresh
database. Also accepts other test paths (``--paths tests/api``: the API tests' share of
each backend).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(r"(\d+) (passed|failed|error|errors|skipped|deselected)")


def run(paths: list[str], backend: str, env: dict[str, str]) -> tuple[float, dict[str, int],
                                                                       list[str]]:
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", "-q",
           "-k", backend, "--durations=5", *paths]
    t0 = time.monotonic()
    res = subprocess.run(cmd, cwd=ROOT, env=env, text=True, capture_output=True)
    took = time.monotonic() - t0
    lines = res.stdout.splitlines()
    counts: dict[str, int] = {}
    for line in lines[-3:]:
        for n, what in SUMMARY.findall(line):
            counts[what.rstrip("s") if what == "errors" else what] = int(n)
    slow = [line.strip() for line in lines if re.match(r"^\d+\.\d+s (call|setup)", line)]
    return took, counts, slow[:5]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-url", default=os.environ.get("IDGRAPH_TEST_DATABASE_URL"))
    parser.add_argument("--paths", nargs="+", default=["tests/store"])
    args = parser.parse_args()
    if not args.server_url:
        raise SystemExit("--server-url (or IDGRAPH_TEST_DATABASE_URL) is needed: "
                         "`export IDGRAPH_TEST_DATABASE_URL=$(bash scripts/pg.sh | tail -1)`")
    env = {**os.environ, "IDGRAPH_TEST_DATABASE_URL": args.server_url}
    rows = []
    for backend in ("duckdb", "postgres"):
        took, counts, slow = run(args.paths, backend, env)
        rows.append((backend, took, counts))
        print(f"{backend}: {took:.1f} s, {counts}")
        for line in slow:
            print(f"    {line}")
    print(f"\n{' '.join(args.paths)}")
    print("| backend | wall s | passed | failed | errors |")
    print("|---|---:|---:|---:|---:|")
    for backend, took, counts in rows:
        print(f"| {backend} | {took:.1f} | {counts.get('passed', 0)} | "
              f"{counts.get('failed', 0)} | {counts.get('error', 0)} |")


if __name__ == "__main__":
    main()
