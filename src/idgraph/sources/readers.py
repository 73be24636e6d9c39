"""Readers for source files: csv (optionally gzip), jsonl, parquet.

Each reader streams ``Chunk``s: columns of strings (None for missing) plus the input
line number of every row, so quarantine notes can point at the exact line. A file that
cannot be read at all raises :class:`FileRejected` naming the file and the cause (with
the line and byte where known).

Text files are decoded block by block (:mod:`idgraph.sources.textlines`), not by a
``TextIOWrapper``: an encoding error is then reported at its true line and byte, and
every physical line is counted from the bytes, independently of the CSV parser. The
CSV parser is fed one record at a time from those lines, so a row it cannot parse (an
unterminated quote, a wrong number of columns, a field over the size limit) costs only
that row's first line: the lines after it are read again, and an unbalanced quote
cannot swallow the file. Lines end at \\n (as ``wc -l`` counts them) unless the file's
first line ends in a lone \\r: a stray \\r inside a value costs its own row only. A row
repeating the header (files joined with ``cat``) is malformed, not a record.

JSON lines keep their numbers exact (an id beyond 2**53 is not rounded onto another) and
an object naming a key twice is a malformed row (which value is meant cannot be told).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import json
import math
import re
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from idgraph.sources.textlines import NumberedLines, TextDecodeError, physical_lines

DEFAULT_MAX_FIELD_BYTES = 8_388_608
DEFAULT_MAX_RECORD_LINES = 20
NUL_VALUE = "NUL byte in value"
CONTROL_VALUE = "control character in value"
NESTED_OBJECT = "nested JSON object is not a value"
NESTED_ARRAY = "nested JSON array is not a value"
NOT_A_NUMBER = "NaN or infinity is not a value"
LONE_SURROGATE = "lone surrogate escape in value: not text"
NOT_UTF8 = "bytes that are not UTF-8 text"
# C0 controls other than tab, line feed and carriage return, and DEL: never text in a
# name, an address or an identifier (an escape sequence would reach a terminal).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class FileRejected(Exception):
    """The whole file is unusable; nothing from it may be stored."""

    def __init__(self, path: Path | str, cause: str) -> None:
        self.path = str(path)
        self.cause = cause
        super().__init__(f"{path}: {cause}")


@dataclass
class Chunk:
    """A block of rows: ``columns[name][i]`` is row i's value as text (or None).

    ``bad_cells`` names values that are present but must not be used (a NUL byte or
    another control character, a nested JSON object or array, NaN or infinity, a lone
    surrogate escape, parquet bytes that are not UTF-8): (row index, column, reason).
    The value stays in ``columns`` so the raw row keeps it. The line counts let the
    ingest check that every physical line of the file is accounted for: ``lines_read``
    data lines came off the file (header excluded), ``lines_blank`` of them were blank,
    and ``lines_in_rows`` is the sum of the lines spanned by every row (good or error).
    Summed over a file, ``lines_read == lines_in_rows + lines_blank`` (one chunk alone
    need not balance: a line read again after a malformed row may land in the next
    chunk).
    """

    columns: dict[str, list[str | None]]
    lines: list[int]  # 1-based physical line (csv/jsonl) or row number (parquet)
    errors: list[tuple[int, str]]  # rows that could not be parsed: (line, reason)
    bad_cells: list[tuple[int, str, str]] = field(default_factory=list)
    lines_read: int = 0
    lines_blank: int = 0
    lines_in_rows: int = 0

    def __len__(self) -> int:
        return len(self.lines)


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, _JsonFloat):
        return v.as_text()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, bytes):
        return v.decode("utf-8", "backslashreplace")
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True, default=str)
    return str(v)


class _JsonFloat(float):
    """A JSON number with a fraction or exponent (or NaN/Infinity), with its text.

    Its value as text is exact: ``9007199254740993.0`` is not rounded to ...992 and
    ``1e400`` is not infinity. An integral number reads as an integer (``1.0`` -> ``1``).
    """

    text: str

    def __new__(cls, text: str) -> _JsonFloat:
        obj = super().__new__(cls, text)
        obj.text = text
        return obj

    def as_text(self) -> str:
        if not math.isfinite(self) and self.text.lstrip("-") in ("NaN", "Infinity"):
            return self.text
        try:
            d = Decimal(self.text)
        except InvalidOperation:
            return self.text
        if d.is_finite() and d == d.to_integral_value() and d.adjusted() < 4000:
            return str(int(d))
        return repr(float(self)) if math.isfinite(self) else self.text


class _JsonBigInt(str):
    """A JSON integer too long for int() (over 4,300 digits), kept as its text."""


def _json_int(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return _JsonBigInt(text)


class _Pairs(dict[str, Any]):
    """A JSON object that named a key twice (``dup``); the last value is kept."""

    dup: str = ""


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    out, seen = _Pairs(obj), set()
    for k, _ in pairs:
        if k in seen:
            out.dup = k
            break
        seen.add(k)
    return out


_JSON = json.JSONDecoder(parse_float=_JsonFloat, parse_int=_json_int,
                         parse_constant=_JsonFloat, object_pairs_hook=_json_pairs)


def _too_long(text: str, limit: int) -> bool:
    """More than ``limit`` bytes in UTF-8 (a character is at most 4 bytes)."""
    return len(text) > limit // 4 and len(text.encode("utf-8", "surrogatepass")) > limit


def _open_binary(path: Path) -> gzip.GzipFile | IO[bytes]:
    return gzip.GzipFile(path, "rb") if path.suffix == ".gz" else path.open("rb")


@contextmanager
def _guard(path: Path) -> Iterator[None]:
    """Translate low-level read failures into FileRejected."""
    try:
        yield
    except FileRejected:
        raise
    except TextDecodeError as exc:
        raise FileRejected(path, exc.cause) from None
    except UnicodeDecodeError as exc:  # textlines reports the line and byte instead
        raise FileRejected(path, f"not valid {exc.encoding} text: {exc.reason}") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise FileRejected(path, f"corrupt or truncated gzip: {exc}") from None
    except csv.Error as exc:
        raise FileRejected(path, f"malformed CSV: {exc}") from None
    except pa.ArrowException as exc:
        raise FileRejected(path, f"unreadable parquet: {exc}") from None
    except OSError as exc:
        raise FileRejected(path, f"cannot read: {exc}") from None


def _check_text_settings(path: Path, encoding: str, delimiter: str | None = None) -> None:
    try:
        codecs.getincrementaldecoder(encoding)
    except LookupError:
        raise FileRejected(path, f"unknown encoding {encoding!r}") from None
    if delimiter is not None and len(delimiter) != 1:
        raise FileRejected(path, f"the delimiter must be one character, not {delimiter!r}")


class _RecordLines:
    """The csv.reader's input: the physical lines of one record, at most ``limit``.

    csv.reader asks for another line only while a quoted field is open, so the lines
    taken between :meth:`begin` and the reader's next row are exactly that row's lines.
    """

    def __init__(self, lines: NumberedLines, limit: int) -> None:
        self.lines, self.limit = lines, max(1, limit)
        self.taken: list[tuple[int, str]] = []
        self.cut = False  # the record wanted more than ``limit`` lines
        self.ended = False  # the file ended inside the record

    def begin(self) -> None:
        self.taken, self.cut, self.ended = [], False, False

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        if len(self.taken) >= self.limit:
            self.cut = True
            raise StopIteration
        nxt = self.lines.pop()
        if nxt is None:
            self.ended = bool(self.taken)
            raise StopIteration
        self.taken.append(nxt)
        return nxt[1]


def _next_record(
    reader: Iterator[list[str]], src: _RecordLines, max_field_bytes: int
) -> tuple[list[str] | None, str | None]:
    """The next row and why it is malformed (None: fine); (None, None) at the end."""
    src.begin()
    try:
        row = next(reader, None)
    except csv.Error as exc:
        if "field limit" in str(exc):
            return None, f"a field is longer than the limit of {max_field_bytes} bytes"
        return None, f"malformed CSV row: {exc}"
    if src.cut:
        return row, f"a quoted field runs on past {src.limit} lines"
    if src.ended:
        return row, "a quoted field runs on to the end of the file"
    return row, None


def _read_header(path: Path, reader: Iterator[list[str]], src: _RecordLines) -> list[str]:
    while True:
        row, problem = _next_record(reader, src, DEFAULT_MAX_FIELD_BYTES)
        if not src.taken:
            raise FileRejected(path, "empty file: no header row")
        first = src.taken[0][0]
        if problem is not None:
            raise FileRejected(path, f"line {first}: malformed header: {problem}")
        if row and (len(row) > 1 or row[0].strip()):
            break
    return _unique(path, [h.strip() for h in row], f"line {first}: the header")


def _unique(path: Path, names: list[str], where: str) -> list[str]:
    """``names``, or FileRejected naming the first column named twice."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if name in seen:
            raise FileRejected(path, f"{where} names column {name!r} twice "
                               f"(columns {seen[name]} and {i})")
        seen[name] = i
    return names


