"""Speed and memory of the synthetic population generator.

    python benchmarks/synth_speed.py [--people 200000] [--seed 1] [--out DIR]

Prints people/s, records/s, peak RSS (main process and largest worker) and the record
counts per source. The reference point is the brief's target: >= 30,000 people/s and
well under 4 GiB for 1M people.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from idgraph.synth import generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--workers", type=int, default=1, help="processes making chunks")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="synth-bench-") as tmp:
        out = args.out or Path(tmp)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        summary = generate(out, people=args.people, seed=args.seed, workers=args.workers)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu += kids.ru_utime + kids.ru_stime
    worker_peak_mib = kids.ru_maxrss / 1024
    print(f"data: synthetic population, {args.people:,} people, seed {args.seed}, "
          f"{args.workers} worker process(es)")
    print(f"records: {summary.records:,} "
          f"({summary.records / args.people:.2f} per person), {size / 2**20:.0f} MiB")
    for sid, n in summary.by_source.items():
        print(f"  {sid:18s} {n:>10,}  bad values {summary.bad_values[sid]:,}")
    print(f"wall {wall:.1f} s, cpu {cpu:.1f} s (all processes)")
    print(f"people/s (wall): {args.people / wall:,.0f}   (cpu): {args.people / cpu:,.0f}")
    print(f"records/s (wall): {summary.records / wall:,.0f}")
    print(f"peak RSS: {peak_mib:,.0f} MiB (main), {worker_peak_mib:,.0f} MiB (largest worker)")
    print("reference (brief target): >= 30,000 people/s; 1M people well under 4 GiB")


if __name__ == "__main__":
    main()
