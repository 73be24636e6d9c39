"""Hardening applied to every response: security headers and request-size limits.

A pure ASGI middleware (no response buffering): it adds the headers on
``http.response.start`` and counts the request body as it is received. A declared
``Content-Length`` over the limit is refused before the app runs; a chunked body that
grows past it is cut off with the same 413 problem (when no response has started yet).
Multipart uploads may reach ``api_max_body_bytes``; any other body ``api_max_json_bytes``.

A NUL character (U+0000) in a request's path, query or non-multipart body is refused
with a 422 before any of it reaches the app: no field accepts one, and PostgreSQL cannot
store or compare text holding one (``%00`` in a path or query, ``\u0000`` in JSON, ``%00``
in a form). The API answers with a problem, the web UI with a page. Uploaded files are
ingest's to judge.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from idgraph.api.problems import PROBLEM_JSON, log

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S | re.I)


def csp_with_inline_styles(html: str) -> str:
    """The CSP, letting exactly the ``<style>`` blocks of ``html`` apply (by their
    SHA-256): a self-contained report file carries its own styles; nothing else inline."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1).encode()).digest()).decode()
        + "'" for m in _STYLE.finditer(html))
    if not hashes:
        return CSP
    return CSP.replace("style-src 'self'", f"style-src 'self' {hashes}")


HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
NO_STORE = (b"cache-control", b"no-store")
STATIC_PREFIX = "/static/"


_CRASH = json.dumps({
    "type": "about:blank", "title": "Internal Server Error", "status": 500,
    "detail": "An internal error occurred; it has been logged.",
}).encode()


class BodyTooLarge(HTTPException):
    """The request body passed the limit: an HTTP exception, so that FastAPI's body
    reading lets it through to the problem handler (a 413 problem)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is over the limit of {limit} bytes.")


NUL_DETAIL = "The request holds a NUL character (U+0000), which no field accepts."
_NUL_MARKS = (b"\x00", b"\\u0000", b"%00")
_NUL_TAIL = max(len(m) for m in _NUL_MARKS) - 1


class NulCharacter(HTTPException):
    """A NUL character in an API request's body (a 422 problem, as :class:`BodyTooLarge`)."""

    def __init__(self) -> None:
        super().__init__(422, NUL_DETAIL)


def has_nul(data: bytes) -> bool:
    """Whether ``data`` holds a NUL: raw, JSON-escaped or percent-encoded."""
    lowered = data.lower()
    return any(mark in lowered for mark in _NUL_MARKS)


def _header(scope: Scope, name: bytes) -> bytes | None:
    headers: Iterable[tuple[bytes, bytes]] = scope.get("headers", ())
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _too_large(limit: int) -> tuple[dict[str, Any], bytes]:
    return _refusal(413, "too_large", "Content Too Large",
                    f"The request body is over the limit of {limit} bytes.")


def _refusal(status: int, kind: str, title: str, detail: str) -> tuple[dict[str, Any], bytes]:
    body = json.dumps({
        "type": f"urn:idgraph:problem:{kind}",
        "title": title,
        "status": status,
        "detail": detail,
    }).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
                    *HEADERS, NO_STORE],
    }
    return start, body


def _nul_page() -> tuple[dict[str, Any], bytes]:
    """The web UI's answer to a NUL in a page's address: a bare 422 page."""
    body = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>Unprocessable Content</title></head><body><h1>Unprocessable Content</h1>"
            f"<p>{NUL_DETAIL}</p><p><a href=\"/\">Home</a></p></body></html>").encode()
    start = {
        "type": "http.response.start",
        "status": 422,
        "headers": [(b"content-type", b"text/html; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()), *HEADERS, NO_STORE],
    }
    return start, body


class SecurityMiddleware:
    """Security headers on every response; ``Cache-Control: no-store`` on everything but
    ``/static/``; request body limits (413 problem)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_json_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_bytes = max_json_bytes

    def limit_for(self, scope: Scope) -> int:
        ctype = (_header(scope, b"content-type") or b"").lower()
        return self.max_body_bytes if ctype.startswith(b"multipart/") else self.max_json_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        static = path.startswith(STATIC_PREFIX)
        api = path == "/api" or path.startswith("/api/")
        limit = self.limit_for(scope)
        started = False
        # JSON and form bodies are scanned for NUL (multipart uploads are not)
        scan = not static and not (_header(scope, b"content-type") or b"").lower().startswith(
            b"multipart/")
        if not static and ("\x00" in path or has_nul(scope.get("query_string", b""))):
            start, body = (_refusal(422, "invalid", "Unprocessable Content", NUL_DETAIL)
                           if api else _nul_page())
            await send(start)
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                if not static:  # personal data may be in any answer: never stored
                    headers = [h for h in headers if h[0].lower() != NO_STORE[0]]
                    headers.append(NO_STORE)
                names = {k.lower() for k, _ in headers}
                headers.extend(h for h in HEADERS if h[0] not in names)
                message = {**message, "headers": headers}
            await send(message)

        async def refuse() -> None:
            start, body = _too_large(limit)
            await send(start)
            await send({"type": "http.response.body", "body": body})

        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = False
            if too_big:
                await refuse()
                return

        received = 0
        tail = b""

        async def counting_receive() -> Message:
            nonlocal received, tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > limit:
                    raise BodyTooLarge(limit)
                if scan and chunk:
                    if has_nul(tail + chunk):
                        raise NulCharacter
                    tail = (tail + chunk)[-_NUL_TAIL:]
            return message

        try:
            await self.app(scope, counting_receive, send_with_headers)
        except BodyTooLarge:
            if not started:
                await refuse()
        except NulCharacter:  # when the app did not answer it (a web page does, with a page)
            if not started:
                start, body = (_refusal(422, "invalid", "Unprocessable Content", NUL_DETAIL)
                               if api else _nul_page())
                await send(start)
                await send({"type": "http.response.body", "body": body})
        except Exception:
            # answered here, not by Starlette's outermost error middleware, so that a 500
            # carries the security headers too; nothing about the cause leaves the server
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", PROBLEM_JSON.encode()), *HEADERS,
                                    NO_STORE]})
            await send({"type": "http.response.body", "body": _CRASH})