class _Rows:
    """Accumulates one chunk of rows with its line counts."""

    def __init__(self, names: Sequence[str]) -> None:
        self.columns: dict[str, list[str | None]] = {h: [] for h in names}
        self.lines: list[int] = []
        self.errors: list[tuple[int, str]] = []
        self.bad: list[tuple[int, str, str]] = []
        self.blank = 0
        self.in_rows = 0
        self.n = 0

    def size(self) -> int:
        return self.n + len(self.errors)

    def add(self, header: Sequence[str], row: list[str], line: int, check: bool) -> None:
        """Add a well-formed CSV row; ``check``: its text holds a control character, so
        look for the values that do (each a bad cell)."""
        for h, v in zip(header, row, strict=True):
            self.columns[h].append(v if v != "" else None)
            if check and _CONTROL.search(v):
                self.bad.append((self.n, h, _unusable(v)))
        self.lines.append(line)
        self.n += 1

    def chunk(self, lines_read: int) -> Chunk:
        return Chunk(self.columns, self.lines, self.errors, self.bad, lines_read,
                     self.blank, self.in_rows)


def read_csv(
    path: Path, *, chunk_rows: int, encoding: str, delimiter: str,
    max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES,
    max_record_lines: int = DEFAULT_MAX_RECORD_LINES,
) -> Iterator[Chunk]:
    """Stream a CSV (header row required) in chunks of ``chunk_rows``.

    A malformed row (wrong width, a CSV error, a field over ``max_field_bytes``, or a
    quoted field spanning more than ``max_record_lines`` lines) is quarantined by its
    first line; the lines after that are parsed again as rows of their own.
    """
    _check_text_settings(path, encoding, delimiter)
    # The limit counts characters and is process-wide: set for this file, then restored.
    # A row's field over max_field_bytes in UTF-8 is caught below.
    old_limit = csv.field_size_limit(max_field_bytes)
    try:
        yield from _csv_chunks(path, chunk_rows, encoding, delimiter, max_field_bytes,
                               max_record_lines)
    finally:
        csv.field_size_limit(old_limit)


