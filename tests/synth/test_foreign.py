"""The foreign-conventions population: deterministic, fully labelled, and as messy as promised."""

from __future__ import annotations

import csv
import hashlib
import json
import random
import time
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from idgraph.settings import Settings
from idgraph.sources import ingest_paths
from idgraph.sources.manifest import Manifest, load_manifest
from idgraph.store import open_store
from idgraph.synth.foreign import generate_foreign
from idgraph.synth.foreign import sources as fs
from idgraph.synth.foreign.__main__ import main as foreign_main
from idgraph.synth.foreign.catalogue import SOURCES
from idgraph.synth.foreign.names import fold, nicknames
from idgraph.synth.foreign.people import make_population

PEOPLE = 1500
SEED = 5
ACCENTED = set("ÁÉÍÓÚÜÑáéíóúüñÀÈÒàèòÇç")

Rows = list[dict[str, str | None]]


@pytest.fixture(scope="module")
def foreign_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("foreign")
    generate_foreign(PEOPLE, SEED, out)
    return out


def _read(m: Manifest) -> Rows:
    path = m.base_dir / m.input.path
    if m.input.format == "parquet":
        rows: Rows = pq.read_table(path).to_pylist()
        return rows
    if m.input.format == "jsonl":
        with path.open(encoding=m.input.encoding) as fh:
            return [json.loads(line) for line in fh]
    with path.open(newline="", encoding=m.input.encoding) as fh:
        return [{k: v or None for k, v in r.items()}
                for r in csv.DictReader(fh, delimiter=m.input.delimiter)]


def _all(out: Path) -> dict[str, tuple[Manifest, Rows]]:
    found = {}
    for y in sorted(out.glob("*.yaml")):
        m = load_manifest(y)
        found[m.id] = (m, _read(m))
    return found


def _truth(out: Path) -> dict[tuple[str, str], str]:
    with (out / "truth.csv").open(newline="", encoding="utf-8") as fh:
        return {(r["source"], r["record_id"]): r["person_id"] for r in csv.DictReader(fh)}


