"""Storage: the tables behind one small interface, on DuckDB (embedded) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from idgraph.store.base import Connection, Dialect, Store
from idgraph.store.duckdb_store import DuckDBStore, open_duckdb

_PG_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(target: object) -> bool:
    """Whether ``target`` names a PostgreSQL database rather than a DuckDB file."""
    return isinstance(target, str) and target.startswith(_PG_SCHEMES)


def open_store(
    target: Path | str | None, *, threads: int = 2, memory_limit: str = "8GB",
    data_dir: Path | None = None, upgrade: bool = True, pool_size: int = 4,
) -> Store:
    """Open the store at ``target``: a DuckDB file (made if missing), ``None`` for an
    in-memory DuckDB, or a ``postgresql://`` URL. ``data_dir`` holds the deployment's
    keys and search index (default: the DuckDB file's folder; none in memory). Pending
    schema migrations are applied unless ``upgrade`` is false (``idgraph db upgrade``)."""
    from idgraph.store import migrations

    store: Store
    if is_database_url(target):
        from idgraph.store.postgres_store import open_postgres

        assert isinstance(target, str)
        store = open_postgres(target, data_dir=data_dir, pool_size=pool_size,
                              threads=threads, memory_limit=memory_limit)
    else:
        assert not isinstance(target, str) or "://" not in target, "unknown database URL"
        store = open_duckdb(target, threads=threads, memory_limit=memory_limit,
                            data_dir=data_dir)
    if upgrade:
        try:
            migrations.upgrade(store)
        except BaseException:
            store.close()
            raise
    return store


__all__ = ["Connection", "Dialect", "DuckDBStore", "Store", "is_database_url", "open_duckdb",
           "open_store"]
