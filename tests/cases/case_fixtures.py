"""The store the cases tests use: an in-memory DuckDB, or with
``IDGRAPH_POLICY_TESTS_ON=postgres`` a fresh PostgreSQL database on the server of
IDGRAPH_TEST_DATABASE_URL (dropped when the run ends; see tests/policy/policy_fixtures.py)."""

from __future__ import annotations

import atexit
import os
from contextlib import ExitStack

from idgraph.store import Store, open_store

_BACKEND = os.environ.get("IDGRAPH_POLICY_TESTS_ON", "duckdb")
_DATABASES: list[ExitStack] = []


def _drop_all(keep: int = 0) -> None:
    while len(_DATABASES) > keep:
        _DATABASES.pop(0).close()


atexit.register(_drop_all)


def new_store() -> Store:
    if _BACKEND == "postgres":
        from pgdb import fresh_database

        _drop_all(keep=2)
        stack = ExitStack()
        url = stack.enter_context(fresh_database())
        store = open_store(url, threads=1, memory_limit="1GB")
        stack.callback(store.close)
        _DATABASES.append(stack)
        return store
    return open_store(None)
