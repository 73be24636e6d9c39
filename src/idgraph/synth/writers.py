"""Streaming, byte-deterministic writers for csv (optionally gzip), jsonl and parquet."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq


class RowWriter:
    """Append rows (dicts) in chunks; ``close()`` finishes the file."""

    def __init__(self, path: Path, fmt: str, columns: tuple[str, ...], delimiter: str = ","):
        self.path = path
        self.fmt = fmt
        self.columns = columns
        self._pq: pq.ParquetWriter | None = None
        self._schema = pa.schema([(c, pa.string()) for c in columns])
        self._text: io.TextIOWrapper[Any] | None = None
        self._csv: Any = None
        self._file: IO[bytes] | None = None
        if fmt in ("csv", "jsonl"):
            self._file = open(path, "wb")  # noqa: SIM115 - closed in close()
            raw: Any = self._file
            if path.suffix == ".gz":  # mtime=0 and no file name: same bytes every run
                raw = gzip.GzipFile(filename="", mode="wb", fileobj=self._file, mtime=0,
                                    compresslevel=5)
            self._text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        if fmt == "csv":
            assert self._text is not None
            self._csv = csv.writer(self._text, delimiter=delimiter, lineterminator="\n")
            self._csv.writerow(columns)
        elif fmt == "parquet":
            self._pq = pq.ParquetWriter(path, self._schema, compression="zstd")
        elif fmt != "jsonl":
            raise ValueError(f"unknown format {fmt!r}")

    def write(self, rows: list[dict[str, Any]]) -> None:
        cols = self.columns
        if self.fmt == "csv":
            self._csv.writerows(
                [["" if r[c] is None else r[c] for c in cols] for r in rows]
            )
        elif self.fmt == "jsonl":
            assert self._text is not None
            enc = json.JSONEncoder(ensure_ascii=False).encode
            self._text.write("".join(enc({c: r[c] for c in cols}) + "\n" for r in rows))
        elif rows:
            assert self._pq is not None
            data = {c: [r[c] if r[c] != "" else None for r in rows] for c in cols}
            self._pq.write_table(pa.table(data, schema=self._schema))

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
            self._pq = None
        if self._text is not None:
            self._text.close()  # flushes and closes the gzip stream, if any
            self._text = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
