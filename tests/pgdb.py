"""A fresh PostgreSQL database per test fixture, on the server of
``IDGRAPH_TEST_DATABASE_URL`` (scripts/test.sh starts one with scripts/pg.sh and sets it).

Without the variable the PostgreSQL tests fail (they are never skipped): run
``export IDGRAPH_TEST_DATABASE_URL=$(bash scripts/pg.sh | tail -1)`` first.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

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
