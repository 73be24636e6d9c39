"""How web routes fail: an error page keeping the status, or a redirect.

:class:`WebRoute` is the route class of every web router: it turns the app's
:class:`~idgraph.app.errors.AppError` into a page (the API's problem details are for
``/api/*`` only), :class:`~idgraph.web.session.LoginRequired` into a redirect to the login
page and :class:`~idgraph.web.session.PurposeRequired` into one to the purpose screen. An
htmx request is redirected with ``HX-Redirect`` (a 303 would be swapped into the page).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Final
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from idgraph.app.auth import SessionState
from idgraph.app.errors import AppError
from idgraph.web.render import fragment, page
from idgraph.web.session import LoginRequired, PurposeRequired, current

SEE_OTHER: Final = 303


def safe_next(url: str | None, default: str = "/") -> str:
    """A local path to go back to after login (never another site: ``//x``, ``/\\x``)."""
    if not url or not url.startswith("/") or url.startswith(("//", "/\\")) or "\\" in url:
        return default
    return url


def redirect(request: Request, url: str) -> Response:
    """303 to ``url``; for htmx, a 200 with ``HX-Redirect`` (a full navigation)."""
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=SEE_OTHER)


async def error_page(request: Request, exc: AppError) -> Response:
    """The app's failure as a page, status kept, in the layout of the user's session when
    there is one (looked up off the event loop: the lock may be held by a long job)."""
    if request.headers.get("HX-Request") == "true":  # swapped into the page (htmx-config)
        return fragment("_error.html.j2", status=exc.status, error=exc)
    try:
        state: SessionState | None = await run_in_threadpool(current, request)
    except LoginRequired:
        state = None
    return page(request, "error.html.j2", state, status=exc.status, error=exc)


class WebRoute(APIRoute):
    """A route whose app errors become pages and whose missing session redirects."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as exc:
                return redirect(request, "/login?next=" + quote(safe_next(exc.next_url), safe="/"))
            except PurposeRequired:
                here = request.url.path
                return redirect(request, "/purpose?next=" + quote(safe_next(here), safe="/"))
            except AppError as exc:
                return await error_page(request, exc)

        return run
