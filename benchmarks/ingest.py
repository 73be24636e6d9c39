"""Ingest benchmark: normalise and store ~1M synthetic records; records/s and peak RSS.

    python benchmarks/ingest.py --people 220000             # ~1M records
    python benchmarks/ingest.py --people 220000 --compare   # and the 1M two-path comparison

Beside idgraph's full ingest (normalisation + provenance + versioning + quarantine) it
times, in the same run on the same files, a reference: DuckDB loading the raw files
with no normalisation at all (``read_csv``/``read_json``/``read_parquet`` into tables),
the physical floor for getting these bytes into the store.

The machine may be shared: the load average is printed before and after, and beside the
wall-clock rate the CPU seconds the ingest used (this process and its worker processes,
sampled with psutil) give the rate two otherwise idle cores would sustain.
``--compare`` then runs tests/sources/test_normalise_paths.py on the same files: the
memoised normalisation against the plain per-value path, value for value.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import psutil

from idgraph.settings import Settings
from idgraph.sources import ingest_paths, load_manifest
from idgraph.sources.manifest import find_manifests
from idgraph.store import open_store


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class CpuSampler:
    """CPU seconds and peak RSS of this process and every descendant (the ingest's
    worker processes), sampled every ``every`` seconds while it runs."""

    def __init__(self, every: float = 0.25) -> None:
        self.every, self.cpu, self.rss = every, {}, {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def sample(self) -> None:
        me = psutil.Process()
        for proc in [me, *me.children(recursive=True)]:
            try:
                t = proc.cpu_times()
                self.cpu[proc.pid] = t.user + t.system
                self.rss[proc.pid] = max(self.rss.get(proc.pid, 0), proc.memory_info().rss)
            except psutil.Error:
                continue

    def run(self) -> None:
        while not self.stop.wait(self.every):
            self.sample()

    def __enter__(self) -> CpuSampler:
        self.sample()
        self.base = dict(self.cpu)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sample()
        self.stop.set()
        self.thread.join()

    def seconds(self, pid: int | None = None) -> float:
        """CPU seconds used while sampled: of process ``pid``, or of all."""
        return sum(v - self.base.get(p, 0.0) for p, v in self.cpu.items()
                   if pid is None or p == pid)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


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
    ap.add_argument("--compare", action="store_true",
                    help="also compare both normalisation paths on these files (~1M rows)")
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
        load_before = load()
        with CpuSampler() as cpu:
            t0 = time.perf_counter()
            summaries = ingest_paths(store, [src], settings)
            secs = time.perf_counter() - t0
        load_after = load()
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
    print(f"peak RSS: {rss:,.0f} MiB (idgraph ingest, taken before the reference ran); "
          f"with its workers: {sum(cpu.rss.values()) / 2**20:,.0f} MiB (sum of peaks)")
    used, main_cpu = cpu.seconds(), cpu.seconds(os.getpid())
    print(f"CPU: {used:.1f} s in all ({1e6 * used / rows:.1f} us/row; this process "
          f"{1e6 * main_cpu / rows:.1f}, its workers {1e6 * (used - main_cpu) / rows:.1f}): "
          f"{rows / (used / 2):,.0f} rows/s on 2 idle cores")
    print(f"load average (1/5/15 min) before {load_before}, after {load_after}")
    print(f"target >= 50,000 rows/s: {'MET' if rows / secs >= 50_000 else 'MISSED'}; "
          f"peak RSS < 4 GiB: {'MET' if rss < 4096 else 'MISSED'}")
    ok = recs + quar == rows
    if args.compare:
        t0 = time.perf_counter()
        env = {**os.environ, "IDGRAPH_PATHS_DATA": str(src), "IDGRAPH_PATHS_CHUNK_ROWS": "20000"}
        test = Path(__file__).resolve().parent.parent / "tests/sources/test_normalise_paths.py"
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               f"{test}::test_generated_population_normalises_the_same_on_both_paths"],
                              env=env, check=False)
        print(f"two-path comparison on {rows:,} rows: "
              f"{'EQUAL' if done.returncode == 0 else 'DIFFERENT'} "
              f"({time.perf_counter() - t0:.0f} s)")
        ok = ok and done.returncode == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