def _csv_chunks(
    path: Path, chunk_rows: int, encoding: str, delimiter: str, max_field_bytes: int,
    max_record_lines: int,
) -> Iterator[Chunk]:
    with _guard(path), _open_binary(path) as raw:
        lines = NumberedLines(physical_lines(raw, encoding))
        src = _RecordLines(lines, max_record_lines)
        reader = csv.reader(src, delimiter=delimiter)
        header = _read_header(path, reader, src)
        width = len(header)
        acc, mark = _Rows(header), lines.taken
        while True:
            row, problem = _next_record(reader, src, max_field_bytes)
            if not src.taken:
                break
            first, text = src.taken[0]
            if problem is None and len(src.taken) == 1 and not text.strip():
                acc.blank += 1
                continue
            if problem is None and row is not None and len(row) != width:
                problem = f"expected {width} columns, found {len(row)}"
            if problem is None and row and max(map(len, row)) > max_field_bytes // 4 and any(
                    _too_long(v, max_field_bytes) for v in row):
                problem = f"a field is longer than the limit of {max_field_bytes} bytes"
            if problem is None and row and _is_header(row, header):
                problem = "the header row again (files joined together?)"
            rows = [row] if problem is None and row is not None else None
            if (rows is None and len(src.taken) == 1 and problem is not None
                    and "new-line character seen in unquoted field" in problem):
                rows = _cr_rows(text, delimiter, header)
            if rows is None:
                acc.errors.append((first, _malformed(first, problem, len(src.taken))))
                acc.in_rows += 1
                lines.push_back(src.taken[1:])
            else:
                check = any(_CONTROL.search(t) for _, t in src.taken)
                for one in rows:
                    acc.add(header, one, first, check)
                acc.in_rows += len(src.taken)
            if acc.size() >= chunk_rows:
                yield acc.chunk(lines.taken - mark)
                acc, mark = _Rows(header), lines.taken
        if acc.size() or lines.taken > mark:
            yield acc.chunk(lines.taken - mark)


