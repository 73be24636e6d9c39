"""Benchmark the lawful-access path: ``allowed()`` and a purpose-scoped profile build.

Run: ``python benchmarks/policy.py [--records 1000000] [--decisions 2000] [--profiles 200]
[--decisions-only]``

1. ``allowed()`` for a query touching 8 sources, beside the reference it replaced
   (``engine._allowed_reference``: 3 Cedar requests per source, 24 in one batch): cold
   (``Registry.forget()`` before every call: the decision cache, the plan's remembered
   answers and the parsed principal entity cleared; every call runs Cedar) and warm (the
   same principal/context/sources seen before: answered from the cache). The plan
   (policy/plan.py) asks one request for the policies that do not read the source and
   one per source for the policies that can hold for it.
2. ``read_profile()`` (decide + scoped view + read + minimise + audit) for identities
   of 20 records each, in a store holding ``--records`` synthetic records generated in
   DuckDB SQL (8 sources, 20-record identities, a chain of accepted edges per identity).
Targets: allowed() p99 <= 1 ms; profile build p99 <= 20 ms. DuckDB threads capped at 2.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import date

from idgraph.cases import open_case
from idgraph.policy.engine import _allowed_reference, allowed
from idgraph.policy.fields import PROVENANCE
from idgraph.policy.legal import add_legal, verify_legal
from idgraph.policy.profile import read_profile
from idgraph.policy.registry import Registry
from idgraph.policy.users import add_user
from idgraph.schema import Query
from idgraph.store import Store, open_store

SOURCES = [
    ("ny_dmv", "dmv", "US-NY", ["DPPA", "NY-VTL-201"]),
    ("il_sos", "dmv", "US-IL", ["DPPA"]),
    ("credit_hdr", "credit_header", "US", ["GLBA"]),
    ("utility", "utility", "US-NY", []),
    ("phone", "phone_subscriber", "US", []),
    ("court", "court", "US-NY", []),
    ("jail", "booking", "US-NY", []),
    ("voter", "voter", "US-NY", []),
]
GROUP = 20
# The read path looks up one identity's members, their records and their edges. Without
# these ART indexes every lookup is a full scan; the owners of these tables (store, link)
# should create them. The benchmark creates them on its synthetic tables.
INDEXES = (
    "CREATE INDEX IF NOT EXISTS records_record_id ON records (record_id)",
    "CREATE INDEX IF NOT EXISTS identity_members_identity ON identity_members (identity_id)",
    "CREATE INDEX IF NOT EXISTS link_edges_left ON link_edges (record_id_l)",
)


def setup(store: Store) -> Query:
    for sid, kind, jur, regimes in SOURCES:
        store.execute(
            "INSERT INTO sources (source_id, title, kind, jurisdiction, regimes, retention_days) "
            "VALUES (?, ?, ?, ?, ?, 3650)",
            [sid, sid, kind, jur, regimes],
        )
    add_user(store, "root", "admin", "ops")
    add_user(store, "gov", "investigator", "ice", org_type="government", actor="root")
    add_user(store, "counsel", "counsel", "ice", org_type="government", actor="root")
    open_case(store, "C1", title="bench", kind="criminal", actor="gov")
    open_case(store, "IM1", title="bench", kind="immigration", actor="gov")
    doc = add_legal(
        store, type="court_order", number="CO-1", issued=date(2020, 1, 1), actor="gov",
        level="federal", court="S.D.N.Y.", judge="J. Roe", judge_appointment="article_iii",
        case_id="IM1",
    )
    verify_legal(store, doc.legal_id, sha256="ab" * 32, actor="counsel")
    return Query(
        principal="gov",
        purpose="civil_immigration_enforcement",
        claims=("DPPA-b1", "FCRA-1681f"),
        basis=doc.legal_id,
        case_id="IM1",
    )


def generate(store: Store, n: int) -> None:
    store.execute(
        """INSERT INTO records (record_id, source_id, source_record_id, version, is_current,
             row_hash, batch_id, ingested_at, raw, full_name, first_name, last_name, dob,
             address, city, state, zip, phone, ssn, plate, observed_at)
           SELECT s.source_id || '/' || i, s.source_id, i::VARCHAR, 1, true, md5(i::VARCHAR),
             'b1', TIMESTAMP '2026-01-01' + to_seconds(i % 86400), '{}',
             'PERSON ' || (i // 20), 'PERSON', 'N' || (i // 20),
             DATE '1950-01-01' + to_days((i // 20) % 20000),
             (i % 997) || ' MAIN ST, ALBANY, NY 12207', 'ALBANY', 'NY', '12207',
             '+1555' || lpad((i % 9999999)::VARCHAR, 7, '0'), lpad((i // 20)::VARCHAR, 9, '0'),
             'P' || i, TIMESTAMP '2025-01-01' + to_seconds(i)
           FROM range(?) t(i)
           JOIN (SELECT unnest(?) AS source_id, generate_subscripts(?, 1) - 1 AS k) s
             ON s.k = i % 8""",
        [n, [s[0] for s in SOURCES], [s[0] for s in SOURCES]],
    )
    store.execute(
        "CREATE TABLE IF NOT EXISTS identity_members (identity_id VARCHAR, record_id VARCHAR)"
    )
    store.execute("CREATE TABLE IF NOT EXISTS link_runs (run_id VARCHAR, started_at TIMESTAMP)")
    store.execute(
        """CREATE TABLE IF NOT EXISTS link_edges (run_id VARCHAR, record_id_l VARCHAR,
             record_id_r VARCHAR, match_probability DOUBLE, match_weight DOUBLE,
             accepted BOOLEAN, evidence JSON)"""
    )
    store.execute("INSERT INTO link_runs VALUES ('r0', TIMESTAMP '2025-12-01')")
    store.execute("INSERT INTO link_runs VALUES ('r1', TIMESTAMP '2026-01-02')")
    store.execute(
        "INSERT INTO identity_members SELECT 'I' || (i // ?), source_id || '/' || i "
        "FROM (SELECT i, ? [1 + i % 8] AS source_id FROM range(?) t(i))",
        [GROUP, [s[0] for s in SOURCES], n],
    )
    store.execute(
        "INSERT INTO link_edges SELECT 'r1', a.record_id, b.record_id, 0.99, 9.0, true, '{}' "
        "FROM (SELECT i, ? [1 + i % 8] || '/' || i AS record_id FROM range(?) t(i)) a "
        "JOIN (SELECT i, ? [1 + i % 8] || '/' || i AS record_id FROM range(?) t(i)) b "
        "ON b.i = a.i + 1 AND a.i // ? = b.i // ?",
        [[s[0] for s in SOURCES], n, [s[0] for s in SOURCES], n, GROUP, GROUP],
    )


def timed(fn: Callable[[], object], n: int) -> tuple[list[float], list[float]]:
    """Sorted wall-clock and CPU (this process) milliseconds of ``n`` calls."""
    wall, cpu = [], []
    for _ in range(n):
        t, c = time.perf_counter(), time.process_time()
        fn()
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - t) * 1000)
    return sorted(wall), sorted(cpu)


def _p(ms: list[float], q: float) -> float:
    return ms[min(len(ms) - 1, int(len(ms) * q))]


def report(name: str, runs: tuple[list[float], list[float]], target: float) -> None:
    wall, cpu = runs
    p99 = _p(wall, 0.99)
    verdict = "OK" if p99 <= target else "MISSED"
    print(
        f"{name:<44} n={len(wall):>5} wall p50 {statistics.median(wall):7.3f} "
        f"p99 {p99:7.3f} ms | cpu p50 {statistics.median(cpu):7.3f} p99 {_p(cpu, 0.99):7.3f} ms"
        f" | {1000 / statistics.fmean(wall):7.0f}/s | target p99 <= {target:g} ms: {verdict}"
    )


def bench_decisions(store: Store, query: Query, n: int) -> None:
    reg = Registry(store)
    sources = [s[0] for s in SOURCES]
    assert reg.plan is not None
    rules = sum(len(reg.segment_rules[s]) for s in sources)
    print(
        f"policy set: {len(reg.policies.ids)} Cedar policies ({len(reg.plan.rules)} about "
        f"reading); 8 sources. Before: 24 requests of {len(reg.policies.ids)} policies. Now: "
        f"1 request of {len(reg.plan.shared.pids)} (not reading the source) + 1 per source "
        f"({rules} policies over the 8)"
    )

    def cold() -> None:
        reg.forget()  # decisions, the plan's answers, the parsed principal
        allowed(reg, query, sources, identity_ids=["I1"])

    def reference() -> None:
        _allowed_reference(reg, query, sources, identity_ids=["I1"])

    want = _allowed_reference(reg, query, sources, identity_ids=["I1"]).decisions
    assert allowed(reg, query, sources, identity_ids=["I1"]).decisions == want
    timed(reference, 20)
    report("REF allowed() 8 sources, 24 requests (before)", timed(reference, max(200, n // 4)),
           1.0)
    timed(cold, 50)
    report("allowed() 8 sources, cold (Cedar every call)", timed(cold, n), 1.0)
    warm = timed(lambda: allowed(reg, query, sources, identity_ids=["I1"]), n)
    report("allowed() 8 sources, warm (decision cache)", warm, 1.0)


def bench_profiles(store: Store, query: Query, n_records: int, n: int, indexes: bool) -> None:
    t = time.perf_counter()
    generate(store, n_records)
    total = int(store.scalar("SELECT count(*) FROM records"))
    edges = store.scalar("SELECT count(*) FROM link_edges")
    print(
        f"generated {total:,} records, {total // GROUP:,} identities of {GROUP} records, "
        f"{edges:,} edges in {time.perf_counter() - t:.1f} s"
    )
    if indexes:
        t = time.perf_counter()
        for stmt in INDEXES:
            store.execute(stmt)
        print(f"created {len(INDEXES)} lookup indexes in {time.perf_counter() - t:.1f} s")
    reg = Registry(store)
    rng = random.Random(7)
    it = iter([f"I{rng.randrange(total // GROUP)}" for _ in range(2 * n + 10)])
    prof = read_profile(store, query, next(it), registry=reg)
    print(
        f"profile sample: {len(prof.record_ids)} of {GROUP} records visible, sources "
        f"{sorted(prof.records)}; credit_hdr fields (1681f): "
        f"{sorted(set(prof.records['credit_hdr'][0]) - PROVENANCE)}"
    )
    for _ in range(5):
        read_profile(store, query, next(it), registry=reg)
    label = "indexed" if indexes else "no indexes"
    ms = timed(lambda: read_profile(store, query, next(it), registry=reg), n)
    report(f"read_profile() immigration+notice ({label})", ms, 20.0)
    plain = query.model_copy(
        update={"purpose": "criminal_investigation", "basis": None, "case_id": "C1"}
    )
    ms = timed(lambda: read_profile(store, plain, next(it), registry=reg), n)
    report(f"read_profile() criminal ({label})", ms, 20.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--decisions", type=int, default=2000)
    ap.add_argument("--profiles", type=int, default=200)
    ap.add_argument("--decisions-only", action="store_true", help="Skip the profile builds.")
    ap.add_argument(
        "--no-indexes",
        action="store_true",
        help="Skip the lookup indexes the read path needs (see INDEXES) to show their effect.",
    )
    args = ap.parse_args()
    print(
        f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
        "(wall times include waiting for the CPU; cpu times do not)"
    )
    store = open_store(None, threads=2, memory_limit="4GB")
    query = setup(store)
    bench_decisions(store, query, args.decisions)
    if args.decisions_only:
        return
    bench_profiles(store, query, args.records, args.profiles, not args.no_indexes)


if __name__ == "__main__":
    main()
