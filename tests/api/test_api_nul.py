"""A NUL character (U+0000) in a request is a 422 before the app runs (a problem on the
API, a page on the web UI): in the path, the query, a JSON or a form body (split across
chunks too); PostgreSQL cannot hold one in text. Multipart uploads are not scanned."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from idgraph.api.app import create_app
from idgraph.api.security import CSP, NUL_DETAIL
from idgraph.app.context import Env
from idgraph.settings import Settings
from idgraph.store import open_store


def _calls(tmp_path: Path) -> list[httpx.Response]:
    settings = Settings(data_dir=tmp_path)
    env = Env(store=open_store(None), settings=settings)
    app = create_app(settings, env=env)
    seen: list[str] = []

    @app.post("/api/v1/echo-for-test")
    async def echo(body: dict[str, str]) -> dict[str, str]:
        seen.append("echo")
        return body

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"a": "x\\u00'
        yield b'00"}'

    async def call() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return [
                await c.get("/api/v1/identities/%00x"),
                await c.get("/api/v1/search", params={"name": "A\x00B", "purpose": "x"}),
                await c.post("/api/v1/echo-for-test", json={"a": "x\x00y"}),
                await c.post("/api/v1/echo-for-test", content=chunks(),
                             headers={"content-type": "application/json"}),
                await c.post("/api/v1/echo-for-test", json={"a": "no nul, 100%"}),
            ]

    try:
        responses = asyncio.run(call())
    finally:
        env.close()
    assert seen == ["echo"]  # only the request without a NUL reached the route
    return responses


def test_nul_is_refused_before_the_app(tmp_path: Path) -> None:
    *refused, fine = _calls(tmp_path)
    for r in refused:
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.headers["content-security-policy"] == CSP
        assert r.headers["cache-control"] == "no-store"
        assert r.json()["detail"] == NUL_DETAIL
    assert fine.status_code == 200 and fine.json() == {"a": "no nul, 100%"}


@pytest.mark.parametrize("data", [b"x%00", b"\\u0000", b"\x00"])
def test_has_nul(data: bytes) -> None:
    from idgraph.api.security import has_nul

    assert has_nul(data) and has_nul(data.upper()) and not has_nul(b"%2500 \\\\u00")


def test_nul_in_a_page_address_is_a_422_page(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    env = Env(store=open_store(None), settings=settings)
    app = create_app(settings, env=env)

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await c.get("/search", params={"name": "A\x00B"})

    try:
        r = asyncio.run(call())
    finally:
        env.close()
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert NUL_DETAIL in r.text and r.headers["content-security-policy"] == CSP
