"""Fixtures of every test package: the store on each backend (the contract suite)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/pgdb.py, importable by name

from pgdb import BACKENDS, fresh_database  # noqa: E402

from idgraph.store import Store, open_store  # noqa: E402


@pytest.fixture(params=BACKENDS)
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store (schema at the latest version) on each backend in turn: a DuckDB
    file in ``tmp_path``, then a fresh PostgreSQL database (keys in ``tmp_path``)."""
    if request.param == "duckdb":
        store = open_store(tmp_path / "idgraph.duckdb", threads=1, memory_limit="1GB")
        try:
            yield store
        finally:
            store.close()
        return
    with fresh_database() as url:
        store = open_store(url, data_dir=tmp_path, threads=1, memory_limit="1GB")
        try:
            yield store
        finally:
            store.close()
