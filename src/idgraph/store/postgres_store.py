"""The server store: a PostgreSQL database shared by every idgraph process of a
deployment (``IDGRAPH_DATABASE_URL=postgresql://...``), through psycopg 3 and its pool.

SQL arrives as for DuckDB, with ``?`` placeholders; :func:`to_pg` rewrites them to
psycopg's ``%s`` (quoted text and identifiers untouched). Values come back as DuckDB
gives them: JSON columns as their text, ``numeric`` results (``sum`` of integers) as
int or float.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql as pgsql
from psycopg.adapt import Loader
from psycopg.types.string import TextLoader
from psycopg_pool import ConnectionPool

from idgraph.store.base import Dialect, Store, WriteMode
from idgraph.store.duckdb_store import DuckDBStore, open_duckdb

_TOKEN = re.compile(r"""('(?:[^']|'')*'|"(?:[^"]|"")*"|\?|%)""")
_DOUBLE = re.compile(r"\bDOUBLE\b(?!\s+PRECISION)", re.IGNORECASE)
_BLOB = re.compile(r"\bBLOB\b", re.IGNORECASE)


@lru_cache(maxsize=4096)
def to_pg(sql: str) -> str:
    """``sql`` with ``?`` placeholders as psycopg's ``%s`` (outside quoted strings and
    identifiers, where a ``?`` stays as written) and every ``%`` doubled (psycopg reads
    ``%`` as a placeholder even inside quotes)."""

    def sub(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok == "?":
            return "%s"
        return tok.replace("%", "%%")

    return _TOKEN.sub(sub, sql)


def ddl_to_pg(stmt: str) -> str:
    """A DDL statement's DuckDB type names as PostgreSQL's."""
    return _BLOB.sub("BYTEA", _DOUBLE.sub("DOUBLE PRECISION", stmt))


class _NumericLoader(Loader):
    """``numeric`` as int when whole, else float (what DuckDB's sums and averages give)."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        if "." in text or "e" in text.lower() or text in ("NaN", "Infinity", "-Infinity"):
            return float(text)
        return int(text)


def _configure(con: psycopg.Connection[Any]) -> None:
    for name in ("json", "jsonb"):
        con.adapters.register_loader(name, TextLoader)
    con.adapters.register_loader("numeric", _NumericLoader)


# PostgreSQL type oid -> Arrow type (the columns idgraph's tables use)
_ARROW: dict[int, pa.DataType] = {
    16: pa.bool_(), 20: pa.int64(), 21: pa.int16(), 23: pa.int32(), 25: pa.string(),
    1043: pa.string(), 1042: pa.string(), 114: pa.string(), 3802: pa.string(),
    700: pa.float32(), 701: pa.float64(), 1700: pa.float64(), 1082: pa.date32(),
    1114: pa.timestamp("us"), 17: pa.binary(), 1009: pa.list_(pa.string()),
    1015: pa.list_(pa.string()), 1016: pa.list_(pa.int64()), 1007: pa.list_(pa.int32()),
}


_SCHEMA: tuple[str, ...] | None = None
_SCHEMA_LOCK = threading.Lock()


def _workspace_schema() -> tuple[str, ...]:
    """The statements that make every table of the latest schema in a DuckDB database:
    the migrations applied once per process to a scratch DuckDB, read back as that
    database's final ``CREATE`` statements (a workspace then costs one statement per
    table, not the whole history of ALTERs)."""
    global _SCHEMA
    with _SCHEMA_LOCK:
        if _SCHEMA is None:
            from idgraph.store.migrations import upgrade

            scratch = open_duckdb(None, threads=1, memory_limit="256MB")
            try:
                upgrade(scratch)
                tables = [r[0] for r in scratch.fetchall(
                    "SELECT sql FROM duckdb_tables() WHERE NOT temporary "
                    "AND schema_name = current_schema() ORDER BY table_name")]
                indexes = [r[0] for r in scratch.fetchall(
                    "SELECT sql FROM duckdb_indexes() WHERE sql IS NOT NULL "
                    "AND schema_name = current_schema() ORDER BY index_name")]
                versions = scratch.fetchall(
                    "SELECT version, name, applied_at FROM schema_version ORDER BY version")
            finally:
                scratch.close()
            rows = ", ".join(f"({int(v)}, '{n}', TIMESTAMP '{a}')" for v, n, a in versions)
            _SCHEMA = (*tables, *indexes, f"INSERT INTO schema_version VALUES {rows}")
        return _SCHEMA


class _Con:
    """What a transaction yields: ``execute(sql, params)`` with ``?`` placeholders."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> psycopg.Cursor[Any]:
        return self._store.execute(sql, params)


