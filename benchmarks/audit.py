"""Audit-log speed: appends/s, full verification, inclusion proofs — against naive references.

    python benchmarks/audit.py [--entries 1000000] [--batch 10000] [--appends-only]

Data: synthetic audit entries (a principal, action, purpose, sources, record and
identity ids, a small detail dict: ~450 bytes of canonical JSON each) appended to a
DuckDB file store (2 threads) in a temporary folder.

References, printed side by side so results read as ratios:

* appends: the pre-Merkle ``record()`` (plain table, ``max(seq) + 1`` then INSERT per
  entry, no chain) in one transaction; and the append before issue 14 (read the head
  row, INSERT, UPDATE the head: three statements) beside today's (the head cached and
  moved by one conditional UPDATE, one INSERT);
* an audited act (target <= 1 ms): ``record()`` in its own transaction (the commit syncs
  DuckDB's write-ahead log), inside the act's transaction, and through
  :class:`~idgraph.audit.group.GroupCommit` from several threads (one commit per group;
  no caller returns before its group committed);
* verify: rebuilding the root with the naive recursive RFC 9162 MTH over the same leaf
  hashes (no stored levels), i.e. the tree part of verification without the level cache;
* proofs: a naive RFC 9162 PATH() recursion that rehashes the tree for every proof.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from idgraph.audit import AuditEntry, AuditLog, VerifyResult, merkle, record, record_many
from idgraph.audit.group import GroupCommit
from idgraph.audit.log import _head, _insert, _stamp, ensure_tables
from idgraph.store import Store, open_store

sys.setrecursionlimit(10_000)
T0 = datetime(2030, 1, 1, tzinfo=UTC)


def entries(start: int, stop: int) -> Iterator[AuditEntry]:
    for i in range(start, stop):
        yield AuditEntry(
            time=T0 + timedelta(milliseconds=i),
            principal=f"investigator{i % 97}@agency.example",
            organisation="agency.example",
            role="investigator",
            action="profile.read",
            outcome="permit",
            purpose="fraud_investigation",
            basis=f"subpoena-{i % 1000}",
            case_id=f"case-{i % 5000}",
            sources=("dmv_ca", "credit_header"),
            rules=("glba.permitted_purpose",),
            identity_ids=(f"id-{i:08d}",),
            record_ids=(f"dmv_ca:{i:09d}", f"credit_header:{i:09d}"),
            detail={"fields": ["name", "dob", "address"], "n": i},
        )


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def timed_cpu(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds): the box is shared, CPU shows the cost."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def old_record(store: Store, entry: AuditEntry) -> int:
    """The skeleton's record(): the naive append reference."""
    data = entry.canonical()
    leaf = hashlib.sha256(b"\x00" + data).hexdigest()
    with store.transaction() as con:
        seq = int(con.execute("SELECT coalesce(max(seq) + 1, 0) FROM old_log").fetchall()[0][0])
        con.execute("INSERT INTO old_log VALUES (?, ?, ?)", [seq, data.decode(), leaf])
    return seq


def before_record(store: Store, *items: AuditEntry) -> int:
    """The append before issue 14: read the head row, INSERT (several rows through a
    registered arrow table), UPDATE the head."""
    ensure_tables(store)
    with store.transaction() as con:
        head = _head(con)
        chain, last = head.chain, head.last
        rows: list[tuple[int, str, str, str]] = []
        for entry in items:
            item, last = _stamp(entry, last)
            data = item.canonical()
            leaf = hashlib.sha256(b"\x00" + data).digest()
            chain = hashlib.sha256(chain + leaf).digest()
            rows.append((head.size + len(rows), data.decode(), leaf.hex(), chain.hex()))
        if len(rows) == 1:
            _insert(con, *([v] for v in rows[0]))  # type: ignore[arg-type]
        else:
            cols = list(zip(*rows, strict=True))
            batch = pa.table({"seq": cols[0], "entry": cols[1], "leaf_hash": cols[2],
                              "chain": cols[3]})
            con.register("_before", batch)
            con.execute("INSERT INTO audit_log SELECT seq, entry, leaf_hash, chain FROM _before")
            con.unregister("_before")
        con.execute(
            "UPDATE audit_head SET size = ?, chain = ?, last_time = ? WHERE id = 0",
            [head.size + len(rows), chain.hex(), last.isoformat() if last else None],
        )
    return head.size


def per_act(fn: Callable[[], object], n: int) -> tuple[list[float], list[float]]:
    """Sorted wall and CPU milliseconds of ``n`` calls."""
    wall, cpu = [], []
    for _ in range(n):
        t, c = time.perf_counter(), time.process_time()
        fn()
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - t) * 1000)
    return sorted(wall), sorted(cpu)


