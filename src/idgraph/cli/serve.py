"""``idgraph serve``: the REST API and the web UI on one local HTTP server (uvicorn).

Served over plain HTTP on 127.0.0.1 by default: put a TLS-terminating proxy in front
before binding another address. uvicorn's access log is off: a search's query string
holds the personal data searched for (every request is in the audit log instead).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import duckdb
import typer
import uvicorn

from idgraph.cli.common import (
    USER_ERRORS,
    console,
    describe,
    fail,
    open_waiting,
    settings_of,
    store_name,
)
from idgraph.settings import Settings

SERVE_ERRORS: tuple[type[Exception], ...] = (*USER_ERRORS, duckdb.IOException)


def config(app: Any, host: str, port: int, *, log_level: str = "info") -> uvicorn.Config:
    """How idgraph runs uvicorn: no access log, no ``Server`` header, no proxy headers."""
    return uvicorn.Config(app, host=host, port=port, access_log=False, log_level=log_level,
                          server_header=False, proxy_headers=False, lifespan="on")


def server(settings: Settings, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server over ``create_app(settings)`` (not started)."""
    from idgraph.api.app import create_app  # FastAPI only when serving

    return uvicorn.Server(config(create_app(settings), host, port))


def run_server(
    settings: Settings, host: str, port: int, *, banner: Sequence[str] = ()
) -> None:
    """Serve the API (``/api/v1``) and the web UI (``/``) until Ctrl-C; print ``banner``
    (the demo's users and hints) first."""
    srv = server(settings, host, port)
    for line in banner:
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    console.print(f"serving {settings.data_dir} on http://{host}:{port}/ "
                  f"(API: http://{host}:{port}/api/v1, Ctrl-C to stop)",
                  highlight=False, markup=False, soft_wrap=True)
    srv.run()


def worker_app() -> Any:
    """The app of one worker process of ``serve --workers N`` (uvicorn's factory): the
    settings come from the environment the parent set (``IDGRAPH_DATA_DIR`` and the rest)."""
    from idgraph.api.app import create_app

    return create_app(Settings())


def run_workers(settings: Settings, host: str, port: int, workers: int) -> None:
    """Serve with ``workers`` processes (PostgreSQL only) until Ctrl-C: uvicorn starts
    the workers; each opens its own connection pool, and they share the data dir (keys,
    search index). The caller has opened the database once already (see
    :func:`serve_command`)."""
    os.environ["IDGRAPH_DATA_DIR"] = str(settings.data_dir.resolve())
    console.print(f"serving {store_name(settings)} (data dir {settings.data_dir}) with "
                  f"{workers} workers on http://{host}:{port}/ "
                  f"(API: http://{host}:{port}/api/v1, Ctrl-C to stop)",
                  highlight=False, markup=False, soft_wrap=True)
    uvicorn.run("idgraph.cli.serve:worker_app", factory=True, host=host, port=port,
                workers=workers, access_log=False, log_level="info", server_header=False,
                proxy_headers=False, lifespan="on")


def serve_command(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (plain HTTP)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
    workers: int = typer.Option(
        1, "--workers", min=1, max=64,
        help="Worker processes (more than 1 needs PostgreSQL: IDGRAPH_DATABASE_URL)."),
) -> None:
    """Serve the REST API and the web UI."""
    settings = settings_of(ctx)
    if workers > 1 and settings.database_url is None:
        raise fail(
            f"--workers {workers} needs a PostgreSQL store (IDGRAPH_DATABASE_URL): the "
            f"DuckDB store {settings.db_path} is one file only one process may open; serve "
            "it with one worker (docs/deploy.md, 'Running on PostgreSQL')", code=2)
    if settings.database_url is not None:
        # opened once here: an unreachable database, or one whose schema is newer than
        # this release, is one line (not a traceback from every worker); with
        # IDGRAPH_DATABASE_AUTO_UPGRADE the migrations are applied here, once
        open_waiting(settings).close()
    try:
        if workers > 1:
            run_workers(settings, host, port, workers)
        else:
            run_server(settings, host, port)
    except SERVE_ERRORS as exc:  # a locked store, a missing folder, a bad policy set
        raise fail(f"cannot serve: {describe(exc)}") from None


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the root app."""
    app.command("serve")(serve_command)
