"""The backend the app tests run on: an in-memory DuckDB (and a DuckDB file for a
deployment folder) by default; with ``IDGRAPH_POLICY_TESTS_ON=postgres`` (as for the
policy, cases and monitor tests) a fresh PostgreSQL database on the server of
IDGRAPH_TEST_DATABASE_URL for each store, dropped when the run ends.

A uniquely named module (``conftest`` is not): the tests import it by bare name."""

from __future__ import annotations

import atexit
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from idgraph.settings import Settings
from idgraph.store import Store, open_store

BACKEND = os.environ.get("IDGRAPH_POLICY_TESTS_ON", "duckdb")
_DATABASES = ExitStack()
atexit.register(_DATABASES.close)


def _fresh_url() -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from pgdb import fresh_database

    return _DATABASES.enter_context(fresh_database())


def new_store() -> Store:
    """An empty store: in memory on DuckDB, a fresh database on PostgreSQL."""
    if BACKEND == "postgres":
        return open_store(_fresh_url(), threads=1, memory_limit="1GB")
    return open_store(None)


def settings_for(data_dir: Path, **extra: Any) -> Settings:
    """The settings of a test deployment in ``data_dir`` on the backend under test."""
    if BACKEND == "postgres":
        return Settings(data_dir=data_dir, database_url=_fresh_url(), **extra)
    return Settings(data_dir=data_dir, **extra)


def backend_environ(settings: Settings) -> dict[str, str]:
    """What a CLI process needs in its environment to open ``settings``' store."""
    if settings.database_url is None:
        return {}
    return {"IDGRAPH_DATABASE_URL": settings.database_url.get_secret_value()}
