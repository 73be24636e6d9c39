"""The API tests' live server, once per backend (session scope: the store takes a while
to build): a DuckDB file, then a fresh PostgreSQL database (``IDGRAPH_TEST_DATABASE_URL``,
started by scripts/test.sh; tests/pgdb.py). Every test using ``live`` runs on both."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_fixtures import LiveApi, live_api

from pgdb import BACKENDS, fresh_database


@pytest.fixture(scope="session", params=BACKENDS)
def live(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    if request.param == "duckdb":
        with live_api(tmp_path_factory.mktemp("api")) as running:
            yield running
        return
    with fresh_database() as url, live_api(tmp_path_factory.mktemp("api-pg"), url) as running:
        yield running


SHARE = "IDGRAPH_TEST_API_SHARE"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``IDGRAPH_TEST_API_SHARE=postgres`` keeps only the API tests on the PostgreSQL
    ``live`` server; ``=duckdb`` keeps everything else (scripts/test.sh runs the two
    shares in two processes at once: docs/deploy.md, "Testing on PostgreSQL")."""
    share = os.environ.get(SHARE)
    if share not in BACKENDS:
        return
    api = Path(__file__).parent
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        on_pg = api in Path(str(item.path)).parents and params.get("live") == "postgres"
        (kept if on_pg == (share == "postgres") else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
