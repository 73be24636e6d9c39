"""End-to-end properties of a generated data set: files, manifests, truth, rates."""

from __future__ import annotations

import csv
import hashlib
import re
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import phonenumbers
import pytest

from idgraph.schema import CANONICAL_FIELDS, SourceKind
from idgraph.sources.manifest import load_manifest
from idgraph.synth import (
    HARD_CASE_KINDS,
    HARD_CASES_FILE,
    SOURCES,
    TRUTH_FILE,
    SynthSummary,
    generate,
    tiny,
)

REQUIRED_KEYS = ("id", "title", "kind", "jurisdiction", "regimes", "collected_for",
                 "retention_days", "input", "record_id", "fields")
SENSITIVE = re.compile(r"RACE|ETHNIC|RELIGION|PARTY|ORIGIN|NATIONALITY", re.IGNORECASE)


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", people=600, seed=3, chunk_people=250)
    b = generate(tmp_path / "b", people=600, seed=3, chunk_people=250)
    c = generate(tmp_path / "c", people=600, seed=4, chunk_people=250)
    ha, hb, hc = _hashes(a.out_dir), _hashes(b.out_dir), _hashes(c.out_dir)
    assert ha == hb
    assert len(ha) == 2 * len(SOURCES) + 3  # data + manifest per source, truth, hard, summary
    data_files = [s.filename for s in SOURCES] + [TRUTH_FILE]
    assert all(ha[f] != hc[f] for f in data_files)


def test_worker_processes_write_the_same_bytes(tmp_path: Path) -> None:
    one = generate(tmp_path / "one", people=900, seed=8, chunk_people=200)
    two = generate(tmp_path / "two", people=900, seed=8, chunk_people=200, workers=2)
    assert _hashes(one.out_dir) == _hashes(two.out_dir)
    assert one.twins == two.twins and one.by_source == two.by_source


def test_progress_reports_every_person(tmp_path: Path) -> None:
    seen: list[int] = []
    generate(tmp_path, people=530, seed=1, progress=seen.append, chunk_people=200)
    assert seen == [200, 400, 530]


@pytest.mark.parametrize("people", [0, -5])
def test_rejects_empty_population(tmp_path: Path, people: int) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, people=people, seed=1)


def test_tiny_fixture_has_every_source(tmp_path: Path) -> None:
    out = tiny(tmp_path)
    for spec in SOURCES:
        assert (out / f"{spec.id}.yaml").exists()
        assert (out / spec.filename).stat().st_size > 0
    with (out / TRUTH_FILE).open() as fh:
        people = {r["person_id"] for r in csv.DictReader(fh)}
    assert 200 < len(people) <= 300


def test_at_least_seven_sources_of_distinct_kinds(manifests: dict[str, dict[str, Any]]) -> None:
    kinds = {m["kind"] for m in manifests.values()}
    assert len(manifests) >= 7
    assert {"dmv", "credit_header", "utility", "phone_subscriber", "court", "booking",
            "voter"} <= kinds


@pytest.mark.parametrize("spec", SOURCES, ids=[s.id for s in SOURCES])
def test_manifest_complete_and_columns_exist(
    spec: Any, synth_run: SynthSummary, manifests: dict[str, dict[str, Any]],
    source_rows: dict[str, list[dict[str, str | None]]],
) -> None:
    doc = manifests[spec.id]
    assert all(k in doc for k in REQUIRED_KEYS)
    assert next(iter(doc)) == "id"
    SourceKind(doc["kind"])
    assert set(doc["fields"]) <= set(CANONICAL_FIELDS)
    manifest = load_manifest(synth_run.out_dir / f"{spec.id}.yaml")  # the project's validator
    header = set(source_rows[spec.id][0])
    missing = [c for c in manifest.required_columns() if c not in header]
    assert missing == []
    assert not any(SENSITIVE.search(c) for c in header)


@pytest.mark.parametrize("spec", SOURCES, ids=[s.id for s in SOURCES])
def test_record_ids_unique_and_covered_by_truth_once(
    spec: Any, manifests: dict[str, dict[str, Any]],
    source_rows: dict[str, list[dict[str, str | None]]], truth: list[dict[str, str]],
) -> None:
    rid = manifests[spec.id]["record_id"]
    ids = [r[rid] for r in source_rows[spec.id]]
    assert all(ids) and len(ids) == len(set(ids))
    in_truth = Counter(t["record_id"] for t in truth if t["source"] == spec.id)
    assert set(in_truth) == set(ids)
    assert max(in_truth.values()) == 1


