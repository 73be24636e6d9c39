"""What every API (and web) route needs: the process's ``Env``, its lock, and the caller.

One ``Env`` per process, made in ``create_app`` and kept on ``app.state.env``. The store is
one connection (DuckDB's, or one PostgreSQL connection of the process's pool), which is not
safe to use from several threads at once, so every call into ``idgraph.app`` from ``api/`` or
``web/`` runs inside ``locked(env)``: one re-entrant lock per ``Env``. A process therefore
serves one app call at a time; on PostgreSQL ``idgraph serve --workers N`` runs N processes
over one database (docs/deploy.md, "Running on PostgreSQL").

Authentication on ``/api/*``: ``Authorization: Bearer idg_<id>_<secret>`` (``auth.token_caller``);
a web session cookie (``idg_session``) is accepted too, with the ``X-CSRF-Token`` header required
on unsafe methods. The purpose, claims, legal basis and case of a read come per request.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from fastapi import Query, Request
from fastapi.encoders import jsonable_encoder

from idgraph.app import auth
from idgraph.app.context import Caller, Env
from idgraph.app.errors import Unauthenticated

SESSION_COOKIE = "idg_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_locks: dict[int, threading.RLock] = {}
_locks_guard = threading.Lock()


def get_env(request: Request) -> Env:
    """The app's one ``Env`` (made by ``create_app``)."""
    env: Env = request.app.state.env
    return env


def env_lock(env: Env) -> threading.RLock:
    """The one re-entrant lock serialising calls on ``env``."""
    with _locks_guard:
        lock = _locks.get(id(env))
        if lock is None:
            lock = _locks[id(env)] = threading.RLock()
        return lock


@contextmanager
def locked(env: Env) -> Iterator[None]:
    """Run the body holding ``env``'s lock: every app call from api/ or web/ goes through it."""
    with env_lock(env):
        yield


def bearer_token(request: Request) -> str | None:
    """The bearer token of ``Authorization``, or None when the header is missing."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("The Authorization header must be 'Bearer <token>'.")
    return token.strip()


def bearer_caller(
    request: Request,
    *,
    purpose: str | None = None,
    claims: Sequence[str] = (),
    basis: str | None = None,
    case_id: str | None = None,
) -> Caller:
    """The caller of an API request, with this request's purpose, claims, basis and case.

    A bearer token wins; without one a web session cookie is accepted (CSRF header checked on
    unsafe methods). Neither: ``Unauthenticated`` (a 401 problem).
    """
    env = get_env(request)
    token = bearer_token(request)
    if token is not None:
        with locked(env):
            return auth.token_caller(
                env, token, purpose=purpose, claims=tuple(claims), basis=basis, case_id=case_id
            )
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise Unauthenticated("Authentication required: send 'Authorization: Bearer <token>'.")
    with locked(env):
        state = auth.session_of(env, session_id)
    if request.method not in SAFE_METHODS and not hmac.compare_digest(
            request.headers.get(CSRF_HEADER, "").encode(), state.csrf.encode()):
        raise Unauthenticated("A session-authenticated unsafe request needs the CSRF header.")
    caller: Caller = state.caller
    if purpose is not None or claims or basis is not None or case_id is not None:
        caller = replace(
            caller,
            purpose=purpose if purpose is not None else caller.purpose,
            claims=tuple(claims) if claims else caller.claims,
            basis=basis if basis is not None else caller.basis,
            case_id=case_id if case_id is not None else caller.case_id,
        )
    return replace(caller, via="api")


def _codes(values: Sequence[str]) -> tuple[str, ...]:
    """Claims as given: repeated parameters, each possibly comma-separated."""
    return tuple(c.strip() for v in values for c in v.split(",") if c.strip())


def read_caller(
    request: Request,
    purpose: str | None = Query(None, description="Activity purpose of this read.",
                                examples=["criminal_investigation"], max_length=100),
    claims: list[str] = Query([], description="DPPA/GLBA/FCRA codes (repeat or comma-separate).",
                              examples=[["DPPA-b1"]]),
    basis: str | None = Query(None, description="Registered legal-process id.", max_length=200),
    case_id: str | None = Query(None, description="The case this read is for.", max_length=200),
) -> Caller:
    """The caller of a GET read: purpose, claims, basis and case from the query string."""
    return bearer_caller(request, purpose=purpose, claims=_codes(claims), basis=basis,
                         case_id=case_id)


def act_caller(request: Request) -> Caller:
    """The caller of an act that carries no purpose (admin, data, audit acts)."""
    return bearer_caller(request)


def plain(obj: Any) -> Any:
    """A library object (dataclasses, tuples, dates, enums) as plain JSON data."""
    return jsonable_encoder(obj)
