"""Real-time resolution: the last records of a population arriving one at a time.

    python benchmarks/realtime.py --people 5000
    python benchmarks/realtime.py --people 5000 --chunk 100
    python benchmarks/realtime.py --people 20000 --splink 100 --parity 10000

A synthetic population (``idgraph synth``) is ingested; a tenth of its current records
(the smallest hashes of their ids: "the last 10%") is set aside (made not current) and
the rest resolved in batch (training the model). Then the set-aside records arrive
``--chunk`` at a time (1: one by one): each chunk is made current again and placed with
``LiveLinker.attach_many`` (timed until it returns: candidate lookup, scoring, decision,
local re-cluster and the chunk's committed write; that is the time until a record is
acknowledged, ``ack_*``). Candidates come from an in-memory index of the batch blocking
rules' equality keys (the same pairs batch resolve would score; the search index serves
them in production), holding a chunk's records once it is committed (within a chunk
they find each other through the linker's pending index).

Then a batch resolve of all records (same model) says where each late record belongs:
a record *lands right* when live attach put it in the identity of the base resolve that
holds most of its batch cluster's base records, or in an identity of its own (or of
other late records) where batch put it with late records only. Strict: its live
identity's base records are exactly its batch cluster's.

Beside it, Splink's own incremental path in the same run (Splink 5 replaced
``find_matches_to_new_records`` with ``linker.inference.predict_between``): one new
record against the base records, per call, on ``--splink`` of the late records. Last,
parity: the in-process weights against Splink's ``predict`` on ``--parity`` sampled
blocked pairs of all records (max absolute difference, level mismatches).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, get_args

import pyarrow as pa
from splink import DuckDBAPI

from idgraph.link import AttachResult, LiveLinker, resolve
from idgraph.link.attach import Bridge
from idgraph.link.model import BLOCKING_RULES, INPUT_TABLE, YEARS_COMPATIBLE, damerau_within_one
from idgraph.link.score import Scorer, splink_parity
from idgraph.link.train import build_linker, latest_model, prepare_input, scratch
from idgraph.settings import Settings
from idgraph.sources import ingest_paths
from idgraph.store import Store, open_store
from idgraph.synth import generate

_EQ = re.compile(r"\bl\.(\w+) = r\.(\w+)")
FULL_INPUT = "__bench_full_input"


class BlockingIndex:
    """Candidate records by the blocking rules: each rule's ``l.A = r.B`` conjuncts as
    dictionary keys, and the birth-year condition (``YEARS_COMPATIBLE``) where a rule
    has it, so a new record meets the records batch resolve would pair it with."""

    def __init__(self, rules: tuple[str, ...] = BLOCKING_RULES) -> None:
        self.plans = [(tuple(a for a, _ in eqs), tuple(b for _, b in eqs),
                       YEARS_COMPATIBLE in rule)
                      for rule, eqs in ((rule, _EQ.findall(rule)) for rule in rules) if eqs]
        keys = {cols for left, right, _ in self.plans for cols in (left, right)}
        self.maps: dict[tuple[str, ...], defaultdict[tuple[Any, ...], list[str]]] = {
            cols: defaultdict(list) for cols in keys}
        self.years: dict[str, int | None] = {}

    def add(self, row: dict[str, Any]) -> None:
        self.years[row["record_id"]] = row["birth_year"]
        for cols, found in self.maps.items():
            key = tuple(row[c] for c in cols)
            if None not in key:
                found[key].append(row["record_id"])

    def __call__(self, row: dict[str, Any]) -> list[str]:
        out: dict[str, None] = {}
        year = row["birth_year"]
        for left, right, years in self.plans:
            for mine, theirs in ((left, right), (right, left)):
                key = tuple(row[c] for c in mine)
                if None in key:
                    continue
                found = self.maps[theirs].get(key, ())
                if years:
                    found = [r for r in found if _years_compatible(year, self.years[r])]
                out.update(dict.fromkeys(found))
        out.pop(row["record_id"], None)
        return list(out)


def _years_compatible(a: int | None, b: int | None) -> bool:
    """``link.model.YEARS_COMPATIBLE`` of two birth years."""
    if a is None or b is None:
        return True
    return abs(a - b) < 10 and (abs(a - b) <= 1 or damerau_within_one(str(a), str(b)))


def _rows(store: Store, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = store.con.sql(sql, params=params).to_arrow_table().to_pylist()
    return rows


def _late(ids: list[str], fraction: float) -> list[str]:
    ranked = sorted(ids, key=lambda r: hashlib.sha256(r.encode()).hexdigest())
    return sorted(ranked[: int(len(ids) * fraction)])


def _set_current(store: Store, ids: list[str], current: bool) -> None:
    store.con.register("__bench_ids", pa.table({"record_id": ids}))
    try:
        store.execute("UPDATE records SET is_current = ? WHERE record_id IN "
                      "(SELECT record_id FROM __bench_ids) AND version = (SELECT max(version) "
                      "FROM records r2 WHERE r2.record_id = records.record_id)", [current])
    finally:
        store.con.unregister("__bench_ids")


def _membership(store: Store) -> dict[str, str]:
    return {str(r): str(i) for r, i in store.fetchall(
        "SELECT record_id, identity_id FROM identity_members")}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _landing(late: list[str], live: dict[str, str], batch: dict[str, str]
             ) -> tuple[float, float, list[tuple[str, int, int, int]]]:
    """(fraction landing right, fraction strictly right, the misses: record, base
    records with it live, in batch, in both). A late record lands right when most base
    (not late) records of its live identity are in its batch cluster, or neither has
    any; strictly, when the two sets of base records are equal."""
    late_set = set(late)
    live_members: defaultdict[str, set[str]] = defaultdict(set)
    batch_members: defaultdict[str, set[str]] = defaultdict(set)
    for r, i in live.items():
        if r not in late_set:
            live_members[i].add(r)
    for r, i in batch.items():
        if r not in late_set:
            batch_members[i].add(r)
    right = strict = 0
    misses = []
    for r in late:
        mine, theirs = live_members[live[r]], batch_members[batch[r]]
        both = len(mine & theirs)
        ok = both * 2 > len(mine) if mine else not theirs
        right += ok
        strict += mine == theirs
        if not ok:
            misses.append((r, len(mine), len(theirs), both))
    return right / len(late), strict / len(late), misses


def _splink_incremental(store: Store, late: list[str], sample: int) -> dict[str, float]:
    """Seconds per call of Splink's incremental predict (one new record against the
    base records), on ``sample`` late records."""
    if sample <= 0:
        return {}
    trained = latest_model(store)
    assert trained is not None
    late_set = set(late[:sample])
    store.execute(f"CREATE OR REPLACE TEMP TABLE __bench_base AS SELECT * FROM {FULL_INPUT} "
                  f"WHERE record_id NOT IN (SELECT unnest(?))", [late])
    new_rows = {rid: store.con.sql(f"SELECT * FROM {FULL_INPUT} WHERE record_id = $1",
                                   params=[rid]).to_arrow_table() for rid in sorted(late_set)}
    times = []
    with scratch(store):
        linker = build_linker(store, trained.model, "__bench_base", keep_values=False)
        for col in ("first_name", "middle_name", "last_name"):
            linker.table_management.compute_tf_table(col)
        db_api = DuckDBAPI(connection=store.con)
        base = db_api.register("__bench_base")
        for row in new_rows.values():
            t = time.perf_counter()
            new = db_api.register(row)
            pred = linker.inference.predict_between(base, new, warning_mode="never")
            pred.as_record_list()
            times.append(time.perf_counter() - t)
            pred.drop_table_from_database_and_remove_from_cache()
        linker.table_management.delete_tables_created_by_splink_from_db()
    return {"records": len(times), "p50_ms": _pct(times, 0.5) * 1e3,
            "p99_ms": _pct(times, 0.99) * 1e3, "mean_ms": statistics.mean(times) * 1e3}


def run(people: int, seed: int, fraction: float, splink_sample: int, parity_pairs: int,
        work: Path, show_misses: int = 0, chunk: int = 1,
        bridge: Bridge = "none", recluster: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"people": people, "seed": seed, "late_fraction": fraction,
                           "chunk": chunk, "bridge": bridge, "recluster": recluster}
    generate(work / "src", people=people, seed=seed)
    settings = Settings(data_dir=work / "data", ingest_workers=0)
    store = open_store(settings.db_path)
    t = time.perf_counter()
    ingest_paths(store, [work / "src"], settings)
    out["ingest_s"] = time.perf_counter() - t
    prepare_input(store)
    store.execute(f"CREATE OR REPLACE TABLE {FULL_INPUT} AS SELECT * FROM {INPUT_TABLE}")
    rows = {r["record_id"]: r for r in _rows(store, f"SELECT * FROM {FULL_INPUT}")}
    late = _late(list(rows), fraction)
    out["records"], out["late_records"] = len(rows), len(late)
    _set_current(store, late, False)
    t = time.perf_counter()
    resolve(store, settings)
    out["base_resolve_s"] = time.perf_counter() - t

    # member rows as the search index keeps them beside its documents (no store read)
    linker = LiveLinker.from_store(
        store, rows=lambda ids: [rows[r] for r in ids if r in rows], bridge=bridge)
    index = BlockingIndex()
    late_set = set(late)
    for rid, row in rows.items():
        if rid not in late_set:
            index.add(row)
    linker.recluster = recluster
    latencies: list[float] = []  # per chunk: the time until its records are durable
    scored: list[int] = []
    events: Counter[str] = Counter()
    results: dict[str, AttachResult] = {}
    started = time.perf_counter()
    for start in range(0, len(late), chunk):
        ids = late[start:start + chunk]
        _set_current(store, ids, True)  # the records arrive (not timed)
        linker.scorer.add([rows[rid] for rid in ids])
        t = time.perf_counter()
        placed = linker.attach_many([rows[rid] for rid in ids], index, chunk=chunk)
        latencies.append(time.perf_counter() - t)
        for rid in ids:  # the search index holds them after the chunk's commit
            index.add(rows[rid])
        for result in placed:
            events[result.event] += 1
            results[result.record_id] = result
            scored.append(result.candidates)
    wall = time.perf_counter() - started
    live = _membership(store)
    out["attach"] = {
        "chunk": chunk, "ack_p50_ms": _pct(latencies, 0.5) * 1e3,
        "ack_p99_ms": _pct(latencies, 0.99) * 1e3, "ack_max_ms": max(latencies) * 1e3,
        "per_record_mean_ms": sum(latencies) / len(late) * 1e3,
        "records_per_s": len(late) / sum(latencies),
        "records_per_s_with_arrival": len(late) / wall,
        "events": dict(events), "candidates_mean": statistics.mean(scored),
        "decisions": dict(linker.stats),
        "moved_others": sum(len(r.moved) for r in results.values()),
    }
    out["splink_predict_between"] = _splink_incremental(store, late, splink_sample)
    t = time.perf_counter()
    resolve(store, settings)
    out["full_resolve_s"] = time.perf_counter() - t
    batch = _membership(store)
    right, strict, misses = _landing(late, live, batch)
    out["lands_where_batch_puts_it"] = right
    out["lands_strict"] = strict
    out["misses"] = Counter(
        f"live {'new' if not a else 'joined'}, batch {'new' if not b else 'joined'}"
        + (f" (refused: {results[r].refused})" if results[r].refused else "")
        for r, a, b, _ in misses)
    if show_misses:
        out["miss_detail"] = [
            {"record": r, "live_base": a, "batch_base": b, "both": n,
             "score": results[r].score, "refused": results[r].refused,
             "local": results[r].local,
             "candidates": results[r].candidates, "merged": results[r].merged}
            for r, a, b, n in misses[:show_misses]]
    t = time.perf_counter()
    parity = splink_parity(store, Scorer.from_store(store), sample=parity_pairs)
    out["parity"] = {"pairs": parity.pairs, "max_abs_diff": parity.max_abs_diff,
                     "level_mismatches": parity.level_mismatches,
                     "seconds": time.perf_counter() - t}
    store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--late", type=float, default=0.1, help="fraction arriving late")
    parser.add_argument("--splink", type=int, default=100,
                        help="late records also placed with Splink's predict_between")
    parser.add_argument("--parity", type=int, default=10_000, help="sampled pairs")
    parser.add_argument("--work", type=Path, default=None, help="work folder (kept)")
    parser.add_argument("--misses", type=int, default=0, help="list this many misses")
    parser.add_argument("--chunk", type=int, default=1,
                        help="late records per LiveLinker.attach_many commit (1: each its "
                        "own, the real-time case; more: group commit, as ingest --live)")
    parser.add_argument("--no-recluster", action="store_true",
                        help="no local re-cluster (the attach decision alone)")
    parser.add_argument("--bridge", choices=get_args(Bridge), default="none",
                        help="pairs through which a late record bridges identities")
    args = parser.parse_args()
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        result = run(args.people, args.seed, args.late, args.splink, args.parity, args.work,
                     args.misses, args.chunk, args.bridge, not args.no_recluster)
    else:
        with tempfile.TemporaryDirectory(prefix="idgraph-realtime-") as tmp:
            result = run(args.people, args.seed, args.late, args.splink, args.parity,
                         Path(tmp), args.misses, args.chunk, args.bridge, not args.no_recluster)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
