"""Readers for source files: csv (optionally gzip), jsonl, parquet.

Each reader streams ``Chunk``s: columns of strings (None for missing) plus the input
line number of every row, so quarantine notes can point at the exact line. A file that
cannot be read at all raises :class:`FileRejected` naming the file and the cause.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq


class FileRejected(Exception):
    """The whole file is unusable; nothing from it may be stored."""

    def __init__(self, path: Path | str, cause: str) -> None:
        self.path = str(path)
        self.cause = cause
        super().__init__(f"{path}: {cause}")


@dataclass
class Chunk:
    """A block of rows: ``columns[name][i]`` is row i's value as text (or None)."""

    columns: dict[str, list[str | None]]
    lines: list[int]  # 1-based physical line (csv/jsonl) or row number (parquet)
    errors: list[tuple[int, str]]  # rows that could not be parsed: (line, reason)

    def __len__(self) -> int:
        return len(self.lines)


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True, default=str)
    return str(v)


def _open_text(path: Path, encoding: str) -> IO[str]:
    # The TextIOWrapper owns the binary stream and closes it with itself.
    raw: gzip.GzipFile | io.BufferedReader = (
        gzip.GzipFile(path, "rb") if path.suffix == ".gz" else path.open("rb")
    )
    return io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")


@contextmanager
def _guard(path: Path) -> Iterator[None]:
    """Translate low-level read failures into FileRejected."""
    try:
        yield
    except FileRejected:
        raise
    except UnicodeDecodeError as exc:
        raise FileRejected(
            path, f"not valid {exc.encoding} text at byte {exc.start}: {exc.reason}"
        ) from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise FileRejected(path, f"corrupt or truncated gzip: {exc}") from None
    except csv.Error as exc:
        raise FileRejected(path, f"malformed CSV: {exc}") from None
    except pa.ArrowException as exc:
        raise FileRejected(path, f"unreadable parquet: {exc}") from None
    except OSError as exc:
        raise FileRejected(path, f"cannot read: {exc}") from None


def read_csv(path: Path, *, chunk_rows: int, encoding: str, delimiter: str) -> Iterator[Chunk]:
    """Stream a CSV (header row required) in chunks of ``chunk_rows``."""
    with _guard(path), _open_text(path, encoding) as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            raise FileRejected(path, "empty file: no header row")
        header = [h.strip() for h in header]
        width = len(header)
        cols: dict[str, list[str | None]] = {h: [] for h in header}
        lines: list[int] = []
        errors: list[tuple[int, str]] = []
        for row in reader:
            line = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line: not a row
            if len(row) != width:
                errors.append((line, f"expected {width} columns, found {len(row)}"))
            else:
                for h, v in zip(header, row, strict=True):
                    cols[h].append(v if v != "" else None)
                lines.append(line)
            if len(lines) + len(errors) >= chunk_rows:
                yield Chunk(cols, lines, errors)
                cols = {h: [] for h in header}
                lines, errors = [], []
        if lines or errors:
            yield Chunk(cols, lines, errors)


def read_jsonl(path: Path, *, chunk_rows: int, encoding: str) -> Iterator[Chunk]:
    """Stream JSON lines; a line that is not a JSON object is a row error."""
    with _guard(path), _open_text(path, encoding) as fh:
        cols: dict[str, list[str | None]] = {}
        lines: list[int] = []
        errors: list[tuple[int, str]] = []
        n = 0
        for lineno, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                errors.append((lineno, f"not valid JSON: {exc.msg}"))
                obj = None
            if obj is not None and not isinstance(obj, dict):
                errors.append((lineno, "not a JSON object"))
                obj = None
            if obj is not None:
                for k in obj:
                    if k not in cols:
                        cols[k] = [None] * n
                for k, col in cols.items():
                    col.append(_text(obj.get(k)))
                lines.append(lineno)
                n += 1
            if n + len(errors) >= chunk_rows:
                yield Chunk(cols, lines, errors)
                cols = {k: [] for k in cols}
                lines, errors, n = [], [], 0
        if lines or errors:
            yield Chunk(cols, lines, errors)


def read_parquet(path: Path, *, chunk_rows: int) -> Iterator[Chunk]:
    """Stream a Parquet file by record batches; values become text."""
    with _guard(path):
        pf = pq.ParquetFile(path)
        start = 1
        for batch in pf.iter_batches(batch_size=chunk_rows):
            cols = {name: [_text(v) for v in batch.column(i).to_pylist()]
                    for i, name in enumerate(batch.schema.names)}
            lines = list(range(start, start + batch.num_rows))
            start += batch.num_rows
            yield Chunk(cols, lines, [])


def header_columns(path: Path, fmt: str, encoding: str, delimiter: str) -> list[str] | None:
    """The columns a file declares up front (csv header, parquet schema); None for jsonl."""
    with _guard(path):
        if fmt == "csv":
            with _open_text(path, encoding) as fh:
                header = next(csv.reader(fh, delimiter=delimiter), None)
            if header is None:
                raise FileRejected(path, "empty file: no header row")
            return [h.strip() for h in header]
        if fmt == "parquet":
            return list(pq.ParquetFile(path).schema_arrow.names)
    return None


def read_chunks(
    path: Path, fmt: str, *, chunk_rows: int, encoding: str = "utf-8", delimiter: str = ","
) -> Iterator[Chunk]:
    """Dispatch on format; an unknown format rejects the file."""
    if not path.exists():
        raise FileRejected(path, "file not found")
    if fmt == "csv":
        return read_csv(path, chunk_rows=chunk_rows, encoding=encoding, delimiter=delimiter)
    if fmt == "jsonl":
        return read_jsonl(path, chunk_rows=chunk_rows, encoding=encoding)
    if fmt == "parquet":
        return read_parquet(path, chunk_rows=chunk_rows)
    raise FileRejected(path, f"unknown format {fmt!r} (csv, jsonl or parquet)")
