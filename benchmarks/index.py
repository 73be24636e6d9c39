"""Benchmark the search index: build time, candidates() latency and self-recall.

Run (a data dir made with ``idgraph synth`` + ``idgraph ingest``, see README):
``python benchmarks/index.py --data-dir DIR [--queries 1000] [--rebuild] [--limit 200]``

1. ``--rebuild``: ``SearchIndex.rebuild`` from the store, records/s.
2. ``candidates()`` for ``--queries`` queries made from sampled current records, each in
   four forms: exact (name, full birth date), a typo in the surname with the birth year,
   the name in the other order with year-month, and name + ZIP only (records with a
   birth year: a name alone does not single out one of hundreds of namesakes). Reports p50/p99
   latency per form (all sources permitted) and how often the record itself is among
   the candidates (recall@limit) and first. Target: p99 < 5 ms at 1M records. Wall
   time and this thread's CPU time are both shown: on a shared machine the wall time
   holds the waits for a core; the CPU time is what a quiet core would take.
3. ``rows()`` of the first 30 candidate identities (what find scores), when the store
   has identities.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from idgraph.schema import segment_key
from idgraph.search.criteria import Criteria, CriteriaError, parse_criteria
from idgraph.search.index import SearchIndex
from idgraph.settings import Settings
from idgraph.store import Store, open_store


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]  # two letters swapped


ROWS_OF = 30  # identities whose rows() are read after each query (as find scores them)

Form = Callable[[dict[str, Any], random.Random], dict[str, str | None]]


def _dob(row: dict[str, Any]) -> str | None:
    if row["dob"] is not None:
        return str(row["dob"].isoformat())
    return str(row["birth_year"]) if row["birth_year"] else None


FORMS: dict[str, Form] = {
    "exact": lambda r, _: {"name": f"{r['first_name']} {r['last_name']}", "dob": _dob(r)},
    "typo+year": lambda r, g: {
        "name": f"{r['first_name']} {_typo(r['last_name'], g)}",
        "dob": str(r["birth_year"]) if r["birth_year"] else None},
    "swapped+month": lambda r, _: {
        "name": f"{r['last_name']} {r['first_name']}",
        "dob": r["dob"].strftime("%Y-%m") if r["dob"] is not None else _dob(r)},
    "name+zip": lambda r, _: {"name": f"{r['first_name']} {r['last_name']}", "zip": r["zip"]},
}


def _sample(store: Store, n: int, seed: int) -> list[dict[str, Any]]:
    rows = store.con.sql(
        f"""SELECT * FROM (SELECT record_id, first_name, last_name, dob, birth_year, zip
        FROM records WHERE is_current AND first_name IS NOT NULL AND last_name IS NOT NULL
        AND birth_year IS NOT NULL) USING SAMPLE {int(n)} ROWS (reservoir, {int(seed)})"""
    ).to_arrow_table()
    return rows.to_pylist()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    settings = Settings(data_dir=args.data_dir)
    store = open_store(settings.db_path, threads=2, memory_limit="4GB")
    index = SearchIndex.open(settings)
    n_records = int(store.scalar("SELECT count(*) FROM records WHERE is_current"))
    print(f"{n_records:,} current records; index holds {index.count():,} documents")
    if args.rebuild:
        t0 = time.perf_counter()
        written = index.rebuild(store)
        secs = time.perf_counter() - t0
        print(f"rebuild: {written:,} documents in {secs:.1f} s ({written / secs:,.0f}/s)")
    segments = {segment_key(s, o) for s, o in store.fetchall(
        "SELECT DISTINCT source_id, origin_jurisdiction FROM records WHERE is_current")}
    rng = random.Random(args.seed)
    sample = _sample(store, args.queries, args.seed)
    index.candidates(parse_criteria(name="warm up"), segments)
    for form, make in FORMS.items():
        times: list[float] = []
        cpu: list[float] = []
        row_times: list[float] = []
        hits = firsts = asked = 0
        for row in sample:
            try:
                criteria: Criteria = parse_criteria(**make(row, rng))
            except CriteriaError:
                continue
            asked += 1
            t0, c0 = time.perf_counter(), time.thread_time()
            found = index.candidates(criteria, segments, args.limit)
            times.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
            ids = [c.record_id for c in found]
            identities = list(dict.fromkeys(c.identity_id for c in found if c.identity_id))
            if identities:
                r0 = time.perf_counter()
                index.rows(identities[:ROWS_OF], segments)
                row_times.append(time.perf_counter() - r0)
            hits += row["record_id"] in ids
            firsts += bool(ids) and ids[0] == row["record_id"]
        print(f"{form:>14}: {asked} queries  wall p50 {statistics.median(times) * 1e3:.2f} ms "
              f"p99 {_pct(times, 0.99) * 1e3:.2f} ms  cpu p50 {statistics.median(cpu) * 1e3:.2f}"
              f" ms p99 {_pct(cpu, 0.99) * 1e3:.2f} ms  recall@{args.limit} "
              f"{hits / asked:.3f}  first {firsts / asked:.3f}")
        if row_times:
            print(f"{'':>14}  rows() of the first {ROWS_OF} identities: p50 "
                  f"{statistics.median(row_times) * 1e3:.2f} ms  p99 "
                  f"{_pct(row_times, 0.99) * 1e3:.2f} ms")
    store.close()


if __name__ == "__main__":
    main()