def test_truth_has_no_unknown_sources(truth: list[dict[str, str]]) -> None:
    assert {t["source"] for t in truth} == {s.id for s in SOURCES}
    assert all(re.fullmatch(r"P\d{7}", t["person_id"]) for t in truth)


COVERAGE = [  # source ids, share of people with at least one record (lo, hi)
    (("ny_dmv", "il_sos", "ca_dmv"), 0.70, 0.92),
    (("credit_header",), 0.86, 0.94),
    (("utility",), 0.44, 0.56),
    (("phone_subscriber",), 0.64, 0.76),
    (("court",), 0.03, 0.07),
    (("jail_booking",), 0.015, 0.05),
    (("voter",), 0.55, 0.65),
]


@pytest.mark.parametrize(("sources", "lo", "hi"), COVERAGE)
def test_coverage_as_designed(
    sources: tuple[str, ...], lo: float, hi: float, synth_run: SynthSummary,
    truth: list[dict[str, str]],
) -> None:
    covered = {t["person_id"] for t in truth if t["source"] in sources}
    assert lo <= len(covered) / synth_run.people <= hi


def test_records_per_person_about_four(synth_run: SynthSummary) -> None:
    assert 3.5 <= synth_run.records / synth_run.people <= 5.5


def test_some_sources_hold_several_records_per_person(truth: list[dict[str, str]]) -> None:
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for t in truth:
        per[t["source"]][t["person_id"]] += 1
    for source in ("credit_header", "voter", "utility", "phone_subscriber"):
        assert max(per[source].values()) >= 2, source
    for source in ("ny_dmv", "il_sos", "ca_dmv"):  # one licence per person per state
        assert max(per[source].values()) == 1, source


def _bad(value: str | None, field: str, spec: Any) -> bool:
    """Would ingest have to quarantine this value?"""
    if not value:
        return False
    if isinstance(spec, dict) and "format" in spec:
        try:
            datetime.strptime(value, spec["format"])
        except ValueError:
            return True
        return False
    if field == "zip":
        return not re.fullmatch(r"\d{5}(-?\d{4})?", value)
    if field == "address":
        return not re.fullmatch(r"\d{5}", value.rsplit(" ", 1)[-1])
    if field == "phone":
        try:
            return not phonenumbers.is_valid_number(phonenumbers.parse(value, "US"))
        except phonenumbers.NumberParseException:
            return True
    return False


def test_bad_values_injected_at_small_rate_and_only_there(
    synth_run: SynthSummary, manifests: dict[str, dict[str, Any]],
    source_rows: dict[str, list[dict[str, str | None]]],
) -> None:
    for sid, doc in manifests.items():
        cols = {f: (s if isinstance(s, str) else s.get("column")) for f, s in doc["fields"].items()}
        bad_rows = sum(
            any(_bad(row.get(c) if c else None, f, doc["fields"][f]) for f, c in cols.items())
            for row in source_rows[sid]
        )
        assert bad_rows == synth_run.bad_values[sid], sid
    total_bad = sum(synth_run.bad_values.values())
    assert total_bad > 0
    assert 0.0005 <= total_bad / synth_run.records <= 0.005


def test_hard_cases_file_matches_summary(synth_run: SynthSummary) -> None:
    with (synth_run.out_dir / HARD_CASES_FILE).open() as fh:
        rows = list(csv.DictReader(fh))
    kinds = Counter(r["kind"] for r in rows)
    assert set(kinds) == set(HARD_CASE_KINDS)
    assert kinds["twins"] == len(synth_run.twins) > 0
    assert kinds["jr_sr"] == len(synth_run.jr_sr) > 0
    assert kinds["married_name"] == len(synth_run.married_name) > 0
    assert kinds["namesake"] == len(synth_run.namesakes) > 0
    assert kinds["compound_surname"] == len(synth_run.compound_surnames) > 0
    assert all(r["person_a"] != r["person_b"] for r in rows)


@pytest.mark.parametrize("kind", ["twins", "jr_sr", "married_name", "namesakes"])
def test_hard_case_people_appear_in_truth(
    kind: str, synth_run: SynthSummary, truth: list[dict[str, str]]
) -> None:
    people = {t["person_id"] for t in truth}
    pairs = getattr(synth_run, kind)
    both_present = [a in people and b in people for a, b in pairs]
    assert sum(both_present) >= 0.8 * len(pairs)
