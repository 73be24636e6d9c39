"""Make and ingest the populations ``benchmarks/linkage.py --population`` measures.

* ``pseudopeople``: pseudopeople's bundled sample data (see ``pseudopeople_pop.py``);
* ``foreign``: ``idgraph.synth.foreign``, sources that disagree by convention;
* ``synth``: idgraph's own generator (``idgraph synth``).

Each is written as files with manifests and a ``truth.csv``, then ingested through
the same API call as ``idgraph ingest``.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
from collections import Counter
from importlib.metadata import version
from pathlib import Path

from populations.pseudopeople_pop import write_population

from idgraph.link.evaluate import read_truth
from idgraph.settings import Settings
from idgraph.sources import ingest_paths
from idgraph.store import open_store
from idgraph.synth.foreign import generate_foreign

POPULATIONS = ("pseudopeople", "foreign", "synth")


def ingest_population(src: Path, data: Path) -> int:
    """``idgraph --data-dir DATA ingest SRC`` through the same API call; rows read."""
    settings = Settings(data_dir=data)
    store = open_store(settings.db_path, threads=settings.threads,
                       memory_limit=settings.memory_limit)
    try:
        summaries = ingest_paths(store, [src], settings)
    finally:
        store.close()
    unbalanced = [s.source_id for s in summaries if not s.balanced]
    if unbalanced:
        raise SystemExit(f"ingest of {src} did not balance for {unbalanced}")
    return sum(s.rows for s in summaries)


def make_population(name: str, out: Path, opts: argparse.Namespace) -> str:
    """Write population ``name``'s files, manifests and truth.csv to ``out``; its label."""
    if name == "pseudopeople":
        write_population(out, seed=opts.seed, log=lambda _msg: None)
        return (f"pseudopeople {version('pseudopeople')} sample data: decennial census, "
                f"SSA, W-2/1099, 1040, default noise, seed {opts.seed}")
    if name == "foreign":
        generate_foreign(opts.people, opts.seed, out)
        return f"python -m idgraph.synth.foreign --people {opts.people} --seed {opts.seed}"
    subprocess.run(["idgraph", "synth", "--people", str(opts.people), "--seed",
                    str(opts.seed), "--out", str(out)], check=True, capture_output=True)
    return f"idgraph synth --people {opts.people} --seed {opts.seed}"


def misses_by_convention(db: Path, src: Path) -> None:
    """Which conventions the records outside their person's main identity carry.

    The main identity of a person is the one holding most of their records; every other
    record of theirs is a miss. Each row: the share of misses carrying a convention
    (``conventions.csv``), beside its share among all records.
    """
    truth = read_truth(src / "truth.csv")
    tags: dict[str, set[str]] = {}
    with (src / "conventions.csv").open(newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            tags.setdefault(f"{r['source']}/{r['record_id']}", set()).add(r["convention"])
    store = open_store(db)
    member = dict(store.fetchall("SELECT record_id, identity_id FROM identity_members"))
    store.close()
    held = Counter((truth[r], member.get(r, r)) for r in truth)
    main: dict[str, tuple[int, str]] = {}
    for (person, ident), k in held.items():
        main[person] = max(main.get(person, (0, "")), (k, ident))
    size = Counter(member.get(r, r) for r in truth)
    missed = [r for r in truth if member.get(r, r) != main[truth[r]][1]]
    alone = sum(1 for r in missed if size[member.get(r, r)] == 1)
    print(f"\nrecords outside their person's main identity (idgraph): {len(missed):,} of "
          f"{len(truth):,}; {alone / max(len(missed), 1):.0%} of them in identities of "
          f"one record")
    every = Counter(t for r in truth for t in tags.get(r, ()))
    among = Counter(t for r in missed for t in tags.get(r, ()))
    print(f"{'convention':<20}{'of misses':>11}{'of all':>9}")
    for t, k in among.most_common():
        print(f"{t:<20}{k / len(missed):11.0%}{every[t] / len(truth):9.0%}")
