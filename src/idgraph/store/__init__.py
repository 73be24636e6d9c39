"""Storage: the embedded DuckDB store behind one small interface."""

from idgraph.store.duckdb_store import Store, open_store

__all__ = ["Store", "open_store"]
