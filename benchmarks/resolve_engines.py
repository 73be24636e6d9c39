"""Resolve one store with both engines in one run: DuckDB (the default) and Splink on Spark.

    python benchmarks/resolve_engines.py --people 220000            # ~1M records
    python benchmarks/resolve_engines.py --people 20000 --master local[2]
    python benchmarks/resolve_engines.py --population pseudopeople  # one we did not make

A population (``idgraph synth``, seed 7, by default; or one of
``benchmarks/populations``: pseudopeople's sample data, the foreign-conventions
generator) is ingested and the model trained once; the store is copied twice and each
copy resolved from scratch in its own process
(``resolve --engine duckdb`` and ``resolve --engine spark --spark-master <master>``), so
each engine's peak memory is its own: the resident set of the process and every
descendant (Spark's JVM and its Python workers), summed and sampled every 0.2 s.

Printed: the wall time of each engine and of its stages (from resolve's own progress
lines), peak memory, the candidate pairs, the clustering components, and the
comparison: identical partition, identity ids, lineage and accepted edges, or exactly
which records differ. ``--data DIR`` reuses a trained base store.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import psutil


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class TreeMemory:
    """Peak of the summed resident set of a process and its descendants."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        self.pid, self.every, self.peak = pid, every, 0
        self.cpu: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                root = psutil.Process(self.pid)
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                return
            total = 0
            for proc in procs:
                try:
                    total += proc.memory_info().rss
                    t = proc.cpu_times()
                    self.cpu[proc.pid] = t.user + t.system
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self.stop.wait(self.every)


def build(data: Path, people: int, seed: int, population: str = "synth") -> Path:
    """The trained base store (made once)."""
    from idgraph.link.ids import ID_KEY
    from idgraph.link.train import train
    from idgraph.settings import Settings
    from idgraph.sources import ingest_paths
    from idgraph.store import open_store
    from idgraph.synth import generate

    root = data.parent
    if (data / "idgraph.duckdb").exists():
        return data
    t = time.perf_counter()
    if population == "synth":
        generate(root / "src", people=people, seed=seed)
    else:
        from populations.make import make_population

        make_population(population, root / "src",
                        argparse.Namespace(people=people, seed=seed))
    settings = Settings(data_dir=data)
    store = open_store(settings.db_path)
    try:
        ingest_paths(store, [root / "src"], settings)
        train(store)
        store.secret(ID_KEY)  # both copies name identities with one key
    finally:
        store.close()
    size = "" if population == "pseudopeople" else f" {people:,} people"
    print(f"{population}{size} + ingest + train: {time.perf_counter() - t:.1f} s",
          flush=True)
    return data


def child(engine: str, data: Path, master: str, driver_memory: str) -> None:
    """One engine's resolve (run in its own process); progress lines with times."""
    from idgraph.link.resolve import resolve
    from idgraph.link.spark import SparkEngine
    from idgraph.settings import Settings
    from idgraph.store import open_store

    store = open_store(data / "idgraph.duckdb")
    spark = (SparkEngine(master=master, driver_memory=driver_memory)
             if engine == "spark" else None)
    t0 = time.perf_counter()

    def say(message: str) -> None:
        print(f"@{time.perf_counter() - t0:9.1f} {message}", flush=True)

    summary = resolve(store, Settings(data_dir=data), say, engine=spark)
    print(f"@{time.perf_counter() - t0:9.1f} done {summary}", flush=True)
    store.close()


def run(engine: str, data: Path, master: str, driver_memory: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", engine, "--data", str(data),
           "--master", master, "--driver-memory", driver_memory]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    memory = TreeMemory(proc.pid)
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("@"):
            lines.append(line.rstrip())
            print(f"  [{engine}] {line.rstrip()}", flush=True)
        elif "ERROR" in line or "Error" in line or "Traceback" in line:
            print(f"  [{engine}] {line.rstrip()}", flush=True)
    code = proc.wait()
    wall = time.perf_counter() - t
    memory.stop.set()
    memory.thread.join()
    if code:
        raise SystemExit(f"{engine} resolve failed with exit code {code}")
    return {"wall": wall, "peak": memory.peak, "cpu": sum(memory.cpu.values()),
            "lines": lines}