def _conventions(out: Path) -> dict[str, set[tuple[str, str]]]:
    tags: dict[str, set[tuple[str, str]]] = defaultdict(set)
    with (out / "conventions.csv").open(newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            tags[r["convention"]].add((r["source"], r["record_id"]))
    return tags


def _digests(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}


def test_same_seed_same_bytes_other_seed_other_people(tmp_path: Path) -> None:
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate_foreign(300, seed, tmp_path / name)
    a, b, c = (_digests(tmp_path / n) for n in "abc")
    assert a == b
    assert a["truth.csv"] != c["truth.csv"]


def test_at_least_six_sources_of_different_kinds_and_manifests_load(foreign_dir: Path) -> None:
    found = _all(foreign_dir)
    assert len(found) >= 6 and len(found) == len(SOURCES)
    assert len({m.kind for m, _ in found.values()}) >= 6
    for m, rows in found.items():
        manifest, data = rows
        assert data, m
        columns = set(data[0])
        for spec in manifest.fields.values():
            assert set(spec.columns()) <= columns, (m, set(spec.columns()) - columns)


def test_every_record_has_exactly_one_truth_row(foreign_dir: Path) -> None:
    truth = _truth(foreign_dir)
    seen = set()
    for sid, (m, rows) in _all(foreign_dir).items():
        ids = [str(r[m.record_id]) for r in rows]
        assert len(ids) == len(set(ids)), f"{sid}: record ids repeat"
        seen |= {(sid, i) for i in ids}
    assert seen == set(truth)
    persons = set(truth.values())
    assert len(persons) > 0.9 * PEOPLE


@pytest.mark.parametrize(
    "convention",
    ["reversed_order", "suffix_dropped", "accents_kept", "accents_folded", "surname_typo",
     "compound_cut", "compound_hyphen", "married_name", "birth_year_only", "no_dob",
     "nickname", "month_only_dob"],
)
def test_each_convention_occurs(foreign_dir: Path, convention: str) -> None:
    assert _conventions(foreign_dir)[convention]


def test_reversed_rows_put_the_surname_first_without_a_comma(foreign_dir: Path) -> None:
    """Sources declared first_last write some rows ``SURNAME GIVEN``, no comma."""
    found = _all(foreign_dir)
    for sid, column, rid in (("utility", "CUSTOMER_NAME", "ACCOUNT"),
                             ("wireless", "subscriber", "sub_id")):
        manifest, rows = found[sid]
        assert manifest.fields["full_name"].order == "first_last"
        tagged = {r for s, r in _conventions(foreign_dir)["reversed_order"] if s == sid}
        names = [str(r[column]) for r in rows if r[rid] in tagged]
        assert len(names) > 0.05 * len(rows)
        assert all("," not in n and n == n.upper() for n in names)
    rng = random.Random(3)
    checked = 0
    for p in make_population(600, random.Random(4)).people:
        row, tags = fs.utility(p, rng)
        if "reversed_order" not in tags:
            continue
        words = fold(str(row["CUSTOMER_NAME"])).split()
        surnames = {fold(x).split()[0] for x in (p.married, p.surnames[0]) if x}
        givens = {fold(g) for g in (p.given, *nicknames(p.given))}
        assert words[0] in surnames and words[-1] in givens, (p, row)
        checked += 1
    assert checked > 20


def test_accents_kept_by_some_sources_and_folded_by_others(foreign_dir: Path) -> None:
    found = _all(foreign_dir)
    utility_names = " ".join(str(r["CUSTOMER_NAME"]) for r in found["utility"][1])
    dps_names = " ".join(f"{r['FIRST_NAME']} {r['LAST_NAME']}" for r in found["tx_dps"][1])
    assert ACCENTED & set(utility_names)
    assert not ACCENTED & set(dps_names)
    assert "JOSE" in dps_names and "José" in utility_names


def test_jr_kept_by_the_licence_and_dropped_elsewhere(foreign_dir: Path) -> None:
    found, truth = _all(foreign_dir), _truth(foreign_dir)
    juniors = {truth[("tx_dps", str(r["DL_NUMBER"]))] for r in found["tx_dps"][1]
               if r["SUFFIX"] == "JR"}
    assert juniors
    utility_juniors = [r for r in found["utility"][1]
                       if truth[("utility", str(r["ACCOUNT"]))] in juniors]
    assert utility_juniors
    assert all(" JR" not in str(r["CUSTOMER_NAME"]) for r in utility_juniors)
    with (foreign_dir / "hard_cases.csv").open(newline="", encoding="utf-8") as fh:
        kinds = {r["kind"] for r in csv.DictReader(fh)}
    assert {"twins", "jr_sr"} <= kinds


def test_birth_dates_differ_by_source(foreign_dir: Path) -> None:
    found = _all(foreign_dir)
    assert "birth_year" in found["voter"][0].fields and "dob" not in found["voter"][0].fields
    assert "dob" not in found["utility"][0].fields
    assert any(r["DOB"] is None for r in found["county_court"][1])


def test_married_names_share_no_identifier() -> None:
    """A wife known by her married surname in the voter list has no SSN or licence there."""
    rng = random.Random(2)
    pop = make_population(400, random.Random(1))
    married = [p for p in pop.people if p.married]
    assert married
    rows = []
    for p in married:
        row, tags = fs.voter(p, rng)
        if "married_name" in tags:
            rows.append((p, row))
    assert rows
    for p, row in rows:
        assert row["LAST_NAME"] == fold(str(p.married))
    voter = next(s for s in SOURCES if s.id == "voter")
    assert not {"ssn", "dl_number"} & set(voter.fields)


def test_cli_entry_point_writes_the_population(tmp_path: Path) -> None:
    assert foreign_main(["--people", "60", "--seed", "1", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "foreign.json").read_text("utf-8"))
    assert summary["records"] == len(_truth(tmp_path))


def test_ingests_balanced_with_nothing_quarantined(tmp_path: Path) -> None:
    src = tmp_path / "src"
    generate_foreign(200, 9, src)
    settings = Settings(data_dir=tmp_path / "data")
    store = open_store(settings.db_path)
    try:
        summaries = ingest_paths(store, [src], settings)
    finally:
        store.close()
    assert len(summaries) == len(SOURCES)
    assert all(s.balanced and s.rows_quarantined == 0 for s in summaries)
    assert sum(s.rows for s in summaries) == len(_truth(src))


def test_twenty_thousand_people_well_under_a_minute(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    s = generate_foreign(20_000, 1, tmp_path)
    assert s.people >= 20_000 and s.records > 60_000
    assert time.perf_counter() - t0 < 30
