"""Generate a synthetic population and its records in every source, with ground truth.

Output folder: one data file and one manifest (``<source_id>.yaml``) per source,
``truth.csv`` (source, record_id, person_id), ``hard_cases.csv`` (kind, person_a,
person_b) and ``synth.json`` (the counts).

People are made in chunks; each chunk's rows are appended to one streaming writer per
source, so memory stays flat however many people are asked for. Every random choice
comes from a ``random.Random`` seeded with (seed, component, chunk): the same seed gives
byte-identical files.
"""

from __future__ import annotations

import csv
import json
import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import repeat
from pathlib import Path
from typing import Final

import yaml

from idgraph.synth.households import ChunkBuilder
from idgraph.synth.identifiers import IdFactory
from idgraph.synth.population import HardCases, Person
from idgraph.synth.sources_commercial import CREDIT_HEADER, PHONE_SUBSCRIBER, UTILITY
from idgraph.synth.sources_dmv import CA_DMV, IL_SOS, NY_DMV
from idgraph.synth.sources_public import COURT, JAIL_BOOKING, VOTER
from idgraph.synth.spec import Row, SourceSpec
from idgraph.synth.writers import RowWriter

SOURCES: Final[tuple[SourceSpec, ...]] = (
    NY_DMV, IL_SOS, CA_DMV, CREDIT_HEADER, UTILITY, PHONE_SUBSCRIBER, COURT, JAIL_BOOKING, VOTER,
)
CHUNK_PEOPLE: Final[int] = 10_000
BAD_VALUE_RATE: Final[float] = 0.002  # rows given one genuinely unusable value
TRUTH_FILE: Final[str] = "truth.csv"
HARD_CASES_FILE: Final[str] = "hard_cases.csv"
SUMMARY_FILE: Final[str] = "synth.json"
# hard_cases.csv kinds. The first four are pairs of DIFFERENT people that look alike
# (merging them is a wrongful merge); compound_surname rows name one person whose
# surname sources write three ways (person_b is empty).
HARD_CASE_KINDS: Final[tuple[str, ...]] = (
    "twins", "jr_sr", "married_name", "namesake", "compound_surname",
)


@dataclass
class SynthSummary:
    """What was generated, where, and the hard cases linkage must not get wrong."""

    out_dir: Path
    people: int
    seed: int
    by_source: dict[str, int]  # source id -> rows written
    bad_values: dict[str, int]  # source id -> rows with one deliberately broken value
    twins: list[tuple[str, str]] = field(default_factory=list)
    jr_sr: list[tuple[str, str]] = field(default_factory=list)  # (junior, senior)
    married_name: list[tuple[str, str]] = field(default_factory=list)  # (wife, husband)
    namesakes: list[tuple[str, str]] = field(default_factory=list)  # unrelated, same name
    compound_surnames: list[str] = field(default_factory=list)
    manifests: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def records(self) -> int:
        """Rows written over all sources."""
        return sum(self.by_source.values())

    @property
    def sources(self) -> list[str]:
        """Ids of the sources written (one manifest each)."""
        return list(self.by_source)

    @property
    def truth_path(self) -> Path:
        return self.out_dir / TRUTH_FILE

    @property
    def hard_cases_path(self) -> Path:
        return self.out_dir / HARD_CASES_FILE

    def figures(self) -> dict[str, object]:
        """The deterministic figures (no timing), as written to ``synth.json``."""
        return {
            "people": self.people,
            "seed": self.seed,
            "records": self.records,
            "by_source": self.by_source,
            "bad_values": self.bad_values,
            "hard_cases": {
                "twins": len(self.twins),
                "jr_sr": len(self.jr_sr),
                "married_name": len(self.married_name),
                "namesakes": len(self.namesakes),
                "compound_surname": len(self.compound_surnames),
            },
        }


@dataclass
class _SourceChunk:
    """One source's rows for one chunk: shuffled, maybe broken, not yet numbered."""

    rows: list[Row]
    owners: list[str]
    bad: int


def _emit_source(
    spec: SourceSpec, people: list[Person], rng: random.Random, ids: IdFactory
) -> _SourceChunk:
    rows: list[Row] = []
    owners: list[str] = []
    for p in people:
        got = spec.emit(p, rng, ids)
        rows.extend(got)
        owners.extend([p.pid] * len(got))
    order = list(range(len(rows)))
    rng.shuffle(order)  # file order must not reveal who is who
    rows = [rows[i] for i in order]
    owners = [owners[i] for i in order]
    bad = 0
    for row in rows:
        if rng.random() < BAD_VALUE_RATE:
            spec.corrupt(row, rng)
            bad += 1
    return _SourceChunk(rows, owners, bad)


@lru_cache(maxsize=4)
def _ids(seed: int) -> IdFactory:
    return IdFactory(seed)


def _make_chunk(seed: int, chunk_no: int, start: int, count: int) -> tuple[
    HardCases, list[_SourceChunk]
]:
    """Everything about people ``start .. start+count-1``; pure, so it may run in a worker."""
    ids = _ids(seed)
    persons, hard = ChunkBuilder(seed, chunk_no, start, count, ids).build()
    parts = [
        _emit_source(spec, persons, random.Random(f"idgraph-synth:{seed}:{spec.id}:{chunk_no}"),
                     ids)
        for spec in SOURCES
    ]
    return hard, parts


