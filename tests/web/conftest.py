"""The web UI tests' live server (module-built data dir) and headless Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright
from web_fixtures import ARTIFACTS, CHROMIUM_ARGS, LiveWeb, live_web, require_chromium

from pgdb import fresh_database


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveWeb]:
    """The web UI over a DuckDB store; ``IDGRAPH_TEST_WEB_BACKEND=postgres`` builds it in a
    fresh PostgreSQL database instead (a check to run by hand: the suite runs the web UI on
    DuckDB, and the API tests, which share the app layer, on both)."""
    if os.environ.get("IDGRAPH_TEST_WEB_BACKEND") == "postgres":
        with fresh_database() as url, live_web(tmp_path_factory.mktemp("web-pg"),
                                               url) as running:
            yield running
        return
    with live_web(tmp_path_factory.mktemp("web")) as running:
        yield running


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = require_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()
