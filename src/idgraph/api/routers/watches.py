"""Watches and alerts: ``POST/GET /watches``, ``POST /watches/{id}/cancel``,
``GET /watches/deconflictions``, ``GET /watches/dead-letters``, ``GET /alerts`` and the
live ``GET /alerts/stream`` (server-sent events). Decisions and audit are in
``idgraph.app.watches``; these routes only parse and call."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from idgraph.api.deps import act_caller, get_env, locked, plain
from idgraph.app import watches
from idgraph.app.context import Caller, Env
from idgraph.monitor import alerts as alerts_mod

router = APIRouter(tags=["watches"])


class WatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "identity_id": "I-3f2a9c", "case_id": "C-2026-001",
        "purpose": "criminal_investigation", "claims": ["DPPA-b1"], "basis": None,
        "expires": "2026-12-31", "webhook_url": "https://hooks.example.org/idgraph"}]})
    identity_id: str | None = Field(None, max_length=200,
                                    description="The identity watched (or criteria).")
    criteria: dict[str, str] | None = Field(
        None, description="Search criteria a new record must meet (field -> value).")
    case_id: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=100)
    claims: list[str] = Field(default_factory=list, max_length=20)
    basis: str | None = Field(None, max_length=200, description="Registered legal process.")
    expires: date
    webhook_url: str | None = Field(None, max_length=2000)


class WatchOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "watch_id": "W-1a2b3c4d5e6f", "owner": "jdoe", "org": "nypd",
        "identity_id": "I-3f2a9c", "criteria": None, "case_id": "C-2026-001",
        "purpose": "criminal_investigation", "claims": ["DPPA-b1"], "basis": None,
        "expires": "2026-12-31", "webhook_url": None, "status": "active",
        "created_at": "2026-12-05T16:40:00", "secret": None}]})
    watch_id: str
    owner: str
    org: str
    identity_id: str | None
    criteria: dict[str, str] | None
    case_id: str
    purpose: str
    claims: list[str]
    basis: str | None
    expires: date
    webhook_url: str | None
    status: str
    created_at: str
    secret: str | None = Field(None, description="The webhook signing secret: shown once.")


class AlertOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "alert_id": "A-1a2b3c4d5e6f7a8b", "watch_id": "W-1a2b3c4d5e6f", "owner": "jdoe",
        "case_id": "C-2026-001", "identity_id": "I-3f2a9c", "record_id": "jail/B1",
        "source": "jail", "kind": "new", "rules": ["base.reader_role"], "notices": [],
        "record": {"last_name": "DOE"}, "raised_at": "2026-12-05T16:40:01"}]})
    alert_id: str
    watch_id: str
    owner: str
    case_id: str | None
    identity_id: str
    record_id: str
    source: str
    kind: str
    rules: list[str]
    notices: list[str]
    record: dict[str, Any]
    raised_at: str


class DeconflictionOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "notice_id": "D-1a2b3c4d5e6f", "identity_id": "I-3f2a9c", "watch_id": "W-1a2b3c4d5e6f",
        "other_watch_id": "W-6f5e4d3c2b1a", "recipient": "jdoe", "org": "nypd",
        "other_org": "dea", "other_owner": "asmith", "created_at": "2026-12-05T16:40:00"}]})
    notice_id: str
    identity_id: str
    watch_id: str
    other_watch_id: str
    recipient: str
    org: str
    other_org: str
    other_owner: str
    created_at: str


class DeadLetterOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "alert_id": "A-1a2b3c4d5e6f7a8b", "watch_id": "W-1a2b3c4d5e6f", "owner": "jdoe",
        "url": "https://hooks.example.org/idgraph", "attempts": 5, "last_error": "HTTP 503",
        "queued_at": "2026-12-05T16:40:01", "finished_at": "2026-12-05T16:40:32"}]})
    alert_id: str
    watch_id: str
    owner: str
    url: str
    attempts: int
    last_error: str | None
    queued_at: str
    finished_at: str | None


def _guarded(request: Request) -> None:
    """Have webhook outcomes written under the process's lock as they come."""
    env = get_env(request)
    alerts_mod.use_guard(env.store, lambda: locked(env))


@router.post("/watches", response_model=WatchOut, status_code=201)
def create_watch(request: Request, body: WatchIn, caller: Caller = Depends(act_caller)) -> Any:
    """Set up a standing read; every alert it raises is decided and audited as a read."""
    env = get_env(request)
    _guarded(request)
    with locked(env):
        made = watches.create_watch(
            env, caller, identity_id=body.identity_id, criteria=body.criteria,
            case_id=body.case_id, purpose=body.purpose, claims=tuple(body.claims),
            basis=body.basis, expires=body.expires, webhook_url=body.webhook_url)
    return made.to_dict()