class PostgresStore(Store):
    """A PostgreSQL-backed store. Use :func:`idgraph.store.open_store` to get one."""

    dialect: Dialect = "postgres"

    def __init__(self, pool: ConnectionPool[Any], data_dir: Path | None, *,
                 owns_pool: bool, threads: int = 2, memory_limit: str = "8GB") -> None:
        super().__init__(data_dir)
        self.pool = pool
        self._owns_pool = owns_pool
        self._threads, self._memory_limit = threads, memory_limit
        self._conn: psycopg.Connection[Any] | None = pool.getconn()

    @property
    def conn(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            raise RuntimeError("the store is closed")
        return self._conn

    def ddl(self, stmt: str) -> None:
        self.execute(ddl_to_pg(stmt))

    # -- transactions -------------------------------------------------------
    def _begin(self) -> _Con:
        self.conn.execute("BEGIN")
        return _Con(self)

    def _commit(self) -> None:
        self.conn.execute("COMMIT")

    def _rollback(self) -> None:
        if not self.conn.closed:
            self.conn.execute("ROLLBACK")

    def _current(self) -> _Con:
        return _Con(self)

    def lock(self, name: str) -> None:
        if not self._depth:
            raise RuntimeError(f"lock({name!r}) outside a transaction")
        self.conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"idgraph:{name}"])

    # -- queries (parameterised only) ---------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> psycopg.Cursor[Any]:
        if params:
            return self.conn.execute(to_pg(sql), list(params))
        return self.conn.execute(sql)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(to_pg(sql), [list(r) for r in rows])

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        cur = self.execute(sql, params)
        return cur.fetchall() if cur.description is not None else []

    def has_table(self, name: str) -> bool:
        return bool(self.fetchall(
            "SELECT 1 FROM information_schema.tables WHERE table_name = ? "
            "AND table_schema = current_schema()", [name]))

    # -- bulk and analytics -------------------------------------------------
    def fetch_arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        # A server-side cursor streams the rows in batches (a 100M-row table never sits
        # in the client twice); it lives in a transaction (the open one, or its own).
        if self._depth:
            return self._fetch_arrow(sql, params)
        with self.conn.transaction():
            return self._fetch_arrow(sql, params)

    def _fetch_arrow(self, sql: str, params: Sequence[Any] | None) -> pa.Table:
        with self.conn.cursor(name=f"idg_arrow_{secrets.token_hex(6)}") as cur:
            cur.itersize = 50_000
            cur.execute(to_pg(sql) if params else sql, list(params) if params else None)
            rows = cur.fetchmany(50_000)
            desc = cur.description or []
            names = [d.name for d in desc]
            types = [_ARROW.get(d.type_code) for d in desc]
            batches: list[pa.RecordBatch] = []
            while rows:
                cols = list(zip(*rows, strict=True))
                arrays = [pa.array(list(c), type=t) for c, t in zip(cols, types, strict=True)]
                batches.append(pa.RecordBatch.from_arrays(arrays, names=names))
                rows = cur.fetchmany(50_000)
        if batches:
            return pa.Table.from_batches(batches)
        return pa.table({n: pa.array([], type=t or pa.string())
                         for n, t in zip(names, types, strict=True)})

    def append_arrow(self, table: str, data: pa.Table) -> int:
        if not data.num_rows:
            return 0
        cols = pgsql.SQL(", ").join(pgsql.Identifier(c) for c in data.column_names)
        stmt = pgsql.SQL("COPY {} ({}) FROM STDIN").format(pgsql.Identifier(table), cols)
        with self.conn.cursor() as cur, cur.copy(stmt) as copy:
            for batch in data.to_batches(50_000):
                for row in zip(*(c.to_pylist() for c in batch.columns), strict=True):
                    copy.write_row(row)
        return int(data.num_rows)

    @contextmanager
    def workspace(
        self, reads: Mapping[str, str | None], writes: Mapping[str, WriteMode]
    ) -> Iterator[DuckDBStore]:
        for table, mode in writes.items():
            if mode == "replace" and reads.get(table):
                raise ValueError(f"{table}: a table written back whole must be read whole")
        ws = open_duckdb(None, threads=self._threads, memory_limit=self._memory_limit,
                         data_dir=self.data_dir)
        try:
            for stmt in _workspace_schema():
                ws.execute(stmt)
            marks: dict[str, int] = {}
            copy = dict(reads)
            for table, mode in writes.items():
                if mode == "replace":
                    copy.setdefault(table, None)
            for table, where in copy.items():
                if not self.has_table(table):
                    continue
                q = f'SELECT * FROM "{table}"' + (f" WHERE {where}" if where else "")
                ws.append_arrow(table, self.fetch_arrow(q))
            for table, mode in writes.items():
                if mode == "append":
                    marks[table] = int(ws.scalar(f'SELECT count(*) FROM "{table}"'))
            yield ws
            with self.transaction():
                for table, mode in writes.items():
                    if mode == "replace":
                        self.execute(f'DELETE FROM "{table}"')
                        self.append_arrow(table, ws.fetch_arrow(f'SELECT * FROM "{table}"'))
                    else:
                        self.append_arrow(table, ws.fetch_arrow(
                            f'SELECT * EXCLUDE (rowid_) FROM (SELECT *, rowid AS rowid_ '
                            f'FROM "{table}") WHERE rowid_ >= ?', [marks[table]]))
        finally:
            ws.close()

    def sibling(self) -> PostgresStore:
        return PostgresStore(self.pool, self.data_dir, owns_pool=False,
                             threads=self._threads, memory_limit=self._memory_limit)

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            self.pool.putconn(conn)
        if self._owns_pool:
            self.pool.close()

    def __enter__(self) -> PostgresStore:
        return self


def open_postgres(url: str, *, data_dir: Path | None, pool_size: int = 4,
                  threads: int = 2, memory_limit: str = "8GB") -> PostgresStore:
    """Connect to the database at ``url`` (a pool of up to ``pool_size`` connections)."""
    pool: ConnectionPool[Any] = ConnectionPool(
        url, min_size=1, max_size=max(1, pool_size), open=True, configure=_configure,
        kwargs={"autocommit": True}, name="idgraph")
    try:
        pool.wait(timeout=30)
    except BaseException:
        pool.close()
        raise
    return PostgresStore(pool, data_dir, owns_pool=True, threads=threads,
                         memory_limit=memory_limit)


__all__ = ["PostgresStore", "ddl_to_pg", "open_postgres", "to_pg"]
