"""The API tests' one live server (session scope: the store takes a while to build)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_fixtures import LiveApi, live_api


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    with live_api(tmp_path_factory.mktemp("api")) as running:
        yield running