def _chunk_results(
    seed: int, people: int, chunk_people: int, workers: int
) -> Iterator[tuple[int, HardCases, list[_SourceChunk]]]:
    """(people in chunk, hard cases, per-source rows), in chunk order."""
    jobs = [(seed, n, start, min(chunk_people, people - start))
            for n, start in enumerate(range(0, people, chunk_people))]
    if workers <= 1:
        for job in jobs:
            yield (job[3], *_make_chunk(*job))
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: deque[tuple[int, Future[tuple[HardCases, list[_SourceChunk]]]]] = deque()
        for job in jobs:
            pending.append((job[3], pool.submit(_make_chunk, *job)))
            if len(pending) > 2 * workers:  # bounded: memory stays flat
                count, fut = pending.popleft()
                yield (count, *fut.result())
        while pending:
            count, fut = pending.popleft()
            yield (count, *fut.result())


def _number(spec: SourceSpec, rows: list[Row], done: int) -> list[str]:
    """Give rows their record ids (continuing after ``done``); return the ids."""
    rid, make = spec.record_id, spec.make_id
    if make is not None:
        for n, row in enumerate(rows, start=done + 1):
            row[rid] = make(row, n)
    return [str(row[rid]) for row in rows]


def _merge_hard(total: HardCases, part: HardCases) -> None:
    total.twins.extend(part.twins)
    total.jr_sr.extend(part.jr_sr)
    total.married_name.extend(part.married_name)
    total.namesakes.extend(part.namesakes)
    total.compound_surnames.extend(part.compound_surnames)


def _write_manifests(out_dir: Path) -> list[Path]:
    paths = []
    for spec in SOURCES:
        path = out_dir / f"{spec.id}.yaml"
        path.write_text(
            yaml.safe_dump(spec.manifest_doc(), sort_keys=False, allow_unicode=True, width=100),
            encoding="utf-8",
        )
        paths.append(path)
    return paths


def _write_hard_cases(path: Path, hard: HardCases) -> None:
    """``kind,person_a,person_b``; see HARD_CASE_KINDS."""
    pairs = (hard.twins, hard.jr_sr, hard.married_name, hard.namesakes)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(("kind", "person_a", "person_b"))
        for kind, rows in zip(HARD_CASE_KINDS, pairs, strict=False):
            w.writerows((kind, a, b) for a, b in rows)
        w.writerows((HARD_CASE_KINDS[4], p, "") for p in hard.compound_surnames)


def generate(
    out_dir: Path,
    people: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
    *,
    chunk_people: int = CHUNK_PEOPLE,
    workers: int = 1,
) -> SynthSummary:
    """Write every source file, its manifest, ``truth.csv`` and ``hard_cases.csv``.

    ``progress`` is called after each chunk with the number of people made so far
    (cumulative, as ``Progress.update(task, completed=n)`` takes). The output depends on
    ``seed`` and ``chunk_people`` only: ``workers`` > 1 makes chunks in that many
    processes and writes the very same bytes.
    """
    if people < 1 or chunk_people < 1:
        raise ValueError("people and chunk_people must be at least 1")
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    hard = HardCases()
    done = 0
    counts = {s.id: 0 for s in SOURCES}
    bad = {s.id: 0 for s in SOURCES}
    writers = {s.id: RowWriter(out_dir / s.filename, s.fmt, s.columns, s.delimiter)
               for s in SOURCES}
    try:
        with (out_dir / TRUTH_FILE).open("w", encoding="utf-8", newline="") as tf:
            truth = csv.writer(tf, lineterminator="\n")
            truth.writerow(("source", "record_id", "person_id"))
            for count, part, sources in _chunk_results(seed, people, chunk_people, workers):
                _merge_hard(hard, part)
                for spec, chunk in zip(SOURCES, sources, strict=True):
                    ids = _number(spec, chunk.rows, counts[spec.id])
                    writers[spec.id].write(chunk.rows)
                    truth.writerows(zip(repeat(spec.id), ids, chunk.owners, strict=False))
                    counts[spec.id] += len(chunk.rows)
                    bad[spec.id] += chunk.bad
                done += count
                if progress is not None:
                    progress(done)
    finally:
        for w in writers.values():
            w.close()
    summary = SynthSummary(
        out_dir=out_dir, people=people, seed=seed, by_source=counts, bad_values=bad,
        twins=hard.twins, jr_sr=hard.jr_sr, married_name=hard.married_name,
        namesakes=hard.namesakes, compound_surnames=hard.compound_surnames,
    )
    summary.manifests = _write_manifests(out_dir)
    _write_hard_cases(summary.hard_cases_path, hard)
    (out_dir / SUMMARY_FILE).write_text(
        json.dumps(summary.figures(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    summary.seconds = time.perf_counter() - started
    return summary


def tiny(out_dir: Path) -> Path:
    """A small fixed data set (300 people, seed 7) for other modules' tests; returns out_dir."""
    generate(out_dir, people=300, seed=7)
    return out_dir
