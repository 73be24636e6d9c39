"""Users: one's own password (``/account``) and, for an admin, the users (``/users``)."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from idgraph.api.deps import get_env, locked
from idgraph.app import admin, auth
from idgraph.app.auth import SessionState
from idgraph.app.errors import Invalid
from idgraph.policy import users as users_lib
from idgraph.web.errors import SEE_OTHER, WebRoute
from idgraph.web.render import page
from idgraph.web.session import clear_session_cookie, current, verified

router = APIRouter(route_class=WebRoute)

CHOICES: Final[dict[str, Any]] = {"roles": users_lib.ROLES, "org_types": users_lib.ORG_TYPES}


def _same(password: str, again: str) -> str:
    if password != again:
        raise Invalid("The two passwords differ.", field="password")
    return password


@router.get("/account")
def account(request: Request, state: Annotated[SessionState, Depends(current)]) -> Response:
    return page(request, "account.html.j2", state)


@router.post("/account/password")
def account_password(
    request: Request,
    state: Annotated[SessionState, Depends(verified)],
    password: Annotated[str, Form()],
    again: Annotated[str, Form()],
    current: Annotated[str, Form()] = "",
) -> Response:
    """One's own password: the current one is asked for (re-authentication, OWASP ASVS
    2.1.6; ``auth.set_password`` checks it). Setting it ends the user's sessions, this one
    too: log in again."""
    env = get_env(request)
    with locked(env):
        auth.set_password(env, state.caller, state.user.name, _same(password, again),
                          current=current)
    response = RedirectResponse("/login?changed=1", status_code=SEE_OTHER)
    clear_session_cookie(response, request)
    return response


@router.get("/users")
def users(request: Request, state: Annotated[SessionState, Depends(current)],
          message: str = "") -> Response:
    env = get_env(request)
    with locked(env):
        rows = admin.list_users(env, state.caller)
    return page(request, "users.html.j2", state, users=rows, message=message, **CHOICES)


@router.post("/users")
def user_add(
    request: Request,
    state: Annotated[SessionState, Depends(verified)],
    name: Annotated[str, Form()],
    role: Annotated[str, Form()],
    org: Annotated[str, Form()],
    org_type: Annotated[str, Form()],
    immigration_agency: Annotated[bool, Form()] = False,
) -> Response:
    env = get_env(request)
    with locked(env):
        admin.add_user(env, state.caller, name.strip(), role, org.strip(), org_type=org_type,
                       immigration_agency=immigration_agency)
    return RedirectResponse("/users?message=added", status_code=SEE_OTHER)


@router.post("/users/{name}/disable")
def user_disable(request: Request, name: str,
                 state: Annotated[SessionState, Depends(verified)]) -> Response:
    env = get_env(request)
    with locked(env):
        admin.disable_user(env, state.caller, name)
    return RedirectResponse("/users?message=disabled", status_code=SEE_OTHER)


@router.post("/users/{name}/password")
def user_password(
    request: Request,
    name: str,
    state: Annotated[SessionState, Depends(verified)],
    password: Annotated[str, Form()],
    again: Annotated[str, Form()],
) -> Response:
    env = get_env(request)
    with locked(env):
        auth.set_password(env, state.caller, name, _same(password, again))
    return RedirectResponse("/users?message=password", status_code=SEE_OTHER)
