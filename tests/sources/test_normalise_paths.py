"""Issue 17 item 4: the memoised normalisation (``idgraph.sources.mapping``) gives what the
plain per-value path gave, value for value and issue for issue.

``normalise_reference.py`` is the per-value path as it was before issue 17: every chunk's
distinct values normalised afresh, rows assembled one by one. Both run over generated
data, chunk by chunk and file after file, so values met again in a later chunk or another
source's file come from the process memo on the new path; every normalised column and
every issue (row, field, value, reason) must be equal.

Size: ``IDGRAPH_PATHS_PEOPLE`` people (default 1,500: ~7k rows). The ingest benchmark
runs it once at 220,000 people (~1M rows): ``python benchmarks/ingest.py --compare``.
``IDGRAPH_PATHS_DATA`` reuses an existing ``idgraph synth`` folder.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import normalise_reference as reference
import pyarrow as pa
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from idgraph.sources import mapping
from idgraph.sources.ingest import raw_json
from idgraph.sources.manifest import find_manifests, load_manifest
from idgraph.sources.readers import read_chunks
from idgraph.synth import generate

PEOPLE = int(os.environ.get("IDGRAPH_PATHS_PEOPLE", "1500"))
CHUNK_ROWS = int(os.environ.get("IDGRAPH_PATHS_CHUNK_ROWS", "700"))


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("IDGRAPH_PATHS_DATA")
    if given:
        return Path(given)
    folder = tmp_path_factory.mktemp("paths") / "synth"
    generate(folder, people=PEOPLE, seed=11)
    return folder


def _issues(issues: list[Any]) -> list[tuple[int, str, str | None, str]]:
    return [(i.row, i.field, i.value, i.reason) for i in issues]


def compare_folder(folder: Path, chunk_rows: int = CHUNK_ROWS) -> int:
    """Run both paths over every source under ``folder``; the rows compared. An
    AssertionError names the source, chunk, column and first differing row."""
    mapping.MEMO.clear()
    rows = 0
    for path in sorted(find_manifests([folder])):
        m = load_manifest(path)
        chunks = read_chunks(m.input_path, m.input.format, chunk_rows=chunk_rows,
                             encoding=m.input.encoding, delimiter=m.input.delimiter)
        for k, chunk in enumerate(chunks):
            n = len(chunk)
            new, new_issues = mapping.normalise_chunk(m, chunk.columns, n, "US")
            old, old_issues = reference.normalise_chunk(m, chunk.columns, n, "US")
            assert sorted(new) == sorted(old), (m.id, k)
            for column in old:
                if new[column] != old[column]:
                    i = next(i for i, (a, b) in enumerate(zip(new[column], old[column],
                                                                strict=True)) if a != b)
                    raise AssertionError(f"{m.id} chunk {k} {column} row {i}: "
                                         f"{new[column][i]!r} != {old[column][i]!r}")
            assert _issues(new_issues) == _issues(old_issues), (m.id, k)
            assert raw_json(chunk.columns).to_pylist() == _dumps(chunk.columns, n), (m.id, k)
            rows += n
    return rows


def _dumps(columns: dict[str, list[str | None]], n: int) -> list[str]:
    """The raw row as ingest wrote it before issue 17, one json.dumps a row."""
    keys = sorted(columns)
    return [json.dumps({k: columns[k][i] for k in keys}, separators=(",", ":"),
                       ensure_ascii=False) for i in range(n)]


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=150, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=4, unique=True).flatmap(
    lambda keys: st.integers(1, 5).flatmap(lambda n: st.fixed_dictionaries(
        {k: st.lists(st.none() | TEXT, min_size=n, max_size=n) for k in keys}))))
def test_raw_rows_are_the_text_json_dumps_wrote_and_hash_the_same(
        columns: dict[str, list[str | None]]) -> None:
    n = len(next(iter(columns.values())))
    raws = raw_json(columns)
    assert raws.to_pylist() == _dumps(columns, n)
    # row_hash is now taken by the store (DuckDB sha256 of the UTF-8 text): as hashlib did
    con = duckdb.connect()
    con.register("r", pa.table({"raw": raws}))
    got = [h for (h,) in con.execute("SELECT sha256(raw) FROM r").fetchall()]
    assert got == [hashlib.sha256(r.encode()).hexdigest() for r in raws.to_pylist()]


def test_generated_population_normalises_the_same_on_both_paths(population: Path) -> None:
    rows = compare_folder(population)
    assert rows > PEOPLE  # every source was read


HEADER = ["ID", "FIRST", "MIDDLE", "LAST", "SUFFIX", "NAME", "DOB", "YOB", "SEX", "STREET",
          "UNIT", "CITY", "STATE", "ZIP", "ADDRESS", "PHONE", "EMAIL", "SSN", "DL", "DL_STATE",
          "PLATE", "SEEN", "FACILITY", "ORIGIN"]
# values that are junk, partly junk or unverified, beside good ones: each outcome kind
ODD: dict[str, list[str]] = {
    "FIRST": ["Diana", "", "Baby Girl", "José", "Bill"], "MIDDLE": ["", "A", "Ann Marie"],
    "LAST": ["Kofron", "de la Cruz", "Smith Jr", "", "O'Brien-Lopez"],
    "SUFFIX": ["", "X7", "III", "Esq"], "NAME": ["", "SMITH, JOHN A", "Ramon Navarrete",
                                                 "Dr. Dean", "123"],
    "DOB": ["1994-05-06", "1994-13-06", "2999-01-01", "1850-02-02", "junk", ""],
    "YOB": ["", "1980", "19x0", "2999"], "SEX": ["M", "female", "Q", "9", ""],
    "STREET": ["5112 145th St", "1 North Main Street Apt 4", "", "#"],
    "UNIT": ["", "Apartment", "#4"], "CITY": ["Anytown", "St. Louis", "123", ""],
    "STATE": ["WA", "Ontario", "illinois", ""], "ZIP": ["98101", "00000", "0O123", "123"],
    "ADDRESS": ["", "9736 WALNUT WAY AURORA IL 60506", "PO Box 12, Springfield IL 62704",
                "???"],
    "PHONE": ["(206) 245-1234", "(217) 155-1234", "000-000-0000", "555-0100",
              "+44 20 7946 0958", ""],
    "EMAIL": ["a@b.example.com", "not-an-email", ""],
    "SSN": ["201-45-6788", "912-70-1234", "000-00-0000", "12345", ""],
    "DL": ["", "12345678", "A1234567", "A*1"], "DL_STATE": ["", "CA", "WA", "ZZ"],
    "PLATE": ["", "ABC123", "X", "TOOLONGPLATE"],
    "SEEN": ["2020-01-02", "2020-01-02T03:04:05Z", "13/45/2020", ""],
    "FACILITY": ["", "Cook County Jail", "  "], "ORIGIN": ["", "CA", "Atlantis", "US-NY"],
}


def _odd_rows(count: int) -> Iterator[dict[str, str]]:
    for i in range(count):
        row = {k: v[(i * (j + 1) + i // 7) % len(v)] for j, (k, v) in enumerate(ODD.items())}
        yield {"ID": f"r{i}", **row}


def test_odd_values_give_the_same_values_and_issues_on_both_paths(tmp_path: Path) -> None:
    with open(tmp_path / "odd.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, HEADER)
        w.writeheader()
        w.writerows(_odd_rows(600))
    fields = {
        "first_name": "FIRST", "middle_name": "MIDDLE", "last_name": "LAST",
        "suffix": "SUFFIX", "full_name": {"column": "NAME", "order": "last_first"},
        "dob": "DOB", "birth_year": "YOB", "sex": "SEX", "street": "STREET", "unit": "UNIT",
        "city": "CITY", "state": "STATE", "zip": "ZIP", "address": "ADDRESS", "phone": "PHONE",
        "email": "EMAIL", "ssn": "SSN", "dl_number": "DL", "dl_state": "DL_STATE",
        "plate": "PLATE", "observed_at": "SEEN", "facility": "FACILITY",
        "origin_jurisdiction": "ORIGIN",
    }
    manifest = {
        "id": "odd", "title": "Odd values (synthetic)", "kind": "dmv", "jurisdiction": "US",
        "regimes": [], "collected_for": "testing", "retention_days": 3650,
        "input": {"path": "odd.csv", "format": "csv"}, "record_id": "ID", "fields": fields,
    }
    (tmp_path / "odd.yaml").write_text(yaml.safe_dump(manifest))
    # twice: the second pass reads every outcome from the memo
    assert compare_folder(tmp_path, chunk_rows=97) == 600
    mapping.MEMO.limit, limit = 5, mapping.MEMO.limit  # tables emptied as they fill
    try:
        assert compare_folder(tmp_path, chunk_rows=50) == 600
    finally:
        mapping.MEMO.limit = limit
        mapping.MEMO.clear()
