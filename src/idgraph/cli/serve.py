"""``idgraph serve``: the REST API and the web UI on one local HTTP server (uvicorn).

Served over plain HTTP on 127.0.0.1 by default: put a TLS-terminating proxy in front
before binding another address. uvicorn's access log is off: a search's query string
holds the personal data searched for (every request is in the audit log instead).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import typer
import uvicorn

from idgraph.cli.common import USER_ERRORS, console, describe, fail, settings_of
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


def serve_command(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (plain HTTP)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
) -> None:
    """Serve the REST API and the web UI."""
    try:
        run_server(settings_of(ctx), host, port)
    except SERVE_ERRORS as exc:  # a locked store, a missing folder, a bad policy set
        raise fail(f"cannot serve: {describe(exc)}") from None


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the root app."""
    app.command("serve")(serve_command)
