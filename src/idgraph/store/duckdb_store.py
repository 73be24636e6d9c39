"""The embedded default store: one DuckDB file in the data dir.

The store knows tables and transactions, never business rules. Modules own their
tables' DDL and hand it to :meth:`Store.ensure`, which applies it once.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from idgraph.schema import RECORD_COLUMNS

_RECORDS_DDL = (
    "CREATE TABLE IF NOT EXISTS records ("
    + ", ".join(f"{name} {typ}" for name, typ in RECORD_COLUMNS.items())
    + ", PRIMARY KEY (record_id, version))"
)

# Columns added to ``records`` after stores were created (appended, in RECORD_COLUMNS
# order, so positional inserts keep working on migrated stores).
_RECORDS_MIGRATIONS: tuple[str, ...] = (
    "ALTER TABLE records ADD COLUMN IF NOT EXISTS origin_jurisdiction VARCHAR",
    "ALTER TABLE records ADD COLUMN IF NOT EXISTS mapping_hash VARCHAR",
    "ALTER TABLE records ADD COLUMN IF NOT EXISTS unverified VARCHAR[]",
)

_CORE_DDL: tuple[str, ...] = (
    _RECORDS_DDL,
    *_RECORDS_MIGRATIONS,
    """CREATE TABLE IF NOT EXISTS quarantine (
        source_id VARCHAR, source_file VARCHAR, source_line BIGINT,
        source_record_id VARCHAR, field VARCHAR, value VARCHAR, reason VARCHAR,
        batch_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS sources (
        source_id VARCHAR PRIMARY KEY, title VARCHAR, kind VARCHAR,
        jurisdiction VARCHAR, regimes VARCHAR[], collected_for VARCHAR,
        retention_days INTEGER, manifest_path VARCHAR, manifest JSON,
        registered_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS batches (
        batch_id VARCHAR PRIMARY KEY, source_id VARCHAR, source_file VARCHAR,
        file_sha256 VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP,
        rows BIGINT, records_added BIGINT, records_unchanged BIGINT,
        records_versioned BIGINT, rows_quarantined BIGINT, fields_quarantined BIGINT)""",
    # added later (stores made before gain them when opened): whole row or one value,
    # and the batch's physical line counts (docs/sources.md, "What ingest guarantees")
    "ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS kind VARCHAR",
    "ALTER TABLE batches ADD COLUMN IF NOT EXISTS lines BIGINT",
    "ALTER TABLE batches ADD COLUMN IF NOT EXISTS lines_blank BIGINT",
    "ALTER TABLE batches ADD COLUMN IF NOT EXISTS lines_in_rows BIGINT",
)


# keys of in-memory stores (tests, scratch): one per name for the process
_PROCESS_SECRETS: dict[str, bytes] = {}
_SECRETS_LOCK = threading.Lock()


class Store:
    """A DuckDB-backed store. Use :func:`open_store` to get one."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path | None) -> None:
        self.con = con
        self.path = path
        self._ensured: set[str] = set()
        self._pending: set[str] = set()
        self._depth = 0
        self.ensure("core", _CORE_DDL)

    # -- secrets ------------------------------------------------------------
    def secret(self, name: str) -> bytes:
        """A 32-byte key of this deployment, kept beside the database as ``<name>.key``
        (random, made on first use, readable by its owner only, never in the database,
        so never in an export of it); an in-memory store gets one per process. Used
        where a value shown to readers or written to the exported audit log must not be
        computable without it (identity ids, criteria digests)."""
        if not name.replace("-", "").isalnum():
            raise ValueError(f"bad secret name {name!r}")
        if self.path is None:
            with _SECRETS_LOCK:
                return _PROCESS_SECRETS.setdefault(name, secrets.token_bytes(32))
        path = Path(self.path).parent / f"{name}.key"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
                fh.flush()
                os.fsync(fh.fileno())
        text = path.read_text().strip()
        if len(text) != 64:
            raise OSError(f"{path}: not a 32-byte hex key (delete it only if nothing "
                          "made with it must stay checkable)")
        return bytes.fromhex(text)

    # -- schema -------------------------------------------------------------
    def ensure(self, name: str, ddl: Sequence[str]) -> None:
        """Apply a module's DDL once per connection (statements must be idempotent)."""
        if name in self._ensured:
            return
        if name in self._pending:
            return
        for stmt in ddl:
            self.con.execute(stmt)
        if self._depth:
            # Inside a transaction the DDL may still roll back with it: it counts as
            # applied once the transaction commits (see ``transaction``).
            self._pending.add(name)
        else:
            self._ensured.add(name)

    # -- transactions -------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open (work done now commits with it, or not at all)."""
        return self._depth > 0

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One atomic unit of work; nested calls join the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield self.con
            finally:
                self._depth -= 1
            return
        self.con.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield self.con
        except BaseException:
            self._depth = 0
            self._pending.clear()
            self.con.execute("ROLLBACK")
            raise
        self._depth = 0
        self.con.execute("COMMIT")
        self._ensured |= self._pending
        self._pending.clear()

    # -- queries (parameterised only) ---------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> duckdb.DuckDBPyConnection:
        return self.con.execute(sql, params or [])

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params or []).fetchall()

    def fetchone(self, sql: str, params: Sequence[Any] | None = None) -> tuple[Any, ...] | None:
        # fetchall, not fetchone: a half-read result would stay open on the connection
        # and break the next statement another component (Splink) runs on it.
        rows = self.con.execute(sql, params or []).fetchall()
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        row = self.fetchone(sql, params)
        return None if row is None else row[0]

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(
    path: Path | str | None, *, threads: int = 2, memory_limit: str = "8GB"
) -> Store:
    """Open (creating if needed) the store at ``path``; ``None`` gives an in-memory store."""
    if path is None:
        con = duckdb.connect(":memory:")
        p = None
    else:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(p))
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET memory_limit = ?", [memory_limit])
    con.execute("SET preserve_insertion_order = false")
    return Store(con, p)
