"""Ingestion: provenance, idempotence, versions, quarantine and whole-file rejection."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from idgraph.settings import Settings
from idgraph.sources import FileRejected, ManifestError, ingest_manifest, load_manifest
from idgraph.store import Store, open_store

HEADER = ["ID", "LAST", "FIRST", "DOB", "PHONE", "ADDR", "CITY", "ST", "ZIP", "NOTE"]
ROWS = [
    ["1", "Smith", "John", "03/15/1980", "(212) 555-0134", "12 Main Street", "Albany", "NY",
     "12207", "unmapped kept"],
    ["2", "Garcia Lopez", "Maria", "02/30/1980", "212-555-0199", "5 Oak Ave", "Albany", "NY",
     "12207", ""],
    ["3", "Nguyen", "Anh", "07/04/1975", "not a phone", "9 Elm St Apt 2", "Troy", "NY",
     "12180-1234", ""],
    ["", "Nobody", "No", "01/01/1970", "", "", "", "", "", "missing id"],
]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> None:
    import csv

    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def write_manifest(folder: Path, data_name: str, fmt: str = "csv", sid: str = "test_dmv",
                   **extra: Any) -> Path:
    m = {
        "id": sid, "title": "Test DMV", "kind": "dmv", "jurisdiction": "US-NY",
        "regimes": ["DPPA"], "collected_for": "testing", "retention_days": 365,
        "input": {"path": data_name, "format": fmt}, "record_id": "ID",
        "fields": {"last_name": "LAST", "first_name": "FIRST",
                   "dob": {"column": "DOB", "format": "%m/%d/%Y"}, "phone": "PHONE",
                   "street": "ADDR", "city": "CITY", "state": "ST", "zip": "ZIP"},
        **extra,
    }
    p = folder / f"{sid}.yaml"
    p.write_text(yaml.safe_dump(m))
    return p


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(tmp_path / "db" / "t.duckdb")


def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "db", ingest_chunk_rows=2)


def snapshot(store: Store) -> dict[str, Any]:
    return {t: store.fetchall(f"SELECT * FROM {t} ORDER BY ALL")
            for t in ("records", "quarantine", "sources", "batches")}


def test_ingest_accounts_for_every_row(tmp_path: Path, store: Store) -> None:
    write_csv(tmp_path / "dmv.csv", ROWS)
    s = ingest_manifest(store, write_manifest(tmp_path, "dmv.csv"), settings(tmp_path))
    assert (s.rows, s.records_added, s.rows_quarantined) == (4, 3, 1)
    assert s.balanced
    assert s.fields_quarantined == 2  # impossible date, unparseable phone
    q = store.fetchall("SELECT source_line, field, value, reason FROM quarantine ORDER BY 1")
    assert [(r[0], r[1]) for r in q] == [(3, "dob"), (4, "phone"), (5, "ID")]
    assert all(str(tmp_path / "dmv.csv") == f for (f,) in
               store.fetchall("SELECT DISTINCT source_file FROM quarantine"))


def test_records_keep_provenance_raw_row_and_normalised_values(
    tmp_path: Path, store: Store
) -> None:
    write_csv(tmp_path / "dmv.csv", ROWS)
    ingest_manifest(store, write_manifest(tmp_path, "dmv.csv"), settings(tmp_path))
    row = store.fetchone("""SELECT record_id, source_record_id, version, batch_id, source_line,
        raw, last_name, first_name, dob, phone, street, house_number, zip, dob_precision
        FROM records WHERE record_id = 'test_dmv/1'""")
    assert row is not None
    assert row[:3] == ("test_dmv/1", "1", 1)
    assert row[3].startswith("test_dmv-")
    assert row[4] == 2
    assert json.loads(row[5])["NOTE"] == "unmapped kept"
    assert row[6:8] == ("SMITH", "JOHN")
    assert str(row[8]) == "1980-03-15"
    assert row[9] == "+12125550134"
    assert row[10:13] == ("MAIN ST", "12", "12207")
    assert row[13] == "day"
    bad = store.fetchone("SELECT dob, dob_precision, last_name FROM records "
                         "WHERE record_id = 'test_dmv/2'")
    # 02/30/1980: the impossible day is dropped, the birth year kept (issue 13)
    assert bad is not None and bad[:2] == (date(1980, 1, 1), "year") and bad[2] is not None
    z = store.scalar("SELECT zip FROM records WHERE record_id = 'test_dmv/3'")
    assert z == "12180"


def test_reingest_same_file_adds_nothing(tmp_path: Path, store: Store) -> None:
    write_csv(tmp_path / "dmv.csv", ROWS)
    mp = write_manifest(tmp_path, "dmv.csv")
    ingest_manifest(store, mp, settings(tmp_path))
    before = store.scalar("SELECT count(*) FROM records")
    s2 = ingest_manifest(store, mp, settings(tmp_path))
    assert (s2.records_added, s2.records_versioned, s2.records_unchanged) == (0, 0, 3)
    assert s2.balanced
    assert store.scalar("SELECT count(*) FROM records") == before


def test_changed_row_becomes_new_version(tmp_path: Path, store: Store) -> None:
    write_csv(tmp_path / "dmv.csv", ROWS)
    mp = write_manifest(tmp_path, "dmv.csv")
    ingest_manifest(store, mp, settings(tmp_path))
    changed = [r[:] for r in ROWS]
    changed[0][5] = "99 River Road"
    write_csv(tmp_path / "dmv.csv", changed)
    s = ingest_manifest(store, mp, settings(tmp_path))
    assert (s.records_added, s.records_versioned, s.records_unchanged) == (0, 1, 2)
    rows = store.fetchall("""SELECT version, is_current, street FROM records
        WHERE record_id = 'test_dmv/1' ORDER BY version""")
    assert rows == [(1, False, "MAIN ST"), (2, True, "RIVER RD")]
    assert store.scalar("SELECT count(*) FROM records WHERE is_current") == 3


def test_duplicate_record_id_in_file_is_quarantined(tmp_path: Path, store: Store) -> None:
    dup = [*ROWS[:3], ["1", "Smyth", "Jon", "03/15/1980", "", "", "", "", "", ""]]
    write_csv(tmp_path / "dmv.csv", dup)
    s = ingest_manifest(store, write_manifest(tmp_path, "dmv.csv"), settings(tmp_path))
    assert (s.rows, s.records, s.rows_quarantined) == (4, 3, 1)
    reason = store.scalar("SELECT reason FROM quarantine WHERE source_line = 5")
    assert reason == "duplicate record id in file (first at line 2)"


def _bad_encoding(p: Path) -> None:
    p.write_bytes(",".join(HEADER).encode() + b"\n1,M\xfcller,Hans,,,,,,,\n")


def _truncated_gzip(p: Path) -> None:
    write_csv(p, ROWS * 200)
    p.write_bytes(p.read_bytes()[:-40])


def _missing_column(p: Path) -> None:
    write_csv(p, [[*r[:-2], r[-1]] for r in ROWS], [h for h in HEADER if h != "ZIP"])


REJECT_CASES: list[tuple[str, str, Any, str]] = [
    ("wrong encoding", "dmv.csv", _bad_encoding, "not valid utf-8"),
    ("truncated gzip", "dmv.csv.gz", _truncated_gzip, "truncated gzip"),
    ("missing mapped column", "dmv.csv", _missing_column, "['ZIP'] not in the file"),
    ("missing file", "absent.csv", None, "file not found"),
    ("empty file", "dmv.csv", lambda p: p.write_text(""), "empty file"),
]


@pytest.mark.parametrize(("label", "name", "make", "cause"), REJECT_CASES,
                         ids=[c[0] for c in REJECT_CASES])
def test_unreadable_file_is_rejected_and_store_unchanged(
    tmp_path: Path, store: Store, label: str, name: str, make: Any, cause: str
) -> None:
    write_csv(tmp_path / "ok.csv", ROWS)
    ingest_manifest(store, write_manifest(tmp_path, "ok.csv", sid="other"), settings(tmp_path))
    before = snapshot(store)
    if make is not None:
        make(tmp_path / name)
    with pytest.raises(FileRejected) as info:
        ingest_manifest(store, write_manifest(tmp_path, name), settings(tmp_path))
    assert cause in info.value.cause, label
    assert name in str(info.value)
    assert snapshot(store) == before


def test_unknown_format_is_a_manifest_error(tmp_path: Path) -> None:
    p = write_manifest(tmp_path, "dmv.xlsx", fmt="xlsx")
    with pytest.raises(ManifestError) as info:
        load_manifest(p)
    assert info.value.key == "input.format"


def test_jsonl_bad_lines_are_quarantined(tmp_path: Path, store: Store) -> None:
    lines = [json.dumps(dict(zip(HEADER, r, strict=True))) for r in ROWS[:3]]
    lines.insert(1, "{not json")
    lines.append("[1, 2]")
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n")
    s = ingest_manifest(store, write_manifest(tmp_path, "d.jsonl", fmt="jsonl"),
                        settings(tmp_path))
    assert (s.rows, s.records, s.rows_quarantined) == (5, 3, 2)
    reasons = [r[0] for r in store.fetchall(
        "SELECT reason FROM quarantine WHERE field IS NULL ORDER BY source_line")]
    assert reasons[0].startswith("not valid JSON") and reasons[1] == "not a JSON object"


def test_parquet_source(tmp_path: Path, store: Store) -> None:
    tbl = pa.table({h: [r[i] or None for r in ROWS[:3]] for i, h in enumerate(HEADER)})
    pq.write_table(tbl, tmp_path / "d.parquet")
    s = ingest_manifest(store, write_manifest(tmp_path, "d.parquet", fmt="parquet"),
                        settings(tmp_path))
    assert (s.rows, s.records_added) == (3, 3)
    assert store.scalar("SELECT first_name FROM records WHERE record_id='test_dmv/3'") == "ANH"


def test_records_removed_by_retention_never_come_back(tmp_path: Path, store: Store) -> None:
    from datetime import datetime, timedelta

    from idgraph.policy import apply_retention

    write_csv(tmp_path / "dmv.csv", ROWS)
    mp = write_manifest(tmp_path, "dmv.csv")  # retention_days: 365
    ingest_manifest(store, mp, settings(tmp_path))
    run = apply_retention(store, as_of=datetime.now() + timedelta(days=400))
    assert run.removed == 3
    again = ingest_manifest(store, mp, settings(tmp_path))
    assert (again.records_added, again.rows_quarantined, again.balanced) == (0, 4, True)
    assert store.scalar("SELECT count(*) FROM records") == 0
    reasons = {r[0] for r in store.fetchall(
        "SELECT reason FROM quarantine WHERE batch_id = ?", [again.batch_id])}
    assert "record removed under the retention policy; not ingested again" in reasons
    changed = [r[:] for r in ROWS]
    changed[0][5] = "1 New Road"  # a changed row is new data: it is ingested
    write_csv(tmp_path / "dmv.csv", changed)
    third = ingest_manifest(store, mp, settings(tmp_path))
    assert third.records_added == 1 and third.balanced


def test_batches_keep_the_line_counts_the_balance_checked(tmp_path: Path, store: Store) -> None:
    write_csv(tmp_path / "dmv.csv", ROWS)
    s = ingest_manifest(store, write_manifest(tmp_path, "dmv.csv"), settings(tmp_path))
    row = store.fetchone("SELECT rows, lines, lines_blank, lines_in_rows FROM batches "
                         "WHERE batch_id = ?", [s.batch_id])
    assert row == (s.rows, s.lines, s.lines_blank, s.lines_in_rows)
    assert s.lines == len(ROWS) and s.balanced
