"""Login, logout and the purpose screen."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from idgraph.api.deps import get_env, locked
from idgraph.app import auth
from idgraph.app import cases as app_cases
from idgraph.app.auth import SessionState
from idgraph.app.errors import AppError, Denied, TooManyAttempts, Unauthenticated
from idgraph.web.errors import SEE_OTHER, WebRoute, safe_next
from idgraph.web.render import page
from idgraph.web.session import (
    LoginRequired,
    check_login_token,
    clear_session_cookie,
    current,
    login_token,
    session_id,
    set_login_token,
    set_session_cookie,
    verified,
)

router = APIRouter(route_class=WebRoute)


def _login_page(request: Request, *, next_url: str, status: int = 200,
                error: str | None = None, name: str = "", changed: bool = False) -> Response:
    token = login_token(request)
    response = page(request, "login.html.j2", None, status=status, login_csrf=token,
                    next_url=next_url, error=error, name=name, changed=changed)
    set_login_token(response, request, token)
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/", changed: str = "") -> Response:
    return _login_page(request, next_url=safe_next(next), changed=bool(changed))


@router.post("/login", dependencies=[Depends(check_login_token)])
def login_submit(
    request: Request,
    name: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    env = get_env(request)
    client = request.client.host if request.client else "unknown"
    try:
        with locked(env):
            grant = auth.login(env, name, password, client=client, via="web")
    except TooManyAttempts as exc:
        return _login_page(request, next_url=safe_next(next), status=exc.status,
                           error=exc.detail, name=name)
    except Unauthenticated:
        return _login_page(request, next_url=safe_next(next), status=401,
                           error="The user name or password is not right.", name=name)
    response = RedirectResponse("/purpose?next=" + quote(safe_next(next), safe="/"),
                                status_code=SEE_OTHER)
    set_session_cookie(response, request, grant)
    return response


@router.post("/logout")
def logout(request: Request, state: Annotated[SessionState, Depends(verified)]) -> Response:
    env = get_env(request)
    sid = session_id(request)
    if sid:
        with locked(env):
            auth.logout(env, sid)
    response = RedirectResponse("/login", status_code=SEE_OTHER)
    clear_session_cookie(response, request)
    return response


@router.get("/")
def home(state: Annotated[SessionState, Depends(current)]) -> Response:
    return RedirectResponse("/search" if state.caller.purpose else "/purpose",
                            status_code=SEE_OTHER)


def _open_cases(request: Request, state: SessionState) -> list[str]:
    """The open cases the user may list (for the case field's suggestions); none when
    listing is not theirs to do (the field stays free text)."""
    env = get_env(request)
    try:
        with locked(env):
            return [c.case_id for c in app_cases.list_cases(env, state.caller, status="open")]
    except Denied:
        return []


def _purpose_page(request: Request, state: SessionState, *, next_url: str, status: int = 200,
                  error: AppError | None = None) -> Response:
    env = get_env(request)
    with locked(env):
        catalogue = env.registry().catalogue
    return page(request, "purpose.html.j2", state, status=status, next_url=next_url,
                error=error, purposes=list(catalogue.purposes.values()),
                codes=list(catalogue.codes.values()), cases=_open_cases(request, state))


@router.get("/purpose")
def purpose_form(request: Request, state: Annotated[SessionState, Depends(current)],
                 next: str = "/search") -> Response:
    return _purpose_page(request, state, next_url=safe_next(next, "/search"))


@router.post("/purpose")
def purpose_submit(
    request: Request,
    state: Annotated[SessionState, Depends(verified)],
    purpose: Annotated[str, Form()],
    claims: Annotated[list[str] | None, Form()] = None,
    basis: Annotated[str, Form()] = "",
    case_id: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/search",
) -> Response:
    env = get_env(request)
    sid = session_id(request) or ""
    try:
        with locked(env):
            auth.set_session_purpose(env, sid, purpose=purpose.strip(),
                                     claims=tuple(c for c in claims or () if c.strip()),
                                     basis=basis.strip() or None,
                                     case_id=case_id.strip() or None)
    except Unauthenticated as exc:  # the session ended meanwhile
        raise LoginRequired("/purpose") from exc
    except AppError as exc:
        return _purpose_page(request, state, next_url=safe_next(next, "/search"),
                             status=exc.status, error=exc)
    return RedirectResponse(safe_next(next, "/search"), status_code=SEE_OTHER)
