"""The embedded default store: one DuckDB file in the data dir."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from idgraph.store.base import Dialect, Store, WriteMode


class DuckDBStore(Store):
    """A DuckDB-backed store: the embedded default, and the workspace analytic stages
    run on. Use :func:`idgraph.store.open_store` to get one."""

    dialect: Dialect = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path | None,
                 *, data_dir: Path | None = None) -> None:
        super().__init__(data_dir if data_dir is not None
                         else (None if path is None else Path(path).parent))
        self.con = con
        self.path = path

    def has_table(self, name: str) -> bool:
        return bool(self.fetchall(
            "SELECT 1 FROM information_schema.tables WHERE table_name = ? "
            "AND table_schema = current_schema()", [name]))

    # -- transactions -------------------------------------------------------
    def _begin(self) -> duckdb.DuckDBPyConnection:
        self.con.execute("BEGIN TRANSACTION")
        return self.con

    def _commit(self) -> None:
        self.con.execute("COMMIT")

    def _rollback(self) -> None:
        self.settle()
        self.con.execute("ROLLBACK")

    def settle(self) -> None:
        # A query interrupted by a signal (Ctrl-C, SIGTERM) can leave its result open on
        # the connection, and DuckDB refuses the next query until it is dropped.
        self.con.abort()

    def _current(self) -> duckdb.DuckDBPyConnection:
        return self.con

    def lock(self, name: str) -> None:
        # One process writes a DuckDB file (DuckDB locks it), and that process's
        # writers share this connection: a transaction already excludes the others.
        if not self._depth:
            raise RuntimeError(f"lock({name!r}) outside a transaction")

    # -- queries (parameterised only) ---------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> duckdb.DuckDBPyConnection:
        return self.con.execute(sql, params or [])

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.con.executemany(sql, [list(r) for r in rows])

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params or []).fetchall()

    # -- bulk and analytics -------------------------------------------------
    def fetch_arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        return self.con.sql(sql, params=list(params) if params else None).to_arrow_table()

    def append_arrow(self, table: str, data: pa.Table) -> int:
        if not data.num_rows:
            return 0
        name = f"__idg_append_{secrets.token_hex(4)}"
        self.con.register(name, data)
        try:
            self.con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM {name}')
        finally:
            self.con.unregister(name)
        return int(data.num_rows)

    @contextmanager
    def workspace(
        self, reads: Mapping[str, str | None], writes: Mapping[str, WriteMode]
    ) -> Iterator[DuckDBStore]:
        yield self

    def sibling(self) -> DuckDBStore:
        # A cursor: DuckDB lets one process hold a file; its cursors are connections
        # of their own to the same database.
        return DuckDBStore(self.con.cursor(), self.path, data_dir=self.data_dir)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> DuckDBStore:
        return self


def open_duckdb(
    path: Path | str | None, *, threads: int = 2, memory_limit: str = "8GB",
    data_dir: Path | None = None,
) -> DuckDBStore:
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
    return DuckDBStore(con, p, data_dir=data_dir)
