"""An unexpected exception is a 500 problem with the security headers and no internals
(the app over an in-memory store; a route added that fails on purpose)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from idgraph.api.app import create_app
from idgraph.api.security import CSP
from idgraph.app.context import Env
from idgraph.settings import Settings
from idgraph.store import open_store


def test_a_crash_is_a_bare_500_problem_with_headers(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    env = Env(store=open_store(None), settings=settings)
    app = create_app(settings, env=env)

    @app.get("/api/v1/crash-for-test")
    def crash() -> None:
        raise RuntimeError("SELECT secret FROM internals")

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await c.get("/api/v1/crash-for-test")

    r = asyncio.run(call())
    env.close()
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["cache-control"] == "no-store"
    assert "SELECT" not in r.text and "Traceback" not in r.text
    assert r.json()["status"] == 500
