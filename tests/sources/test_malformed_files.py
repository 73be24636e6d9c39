"""Malformed source files (issue 12, items 1, 2, 3, 4a, 5 and 9).

Each test is written as the malformed file: an unbalanced quote, a byte-order mark, a
header naming a column twice, a bad byte far into the file, a nested JSON value or a NUL
byte in a value, a field of a megabyte. Each either loses exactly the bad row (named by
its line) with every other row kept and the lines balanced, or rejects the file naming
the line and byte, with the store unchanged.
"""

from __future__ import annotations

import codecs
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from test_ingest import HEADER, ROWS, snapshot, write_manifest

from idgraph.settings import Settings
from idgraph.sources import FileRejected, ingest_manifest
from idgraph.sources.readers import (
    NESTED_ARRAY,
    NESTED_OBJECT,
    NUL_VALUE,
    header_columns,
)
from idgraph.store import Store, open_store

SURNAMES = ["Smith", "Garcia", "Nguyen", "Okafor", "Kowalski", "Haddad", "Moreau"]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(tmp_path / "db" / "t.duckdb")


def settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(data_dir=tmp_path / "db", ingest_chunk_rows=7, **kw)


def manifest(folder: Path, data_name: str, fmt: str = "csv", **input_: Any) -> Path:
    p = write_manifest(folder, data_name, fmt=fmt)
    m = yaml.safe_load(p.read_text())
    m["input"].update(input_)
    p.write_text(yaml.safe_dump(m))
    return p


def person(i: int) -> list[str]:
    return [str(i), SURNAMES[i % len(SURNAMES)], "Ann", "03/15/1980", "", f"{i} Main St",
            "Albany", "NY", "12207", ""]


def line(values: list[str]) -> str:
    return ",".join(values) + "\n"


def field_rows(store: Store) -> list[tuple[Any, ...]]:
    return store.fetchall("""SELECT source_line, field, value, reason FROM quarantine
        WHERE field IS NOT NULL ORDER BY source_line, field""")


def row_errors(store: Store) -> list[tuple[Any, ...]]:
    return store.fetchall(
        "SELECT source_line, reason FROM quarantine WHERE field IS NULL ORDER BY 1")


# --- 1. an unterminated quote costs one line, not the rest of the file --------------------

def _quote_at(bad: int, extra: dict[int, str] | None = None) -> str:
    """300 data rows; data row ``bad`` opens a quote it never closes."""
    out = [line(HEADER)]
    for i in range(1, 301):
        row = person(i)
        if i == bad:
            row[1] = '"' + row[1]
        out.append((extra or {}).get(i) or line(row))
    return "".join(out)


# Row 50's address is a legitimate quoted field over two lines (kept); a blank line follows.
_MULTI = {50: line([*person(50)[:5], '"12 Main St\nApt 2"', *person(50)[6:]]) + "\n"}
_LONG = {50: line([*person(50)[:5], '"a\nb\nc\nd"', *person(50)[6:]])}

QUOTE_CASES: list[tuple[str, str, dict[str, Any], int, list[int], int]] = [
    # label, file text, settings, records, quarantined lines, physical data lines
    ("unbalanced quote at data line 101", _quote_at(101), {}, 299, [102], 300),
    ("unbalanced quote near the end", _quote_at(296), {}, 299, [297], 300),
    ("legit multi-line field kept, blank line counted", _quote_at(101, _MULTI), {}, 299,
     [104], 302),
    ("quoted field over csv_max_record_lines", _quote_at(0, _LONG),
     {"csv_max_record_lines": 3}, 299, [51, 52, 53, 54], 303),
]


@pytest.mark.parametrize(("label", "text", "kw", "records", "bad_lines", "lines"),
                         QUOTE_CASES, ids=[c[0] for c in QUOTE_CASES])
