"""Issue 11 item 7: a compiled source names the column that gives each record's origin
jurisdiction; ingest stores it (ISO 3166-2, NULL for the source's own jurisdiction).

Attack: a national compilation declared ``jurisdiction: US`` holding California
licences had no way to say so, so California's rules never saw those records. Before
this change ``origin_jurisdiction`` was not a canonical field (the manifest was refused)
and records had no column for it.
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

ROWS = [
    # line 2.. : ID, LAST, DL_STATE, expected origin_jurisdiction (None: the source's own)
    ("1", "ALPHA", "CA", "US-CA"),
    ("2", "BRAVO", "ca", "US-CA"),
    ("3", "CHARLIE", "US-CA", "US-CA"),
    ("4", "DELTA", "California", "US-CA"),
    ("5", "ECHO", "NY", "US-NY"),
    ("6", "FOXTROT", "", None),  # blank: the source's own jurisdiction
    ("7", "GOLF", "US", None),  # the source's own jurisdiction, stored as NULL
    ("8", "HOTEL", "il", "US-IL"),  # inside a US source, IL is Illinois
    ("9", "INDIA", "Calif.", "quarantined"),
    ("10", "JULIETT", "XX", "quarantined"),
]


def write(folder: Path, jurisdiction: str = "US", origin_column: str | None = "DL_STATE",
          rows: list[tuple[str, str, str, Any]] = ROWS, sid: str = "us_dl") -> Path:
    with open(folder / f"{sid}.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ID", "LAST", "DL_STATE"])
        w.writerows(r[:3] for r in rows)
    fields: dict[str, Any] = {"last_name": "LAST"}
    if origin_column:
        fields["origin_jurisdiction"] = origin_column
    m = {
        "id": sid, "title": "National licence compilation (synthetic)", "kind": "dmv",
        "jurisdiction": jurisdiction, "regimes": ["dppa"], "collected_for": "testing",
        "retention_days": 3650, "input": {"path": f"{sid}.csv", "format": "csv"},
        "record_id": "ID", "fields": fields,
    }
    p = folder / f"{sid}.yaml"
    p.write_text(yaml.safe_dump(m))
    return p


def test_origin_jurisdiction_is_normalised_and_stored(tmp_path: Path) -> None:
    store = open_store(tmp_path / "t.duckdb")
    s = ingest_manifest(store, write(tmp_path), Settings(data_dir=tmp_path, ingest_chunk_rows=3))
    assert s.balanced
    assert (s.rows, s.records_added, s.rows_quarantined) == (10, 8, 2)
    got = dict(store.fetchall("SELECT source_record_id, origin_jurisdiction FROM records"))
    want = {r[0]: r[3] for r in ROWS if r[3] != "quarantined"}
    assert got == want
    # the regime was stored in its catalogued spelling
    assert store.scalar("SELECT regimes FROM sources WHERE source_id = 'us_dl'") == ["DPPA"]


def test_unknown_origin_quarantines_the_row_with_file_line_field_reason(tmp_path: Path) -> None:
    store = open_store(tmp_path / "t.duckdb")
    ingest_manifest(store, write(tmp_path), Settings(data_dir=tmp_path, ingest_chunk_rows=4))
    q = store.fetchall(
        "SELECT source_file, source_line, source_record_id, field, value, reason "
        "FROM quarantine ORDER BY source_line")
    assert [(r[1], r[2], r[3], r[4]) for r in q] == [
        (10, "9", "origin_jurisdiction", "Calif."),
        (11, "10", "origin_jurisdiction", "XX"),
    ]
    assert all(r[0].endswith("us_dl.csv") and "not stored" in r[5] for r in q)
    # not stored at all: an unknown origin must not fall back to the source's own law
    assert store.scalar("SELECT count(*) FROM records WHERE source_record_id IN ('9', '10')") == 0


@pytest.mark.parametrize(
    ("jurisdiction", "value", "stored"),
    [
        ("US-IL", "IL", None),  # the state's own file: its own jurisdiction
        ("US-IL", "US-IL", None),
        ("US-IL", "Wisconsin", "US-WI"),
        ("US", "Puerto Rico", "US-PR"),
        ("US-NY", "US", "US"),  # a national record in a state's file: its own segment
    ],
)
def test_origin_relative_to_the_source(
    tmp_path: Path, jurisdiction: str, value: str, stored: str | None
) -> None:
    store = open_store(None)
    p = write(tmp_path, jurisdiction, rows=[("1", "ALPHA", value, stored)])
    ingest_manifest(store, p, Settings(data_dir=tmp_path))
    assert store.scalar("SELECT origin_jurisdiction FROM records") == stored


def test_without_an_origin_column_every_record_is_the_sources_own(tmp_path: Path) -> None:
    store = open_store(None)
    ingest_manifest(store, write(tmp_path, origin_column=None), Settings(data_dir=tmp_path))
    assert store.fetchall("SELECT DISTINCT origin_jurisdiction FROM records") == [(None,)]


def test_an_existing_store_is_migrated(tmp_path: Path) -> None:
    """A store made before the column existed gains it (ADD COLUMN IF NOT EXISTS)."""
    db = tmp_path / "old.duckdb"
    store = open_store(db)
    store.execute("ALTER TABLE records DROP COLUMN origin_jurisdiction")
    store.execute("DROP TABLE schema_version")  # from before versioned migrations too
    store.close()
    con = duckdb.connect(str(db))
    assert "origin_jurisdiction" not in {r[0] for r in con.execute("DESCRIBE records").fetchall()}
    con.close()
    store = open_store(db)
    ingest_manifest(store, write(tmp_path), Settings(data_dir=tmp_path))
    assert store.scalar(
        "SELECT origin_jurisdiction FROM records WHERE source_record_id = '1'") == "US-CA"
    store.close()
    store = open_store(db)  # idempotent: opening again changes nothing
    assert store.scalar("SELECT count(*) FROM records") == 8