def act_line(name: str, runs: tuple[list[float], list[float]], note: str = "") -> None:
    wall, cpu = runs
    print(
        f"{name:44s} wall p50 {statistics.median(wall):6.3f} p99 {pct(wall, 0.99):6.3f} ms | "
        f"cpu p50 {statistics.median(cpu):6.3f} p99 {pct(cpu, 0.99):6.3f} ms | "
        f"{1000 / statistics.fmean(wall):6,.0f}/s {note}"
    )


def bench_acts(folder: Path, n: int, threads: int) -> None:
    """One audited act = one entry made durable: before and now, alone, inside the act's
    transaction, and grouped across threads."""
    store = open_store(folder / "acts.duckdb", threads=2)
    old = open_store(folder / "acts_before.duckdb", threads=2)
    es = iter(list(entries(0, 12 * n)))
    record(store, next(es))
    before_record(old, next(es))
    print(f"\n{'one audited act (target <= 1 ms)':44s} load {os.getloadavg()[0]:.2f}")
    act_line("REF before: own txn, head read + 2 writes", per_act(
        lambda: before_record(old, next(es)), n))
    act_line("now: record() in its own transaction", per_act(lambda: record(store, next(es)), n))

    def in_act(fn: Callable[[Store, AuditEntry], int], where: Store) -> None:
        with where.transaction():
            for _ in range(5):
                fn(where, next(es))

    wall, cpu = per_act(lambda: in_act(before_record, old), n // 5)
    act_line("REF before: 5 records in the act's txn", ([w / 5 for w in wall],
             [c / 5 for c in cpu]), "(per record, 1/5 commit)")
    wall, cpu = per_act(lambda: in_act(record, store), n // 5)
    act_line("now: 5 records in the act's txn", ([w / 5 for w in wall],
             [c / 5 for c in cpu]), "(per record, 1/5 commit)")
    act_line("REF before: a search's act (9 entries)", per_act(
        lambda: before_record(old, *(next(es) for _ in range(9))), n // 4))
    act_line("now: a search's act (9 entries, record_many)", per_act(
        lambda: record_many(store, [next(es) for _ in range(9)]), n // 4))
    group = GroupCommit(store)
    lat: list[float] = []
    k = n // threads

    def caller() -> None:
        mine = [next(es) for _ in range(k)]
        for e in mine:
            t = time.perf_counter()
            group.record(e)
            lat.append((time.perf_counter() - t) * 1000)

    pool = [threading.Thread(target=caller) for _ in range(threads)]
    t, c = time.perf_counter(), time.process_time()
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    acts = k * threads
    print(
        f"{f'now: GroupCommit, {threads} threads':44s} per act wall {wall / acts * 1000:6.3f} ms"
        f" cpu {cpu / acts * 1000:6.3f} ms | {acts / wall:6,.0f}/s | latency p50 "
        f"{statistics.median(lat):.2f} p99 {pct(lat, 0.99):.2f} ms | "
        f"{group.appended / max(group.groups, 1):.1f} acts/commit"
    )
    assert AuditLog(store).verify().ok
    store.close()
    old.close()


def bench_appends(folder: Path, n_single: int) -> list[tuple[str, float, float, str]]:
    """(name, appends/s wall, appends/s CPU, note); entry construction excluded."""
    rows: list[tuple[str, float, float, str]] = []
    store = open_store(folder / "appends.duckdb", threads=2)
    log = AuditLog(store)
    log.append_many(entries(0, 1000))  # warm-up
    n = 100_000
    batches = [list(entries(s, s + 10_000)) for s in range(0, n, 10_000)]
    wall, cpu = timed_cpu(lambda: [log.append_many(b) for b in batches])
    rows.append(("append_many, batches of 10k", n / wall, n / cpu, f"{n:,} entries"))
    singles = list(entries(0, n_single))

    def in_txn(fn: Callable[[Store, AuditEntry], int]) -> None:
        with store.transaction():
            for e in singles:
                fn(store, e)

    wall, cpu = timed_cpu(lambda: in_txn(record))
    rows.append(
        ("record() x N in one caller txn", n_single / wall, n_single / cpu, f"{n_single:,}")
    )
    k = max(200, n_single // 10)
    wall, cpu = timed_cpu(lambda: [record(store, e) for e in singles[:k]])
    rows.append(("record() each in its own txn", k / wall, k / cpu, f"{k:,} (commit each)"))
    store.execute("CREATE TABLE old_log (seq BIGINT PRIMARY KEY, entry JSON, leaf_hash VARCHAR)")
    wall, cpu = timed_cpu(lambda: in_txn(old_record))
    rows.append(
        ("REF old record() x N in one txn", n_single / wall, n_single / cpu, f"{n_single:,}")
    )
    store.close()
    return rows


def ref_mth(d: list[bytes]) -> bytes:
    """Naive recursive MTH over leaf hashes (list slicing, no cache)."""
    if len(d) == 1:
        return d[0]
    k = merkle.split_point(len(d))
    return merkle.node_hash(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) <= 1:
        return []
    k = merkle.split_point(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def build_log(folder: Path, n: int, batch: int) -> tuple[Store, AuditLog, float]:
    store = open_store(folder / "verify.duckdb", threads=2)
    log = AuditLog(store, folder)
    t = time.perf_counter()
    for s in range(0, n, batch):
        log.append_many(entries(s, min(n, s + batch)))
        if s and s % (n // 4 // batch * batch or batch) == 0:
            log.checkpoint()
    log.checkpoint()
    return store, log, time.perf_counter() - t


def pct(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]


def bench_verify_and_proofs(folder: Path, n: int, batch: int) -> None:
    store, log, dt_build = build_log(folder, n, batch)
    print(
        f"\nbuilt a log of {n:,} entries in {dt_build:.1f} s ({n / dt_build:,.0f}/s), "
        f"{len(log.checkpoints())} checkpoints"
    )
    results: list[VerifyResult] = []
    wall, cpu = timed_cpu(lambda: results.append(log.verify()))
    print(
        f"verify() of {n:,} entries: {wall:.2f} s wall, {cpu:.2f} s CPU, "
        f"{results[0].summary()[:60]}"
    )
    leaves = log.tree().levels[0]
    dt_levels, _ = timed(lambda: merkle.MerkleLevels(leaves).root())
    dt_ref, ref_root = timed(lambda: ref_mth(leaves))
    assert ref_root == log.root()
    print(
        f"{'tree root from leaf hashes':40s} levels {dt_levels:7.2f} s | "
        f"REF naive recursion {dt_ref:7.2f} s | ratio {dt_ref / dt_levels:.1f}x"
    )
    cp = log.latest_checkpoint()
    assert cp is not None
    rng = random.Random(7)
    idx = [rng.randrange(cp.size) for _ in range(1000)]
    fresh = AuditLog(store, folder)
    dt_cold, _ = timed(lambda: fresh.prove(idx[0], cp))
    path_t: list[float] = []
    prove_t: list[float] = []
    levels = log.tree()
    for i in idx:
        t = time.perf_counter()
        levels.inclusion_path(i, cp.size)
        path_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        proof = log.prove(i, cp)
        prove_t.append(time.perf_counter() - t)
        assert proof.verify(log.public_key)
    ref_t: list[float] = []
    for i in idx[:3]:
        t = time.perf_counter()
        ref_path(i, leaves)
        ref_t.append(time.perf_counter() - t)
    ms = 1000.0
    print(
        f"{'inclusion path (levels, in memory)':40s} p50 {statistics.median(path_t) * ms:.3f} ms"
        f"  p99 {pct(path_t, 0.99) * ms:.3f} ms"
    )
    print(
        f"{'prove() incl. entry read from DuckDB':40s} p50 {statistics.median(prove_t) * ms:.3f}"
        f" ms  p99 {pct(prove_t, 0.99) * ms:.3f} ms"
    )
    print(
        f"{'REF naive PATH() per proof (3 samples)':40s} p50 {statistics.median(ref_t) * ms:.1f}"
        f" ms  -> ratio {statistics.median(ref_t) / statistics.median(path_t):,.0f}x"
    )
    print(f"{'first prove() on a fresh AuditLog':40s} {dt_cold:.2f} s (loads {n:,} leaf hashes)")
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--single", type=int, default=5_000)
    ap.add_argument("--acts", type=int, default=2_000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--appends-only", action="store_true", help="Skip verify and proofs.")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"audit benchmark: DuckDB file store, 2 threads, python {sys.version.split()[0]}")
        print(f"\n{'appends':40s} {'/s (wall)':>11s} {'/s (CPU)':>11s}  on")
        for name, wall, cpu, note in bench_appends(folder, args.single):
            print(f"{name:40s} {wall:11,.0f} {cpu:11,.0f}  {note}")
        bench_acts(folder, args.acts, args.threads)
        if not args.appends_only:
            bench_verify_and_proofs(folder, args.entries, args.batch)


if __name__ == "__main__":
    main()