def _cr_rows(text: str, delimiter: str, header: list[str]) -> list[list[str]] | None:
    """The rows of a line holding lone carriage returns, when every piece between them
    is a whole row (a classic-Mac file joined to a Unix or Windows one); None when not
    (a stray \\r inside a value: the line is one malformed row)."""
    rows: list[list[str]] = []
    for piece in text.rstrip("\r\n").split("\r"):
        try:
            parsed = list(csv.reader([piece], delimiter=delimiter))
        except csv.Error:
            return None
        if len(parsed) != 1 or len(parsed[0]) != len(header) or _is_header(parsed[0], header):
            return None
        rows.append(parsed[0])
    return rows


def _is_header(row: list[str], header: list[str]) -> bool:
    """The row repeats the header (a second file's header, its BOM too, after a cat)."""
    return (len(row) == len(header) and row[0].lstrip("\ufeff").strip() == header[0]
            and [v.strip() for v in row[1:]] == header[1:])


def _unusable(value: str) -> str:
    """Why a value holding a control character must not be used."""
    return NUL_VALUE if "\x00" in value else CONTROL_VALUE


def _malformed(first: int, problem: str | None, span: int) -> str:
    if span == 1 and problem is not None and problem.startswith(("expected ", "the header")):
        return f"line {first}: {problem}"  # a ragged or repeated-header row on one line
    if problem is not None and "new-line character seen in unquoted field" in problem:
        return (f"malformed row at line {first}: a carriage return (\\r) inside an "
                "unquoted field")
    if span == 1 and problem is not None and "longer than the limit" in problem:
        return f"malformed row at line {first}: {problem}"
    return (f"unterminated quote or malformed row starting at line {first}: {problem}"
            + ("; the lines after it are read again" if span > 1 else ""))


