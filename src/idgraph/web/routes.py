"""The web UI's router: every page, included by ``api.app.create_app`` at ``/``.

Pages are not part of the API's OpenAPI document (``include_in_schema=False``). Each
group of pages is a module of its own (``views_*``), all with the route class
:class:`~idgraph.web.errors.WebRoute` (app errors as pages, missing sessions redirected).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from idgraph.app.errors import AppError
from idgraph.web import (
    views_auth,
    views_cases,
    views_match,
    views_monitor,
    views_reads,
    views_records,
    views_users,
)
from idgraph.web.errors import WebRoute
from idgraph.web.render import page

router = APIRouter(route_class=WebRoute, include_in_schema=False)
for _views in (views_auth, views_reads, views_match, views_cases, views_records, views_users,
               views_monitor):
    router.include_router(_views.router, include_in_schema=False)

__all__ = ["error_response", "router"]


def error_response(request: Request, exc: AppError) -> Response:
    """An app error raised outside a web route's own handling (request validation, for
    one: a form field missing) as the web error page, status kept (``api.problems``)."""
    return page(request, "error.html.j2", None, status=exc.status, error=exc)
