"""The store the cases tests use: an in-memory DuckDB, or with
``IDGRAPH_POLICY_TESTS_ON=postgres`` a fresh PostgreSQL database (tests/pgdb.py)."""

from __future__ import annotations

from pgdb import new_store

__all__ = ["new_store"]
