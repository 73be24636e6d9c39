"""Fixtures of every test package: the store on each backend (the contract suite), and
the backend markers.

``@pytest.mark.postgres_only`` marks a test of what only several processes sharing one
PostgreSQL database can do (races between workers); ``@pytest.mark.duckdb_only`` one of
the embedded store's own behaviour. Packages whose fixtures follow
``IDGRAPH_POLICY_TESTS_ON`` (policy, cases, monitor, app) run once per backend in
scripts/test.sh; a marked test is deselected, not skipped, in the run of the other
backend, so each runs exactly where it applies."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/pgdb.py, importable by name

from idgraph.store import Store, open_store
from pgdb import BACKENDS, fresh_database

BACKEND_UNDER_TEST = os.environ.get("IDGRAPH_POLICY_TESTS_ON", "duckdb")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres_only: runs in the PostgreSQL run only")
    config.addinivalue_line("markers", "duckdb_only: runs in the DuckDB run only")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    other = "duckdb_only" if BACKEND_UNDER_TEST == "postgres" else "postgres_only"
    dropped = [i for i in items if i.get_closest_marker(other) is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [i for i in items if i.get_closest_marker(other) is None]


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


@pytest.fixture
def pg_store(tmp_path: Path) -> Iterator[Store]:
    """An empty store on a fresh PostgreSQL database (keys in ``tmp_path``)."""
    with fresh_database() as url:
        store = open_store(url, data_dir=tmp_path, threads=1, memory_limit="1GB")
        try:
            yield store
        finally:
            store.close()
