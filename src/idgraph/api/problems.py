"""RFC 9457 problem details for ``/api/*``: every error leaves as ``application/problem+json``.

``AppError`` subclasses map one to one (status and title from the class; ``rules`` of a
denial and row/field ``errors`` of bad input ride along as extension members); FastAPI's own
validation errors become a 422 problem listing each failing field; an unexpected exception is
a 500 problem that says nothing about its cause (the traceback goes to the server log).

Paths outside ``/api/`` belong to the web UI: ``web.routes.error_response`` renders them
(status kept) when the web package provides it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from idgraph.app.errors import AppError, Invalid

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:idgraph:problem:"

log = logging.getLogger("idgraph.api")

WebErrorRenderer = Callable[[Request, AppError], Response]


def problem_type(exc: AppError) -> str:
    """The problem ``type`` URI of an app error: ``urn:idgraph:problem:denied`` and so on."""
    return TYPE_PREFIX + type(exc).__name__.lower()


def problem(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    instance: str | None = None,
    type_: str = "about:blank",
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem-details response."""
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra or {})
    return JSONResponse(
        jsonable_encoder(body), status_code=status, media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


def app_error_body(exc: AppError, instance: str | None = None) -> dict[str, Any]:
    """The problem-details body of an app error."""
    body: dict[str, Any] = {"type": problem_type(exc), "title": exc.title,
                            "status": exc.status, "detail": exc.detail}
    if instance:
        body["instance"] = instance
    if exc.rules:
        body["rules"] = list(exc.rules)
    errors = list(exc.errors)
    if exc.field and not errors:
        errors = [{"field": exc.field, "message": exc.detail}]
    if errors:
        body["errors"] = errors
    return body


def app_error_problem(exc: AppError, instance: str | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    body = app_error_body(exc, instance)
    return JSONResponse(jsonable_encoder(body), status_code=exc.status,
                        media_type=PROBLEM_JSON, headers=headers)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """FastAPI's validation errors as ``{field, message, type}`` (no input echoed back:
    it may be personal data)."""
    out: list[dict[str, Any]] = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        out.append({"field": ".".join(loc), "message": str(err.get("msg", "")),
                    "type": str(err.get("type", ""))})
    return out


def install(app: FastAPI, web_errors: WebErrorRenderer | None = None) -> None:
    """Register the exception handlers on ``app``."""

    async def on_app_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AppError)
        if not _is_api(request) and web_errors is not None:
            return web_errors(request, exc)
        if not _is_api(request):
            return PlainTextResponse(exc.detail, status_code=exc.status)
        return app_error_problem(exc, request.url.path)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = validation_errors(exc)
        if not _is_api(request) and web_errors is not None:
            return web_errors(request, Invalid("invalid input", errors=errors))
        return problem(422, title="Invalid input", detail="The request does not validate.",
                       instance=request.url.path, type_=TYPE_PREFIX + "invalid",
                       extra={"errors": errors})

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else None
        if not _is_api(request) and web_errors is not None:
            err = AppError(detail or HTTPStatus(exc.status_code).phrase)
            err.status, err.title = exc.status_code, HTTPStatus(exc.status_code).phrase
            return web_errors(request, err)
        return problem(exc.status_code, detail=detail, instance=request.url.path,
                       headers=exc.headers)

    async def on_crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, detail="An internal error occurred; it has been logged.",
                       instance=request.url.path)

    app.add_exception_handler(AppError, on_app_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": HTTPStatus(status).phrase,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for status in (400, 401, 403, 404, 409, 413, 422, 429, 503)
}
