"""Red team (issue 12): malformed data files idgraph has never seen, tried as a data
engineer would.

Each case is the malformed file, with an independent count of the rows written into it.
Every row must end as exactly one record or one quarantine row (naming line and field),
the summary must balance, a rejected file must name the cause (line and byte where
known) and leave the store unchanged, no other exception may escape, and a second ingest
of the same file must find every record ``same``.

Cases marked ``hole`` failed before this change: a traceback (UTF-16 without a BOM, a
JSON integer of 5,000 digits, a lone surrogate escape), a value silently wrong (a
duplicate JSON key taking the last value, JSON ids beyond 2**53 rounded together, NaN
stored as the record id "nan", a parquet binary name stored as "b'Smith'", a NUL in a
dictionary-encoded parquet column, an escape sequence in a name), a row lost to
quarantine (a BOM starting a later JSONL line, a carriage return inside a JSONL object)
or a row counted twice (a stray carriage return inside a CSV field split one row into
two, shifting every later line number), and a repeated header row (files joined with
``cat``) stored as a record.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from test_ingest import HEADER, snapshot, write_manifest

from idgraph.settings import Settings
from idgraph.sources import FileRejected, ingest_manifest
from idgraph.sources.readers import Chunk
from idgraph.store import Store, open_store

SURNAMES = ["Smith", "Garcia", "Nguyen", "Okafor"]


def person(i: int, **over: str) -> list[str]:
    row = [str(i), SURNAMES[i % 4], "Ann", "03/15/1980", "", f"{i} Main St", "Albany", "NY",
           "12207", ""]
    for k, v in over.items():
        row[HEADER.index(k)] = v
    return row


def csv_text(rows: list[list[str]], sep: str = ",", nl: str = "\n",
             header: list[str] = HEADER) -> str:
    return "".join(sep.join(r) + nl for r in [header, *rows])


def obj(i: int, **over: Any) -> dict[str, Any]:
    d: dict[str, Any] = dict(zip(HEADER, person(i), strict=True))
    d.update(over)
    return d


def jsonl(*lines: dict[str, Any] | str) -> bytes:
    return "".join((x if isinstance(x, str) else json.dumps(x)) + "\n"
                   for x in lines).encode("utf-8", "surrogatepass")


def with_id(literal: str, **over: Any) -> str:
    """A JSON object whose ID is written as the JSON text ``literal``."""
    d = obj(1, **over)
    del d["ID"]
    return '{"ID": ' + literal + ", " + json.dumps(d)[1:]


def parquet(n: int = 5, **over: pa.Array) -> bytes:
    cols: dict[str, Any] = {h: pa.array([person(i)[k] or None for i in range(1, n + 1)])
                            for k, h in enumerate(HEADER)}
    cols.update(over)
    buf = io.BytesIO()
    pq.write_table(pa.table(cols), buf)
    return buf.getvalue()


FIVE = [person(i) for i in range(1, 6)]
CSV5 = csv_text(FIVE).encode()
RAGGED = [FIVE[0], FIVE[1][:8], [*FIVE[2], "x"], *FIVE[3:]]


@dataclass(frozen=True)
class Case:
    label: str
    name: str
    data: bytes
    rows: int = 0  # rows written (independent count); 0 with ``reject``
    records: int = 0
    # every quarantine row: (line, field or None for a whole row, words of the reason)
    quarantined: tuple[tuple[int, str | None, str], ...] = ()
    rows_quarantined: int | None = None  # default: the whole-row entries above
    reject: str | None = None  # words of the FileRejected cause
    ids: tuple[str, ...] | None = None  # record ids expected (any order)
    lines: dict[str, int] = field(default_factory=dict)  # record id -> source line
    input: dict[str, Any] = field(default_factory=dict)
    hole: bool = False

    @property
    def fmt(self) -> str:
        ext = self.name.split(".")[1]
        return ext if ext in ("jsonl", "parquet") else "csv"


CASES: list[Case] = [
    # --- line endings -------------------------------------------------------------------
    Case("crlf", "a.csv", csv_text(FIVE, nl="\r\n").encode(), 5, 5),
    Case("lone CR only (classic Mac)", "a.csv", csv_text(FIVE, nl="\r").encode(), 5, 5),
    Case("CRLF file with lone-CR rows after it (a classic-Mac file joined on)", "a.csv",
         (csv_text(FIVE[:2], nl="\r\n") + "\r".join(",".join(r) for r in FIVE[2:4]) + "\r"
          + ",".join(FIVE[4]) + "\n").encode(), 5, 5, lines={"2": 3, "3": 4, "5": 4}),
    Case("no newline after the last row", "a.csv", CSV5[:-1], 5, 5),
    Case("stray CR inside an unquoted field of an LF file", "a.csv",
         csv_text([FIVE[0], person(2, LAST="Gar\rcia"), *FIVE[2:]]).encode(), 5, 4,
         ((3, None, "line 3"),), lines={"3": 4, "5": 6}, hole=True),
    Case("quoted field with an embedded CR of a CRLF file", "a.csv",
         csv_text([FIVE[0], person(2, NOTE='"a\rb"'), *FIVE[2:]], nl="\r\n").encode(), 5, 5,
         lines={"5": 6}, hole=True),
    Case("U+2028, NEL, VT, FF inside an unmapped value; a ragged row after", "a.csv",
         csv_text([FIVE[0], person(2, NOTE="a\u2028b\u0085c\x0bd\x0ce"), *FIVE[2:],
                   person(6)[:8]]).encode(), 6, 5, ((7, None, "expected 10 columns"),)),
    # --- quotes -------------------------------------------------------------------------
    Case("quote inside an unquoted field", "a.csv",
         csv_text([*FIVE[:4], person(5, LAST='O"BRIEN')]).encode(), 5, 5),
    Case("doubled quotes", "a.csv",
         csv_text([*FIVE[:4], person(5, LAST='"O""BRIEN"')]).encode(), 5, 5),
    # By design the lines after an unterminated quote are read again (they may be rows):
    # the continuation line of a row cut inside its quote is one more (ragged) row.
    Case("quoted field with a newline, cut at the end of the file", "a.csv",
         CSV5 + (",".join(person(6)[:9]) + ',"note\nmore').encode(), 7, 5,
         ((7, None, "runs on to the end of the file"), (8, None, "expected 10 columns"))),
    # --- headers ------------------------------------------------------------------------
    Case("header only", "a.csv", csv_text([]).encode()),
    Case("only blank lines after the header", "a.csv",
         (csv_text([]) + "\n\n  \n\r\n").encode()),
    Case("whitespace-padded header names", "a.csv",
         csv_text(FIVE, header=[f" {h}  " for h in HEADER]).encode(), 5, 5),
    Case("trailing delimiter on every line (an empty column name)", "a.csv",
         "".join(",".join(r) + ",\n" for r in [HEADER, *FIVE]).encode(), 5, 5),
    Case("header repeated mid-file (two files joined with cat)", "a.csv",
         (csv_text(FIVE[:2]) + csv_text(FIVE[2:])).encode(), 6, 5,
         ((4, None, "header row again"),), ids=("1", "2", "3", "4", "5"), hole=True),
    Case("header repeated with its BOM", "a.csv",
         (csv_text(FIVE[:2]) + "\ufeff" + csv_text(FIVE[2:])).encode(), 6, 5,
         ((4, None, "header row again"),), ids=("1", "2", "3", "4", "5"), hole=True),
    # --- ragged rows in other delimiters --------------------------------------------------
    Case("tab-delimited, one short and one long row", "a.tsv",
         csv_text(RAGGED, sep="\t").encode(), 5, 3,
         ((3, None, "found 8"), (4, None, "found 11")), input={"delimiter": "\t"}),
    Case("pipe-delimited, one short and one long row", "a.psv",
         csv_text(RAGGED, sep="|").encode(), 5, 3,
         ((3, None, "found 8"), (4, None, "found 11")), input={"delimiter": "|"}),
    # --- encodings ----------------------------------------------------------------------
    Case("latin-1 byte as the first byte", "a.csv", b"\xc9" + CSV5,
         reject="line 1, byte 0: not valid utf-8"),
    Case("latin-1 byte as the last byte", "a.csv", CSV5 + b"\xe9",
         reject=f"line 7, byte {len(CSV5)}: not valid utf-8"),
    Case("UTF-16 without a BOM, declared utf-16", "a.csv", csv_text(FIVE).encode("utf-16-le"),
         reject="line 1, byte 0: not valid utf-16 text: no byte-order mark",
         input={"encoding": "utf-16"}, hole=True),
    Case("UTF-16-LE without a BOM, declared utf-16-le", "a.csv",
         csv_text(FIVE).encode("utf-16-le"), 5, 5, input={"encoding": "utf-16-le"}),
    Case("zero-byte file", "a.csv", b"", reject="empty file"),
    # --- gzip ---------------------------------------------------------------------------
    Case("gzip of a gzip", "a.csv.gz", gzip.compress(gzip.compress(CSV5)),
         reject="the decompressed stream is itself gzip"),
    Case("gzip with trailing garbage", "a.csv.gz", gzip.compress(CSV5) + b"GARBAGE!",
         reject="corrupt or truncated gzip"),
    Case(".gz that is not gzip", "a.csv.gz", CSV5, reject="corrupt or truncated gzip"),
    Case("empty .gz", "a.csv.gz", b"", reject="empty file"),
    Case("gzip of two members", "a.csv.gz",
         gzip.compress(CSV5) + gzip.compress(",".join(person(6)).encode() + b"\n"), 6, 6),
    # --- record ids ---------------------------------------------------------------------
    Case("record ids ' 1 ' and '1' are one record", "a.csv",
         csv_text([FIVE[0], person(1, ID=" 1 ", LAST="Other")]).encode(), 2, 1,
         ((3, "ID", "duplicate record id in file (first at line 2)"),), rows_quarantined=1),
    Case("record ids differing only in case are two records", "a.csv",
         csv_text([person(1, ID="a1"), person(2, ID="A1")]).encode(), 2, 2,
         ids=("a1", "A1")),
    # --- control characters ------------------------------------------------------------
    Case("escape sequences in a mapped name", "a.csv",
         csv_text([FIVE[0], person(2, LAST="Evil\x1b[2J\x1b]0;pwn\x07"), *FIVE[2:]]).encode(),
         5, 5, ((3, "last_name", "control character in value"),), hole=True),
    # --- JSON lines ---------------------------------------------------------------------
    Case("jsonl: a top-level array", "a.jsonl", jsonl(json.dumps([obj(1), obj(2)])),
         reject="in no row"),
    Case("jsonl: null lines", "a.jsonl", jsonl(obj(1), "null", obj(2), "null"), 4, 2,
         ((2, None, "not a JSON object"), (4, None, "not a JSON object"))),
    Case("jsonl: a trailing comma", "a.jsonl",
         jsonl(obj(1), json.dumps(obj(2)) + ",", obj(3)), 3, 2,
         ((2, None, "not valid JSON"),)),
    Case("jsonl: a key given twice in one object", "a.jsonl",
         jsonl(obj(1), json.dumps(obj(2))[:-1] + ', "LAST": "Imposter"}', obj(3)), 3, 2,
         ((2, None, "key 'LAST' appears twice"),), hole=True),
    Case("jsonl: ids 1, 1.0 and 1e0 are one id; 2.5 another", "a.jsonl",
         jsonl(with_id("1"), with_id("1.0"), with_id("1e0"), with_id("2.5")), 4, 2,
         ((2, "ID", "duplicate"), (3, "ID", "duplicate")), rows_quarantined=2,
         ids=("1", "2.5")),
    Case("jsonl: float ids beyond 2**53 stay distinct", "a.jsonl",
         jsonl(with_id("9007199254740993.0"), with_id("9007199254740992.0")), 2, 2,
         ids=("9007199254740993", "9007199254740992"), hole=True),
    Case("jsonl: an integer id of 5,000 digits", "a.jsonl",
         jsonl(with_id("1" * 5000), obj(2)), 2, 2, ids=("1" * 5000, "2"), hole=True),
    Case("jsonl: NaN as an id and as a name", "a.jsonl",
         jsonl(with_id("NaN"), with_id("7", LAST="@NaN@").replace('"@NaN@"', "NaN"), obj(2)),
         3, 2, ((1, "ID", "NaN"), (2, "last_name", "NaN")), rows_quarantined=1,
         hole=True),
    Case("jsonl: a boolean id is read as text (Python's spelling)", "a.jsonl",
         jsonl(with_id("true"), obj(2)), 2, 2, ids=("True", "2")),
    Case("jsonl: \\u0000 in a name", "a.jsonl",
         jsonl(obj(1, LAST="Sm\x00ith"), obj(2)), 2, 2, ((1, "last_name", "NUL"),)),
    Case("jsonl: a lone surrogate escape in a name", "a.jsonl",
         jsonl('{"ID": "3", "LAST": "Sm\\ud800ith"}', obj(2)), 2, 2,
         ((1, "last_name", "lone surrogate"),), hole=True),
    Case("jsonl: a lone surrogate escape in a key", "a.jsonl",
         jsonl(json.dumps(obj(1))[:-1] + ', "\\udc80x": 1}', obj(2)), 2, 2, hole=True),
    Case("jsonl: a BOM starting a later line (files joined with cat)", "a.jsonl",
         jsonl(obj(1), obj(2)) + codecs.BOM_UTF8 + jsonl(obj(3)), 3, 3, hole=True),
    Case("jsonl: a CR between two members of an object", "a.jsonl",
         jsonl(obj(1), json.dumps(obj(2)).replace(', "FIRST"', ',\r"FIRST"'), obj(3)), 3, 3,
         lines={"3": 3}, hole=True),
    Case("jsonl: an object as the record id", "a.jsonl",
         jsonl(obj(1, ID={"a": 1}), obj(2)), 2, 1, ((1, "ID", "nested JSON object"),),
         rows_quarantined=1),
    Case("jsonl: U+2028 and NEL inside a value", "a.jsonl",
         jsonl(obj(1), json.dumps(obj(2, NOTE="a\u2028b\u0085c"), ensure_ascii=False),
               obj(3)), 3, 3, lines={"3": 3}),
    # --- parquet ------------------------------------------------------------------------
    Case("parquet: integer record ids", "a.parquet",
         parquet(ID=pa.array([1, 2, 3, 4, 5])), 5, 5),
    Case("parquet: null record ids", "a.parquet",
         parquet(ID=pa.array([1, None, 3, None, 5])), 5, 3,
         ((2, "ID", "missing record id"), (4, "ID", "missing record id")),
         rows_quarantined=2),
    Case("parquet: NaN float record ids", "a.parquet",
         parquet(ID=pa.array([1.0, float("nan"), 3.0, float("nan"), 2.5])), 5, 3,
         ((2, "ID", "NaN"), (4, "ID", "NaN")), rows_quarantined=2,
         ids=("1", "3", "2.5"), hole=True),
    Case("parquet: NUL in a dictionary-encoded column", "a.parquet",
         parquet(LAST=pa.array(["Sm\x00ith", "A", "B", "C", "D"]).dictionary_encode()), 5, 5,
         ((1, "last_name", "NUL"),), hole=True),
    Case("parquet: names in a binary column", "a.parquet",
         parquet(LAST=pa.array([b"Smith", b"Jones", b"\xff\xfe", None, b"X"], pa.binary())),
         5, 5, ((3, "last_name", "not UTF-8 text"),), hole=True),
    Case("parquet: truncated mid-file", "a.parquet", parquet()[:1000],
         reject="unreadable parquet"),
    Case("parquet: zero rows", "a.parquet", parquet(0)),
    Case("parquet: a struct mapped to a name", "a.parquet",
         parquet(2, LAST=pa.array([{"family": "Smith", "given": "J"}] * 2)), 2, 2,
         ((1, "last_name", "nested JSON object"), (2, "last_name", "nested JSON object"))),
]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(tmp_path / "db" / "t.duckdb")


def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "db", ingest_chunk_rows=2)


def manifest(folder: Path, name: str, fmt: str, **input_: Any) -> Path:
    p = write_manifest(folder, name, fmt=fmt)
    m = yaml.safe_load(p.read_text())
    m["input"].update(input_)
    p.write_text(yaml.safe_dump(m))
    return p


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_malformed_file(tmp_path: Path, store: Store, case: Case) -> None:
    (tmp_path / "ok.csv").write_bytes(CSV5)
    ingest_manifest(store, write_manifest(tmp_path, "ok.csv", sid="other"), settings(tmp_path))
    (tmp_path / case.name).write_bytes(case.data)
    path = manifest(tmp_path, case.name, case.fmt, **case.input)
    before = snapshot(store)
    if case.reject is not None:
        with pytest.raises(FileRejected) as info:
            ingest_manifest(store, path, settings(tmp_path))
        assert case.reject in info.value.cause
        assert case.name in str(info.value)
        assert snapshot(store) == before
        return
    s = ingest_manifest(store, path, settings(tmp_path))
    whole = sum(1 for _, f, _ in case.quarantined if f is None)
    expected_q = whole if case.rows_quarantined is None else case.rows_quarantined
    assert (s.rows, s.records, s.rows_quarantined) == (case.rows, case.records, expected_q)
    assert s.balanced
    got = store.fetchall("""SELECT source_line, field, reason FROM quarantine
        WHERE source_id = 'test_dmv' ORDER BY source_line, field NULLS FIRST""")
    assert [(g[0], g[1]) for g in got] == [(q[0], q[1]) for q in case.quarantined]
    for (_, _, words), (_, _, reason) in zip(case.quarantined, got, strict=True):
        assert words in reason
    recs = dict(store.fetchall("""SELECT source_record_id, source_line FROM records
        WHERE source_id = 'test_dmv'"""))
    if case.ids is not None:
        assert sorted(recs) == sorted(case.ids)
    for rid, at in case.lines.items():
        assert recs[rid] == at
    again = ingest_manifest(store, path, settings(tmp_path))
    assert (again.records_unchanged, again.records_added, again.records_versioned) == (
        case.records, 0, 0)


# --- holes outside the readers ------------------------------------------------------------

def test_jsonl_mapped_key_absent_from_the_first_chunk(tmp_path: Path, store: Store) -> None:
    rows = [{k: v for k, v in obj(i).items() if k != "PHONE" or i > 4} for i in range(1, 8)]
    (tmp_path / "a.jsonl").write_bytes(jsonl(*rows))
    s = ingest_manifest(store, manifest(tmp_path, "a.jsonl", "jsonl"), settings(tmp_path))
    assert (s.rows, s.records, s.balanced) == (7, 7, True)


def test_file_appended_while_being_read(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import idgraph.sources.ingest as ingest_mod

    data = tmp_path / "grow.csv"
    data.write_bytes(csv_text([person(i) for i in range(1, 7)]).encode())
    real = ingest_mod.read_chunks

    def growing(*args: Any, **kw: Any) -> Iterator[Chunk]:
        for n, chunk in enumerate(real(*args, **kw)):
            if n == 0:
                with data.open("ab") as fh:
                    fh.write(",".join(person(7)).encode() + b"\n")
            yield chunk

    monkeypatch.setattr(ingest_mod, "read_chunks", growing)
    path = manifest(tmp_path, "grow.csv", "csv")
    try:
        ingest_manifest(store, path, settings(tmp_path))
    except FileRejected as exc:
        assert "changed while" in exc.cause
        assert store.scalar("SELECT count(*) FROM records") == 0
        return
    sha = store.scalar("SELECT file_sha256 FROM batches")
    assert sha == hashlib.sha256(data.read_bytes()).hexdigest()