def outcome(path: Path) -> dict[str, Any]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            "members": dict(con.sql("SELECT record_id, identity_id FROM identity_members")
                            .fetchall()),
            "lineage": sorted(con.sql("SELECT identity_id, event, related "
                                      "FROM identity_lineage").fetchall(), key=str),
            "edges": con.sql("SELECT count(*), count(*) FILTER (accepted), "
                             "sum(hash(record_id_l, record_id_r, accepted, evidence)) "
                             "FROM link_edges").fetchall()[0],
            "weights": dict(((a, b), w) for a, b, w in con.sql(
                "SELECT record_id_l, record_id_r, match_weight FROM link_edges").fetchall()),
        }
    finally:
        con.close()


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    out = []
    ma, mb = a["members"], b["members"]
    differ = [r for r in ma if ma[r] != mb.get(r)]
    out.append(f"records: {len(ma):,} (DuckDB) / {len(mb):,} (Spark); "
               f"identities {len(set(ma.values())):,} / {len(set(mb.values())):,}; "
               f"records whose identity id differs: {len(differ):,}")
    for r in differ[:10]:
        out.append(f"    {r}: {ma[r]} vs {mb.get(r)}")
    out.append(f"lineage events: {len(a['lineage']):,} / {len(b['lineage']):,}, "
               f"{'identical' if a['lineage'] == b['lineage'] else 'DIFFERENT'}")
    out.append(f"edges (n, accepted, evidence hash): {a['edges']} / {b['edges']}, "
               f"{'identical' if a['edges'] == b['edges'] else 'DIFFERENT'}")
    wa, wb = a["weights"], b["weights"]
    common = wa.keys() & wb.keys()
    delta = max((abs(wa[k] - wb[k]) for k in common), default=0.0)
    out.append(f"edge weights: {len(common):,} pairs on both, max |Δ match weight| "
               f"{delta:.1e}; only DuckDB {len(wa.keys() - wb.keys()):,}, "
               f"only Spark {len(wb.keys() - wa.keys()):,}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--people", type=int, default=220000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--population", choices=("synth", "pseudopeople", "foreign"),
                    default="synth")
    ap.add_argument("--data", type=Path, help="a trained base store to reuse, or where to "
                    "make one")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="8g")
    ap.add_argument("--engines", default="duckdb,spark")
    ap.add_argument("--child", choices=("duckdb", "spark"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.data, args.master, args.driver_memory)
        return
    work = Path(tempfile.mkdtemp(prefix="idg-engines-"))
    base = build(args.data or work / "base" / "data", args.people, args.seed,
                 args.population)
    con = duckdb.connect(str(base / "idgraph.duckdb"), read_only=True)
    n = con.sql("SELECT count(*) FROM records WHERE is_current").fetchall()[0]
    con.close()
    size = "sample data" if args.population == "pseudopeople" else f"{args.people:,} people"
    print(f"population: {args.population} ({size}, seed {args.seed}), "
          f"{n[0] if n else 0:,} current records; cores {os.cpu_count()}; "
          f"load before {load()}", flush=True)
    results: dict[str, dict[str, Any]] = {}
    for engine in args.engines.split(","):
        into = work / engine
        shutil.rmtree(into, ignore_errors=True)
        shutil.copytree(base, into)
        print(f"{engine}: resolving a copy of the store (load {load()})", flush=True)
        results[engine] = run(engine, into, args.master, args.driver_memory)
        results[engine]["outcome"] = outcome(into / "idgraph.duckdb")
    print(f"\nload after {load()}")
    print(f"{'engine':<28}{'wall s':>10}{'CPU s':>10}{'peak MiB':>10}")
    for engine, r in results.items():
        label = f"spark {args.master}" if engine == "spark" else "duckdb"
        print(f"{label:<28}{r['wall']:>10.1f}{r['cpu']:>10.1f}{r['peak'] / 2**20:>10,.0f}")
    if "duckdb" in results and "spark" in results:
        ratio = results["spark"]["wall"] / results["duckdb"]["wall"]
        print(f"Spark / DuckDB wall: {ratio:.1f}x")
        for line in compare(results["duckdb"]["outcome"], results["spark"]["outcome"]):
            print(line)
    print("\nstages (seconds since the engine's resolve started):")
    for engine, r in results.items():
        for line in r["lines"]:
            print(f"  {engine:<7}{line}")
    summary = {e: {"wall": r["wall"], "cpu": r["cpu"], "peak_mib": r["peak"] / 2**20}
               for e, r in results.items()}
    print(json.dumps(summary))
    shutil.rmtree(work / "duckdb", ignore_errors=True)
    shutil.rmtree(work / "spark", ignore_errors=True)


if __name__ == "__main__":
    main()
