"""A fresh PostgreSQL database per test fixture, on the server of
``IDGRAPH_TEST_DATABASE_URL`` (scripts/test.sh starts one with scripts/pg.sh and sets it).

Without the variable the PostgreSQL tests fail (they are never skipped): run
``export IDGRAPH_TEST_DATABASE_URL=$(bash scripts/pg.sh | tail -1)`` first.
"""

from __future__ import annotations

import atexit
import os
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from idgraph.store import Store, open_store

ENV = "IDGRAPH_TEST_DATABASE_URL"
BACKENDS = ("duckdb", "postgres")


def server_url() -> str:
    url = os.environ.get(ENV)
    if not url:
        pytest.fail(f"{ENV} is not set: start PostgreSQL with "
                    f"`export {ENV}=$(bash scripts/pg.sh | tail -1)`", pytrace=False)
    return url


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty database (dropped afterwards)."""
    admin = server_url()
    name = f"idg_test_{secrets.token_hex(6)}"
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(admin, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ``IDGRAPH_POLICY_TESTS_ON=postgres``: every :func:`new_store` is a fresh PostgreSQL
# database (dropped when the run ends), to run the policy and cases tests on that
# backend; by default an in-memory DuckDB. Only the latest few stay open (a test uses
# one store at a time).
_BACKEND = os.environ.get("IDGRAPH_POLICY_TESTS_ON", "duckdb")
_DATABASES: list[ExitStack] = []


def _drop_all(keep: int = 0) -> None:
    while len(_DATABASES) > keep:
        _DATABASES.pop(0).close()


atexit.register(_drop_all)


def new_store() -> Store:
    """An empty store on the backend under test (see above)."""
    if _BACKEND == "postgres":
        _drop_all(keep=2)
        stack = ExitStack()
        url = stack.enter_context(fresh_database())
        store = open_store(url, threads=1, memory_limit="1GB")
        stack.callback(store.close)
        _DATABASES.append(stack)
        return store
    return open_store(None)
