"""Write a foreign-conventions population: data files, manifests and the truth.

Output (all deterministic for ``(people, seed)``):

* one data file and one YAML manifest per source (see :mod:`.catalogue`);
* ``truth.csv`` (source, record_id, person_id), read by ``idgraph evaluate --truth``;
* ``hard_cases.csv`` (kind, person_a, person_b): twins and JR/SR pairs;
* ``conventions.csv`` (source, record_id, convention): which disagreement each record
  carries (``reversed_order``, ``suffix_dropped``, ``accents_kept``, ...), so a miss can
  be traced to the convention that caused it.
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from idgraph.synth.foreign.catalogue import ID_FORMAT, SOURCES
from idgraph.synth.foreign.names import fold
from idgraph.synth.foreign.people import Population, make_population
from idgraph.synth.foreign.sources import Row, Source

Advance = Callable[[str, int], None]  # (stage, steps done)


@dataclass
class ForeignSummary:
    people: int
    records: int
    by_source: dict[str, int] = field(default_factory=dict)
    conventions: dict[str, int] = field(default_factory=dict)
    hard_cases: dict[str, int] = field(default_factory=dict)


def _encodable(text: str, encoding: str) -> str:
    """``text`` with each character the encoding lacks transliterated (ř -> R, ł -> L),
    as a legacy export does it."""
    try:
        text.encode(encoding)
        return text
    except UnicodeEncodeError:
        return "".join(c if c.encode(encoding, "ignore") else fold(c) for c in text)


def _write_rows(path: Path, src: Source, rows: list[Row]) -> None:
    cols = src.columns
    if src.fmt == "csv":
        enc = src.encoding
        with path.open("w", newline="", encoding=enc) as fh:
            w = csv.writer(fh, delimiter=src.delimiter, lineterminator="\n")
            w.writerow(cols)
            w.writerows([["" if r[c] is None else _encodable(str(r[c]), enc) for c in cols]
                         for r in rows])
    elif src.fmt == "jsonl":
        with path.open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps({c: r[c] for c in cols}, ensure_ascii=False) + "\n"
                          for r in rows)
    else:
        table = pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in cols})
        pq.write_table(table, path, compression="zstd")


def _csv(path: Path, header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def _render(src: Source, pop: Population, seed: int
            ) -> tuple[list[Row], list[str], list[list[str]]]:
    """Rows of one source, their people and conventions, in a shuffled order with ids."""
    rng = random.Random(f"foreign:{seed}:{src.id}")
    made: list[tuple[Row, str, list[str]]] = []
    for p in pop.people:
        if rng.random() >= src.coverage:
            continue
        for _ in range(rng.randint(*src.per_person)):
            row, tags = src.render(p, rng)
            made.append((row, p.pid, tags))
    rng.shuffle(made)
    fmt = ID_FORMAT[src.id]
    for i, (row, _, _) in enumerate(made, start=1):
        row[src.record_id] = fmt.format(i)
    return [m[0] for m in made], [m[1] for m in made], [m[2] for m in made]


def generate_foreign(people: int, seed: int, out: Path,
                     advance: Advance | None = None) -> ForeignSummary:
    """Write the population of ``people`` people for ``seed`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    pop = make_population(people, random.Random(f"foreign:{seed}:people"))
    if advance:
        advance("people", len(pop.people))
    truth: list[tuple[str, ...]] = []
    conventions: list[tuple[str, ...]] = []
    summary = ForeignSummary(len(pop.people), 0)
    counts: Counter[str] = Counter()
    for src in SOURCES:
        rows, pids, tags = _render(src, pop, seed)
        _write_rows(out / src.file, src, rows)
        (out / f"{src.id}.yaml").write_text(
            yaml.safe_dump(src.manifest(), sort_keys=False, allow_unicode=True), "utf-8")
        for row, pid, t in zip(rows, pids, tags, strict=True):
            rid = str(row[src.record_id])
            truth.append((src.id, rid, pid))
            conventions.extend((src.id, rid, c) for c in t)
            counts.update(t)
        summary.by_source[src.id] = len(rows)
        if advance:
            advance(src.id, 1)
    _csv(out / "truth.csv", ("source", "record_id", "person_id"), truth)
    _csv(out / "conventions.csv", ("source", "record_id", "convention"), conventions)
    _csv(out / "hard_cases.csv", ("kind", "person_a", "person_b"), pop.hard_cases)
    summary.records = len(truth)
    summary.conventions = dict(sorted(counts.items()))
    summary.hard_cases = dict(sorted(Counter(k for k, _, _ in pop.hard_cases).items()))
    (out / "foreign.json").write_text(json.dumps(
        {"people": summary.people, "seed": seed, "records": summary.records,
         "by_source": summary.by_source, "conventions": summary.conventions,
         "hard_cases": summary.hard_cases}, indent=2) + "\n", "utf-8")
    return summary