@router.get("/watches", response_model=list[WatchOut])
def list_watches(request: Request, caller: Caller = Depends(act_caller),
                 status: str | None = Query(None, max_length=20)) -> Any:
    env = get_env(request)
    with locked(env):
        return [w.to_dict() for w in watches.list_watches(env, caller, status=status)]


@router.post("/watches/{watch_id}/cancel", response_model=WatchOut)
def cancel_watch(request: Request, watch_id: str, caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return watches.cancel_watch(env, caller, watch_id).to_dict()


@router.get("/watches/deconflictions", response_model=list[DeconflictionOut])
def list_deconflictions(request: Request, caller: Caller = Depends(act_caller)) -> Any:
    """Other organisations watching an identity one of your watches covers."""
    env = get_env(request)
    with locked(env):
        return [d.to_dict() for d in watches.list_deconflictions(env, caller)]


@router.get("/watches/dead-letters", response_model=list[DeadLetterOut])
def list_dead_letters(request: Request, caller: Caller = Depends(act_caller)) -> Any:
    """Webhook deliveries that failed every attempt."""
    env = get_env(request)
    with locked(env):
        return [d.to_dict() for d in watches.list_dead_letters(env, caller)]


@router.get("/alerts", response_model=list[AlertOut])
def list_alerts(request: Request, caller: Caller = Depends(act_caller),
                limit: int = Query(100, ge=1, le=1000)) -> Any:
    env = get_env(request)
    with locked(env):
        return plain([a.to_dict() for a in watches.list_alerts(env, caller, limit=limit)])


KEEP_ALIVE = 15.0  # seconds of quiet before a keep-alive comment
POLL_SECONDS = 0.02  # how often an open stream looks at its queue (on the event loop)
RECHECK_SECONDS = watches.RECHECK_SECONDS  # the credential is checked again this often


def _stream_ok(env: Env, caller: Caller) -> bool:
    """The stream's credential still stands (user active, token unrevoked, unexpired)."""
    try:
        with locked(env):
            return watches.stream_standing(env, caller) is None
    except Exception:  # the store closed under the stream: the server is stopping
        return False


async def _events(env: Env, caller: Caller, items: Iterator[dict[str, Any] | None],
                  until: float | None) -> AsyncIterator[str]:
    """The SSE text of the caller's stream. ``items`` never blocks (opened with a zero
    timeout), so the queue is polled on the event loop and an open stream holds no worker
    thread: a saturated server (every worker busy pushing) still delivers alerts at once.
    The credential is rechecked every :data:`RECHECK_SECONDS` in a thread of its own (it
    needs the store's lock); once it fails the stream ends with ``event: end``."""
    checked = quiet = time.monotonic()
    check: asyncio.Task[bool] | None = None
    try:
        yield ": idgraph alerts\n\n"
        while True:
            now = time.monotonic()
            if until is not None and now >= until:
                return
            if check is not None and check.done():
                if not check.result():
                    yield "event: end\ndata: {\"reason\": \"credential no longer valid\"}\n\n"
                    return
                check, checked = None, now
            if check is None and now - checked >= RECHECK_SECONDS:
                check = asyncio.ensure_future(asyncio.to_thread(_stream_ok, env, caller))
            item = next(items, None)
            if item is None:
                if now - quiet >= KEEP_ALIVE:
                    quiet = now
                    yield ": keep-alive\n\n"
                await asyncio.sleep(POLL_SECONDS)
                continue
            quiet = now
            data = json.dumps(item["data"], sort_keys=True, default=str)
            yield f"event: {item['event']}\ndata: {data}\n\n"
    finally:
        if check is not None:
            check.cancel()
        close = getattr(items, "close", None)
        if close is not None:
            close()  # unsubscribes from the bus


@router.get("/alerts/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
def alert_stream(request: Request, caller: Caller = Depends(act_caller),
                 seconds: float | None = Query(
                     None, ge=0, le=3600,
                     description="Close the stream after this long (default: stay open).")
                 ) -> StreamingResponse:
    """Your alerts and deconfliction notices as server-sent events (``event: alert``,
    ``event: deconfliction``), with a keep-alive comment every 15 s of quiet."""
    env = get_env(request)
    with locked(env):  # decided and audited now; items never block (polled on the loop)
        items = watches.alert_stream(env, caller, timeout=0.0, stop=threading.Event())
    until = None if seconds is None else time.monotonic() + seconds
    return StreamingResponse(_events(env, caller, items, until), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