def test_unterminated_quote_costs_only_its_line(
    tmp_path: Path, store: Store, label: str, text: str, kw: dict[str, Any], records: int,
    bad_lines: list[int], lines: int,
) -> None:
    (tmp_path / "q.csv").write_text(text, newline="")
    s = ingest_manifest(store, manifest(tmp_path, "q.csv"), settings(tmp_path, **kw))
    assert (s.records, s.rows_quarantined, s.rows) == (
        records, len(bad_lines), records + len(bad_lines)), label
    assert s.lines == lines and s.balanced, label
    errors = row_errors(store)
    assert [e[0] for e in errors] == bad_lines, label
    assert f"malformed row starting at line {bad_lines[0]}" in errors[0][1]
    if label.startswith("unbalanced"):
        assert "unterminated quote" in errors[0][1]
        ids = {int(r[0]) for r in store.fetchall("SELECT source_record_id FROM records")}
        assert ids == set(range(1, 301)) - {bad_lines[0] - 1}
        last = store.scalar("SELECT source_line FROM records WHERE source_record_id='300'")
        assert last == 301
    if "legit" in label:
        raw = store.scalar("SELECT raw FROM records WHERE source_record_id = '50'")
        assert json.loads(str(raw))["ADDR"] == "12 Main St\nApt 2"
        assert s.lines_blank == 1


def test_balance_fails_when_lines_go_missing() -> None:
    from idgraph.sources.ingest import IngestSummary

    s = IngestSummary("s", "f", "b", rows=2, records_added=1, rows_quarantined=1,
                      lines=300, lines_in_rows=2)
    assert not s.balanced


# --- 2. byte-order marks ------------------------------------------------------------------

def _csv_text() -> str:
    return line(HEADER) + "".join(line(r) for r in ROWS)


def _jsonl_text() -> str:
    return "".join(json.dumps(dict(zip(HEADER, r, strict=True))) + "\n" for r in ROWS)


BOM_CASES: list[tuple[str, str, str, bytes]] = [
    ("utf-8 csv", "csv", "utf-8", codecs.BOM_UTF8 + _csv_text().encode()),
    ("utf-8 jsonl", "jsonl", "utf-8", codecs.BOM_UTF8 + _jsonl_text().encode()),
    ("utf-16 csv", "csv", "utf-16", _csv_text().encode("utf-16")),
    ("utf-8-sig gzip csv", "csv", "utf-8-sig", codecs.BOM_UTF8 + _csv_text().encode()),
]


@pytest.mark.parametrize(("label", "fmt", "encoding", "data"), BOM_CASES,
                         ids=[c[0] for c in BOM_CASES])
def test_byte_order_mark_is_stripped(
    tmp_path: Path, store: Store, label: str, fmt: str, encoding: str, data: bytes
) -> None:
    name = f"bom.{fmt}" + (".gz" if "gzip" in label else "")
    (tmp_path / name).write_bytes(gzip.compress(data) if "gzip" in label else data)
    if fmt == "csv":
        assert header_columns(tmp_path / name, fmt, encoding, ",") == HEADER
    s = ingest_manifest(store, manifest(tmp_path, name, fmt, encoding=encoding),
                        settings(tmp_path))
    assert (s.rows, s.records, s.rows_quarantined, s.balanced) == (4, 3, 1, True)
    assert store.scalar("SELECT last_name FROM records WHERE source_record_id='1'") == "SMITH"


# --- 3. a header naming a column twice ----------------------------------------------------

def test_duplicate_header_column_rejects_the_file(tmp_path: Path, store: Store) -> None:
    (tmp_path / "ok.csv").write_text(_csv_text())
    ingest_manifest(store, write_manifest(tmp_path, "ok.csv", sid="other"), settings(tmp_path))
    before = snapshot(store)
    (tmp_path / "dup.csv").write_text(
        line([*HEADER, "LAST"]) + "".join(line([*r, "Other"]) for r in ROWS))
    with pytest.raises(FileRejected) as info:
        ingest_manifest(store, manifest(tmp_path, "dup.csv"), settings(tmp_path))
    assert "dup.csv" in str(info.value)
    assert "column 'LAST' twice (columns 2 and 11)" in info.value.cause
    assert snapshot(store) == before


