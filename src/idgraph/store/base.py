"""What every backend of the store offers: tables, transactions, parameterised queries.

The store knows tables and transactions, never business rules. Two backends implement
it: :class:`~idgraph.store.duckdb_store.DuckDBStore` (one embedded file, the default)
and :class:`~idgraph.store.postgres_store.PostgresStore` (a server database shared by
several processes). SQL handed to either is written once, with ``?`` placeholders, in
the subset both engines speak (docs/deploy.md, "Writing SQL for both backends"); where
they differ, a repository branches on :attr:`Store.dialect`.

Analytic stages (linkage, the search documents, bulk ingest) run on DuckDB whatever the
backend: :meth:`Store.workspace` gives them a DuckDB store holding the tables they read,
and they hand back what they wrote, explicitly.
"""

from __future__ import annotations

import os
import secrets
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

    from idgraph.store.duckdb_store import DuckDBStore

Dialect = Literal["duckdb", "postgres"]


class Cursor(Protocol):
    """The result of :meth:`Connection.execute` (DuckDB's connection, psycopg's cursor)."""

    def fetchall(self) -> list[tuple[Any, ...]]: ...

    def fetchone(self) -> tuple[Any, ...] | None: ...


class Connection(Protocol):
    """What a transaction yields: ``execute(sql, params)`` with ``?`` placeholders."""

    def execute(self, sql: str, params: Sequence[Any] | None = ..., /) -> Any: ...


# keys of stores without a data folder (in-memory: tests, scratch): one per name for
# the process
_PROCESS_SECRETS: dict[str, bytes] = {}
_SECRETS_LOCK = threading.Lock()


class Store(ABC):
    """One database of idgraph's tables. Use :func:`idgraph.store.open_store`."""

    dialect: Dialect

    def __init__(self, data_dir: Path | None) -> None:
        # The deployment's folder (keys, search index); None for an in-memory store.
        self.data_dir = data_dir
        self._ensured: set[str] = set()
        self._pending: set[str] = set()
        self._depth = 0

    # -- secrets ------------------------------------------------------------
    def secret(self, name: str) -> bytes:
        """A 32-byte key of this deployment, kept in its data folder as ``<name>.key``
        (random, made on first use, readable by its owner only, never in the database,
        so never in an export of it); an in-memory store gets one per process. Used
        where a value shown to readers or written to the exported audit log must not be
        computable without it (identity ids, criteria digests). Every process serving
        one PostgreSQL database must share the data folder (docs/deploy.md)."""
        if not name.replace("-", "").isalnum():
            raise ValueError(f"bad secret name {name!r}")
        if self.data_dir is None:
            with _SECRETS_LOCK:
                return _PROCESS_SECRETS.setdefault(name, secrets.token_bytes(32))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / f"{name}.key"
        if not path.exists():
            # Written whole to a temporary file, then linked into place: processes that
            # share the data folder and make the key at once agree on the first one
            # linked, and none reads a half-written key.
            tmp = self.data_dir / f".{name}.key.{os.getpid()}.{secrets.token_hex(4)}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_hex(32))
                    fh.flush()
                    os.fsync(fh.fileno())
                with suppress(FileExistsError):
                    os.link(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        text = path.read_text().strip()
        if len(text) != 64:
            raise OSError(f"{path}: not a 32-byte hex key (delete it only if nothing "
                          "made with it must stay checkable)")
        return bytes.fromhex(text)

    # -- schema -------------------------------------------------------------
    def ensure(self, name: str, ddl: Sequence[str]) -> None:
        """Apply a module's DDL once per connection (statements must be idempotent).
        The tables of a release are made by the migrations (:mod:`idgraph.store.migrations`);
        this serves tables made on the fly (scratch tables of a stage)."""
        if name in self._ensured or name in self._pending:
            return
        for stmt in ddl:
            self.ddl(stmt)
        if self._depth:
            # Inside a transaction the DDL may still roll back with it: it counts as
            # applied once the transaction commits (see ``transaction``).
            self._pending.add(name)
        else:
            self._ensured.add(name)

    def ddl(self, stmt: str) -> None:
        """Run one DDL statement (written for DuckDB; PostgreSQL translates its types)."""
        self.execute(stmt)

    @abstractmethod
    def has_table(self, name: str) -> bool:
        """Whether the table (or view) ``name`` exists in the store's schema."""

    # -- transactions -------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open (work done now commits with it, or not at all)."""
        return self._depth > 0

    @abstractmethod
    def _begin(self) -> Connection: ...

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def _rollback(self) -> None: ...

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One atomic unit of work; nested calls join the outer transaction. Yields a
        connection whose ``execute(sql, params)`` takes ``?`` placeholders."""
        if self._depth:
            self._depth += 1
            try:
                yield self._current()
            finally:
                self._depth -= 1
            return
        con = self._begin()
        self._depth = 1
        try:
            yield con
        except BaseException:
            self._depth = 0
            self._pending.clear()
            self._rollback()
            raise
        self._depth = 0
        try:
            self._commit()
        except BaseException:
            # a COMMIT that failed (or a signal inside it) can leave the transaction
            # open and aborted, refusing every later statement: end it
            self._pending.clear()
            with suppress(Exception):
                self._rollback()
            raise
        self._ensured |= self._pending
        self._pending.clear()

    def settle(self) -> None:
        """Drop what an interrupted query left on the connection (outside a
        transaction, or before its rollback); nothing to do on PostgreSQL."""
        return None

    @abstractmethod
    def _current(self) -> Connection: ...

    @abstractmethod
    def lock(self, name: str) -> None:
        """Hold the named lock until the open transaction ends: writers in every process
        sharing the database queue on it (the audit log's appends). Inside a
        transaction only."""

    # -- queries (parameterised only) ---------------------------------------
    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any: ...

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @abstractmethod
    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        ...

    def fetchone(self, sql: str, params: Sequence[Any] | None = None) -> tuple[Any, ...] | None:
        # fetchall, not fetchone: a half-read result would stay open on the connection
        # and break the next statement another component (Splink) runs on it.
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        row = self.fetchone(sql, params)
        return None if row is None else row[0]

    # -- bulk and analytics -------------------------------------------------
    @abstractmethod
    def fetch_arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """A query's result as an Arrow table (column names as selected)."""

    @abstractmethod
    def append_arrow(self, table: str, data: pa.Table) -> int:
        """Append ``data``'s rows to ``table`` (columns by name; the rest NULL or their
        default); returns the rows appended. Bulk: COPY on PostgreSQL."""

    @abstractmethod
    @contextmanager
    def workspace(
        self, reads: Mapping[str, str | None], writes: Mapping[str, WriteMode]
    ) -> Iterator[DuckDBStore]:
        """A DuckDB store an analytic stage runs on. ``reads`` names the tables it reads
        (with an optional ``WHERE`` condition that narrows the copy); ``writes`` the
        tables it changes and how they come back: ``"replace"`` (the table's rows as the
        stage left them) or ``"append"`` (the rows it added). On DuckDB the workspace is
        the store itself; on PostgreSQL an in-memory DuckDB with the read tables copied
        in, whose writes are copied back in one transaction when the block ends without
        an error (nothing is written back after an error)."""

    @abstractmethod
    def sibling(self) -> Store:
        """Another connection to the same database (for a thread of its own)."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


WriteMode = Literal["replace", "append"]


__all__ = ["Connection", "Cursor", "Dialect", "Store", "WriteMode"]
