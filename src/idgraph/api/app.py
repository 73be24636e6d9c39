"""The FastAPI application: the REST API under ``/api/v1`` and the web UI under ``/``.

``create_app(settings)`` opens the process's one ``Env`` (kept on ``app.state.env``, closed
at shutdown), installs the problem-details handlers and the security middleware, includes
the API routers and the web UI's router, and mounts the web UI's static files.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles

from idgraph.api import problems
from idgraph.api.deps import locked
from idgraph.api.models import Problem
from idgraph.api.routers import admin, audit, data, match, reads, reports
from idgraph.api.routers.cases import router as cases_router  # issue 16 (L): cases
from idgraph.api.routers.feeds import router as feeds_router  # issue 16 (J): live feeds
from idgraph.api.routers.match import MatchJobs
from idgraph.api.routers.watches import router as watches_router  # issue 16 (K)
from idgraph.api.security import SecurityMiddleware
from idgraph.app import watches
from idgraph.app.context import Env
from idgraph.settings import Settings

API_PREFIX = "/api/v1"
TITLE = "idgraph"
VERSION = "1"
DESCRIPTION = (
    "Lawful-access identity search over linked person records. Every read carries a "
    "purpose (and claims, legal basis, case) and is decided by policy and audited; every "
    "other act is decided by Cedar and audited. Errors are RFC 9457 problem details. "
    "Authenticate with `Authorization: Bearer idg_...` (see docs/api.md)."
)
ROUTERS = (reads.router, match.router, data.router, admin.router, reports.router,
           audit.router, feeds_router, watches_router, cases_router)


def _web() -> tuple[Any, Path | None, problems.WebErrorRenderer | None]:
    """The web UI's router, static folder and error renderer (web/ is helper E's)."""
    from idgraph.web import routes as web_routes  # api imports web here only

    static = Path(web_routes.__file__).parent / "static"
    renderer = getattr(web_routes, "error_response", None)
    return web_routes.router, static if static.is_dir() else None, renderer


def build_app(settings: Settings, *, with_web: bool = True) -> FastAPI:
    """The app without an ``Env`` (what the OpenAPI document is generated from)."""
    app = FastAPI(title=TITLE, version=VERSION, description=DESCRIPTION,
                  docs_url=None, redoc_url=None, openapi_url=f"{API_PREFIX}/openapi.json")
    app.state.settings = settings
    app.state.match_jobs = MatchJobs()
    web_router, static, web_errors = _web() if with_web else (None, None, None)
    problems.install(app, web_errors)
    app.add_middleware(SecurityMiddleware, max_body_bytes=settings.api_max_body_bytes,
                       max_json_bytes=settings.api_max_json_bytes)

    @app.get(f"{API_PREFIX}/health", tags=["meta"], summary="Liveness (no authentication)")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX, responses=problems.PROBLEM_RESPONSES)
    if web_router is not None:
        app.include_router(web_router)
    if static is not None:
        app.mount("/static", StaticFiles(directory=static), name="static")
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    return app


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of the API routes only (the web UI's pages are not API), with
    the problem schema and the bearer security scheme (cached on the app)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = get_openapi(title=TITLE, version=VERSION, description=DESCRIPTION,
                      routes=app.routes)
    doc["paths"] = {p: ops for p, ops in doc.get("paths", {}).items()
                    if p.startswith(API_PREFIX)}
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components["schemas"] = {k: schemas[k] for k in sorted(_referenced(doc["paths"], schemas))}
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer",
                   "description": "An API token: idg_<id>_<secret> (`idgraph tokens create`)."}
    }
    for path, ops in doc["paths"].items():
        if path == f"{API_PREFIX}/health":
            continue
        for op in ops.values():
            op["security"] = [{"bearer": []}]
    app.openapi_schema = doc
    return doc


def _referenced(node: Any, schemas: dict[str, Any]) -> set[str]:
    """Names of the component schemas ``node`` refers to, transitively."""
    found: set[str] = set()
    stack = [node]
    prefix = "#/components/schemas/"
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix):
                name = ref[len(prefix):]
                if name not in found and name in schemas:
                    found.add(name)
                    stack.append(schemas[name])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def create_app(settings: Settings, *, env: Env | None = None) -> FastAPI:
    """The app over ``env`` (default: ``Env.open(settings)``, closed at shutdown)."""
    owned = env is None
    the_env = Env.open(settings) if env is None else env
    watches.listen()  # pushed records are tested against the watches

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        with locked(the_env):  # webhooks a previous process left pending go out again
            watches.resume_deliveries(the_env)
        try:
            yield
        finally:
            if owned:
                the_env.close()

    app = build_app(settings)
    app.router.lifespan_context = lifespan
    app.state.env = the_env
    return app