def test_duplicate_parquet_column_rejects_the_file(tmp_path: Path, store: Store) -> None:
    cols = [pa.array([r[i] or None for r in ROWS]) for i in range(len(HEADER))]
    pq.write_table(pa.Table.from_arrays([*cols, cols[1]], names=[*HEADER, "LAST"]),
                   tmp_path / "dup.parquet")
    with pytest.raises(FileRejected) as info:
        ingest_manifest(store, manifest(tmp_path, "dup.parquet", "parquet"),
                        settings(tmp_path))
    assert info.value.cause == "the schema names column 'LAST' twice (columns 2 and 11)"
    assert store.scalar("SELECT count(*) FROM records") == 0


# --- 4a. an encoding error names the file's line and byte ---------------------------------

@pytest.mark.parametrize("name", ["enc.csv", "enc.csv.gz", "enc.jsonl"])
def test_encoding_error_names_line_and_byte(tmp_path: Path, store: Store, name: str) -> None:
    fmt = "jsonl" if name.endswith("jsonl") else "csv"
    if fmt == "csv":
        rows = [line(HEADER).encode()] + [line(person(i)).encode() for i in range(1, 501)]
    else:
        rows = [(json.dumps(dict(zip(HEADER, person(i), strict=True))) + "\n").encode()
                for i in range(1, 501)]
    rows[411] = rows[411].replace(b"Main", b"M\xfcller")  # line 412
    data = b"".join(rows)
    offset = data.index(b"\xfc")
    assert offset > 2 * 8192
    (tmp_path / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    (tmp_path / "ok.csv").write_text(_csv_text())
    ingest_manifest(store, write_manifest(tmp_path, "ok.csv", sid="other"), settings(tmp_path))
    before = snapshot(store)
    with pytest.raises(FileRejected) as info:
        ingest_manifest(store, manifest(tmp_path, name, fmt), settings(tmp_path))
    where = f"line 412, byte {offset}"
    if name.endswith(".gz"):
        where += " of the decompressed stream"
    assert info.value.cause == f"{where}: not valid utf-8 text: invalid start byte"
    assert snapshot(store) == before


# --- 5. nested JSON values and NUL bytes are quarantined, not stored ----------------------

def _jsonl_bad(p: Path) -> None:
    rows: list[dict[str, Any]] = [dict(zip(HEADER, r, strict=True)) for r in ROWS[:3]]
    rows[0]["LAST"] = {"family": "SMITH", "given": "JOHN"}
    rows[1]["FIRST"] = "MA\x00RIA"
    rows[2]["ADDR"] = ["9 Elm St", "Apt 2"]
    rows[2]["NOTE"] = "unmapped\x00note"  # unmapped: kept, not quarantined
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _csv_bad(p: Path) -> None:
    rows = [r[:] for r in ROWS[:3]]
    rows[0][1] = "SMI\x00TH"
    rows[2][9] = "unmapped\x00note"
    p.write_text(line(HEADER) + "".join(line(r) for r in rows))


def _parquet_bad(p: Path) -> None:
    rows = [r[:] for r in ROWS[:3]]
    rows[0][1] = "SMI\x00TH"
    rows[2][9] = "unmapped\x00note"
    pq.write_table(pa.table({h: [r[i] or None for r in rows] for i, h in enumerate(HEADER)}),
                   p)


BAD_VALUE_CASES: list[tuple[str, str, Callable[[Path], None], list[tuple[Any, ...]]]] = [
    ("jsonl", "bad.jsonl", _jsonl_bad, [
        (1, "last_name", '{"family": "SMITH", "given": "JOHN"}', NESTED_OBJECT),
        (2, "first_name", "MA\\x00RIA", NUL_VALUE),
        (3, "street", '["9 Elm St", "Apt 2"]', NESTED_ARRAY),
    ]),
    ("csv", "bad.csv", _csv_bad, [(2, "last_name", "SMI\\x00TH", NUL_VALUE)]),
    ("parquet", "bad.parquet", _parquet_bad, [(1, "last_name", "SMI\\x00TH", NUL_VALUE)]),
]


@pytest.mark.parametrize(("fmt", "name", "make", "expected"), BAD_VALUE_CASES,
                         ids=[c[0] for c in BAD_VALUE_CASES])
def test_nested_json_and_nul_values_are_quarantined(
    tmp_path: Path, store: Store, fmt: str, name: str, make: Callable[[Path], None],
    expected: list[tuple[Any, ...]],
) -> None:
    make(tmp_path / name)
    s = ingest_manifest(store, manifest(tmp_path, name, fmt), settings(tmp_path))
    assert (s.records, s.rows_quarantined, s.balanced) == (3, 0, True)
    got = field_rows(store)
    mine = [g for g in got if g[3] in (NUL_VALUE, NESTED_OBJECT, NESTED_ARRAY)]
    assert mine == expected
    assert s.fields_quarantined == len(got)
    first_line = 1 if fmt != "csv" else 2
    rec = store.fetchone("SELECT last_name, raw FROM records WHERE source_line = ?",
                         [first_line])
    assert rec is not None
    if fmt == "jsonl":
        assert rec[0] is None  # not "FAMILY SMITH GIVEN JOHN"
        assert json.loads(rec[1])["LAST"] == '{"family": "SMITH", "given": "JOHN"}'
        first = store.fetchone("SELECT first_name, raw FROM records WHERE source_line = 2")
        assert first is not None and first[0] is None
        assert json.loads(first[1])["FIRST"] == "MA\x00RIA"
    else:
        assert rec[0] is None  # not "SMI TH"
        assert json.loads(rec[1])["LAST"] == "SMI\x00TH"
    note = store.scalar("SELECT raw FROM records WHERE source_line = ?", [first_line + 2])
    assert json.loads(str(note))["NOTE"] == "unmapped\x00note"


def test_nul_in_record_id_quarantines_the_row(tmp_path: Path, store: Store) -> None:
    rows = [r[:] for r in ROWS[:3]]
    rows[1][0] = "2\x00"
    (tmp_path / "id.csv").write_text(line(HEADER) + "".join(line(r) for r in rows))
    s = ingest_manifest(store, manifest(tmp_path, "id.csv"), settings(tmp_path))
    assert (s.records, s.rows_quarantined, s.balanced) == (2, 1, True)
    q = store.fetchone("SELECT source_line, field, value, reason FROM quarantine "
                       "WHERE field = 'ID'")
    assert q == (3, "ID", "2\\x00", f"{NUL_VALUE} in record id column 'ID'")


# --- 9. long fields -----------------------------------------------------------------------

MB = 1 << 20
LONG_CASES: list[tuple[str, str, int | None, int, list[int]]] = [
    # label, format, ingest_max_field_bytes, records kept, quarantined lines
    ("csv 1 MB field under the default limit", "csv", None, 3, []),
    ("csv 1 MB field over a 256 KiB limit", "csv", 256 * 1024, 2, [3]),
    ("jsonl 1 MB field under the default limit", "jsonl", None, 3, []),
    ("jsonl 1 MB line over a 256 KiB limit", "jsonl", 256 * 1024, 2, [2]),
]


@pytest.mark.parametrize(("label", "fmt", "limit", "records", "bad_lines"), LONG_CASES,
                         ids=[c[0] for c in LONG_CASES])
def test_long_field_quarantines_only_its_row(
    tmp_path: Path, store: Store, label: str, fmt: str, limit: int | None, records: int,
    bad_lines: list[int],
) -> None:
    rows = [r[:] for r in ROWS[:3]]
    rows[1][9] = "x" * MB  # an unmapped note of a megabyte
    name = f"long.{fmt}"
    if fmt == "csv":
        (tmp_path / name).write_text(line(HEADER) + "".join(line(r) for r in rows))
    else:
        (tmp_path / name).write_text("".join(
            json.dumps(dict(zip(HEADER, r, strict=True))) + "\n" for r in rows))
    kw = {} if limit is None else {"ingest_max_field_bytes": limit}
    s = ingest_manifest(store, manifest(tmp_path, name, fmt), settings(tmp_path, **kw))
    assert (s.records, s.rows_quarantined, s.balanced) == (records, len(bad_lines), True)
    errors = row_errors(store)
    assert [e[0] for e in errors] == bad_lines
    for _, reason in errors:
        assert f"longer than the limit of {limit} bytes" in reason
        assert f"line {bad_lines[0]}" in reason

