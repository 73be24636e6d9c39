"""Administration: users, tokens, legal process, notices, retention, judgements, SARs.

Every act is decided by Cedar and audited in ``idgraph.app`` (``authorise_and_audit``);
these routes only parse and call.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from idgraph.api.deps import act_caller, get_env, locked, plain
from idgraph.api.models import (
    JudgementIn,
    JudgementOut,
    LegalIn,
    LegalOut,
    LegalVerifyIn,
    NoticeOut,
    PasswordIn,
    RetentionIn,
    RetentionRunOut,
    SarIn,
    SarOut,
    TokenGrantOut,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
)
from idgraph.app import admin, auth
from idgraph.app.context import Caller

router = APIRouter()


def _no_content() -> Response:
    return Response(status_code=204)


# -- users and tokens ------------------------------------------------------------------


@router.get("/users", response_model=list[UserOut], tags=["users"])
def list_users(request: Request, caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(admin.list_users(env, caller))


@router.post("/users", response_model=UserOut, status_code=201, tags=["users"])
def add_user(request: Request, body: UserIn, caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(admin.add_user(env, caller, body.name, body.role, body.org,
                              org_type=body.org_type,
                              immigration_agency=body.immigration_agency))


@router.post("/users/{name}/disable", status_code=204, tags=["users"])
def disable_user(request: Request, name: str,
                 caller: Caller = Depends(act_caller)) -> Response:
    """Disabling a user stops their tokens and sessions at once."""
    env = get_env(request)
    with locked(env):
        admin.disable_user(env, caller, name)
    return _no_content()


@router.post("/users/{name}/password", status_code=204, tags=["users"])
def set_password(request: Request, name: str, body: PasswordIn,
                 caller: Caller = Depends(act_caller)) -> Response:
    """Set a password (one's own, or another's as an admin); never logged."""
    env = get_env(request)
    with locked(env):
        auth.set_password(env, caller, name, body.password, current=body.current)
    return _no_content()


@router.get("/tokens", response_model=list[TokenOut], tags=["tokens"])
def list_tokens(request: Request, caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(auth.list_tokens(env, caller))


@router.post("/tokens", response_model=TokenGrantOut, status_code=201, tags=["tokens"])
def create_token(request: Request, body: TokenIn, caller: Caller = Depends(act_caller)) -> Any:
    """The secret is in this response only; it is stored hashed."""
    env = get_env(request)
    with locked(env):
        return plain(auth.create_token(env, caller, user=body.user, name=body.name, days=body.days,
                                       password=body.password))


@router.post("/tokens/{token_id}/revoke", status_code=204, tags=["tokens"])
def revoke_token(request: Request, token_id: str,
                 caller: Caller = Depends(act_caller)) -> Response:
    env = get_env(request)
    with locked(env):
        auth.revoke_token(env, caller, token_id)
    return _no_content()


# -- legal process (cases: api/routers/cases.py) ------------------------------------


@router.get("/legal", response_model=list[LegalOut], tags=["legal"])
def list_legal(request: Request, case_id: str | None = Query(None, max_length=200),
               caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(admin.list_legal(env, caller, case_id=case_id))


@router.post("/legal", response_model=LegalOut, status_code=201, tags=["legal"])
def add_legal(request: Request, body: LegalIn, caller: Caller = Depends(act_caller)) -> Any:
    """Register a legal-process document; it counts once a second person verified it."""
    env = get_env(request)
    with locked(env):
        return plain(admin.add_legal(
            env, caller, type=body.type, number=body.number, issued=body.issued,
            expires=body.expires, court=body.court, judge=body.judge,
            judge_appointment=body.judge_appointment, level=body.level, issuer=body.issuer,
            scope_identities=tuple(body.scope_identities),
            scope_sources=tuple(body.scope_sources), case_id=body.case_id))


@router.post("/legal/{legal_id}/verify", response_model=LegalOut, tags=["legal"])
def verify_legal(request: Request, legal_id: str, body: LegalVerifyIn,
                 caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(admin.verify_legal(env, caller, legal_id, sha256=body.sha256.lower()))


# -- notices, retention, judgements, subject access -----------------------------------


@router.get("/notices", response_model=list[NoticeOut], tags=["notices"])
def list_notices(request: Request, overdue: bool = False,
                 caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(admin.list_notices(env, caller, overdue=overdue))


@router.post("/notices/{notice_id}/sent", status_code=204, tags=["notices"])
def mark_notice_sent(request: Request, notice_id: str,
                     caller: Caller = Depends(act_caller)) -> Response:
    env = get_env(request)
    with locked(env):
        admin.mark_notice_sent(env, caller, notice_id)
    return _no_content()


@router.post("/retention/apply", response_model=RetentionRunOut, tags=["retention"])
def apply_retention(request: Request, body: RetentionIn | None = None,
                    caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    as_of = body.as_of if body is not None else None
    if as_of is not None and as_of.tzinfo is not None:  # the store's times are naive UTC
        as_of = as_of.astimezone(UTC).replace(tzinfo=None)
    with locked(env):
        return plain(admin.apply_retention(env, caller, as_of=as_of))


@router.get("/retention/runs", response_model=list[RetentionRunOut], tags=["retention"])
def list_retention_runs(request: Request, caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(admin.list_retention_runs(env, caller))


@router.post("/judgements", response_model=JudgementOut, status_code=201, tags=["judgements"])
def judge(request: Request, body: JudgementIn, caller: Caller = Depends(act_caller)) -> Any:
    """A human judgement on a pair of records (same, different, unsure); the next resolve
    obeys it."""
    env = get_env(request)
    with locked(env):
        return plain(admin.judge(env, caller, body.record_a, body.record_b, body.verdict,
                           reason=body.reason))


@router.get("/sar", response_model=list[SarOut], tags=["subject access"])
def list_sars(request: Request, status: str | None = Query(None, max_length=20),
              caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(admin.list_sars(env, caller, status=status))


@router.post("/sar", response_model=SarOut, status_code=201, tags=["subject access"])
def open_sar(request: Request, body: SarIn, caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(admin.open_sar(env, caller, body.identity_id, case_id=body.case_id,
                              requester=body.requester, received=body.received))


@router.post("/sar/{sar_id}/close", response_model=SarOut, tags=["subject access"])
def close_sar(request: Request, sar_id: str, caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(admin.close_sar(env, caller, sar_id))
