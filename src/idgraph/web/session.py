"""Cookie sessions and CSRF for the web UI.

The session cookie (``idg_session``) holds the secret session id ``auth.login`` granted;
it is HttpOnly, SameSite=Strict, path ``/``, and Secure when the request came over https.
Every page resolves it with ``auth.session_of`` (expiry, idle time, revocation and a
disabled user are decided there, on every request); a missing or dead session sends the
browser to ``/login``.

CSRF: every unsafe request must carry the session's CSRF token, as the form field
``csrf`` (every form has it hidden) or the ``X-CSRF-Token`` header (htmx sends it, set by
``static/app.js`` from the page's ``<meta name="csrf-token">``). The login form has no
session yet: it is protected by a double-submit token, a random value set in a
SameSite=Strict cookie (``idg_login_csrf``) and repeated in the form.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Final

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from idgraph.api.deps import CSRF_HEADER, SAFE_METHODS, SESSION_COOKIE, get_env, locked
from idgraph.app import auth
from idgraph.app.auth import SessionGrant, SessionState
from idgraph.app.errors import AppError, Unauthenticated

LOGIN_CSRF_COOKIE: Final = "idg_login_csrf"
CSRF_FIELD: Final = "csrf"


class LoginRequired(Exception):
    """No live session: the browser is sent to the login page (then back to ``next_url``)."""

    def __init__(self, next_url: str = "/") -> None:
        super().__init__("login required")
        self.next_url = next_url


class PurposeRequired(Exception):
    """A read page without a chosen purpose: the browser is sent to the purpose screen."""


class CsrfRefused(AppError):
    """An unsafe request without the session's CSRF token."""

    status = 403
    title = "Request refused"


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def session_id(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def current(request: Request) -> SessionState:
    """The request's live session (a FastAPI dependency); raises :class:`LoginRequired`."""
    sid = session_id(request)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if sid is None:
        raise LoginRequired(here)
    env = get_env(request)
    try:
        with locked(env):
            return auth.session_of(env, sid)
    except Unauthenticated as exc:
        raise LoginRequired(here) from exc


def with_purpose(request: Request) -> SessionState:
    """:func:`current`, for pages that read records: a purpose must have been chosen."""
    state = current(request)
    if state.caller.purpose is None:
        raise PurposeRequired()
    return state


async def _submitted_token(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # cached by Starlette: the route reads it again
        value = form.get(CSRF_FIELD)
        if isinstance(value, str):
            return value
    return ""


def tokens_match(given: str, expected: str) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(given, expected)


async def verified(request: Request) -> SessionState:
    """:func:`current` plus the CSRF check, for every unsafe method (a dependency)."""
    token = await _submitted_token(request)
    # off the event loop: the env's lock may be held by a long job (a bulk match)
    state = await run_in_threadpool(current, request)
    if request.method not in SAFE_METHODS and not tokens_match(token, state.csrf):
        raise CsrfRefused("This form has expired or did not come from this site: "
                          "reload the page and try again.")
    return state


def login_token(request: Request) -> str:
    """The double-submit token of the login form (the cookie's, or a new one)."""
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)


def set_login_token(response: Response, request: Request, token: str) -> None:
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=is_https(request), path="/login", max_age=3600)


async def check_login_token(request: Request) -> None:
    """The login form's token must equal its cookie's (both set by ``GET /login``)."""
    form = await request.form()
    given = form.get(CSRF_FIELD)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not isinstance(given, str) or not tokens_match(given, expected):
        raise CsrfRefused("The login form has expired: reload the page and try again.")


def set_session_cookie(response: Response, request: Request, grant: SessionGrant) -> None:
    """The session cookie; it lives as long as the session's absolute limit."""
    response.set_cookie(SESSION_COOKIE, grant.session_id, httponly=True, samesite="strict",
                        secure=is_https(request), path="/", expires=grant.expires)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=is_https(request))
