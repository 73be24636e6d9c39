"""Live feeds: ``POST /feeds/{source}`` (JSON lines, feed-token auth), feed tokens and
feed status (users' bearer tokens). Decisions and audit are in ``idgraph.app.feeds``."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from idgraph.api.deps import act_caller, bearer_token, get_env, locked, plain
from idgraph.app import feeds
from idgraph.app.context import Caller
from idgraph.app.errors import Invalid, Unauthenticated

router = APIRouter(tags=["feeds"])

SOURCE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"


class FeedLineOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "line": 2, "status": "quarantined", "source_record_id": None, "record_id": None,
        "kind": None, "reasons": ["not valid JSON: Expecting value"]}]})

    line: int = Field(description="1-based line of the push.")
    status: str = Field(description="stored | duplicate | quarantined")
    source_record_id: str | None = None
    record_id: str | None = None
    kind: str | None = Field(None, description="new | changed (stored lines)")
    reasons: list[str] = Field(default_factory=list,
                               description="Why quarantined, or fields dropped.")


class FeedReceiptOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "push_id": "20261205T164000000000-1a2b3c4d", "source": "jail_bookings",
        "batch_id": "jail_bookings-feed-20261205T164000000000-1a2b3c4d",
        "stored": 1, "duplicate": 0, "quarantined": 1, "placed": True,
        "lines": [{"line": 1, "status": "stored", "source_record_id": "B1",
                   "record_id": "jail_bookings/B1", "kind": "new", "reasons": []},
                  {"line": 2, "status": "quarantined", "source_record_id": None,
                   "record_id": None, "kind": None,
                   "reasons": ["not valid JSON: Expecting value"]}]}]})

    push_id: str
    source: str
    batch_id: str
    stored: int
    duplicate: int
    quarantined: int
    placed: bool
    place_error: str | None = None
    lines: list[FeedLineOut]


class FeedTokenIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"days": 30}]})

    days: int = Field(30, ge=1, le=366)


class FeedTokenOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "source": "jail_bookings", "token": "idgf_k3j5h2l1m9n8_<secret>"}]})

    source: str
    token: str = Field(description="idgf_<id>_<secret>: shown once.")


class FeedTokenInfoOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "token_id": "k3j5h2l1m9n8", "source_id": "jail_bookings",
        "created_at": "2026-12-05T16:40:00", "created_by": "admin1",
        "expires_at": "2027-01-04T16:40:00", "revoked_at": None, "state": "active"}]})

    token_id: str
    source_id: str
    created_at: datetime
    created_by: str
    expires_at: datetime
    revoked_at: datetime | None
    state: str = Field(description="active | expired | revoked")


class FeedStatusOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "source_id": "jail_bookings", "window_seconds": 60, "pushes": 12,
        "records_per_second": 4.5, "stored": 1200, "duplicate": 3, "quarantined": 2,
        "pending": 0, "lag_seconds": 0.08, "last_push_at": "2026-12-05T16:40:00Z",
        "last_error": None, "last_error_at": None, "tokens": 1}]})

    source_id: str
    window_seconds: int
    pushes: int
    records_per_second: float
    stored: int
    duplicate: int
    quarantined: int
    pending: int
    lag_seconds: float | None
    last_push_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    tokens: int


def _receipt(r: feeds.FeedReceipt) -> dict[str, Any]:
    return {"push_id": r.push_id, "source": r.source_id, "batch_id": r.batch_id,
            "stored": r.stored, "duplicate": r.duplicate, "quarantined": r.quarantined,
            "placed": r.placed, "place_error": r.place_error,
            "lines": [{"line": x.line, "status": x.status,
                       "source_record_id": x.source_record_id, "record_id": x.record_id,
                       "kind": x.kind, "reasons": list(x.reasons)} for x in r.lines]}


@router.post("/feeds/{source}", response_model=FeedReceiptOut,
             summary="Push records to a live source (JSON lines)")
async def push(request: Request, source: str) -> Any:
    """The body is JSON lines (one object per line, the source's columns). Authenticate
    with the source's feed token: ``Authorization: Bearer idgf_...``. The answer names
    every line: stored, duplicate (already stored with the same content) or quarantined
    (with the reasons); only committed lines are acknowledged."""
    token = bearer_token(request)
    if token is None:
        raise Unauthenticated("A feed token is required: send 'Authorization: Bearer idgf_...'.")
    if not re.fullmatch(SOURCE, source):
        raise Invalid("not a source id", field="source")
    body = await request.body()
    env = get_env(request)

    def run() -> dict[str, Any]:
        with locked(env):
            return _receipt(feeds.push(env, token, source, body))

    return await run_in_threadpool(run)


@router.post("/feeds/{source}/tokens", response_model=FeedTokenOut, status_code=201,
             summary="Mint a feed token for a source (admin)")
def create_token(request: Request, source: str, body: FeedTokenIn,
                 caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return {"source": source, "token": feeds.create_token(env, caller, source,
                                                              days=body.days)}


@router.get("/feeds/{source}/tokens", response_model=list[FeedTokenInfoOut],
            summary="A source's feed tokens, without secrets (admin)")
def list_tokens(request: Request, source: str, caller: Caller = Depends(act_caller)) -> Any:
    """Every feed token of the source (active, expired, revoked); never a secret."""
    env = get_env(request)
    with locked(env):
        return [t.to_dict() for t in feeds.list_tokens(env, caller, source)]


@router.post("/feeds/{source}/tokens/{token_id}/revoke", response_model=FeedTokenInfoOut,
             summary="Revoke a feed token of a source at once (admin)")
def revoke_token(request: Request, source: str, token_id: str,
                 caller: Caller = Depends(act_caller)) -> Any:
    """The next push with the token is refused (401); a token of another source is 404."""
    env = get_env(request)
    with locked(env):
        return feeds.revoke_token(env, caller, token_id, source_id=source).to_dict()


@router.get("/feeds/{source}/status", response_model=FeedStatusOut,
            summary="A live source's throughput, quarantine, lag and last error")
def status(request: Request, source: str, caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(feeds.feed_status(env, caller, source))