def read_jsonl(
    path: Path, *, chunk_rows: int, encoding: str,
    max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES,
) -> Iterator[Chunk]:
    """Stream JSON lines; a line that is not a JSON object is a row error.

    A nested object or array, or a string holding a NUL byte, is a bad cell; a line
    longer than ``max_field_bytes`` is a row error.
    """
    _check_text_settings(path, encoding)
    with _guard(path), _open_binary(path) as raw:
        acc, read = _Rows([]), 0
        for lineno, text in enumerate(physical_lines(raw, encoding), start=1):
            read += 1
            if not text.strip():
                acc.blank += 1
                continue
            acc.in_rows += 1
            if text.startswith("\ufeff"):  # a later file's BOM, after a cat
                text = text[1:]
            obj = _json_object(lineno, text, acc, max_field_bytes)
            if obj is not None:
                _add_object(acc, obj, escaped="\\" in text or "\x7f" in text)
                acc.lines.append(lineno)
            if acc.size() >= chunk_rows:
                yield acc.chunk(read)
                acc, read = _Rows(list(acc.columns)), 0
        if acc.size() or read:
            yield acc.chunk(read)


def _json_object(lineno: int, text: str, acc: _Rows, limit: int) -> dict[str, Any] | None:
    if _too_long(text, limit):
        acc.errors.append((lineno, f"line {lineno} is longer than the limit of {limit} bytes"))
        return None
    try:
        obj = _JSON.decode(text)
    except json.JSONDecodeError as exc:
        acc.errors.append((lineno, f"not valid JSON: {exc.msg}"))
        return None
    except RecursionError:
        acc.errors.append((lineno, "not valid JSON: nested too deeply"))
        return None
    except ValueError as exc:
        acc.errors.append((lineno, f"not valid JSON: {exc}"))
        return None
    if not isinstance(obj, dict):
        acc.errors.append((lineno, "not a JSON object"))
        return None
    if isinstance(obj, _Pairs):
        acc.errors.append((lineno, f"key {obj.dup!r} appears twice in the object: which "
                                   "value is meant cannot be told"))
        return None
    return obj


def _add_object(acc: _Rows, obj: dict[str, Any], *, escaped: bool) -> None:
    """Add one row. ``escaped``: the line has a backslash or DEL, so a value may hold a
    control character or a lone surrogate (neither can appear in JSON unescaped)."""
    cols, n = acc.columns, acc.n
    if escaped and any(_SURROGATE.search(k) for k in obj):
        obj = {_escaped(k): v for k, v in obj.items()}
    for k, v in obj.items():
        if k not in cols:
            cols[k] = [None] * n
        if isinstance(v, dict):
            acc.bad.append((n, k, NESTED_OBJECT))
        elif isinstance(v, list):
            acc.bad.append((n, k, NESTED_ARRAY))
        elif isinstance(v, float) and not math.isfinite(v):
            acc.bad.append((n, k, NOT_A_NUMBER))
        elif escaped and isinstance(v, str):
            if _SURROGATE.search(v):
                acc.bad.append((n, k, LONE_SURROGATE))
                obj[k] = _escaped(v)
            elif _CONTROL.search(v):
                acc.bad.append((n, k, _unusable(v)))
    for k, col in cols.items():
        col.append(_text(obj.get(k)))
    acc.n += 1


