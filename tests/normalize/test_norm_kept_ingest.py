"""Issue 13 item 0, "nothing lost in normalisation", at ingest: a bad part nulls only
itself, and a well-formed but unverifiable value is kept and named in ``unverified``.

Before: a record with ZIP 00000 lost its whole address (house number, street, city);
a phone number with an unassigned area code and a licence number
that fails its state's format were nulled; a bad suffix column nulled the whole name;
a birth date with month 13 lost its year too. There was no ``unverified`` column.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from idgraph.settings import Settings
from idgraph.sources import ingest_manifest
from idgraph.store import open_store

HEADER = ["ID", "FIRST", "LAST", "SUFFIX", "DOB", "STREET", "UNIT", "CITY", "STATE", "ZIP",
          "PHONE", "SSN", "DL", "DL_STATE"]
BASE = {"FIRST": "Diana", "LAST": "Kofron", "SUFFIX": "", "DOB": "1994-05-06",
        "STREET": "5112 145th St", "UNIT": "", "CITY": "Anytown", "STATE": "WA",
        "ZIP": "98101", "PHONE": "(206) 245-1234", "SSN": "201-45-6788", "DL": "",
        "DL_STATE": ""}

# id, changed source values, expected stored values, expected unverified, quarantined fields
CASES: list[tuple[str, dict[str, str], dict[str, Any], list[str] | None, list[str]]] = [
    ("zip00000", {"ZIP": "00000"},
     {"house_number": "5112", "street": "145TH ST", "city": "ANYTOWN", "state": "WA",
      "zip": None}, None, ["zip"]),
    ("zipO", {"ZIP": "0O123"}, {"street": "145TH ST", "zip": "00123"}, None, []),
    ("bad_unit", {"UNIT": "Apartment"},
     {"house_number": "5112", "street": "145TH ST", "unit": None, "zip": "98101"}, None,
     ["unit"]),
    ("bad_state", {"STATE": "Ontario"},
     {"street": "145TH ST", "city": "ANYTOWN", "state": None, "zip": "98101"}, None,
     ["state"]),
    ("phone_unassigned", {"PHONE": "(217) 155-1234"}, {"phone": "+12171551234"},
     ["phone"], []),
    ("phone_placeholder", {"PHONE": "000-000-0000"}, {"phone": None}, None, ["phone"]),
    ("ssn_itin", {"SSN": "912-70-1234"}, {"ssn": None}, None, ["ssn"]),
    ("ssn_placeholder", {"SSN": "000-00-0000"}, {"ssn": None}, None, ["ssn"]),
    ("dl_format", {"DL": "12345678", "DL_STATE": "CA"},
     {"dl_number": "12345678", "dl_state": "CA"}, ["dl_number"], []),
    ("two_unverified", {"PHONE": "(999) 555-0134", "DL": "A123456", "DL_STATE": "CA"},
     {"phone": "+19995550134", "dl_number": "A123456"}, ["phone", "dl_number"], []),
    ("bad_suffix", {"SUFFIX": "X7"},
     {"first_name": "DIANA", "last_name": "KOFRON", "suffix": None}, None, ["suffix"]),
    ("dob_month13", {"DOB": "1994-13-06"},
     {"dob_precision": "year", "birth_year": 1994}, None, ["dob"]),
    ("clean", {}, {"zip": "98101", "phone": "+12062451234"}, None, []),
]


def _write(folder: Path) -> Path:
    with open(folder / "people.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, HEADER)
        w.writeheader()
        for rid, change, *_ in CASES:
            w.writerow({**BASE, **change, "ID": rid})
    fields: dict[str, Any] = {
        "first_name": "FIRST", "last_name": "LAST", "suffix": "SUFFIX", "dob": "DOB",
        "street": "STREET", "unit": "UNIT", "city": "CITY", "state": "STATE", "zip": "ZIP",
        "phone": "PHONE", "ssn": "SSN", "dl_number": "DL", "dl_state": "DL_STATE",
    }
    m = {
        "id": "people", "title": "Kept values (synthetic)", "kind": "other",
        "jurisdiction": "US", "regimes": [], "collected_for": "testing",
        "retention_days": 3650, "input": {"path": "people.csv", "format": "csv"},
        "record_id": "ID", "fields": fields,
    }
    p = folder / "people.yaml"
    p.write_text(yaml.safe_dump(m))
    return p


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    folder = tmp_path_factory.mktemp("kept")
    store = open_store(folder / "t.duckdb")
    summary = ingest_manifest(store, _write(folder), Settings(data_dir=folder))
    assert summary.balanced and summary.records_added == len(CASES)
    return store.con


@pytest.mark.parametrize(("rid", "change", "values", "unverified", "quarantined"), CASES,
                         ids=[c[0] for c in CASES])
def test_bad_part_nulls_only_itself_and_unverified_is_kept(
    stored: duckdb.DuckDBPyConnection, rid: str, change: dict[str, str],
    values: dict[str, Any], unverified: list[str] | None, quarantined: list[str],
) -> None:
    cols = list(values)
    row = stored.execute(
        f"SELECT {', '.join(cols)}, unverified FROM records WHERE source_record_id = ?",
        [rid]).fetchone()
    assert row is not None
    assert dict(zip(cols, row[:-1], strict=True)) == values
    assert row[-1] == unverified
    q = stored.execute("SELECT field FROM quarantine WHERE source_record_id = ? ORDER BY 1",
                       [rid]).fetchall()
    assert [f for (f,) in q] == quarantined


def test_equal_unverified_phones_are_one_value(stored: duckdb.DuckDBPyConnection) -> None:
    """Two records with the same unassigned number store the same digits, so the
    phone comparison sees agreement like for any other number."""
    got = stored.execute(
        "SELECT count(DISTINCT phone) FROM records WHERE list_contains(unverified, 'phone')"
    ).fetchone()
    assert got == (2,)  # two different unassigned numbers in CASES, both kept
