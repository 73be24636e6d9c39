"""Ingest benchmark: normalise and store ~1M synthetic records; records/s and peak RSS.

    python benchmarks/ingest.py --people 250000      # ~1M records

Beside idgraph's full ingest (normalisation + provenance + versioning + quarantine) it
times, in the same run on the same files, a reference: DuckDB loading the raw files
with no normalisation at all (``read_csv``/``read_json``/``read_parquet`` into tables),
the physical floor for getting these bytes into the store.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from idgraph.settings import Settings
from idgraph.sources import ingest_paths, load_manifest
from idgraph.sources.manifest import find_manifests
from idgraph.store import open_store


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reference_load(folder: Path) -> tuple[int, float]:
    con = duckdb.connect(":memory:")
    con.execute("SET threads = 2")
    rows = 0
    t0 = time.perf_counter()
    for mp in find_manifests([folder]):
        m = load_manifest(mp)
        p = str(m.input_path)
        reader = {"csv": "read_csv(?, all_varchar=true)",
                  "jsonl": "read_json(?, format='newline_delimited')",
                  "parquet": "read_parquet(?)"}[m.input.format]
        con.execute(f"CREATE TABLE {m.id} AS SELECT * FROM {reader}", [p])
        (count,) = con.execute(f"SELECT count(*) FROM {m.id}").fetchall()[0]
        rows += int(count)
    return rows, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--people", type=int, default=250_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", type=Path, default=Path("bench-data"))
    args = ap.parse_args()
    src = args.data / f"synth-{args.people}-{args.seed}"
    if not (src / "truth.csv").exists():
        t0 = time.perf_counter()
        # in a child process, so the peak RSS below is the ingest's alone
        code = ("import sys; from pathlib import Path; from idgraph.synth import generate; "
                "generate(Path(sys.argv[1]), people=int(sys.argv[2]), seed=int(sys.argv[3]))")
        subprocess.run([sys.executable, "-c", code, str(src), str(args.people), str(args.seed)],
                       check=True)
        print(f"synthesised {args.people:,} people in {time.perf_counter() - t0:.1f}s -> {src}")
    work = Path(tempfile.mkdtemp(prefix="idgraph-bench-"))
    try:
        settings = Settings(data_dir=work)
        store = open_store(settings.db_path, threads=2)
        t0 = time.perf_counter()
        summaries = ingest_paths(store, [src], settings)
        secs = time.perf_counter() - t0
        store.close()
        rss = peak_rss_mib()
        rows = sum(s.rows for s in summaries)
        recs = sum(s.records for s in summaries)
        quar = sum(s.rows_quarantined for s in summaries)
        ref_rows, ref_secs = reference_load(src)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"data: idgraph synth --people {args.people} --seed {args.seed} "
          f"({len(summaries)} sources, {rows:,} rows)")
    print(f"{'run':<38}{'rows':>12}{'seconds':>10}{'rows/s':>12}")
    print(f"{'idgraph ingest (normalise+store)':<38}{rows:>12,}{secs:>10.1f}{rows / secs:>12,.0f}")
    print(f"{'reference: DuckDB raw load, no norm.':<38}{ref_rows:>12,}{ref_secs:>10.1f}"
          f"{ref_rows / ref_secs:>12,.0f}")
    print(f"ratio idgraph/reference time: {secs / ref_secs:.1f}x")
    print(f"records {recs:,} + quarantined {quar:,} = {recs + quar:,} (rows {rows:,})")
    print(f"peak RSS: {rss:,.0f} MiB (idgraph ingest, taken before the reference ran)")
    print(f"target >= 20,000 records/s: {'MET' if rows / secs >= 20_000 else 'MISSED'}; "
          f"peak RSS < 4 GiB: {'MET' if rss < 4096 else 'MISSED'}")
    sys.exit(0 if recs + quar == rows else 1)


if __name__ == "__main__":
    main()