def _escaped(text: str) -> str:
    """``text`` with each lone surrogate written as its escape (storable UTF-8)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _parquet_column(col: pa.Array) -> pa.Array:
    """A column as plain values: a dictionary-encoded column decoded."""
    return col.dictionary_decode() if pa.types.is_dictionary(col.type) else col


def _is_binary(typ: pa.DataType) -> bool:
    return bool(pa.types.is_binary(typ) or pa.types.is_large_binary(typ)
                or pa.types.is_fixed_size_binary(typ) or pa.types.is_binary_view(typ))


def _parquet_bad_cells(batch: pa.RecordBatch) -> list[tuple[int, str, str]]:
    bad: list[tuple[int, str, str]] = []
    for i, name in enumerate(batch.schema.names):
        col = _parquet_column(batch.column(i))
        typ = col.type
        hits: list[tuple[str, Any]] = []
        if pa.types.is_struct(typ) or pa.types.is_map(typ):
            hits.append((NESTED_OBJECT, pc.is_valid(col)))
        elif (pa.types.is_list(typ) or pa.types.is_large_list(typ)
              or pa.types.is_fixed_size_list(typ) or pa.types.is_list_view(typ)
              or pa.types.is_large_list_view(typ)):
            hits.append((NESTED_ARRAY, pc.is_valid(col)))
        elif (pa.types.is_string(typ) or pa.types.is_large_string(typ)
              or pa.types.is_string_view(typ)):
            nul = pc.fill_null(pc.match_substring(col, "\x00"), False)
            ctl = pc.fill_null(pc.match_substring_regex(col, _CONTROL.pattern), False)
            hits += [(NUL_VALUE, nul), (CONTROL_VALUE, pc.and_not(ctl, nul))]
        elif pa.types.is_floating(typ):
            hits.append((NOT_A_NUMBER, pc.fill_null(pc.invert(pc.is_finite(col)), False)))
        elif _is_binary(typ):
            rows = [r for r, v in enumerate(col.to_pylist()) if v is not None
                    and not _utf8(v)]
            bad.extend((r, name, NOT_UTF8) for r in rows)
        for reason, hit in hits:
            bad.extend((int(r), name, reason) for r in pc.indices_nonzero(hit).to_pylist())
    return bad


def _utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def read_parquet(path: Path, *, chunk_rows: int) -> Iterator[Chunk]:
    """Stream a Parquet file by record batches; values become text.

    Rows are "lines" here: every batch counts its rows, and the total must match the
    row count in the file's metadata.
    """
    with _guard(path):
        pf = pq.ParquetFile(path)
        _unique(path, list(pf.schema_arrow.names), "the schema")
        start = 1
        for batch in pf.iter_batches(batch_size=chunk_rows):
            cols = {name: [_text(v) for v in _parquet_column(batch.column(i)).to_pylist()]
                    for i, name in enumerate(batch.schema.names)}
            lines = list(range(start, start + batch.num_rows))
            start += batch.num_rows
            yield Chunk(cols, lines, [], _parquet_bad_cells(batch), batch.num_rows, 0,
                        batch.num_rows)
        if start - 1 != pf.metadata.num_rows:
            raise FileRejected(path, f"the metadata counts {pf.metadata.num_rows} rows but "
                               f"{start - 1} were read")


def header_columns(path: Path, fmt: str, encoding: str, delimiter: str) -> list[str] | None:
    """The columns a file declares up front (csv header, parquet schema); None for jsonl."""
    if fmt == "csv":
        _check_text_settings(path, encoding, delimiter)
    with _guard(path):
        if fmt == "csv":
            with _open_binary(path) as raw:
                src = _RecordLines(NumberedLines(physical_lines(raw, encoding)),
                                   DEFAULT_MAX_RECORD_LINES)
                return _read_header(path, csv.reader(src, delimiter=delimiter), src)
        if fmt == "parquet":
            return _unique(path, list(pq.ParquetFile(path).schema_arrow.names), "the schema")
    return None


def read_chunks(
    path: Path, fmt: str, *, chunk_rows: int, encoding: str = "utf-8", delimiter: str = ",",
    max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES,
    max_record_lines: int = DEFAULT_MAX_RECORD_LINES,
) -> Iterator[Chunk]:
    """Dispatch on format; an unknown format rejects the file."""
    if not path.exists():
        raise FileRejected(path, "file not found")
    if fmt == "csv":
        return read_csv(path, chunk_rows=chunk_rows, encoding=encoding, delimiter=delimiter,
                        max_field_bytes=max_field_bytes, max_record_lines=max_record_lines)
    if fmt == "jsonl":
        return read_jsonl(path, chunk_rows=chunk_rows, encoding=encoding,
                          max_field_bytes=max_field_bytes)
    if fmt == "parquet":
        return read_parquet(path, chunk_rows=chunk_rows)
    raise FileRejected(path, f"unknown format {fmt!r} (csv, jsonl or parquet)")
