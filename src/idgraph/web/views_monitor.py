"""Monitoring pages: watches (list, create, cancel), a watch's alerts live, the alerts
list, deconfliction notices, dead-lettered webhooks and each source's feed status (with
feed-token mint and revoke for admins).

Every page is a thin shell over one function of :mod:`idgraph.app.watches` or
:mod:`idgraph.app.feeds`: the acts (``watch.create``, ``watch.list``, ``watch.cancel``,
``alerts.read``, ``feeds.status``, ``feeds.manage``) are decided and audited there.

The live part of a watch page is ``GET /watches/{id}/stream``: server-sent events on the
browser's session cookie (no token in the page), opened with the act ``alerts.read``
(``app.watches.alert_stream``) and filtered to that watch. The user's own bus carries
only the alerts raised to them (an alert is a disclosure to the watch's owner), so a
supervisor looking at an investigator's watch sees its settings, not its alerts. The
session is checked again at least every :data:`RECHECK_SECONDS` (and on each keep-alive):
a session that ended (logged out, expired, revoked, its user disabled) ends the stream.
``static/monitor.js`` inserts each alert as DOM nodes built with ``textContent``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from idgraph import clock
from idgraph.api.deps import get_env, locked
from idgraph.app import auth, data, feeds, watches
from idgraph.app.auth import SessionState
from idgraph.app.context import Caller, Env
from idgraph.app.errors import AppError, Invalid, NotFound, Unauthenticated
from idgraph.monitor import alerts as alerts_mod
from idgraph.schema import PROVENANCE_COLUMNS
from idgraph.web.errors import SEE_OTHER, WebRoute
from idgraph.web.render import page
from idgraph.web.session import current, session_id, verified

router = APIRouter(route_class=WebRoute)
T = TypeVar("T")

KEEP_ALIVE: Final = 15.0  # seconds of quiet before a keep-alive comment
POLL_SECONDS: Final = 0.02  # how often an open stream looks at its queue (on the loop)
RECHECK_SECONDS: Final = 15.0  # the session is checked again at least this often
RETRY_MS: Final = 3000  # the browser reconnects after this long when the stream drops
# a stream ends after this long (the browser reconnects, ``since`` fills the gap): a
# server stopping waits for open responses, so none may stay open for ever
MAX_STREAM_SECONDS: Final = 300.0
TOKEN_DAYS: Final = 90  # a feed token's default lifetime from the form
CRITERIA_MAX: Final = 20
# what an alert's record shows as the profile does: provenance (shown as the source and
# record columns) left out; monitor.js is given the list (and drops derived keys too)
HIDDEN_KEYS: Final = (*sorted({*PROVENANCE_COLUMNS, "unverified"}),)


def _date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(f"{name}: not a date (YYYY-MM-DD): {value!r}", field=name) from None


def _criteria(text: str) -> dict[str, str] | None:
    """``field: value`` (or ``field=value``) lines as a dict; None when blank."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        sep = ":" if ":" in line else "="
        key, got, value = line.partition(sep)
        if not got or not key.strip() or not value.strip():
            raise Invalid(f"criteria: write one 'field: value' a line, not {line.strip()!r}",
                          field="criteria")
        found[key.strip()] = value.strip()
    if len(found) > CRITERIA_MAX:
        raise Invalid(f"criteria: at most {CRITERIA_MAX} fields", field="criteria")
    return found or None


def _listed(name: str, refused: dict[str, AppError], call: Callable[[], list[T]]) -> list[T]:
    """A listing, or none with the refusal kept (shown instead of that part)."""
    try:
        return call()
    except AppError as exc:
        refused[name] = exc
        return []


def _watch(env: Env, caller: Caller, watch_id: str) -> watches.Watch:
    """The watch if the caller may list it (their own; a supervisor's organisation's; an
    overseer's any): ``watch.list`` decides, and an unknown or unlisted id is 404."""
    for w in watches.list_watches(env, caller):
        if w.watch_id == watch_id:
            return w
    raise NotFound(f"no watch {watch_id!r} you may see")


def _form_page(request: Request, state: SessionState, *, status: int = 200,
               error: AppError | None = None, form: dict[str, Any] | None = None,
               created: watches.Watch | None = None) -> Response:
    env = get_env(request)
    refused: dict[str, AppError] = {}
    with locked(env):
        rows = _listed("watches", refused, lambda: watches.list_watches(env, state.caller))
        catalogue = env.registry().catalogue
    blank = dict.fromkeys(("identity_id", "criteria", "case_id", "purpose", "basis",
                           "expires", "webhook_url"), "")
    return page(request, "watches.html.j2", state, status=status, watches=rows,
                refused=refused, error=error, form={**blank, "claims": [], **(form or {})},
                created=created,
                purposes=list(catalogue.purposes.values()),
                codes=list(catalogue.codes.values()))


@router.get("/watches")
def watch_list(request: Request, state: Annotated[SessionState, Depends(current)]
               ) -> Response:
    return _form_page(request, state)


@router.post("/watches")
def watch_create(
    request: Request,
    state: Annotated[SessionState, Depends(verified)],
    case_id: Annotated[str, Form()],
    purpose: Annotated[str, Form()],
    expires: Annotated[str, Form()],
    identity_id: Annotated[str, Form()] = "",
    criteria: Annotated[str, Form()] = "",
    claims: Annotated[list[str] | None, Form()] = None,
    basis: Annotated[str, Form()] = "",
    webhook_url: Annotated[str, Form()] = "",
) -> Response:
    """Create a watch; the answer is the list page naming the new watch (and its webhook
    secret, shown this once)."""
    form = {"case_id": case_id, "purpose": purpose, "expires": expires,
            "identity_id": identity_id, "criteria": criteria, "claims": claims or [],
            "basis": basis, "webhook_url": webhook_url}
    env = get_env(request)
    try:
        wanted = _criteria(criteria)
        ident = identity_id.strip() or None
        if (ident is None) == (wanted is None):
            raise Invalid("name an identity or give criteria (one of the two)",
                          field="identity_id")
        alerts_mod.use_guard(env.store, lambda: locked(env))
        with locked(env):
            made = watches.create_watch(
                env, state.caller, identity_id=ident, criteria=wanted,
                case_id=case_id.strip(), purpose=purpose.strip(),
                claims=tuple(c.strip() for c in claims or () if c.strip()),
                basis=basis.strip() or None, expires=_date(expires, "expires"),
                webhook_url=webhook_url.strip() or None)
    except AppError as exc:
        return _form_page(request, state, status=exc.status, error=exc, form=form)
    return _form_page(request, state, status=201, created=made)


@router.get("/watches/deconflictions")
def deconflictions(request: Request, state: Annotated[SessionState, Depends(current)]
                   ) -> Response:
    env = get_env(request)
    with locked(env):
        rows = watches.list_deconflictions(env, state.caller)
    return page(request, "watch_deconflictions.html.j2", state, notes=rows)


@router.get("/watches/dead-letters")
def dead_letters(request: Request, state: Annotated[SessionState, Depends(current)]
                 ) -> Response:
    env = get_env(request)
    with locked(env):
        rows = watches.list_dead_letters(env, state.caller)
    return page(request, "watch_dead_letters.html.j2", state, letters=rows)


@router.get("/watches/{watch_id}")
def watch_page(request: Request, watch_id: str,
               state: Annotated[SessionState, Depends(current)]) -> Response:
    """The watch and the alerts it raised to the caller; new ones arrive live."""
    env = get_env(request)
    refused: dict[str, AppError] = {}
    rendered = clock.now_naive()  # the stream sends what is raised from here on
    with locked(env):
        watch = _watch(env, state.caller, watch_id)
        own = watch.owner == state.caller.actor
        rows = _listed("alerts", refused,
                       lambda: watches.list_alerts(env, state.caller, limit=1000)) if own else []
        notes = _listed("deconflictions", refused,
                        lambda: watches.list_deconflictions(env, state.caller))
    mine = [a for a in rows if a.watch_id == watch_id]
    return page(request, "watch.html.j2", state, watch=watch, alerts=mine, own=own,
                refused=refused, hidden_keys=HIDDEN_KEYS, rendered_at=rendered.isoformat(),
                notes=[n for n in notes if n.watch_id == watch_id])


@router.post("/watches/{watch_id}/cancel")
def watch_cancel(request: Request, watch_id: str,
                 state: Annotated[SessionState, Depends(verified)]) -> Response:
    env = get_env(request)
    with locked(env):
        watches.cancel_watch(env, state.caller, watch_id)
    return RedirectResponse(f"/watches/{quote(watch_id, safe='')}", status_code=SEE_OTHER)


def _alive(env: Env, sid: str) -> bool:
    try:
        with locked(env):
            auth.session_of(env, sid)
    except Unauthenticated:
        return False
    except Exception:  # the store closed under the stream: the server is stopping
        return False
    return True


def _sse(event: str, payload: dict[str, Any], *, event_id: str | None = None) -> str:
    data = json.dumps(payload, default=str)  # the record's fields in the profile's order
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


async def watch_events(env: Env, sid: str, watch_id: str,
                       items: Iterator[dict[str, Any] | None], *,
                       missed: Sequence[dict[str, Any]] = ()) -> AsyncIterator[str]:
    """The SSE text of one watch's items from the caller's stream (``items``, opened with
    a zero timeout: ``next`` never blocks, ``None`` when nothing is queued). Polled every
    :data:`POLL_SECONDS` on the event loop, so an open page holds no worker thread; a
    keep-alive after :data:`KEEP_ALIVE` seconds of quiet; ends, with ``event: end``, once
    the session has ended (checked at least every :data:`RECHECK_SECONDS`, off the loop)."""
    start = checked = quiet = time.monotonic()
    try:
        yield f"retry: {RETRY_MS}\n: idgraph watch {watch_id}\n\n"
        pending = list(missed)
        while True:
            item = pending.pop(0) if pending else next(items, None)
            now = time.monotonic()
            if now - start >= MAX_STREAM_SECONDS:
                return  # the browser reconnects (``retry``) with ``since``
            if now - checked >= RECHECK_SECONDS:
                if not await run_in_threadpool(_alive, env, sid):
                    yield _sse("end", {"reason": "the session has ended; log in again"})
                    return
                checked = now
            if item is None:
                if now - quiet >= KEEP_ALIVE:
                    quiet = now
                    yield ": keep-alive\n\n"
                await asyncio.sleep(POLL_SECONDS)
                continue
            payload = item.get("data") or {}
            if payload.get("watch_id") != watch_id:
                continue
            quiet = now
            ident = payload.get("alert_id") or payload.get("notice_id")
            yield _sse(str(item.get("event")), payload, event_id=str(ident) if ident else None)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


def _since(value: str) -> datetime | None:
    """The page's render time (``?since=``, ISO, UTC); None when absent or unreadable."""
    try:
        stamp = datetime.fromisoformat(value.strip()) if value.strip() else None
    except ValueError:
        return None
    if stamp is not None and stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC).replace(tzinfo=None)
    return stamp


@router.get("/watches/{watch_id}/stream")
def watch_stream(request: Request, watch_id: str,
                 state: Annotated[SessionState, Depends(current)], since: str = ""
                 ) -> Response:
    """Server-sent events of one watch: ``event: alert`` (and ``deconfliction``) with the
    alert's JSON (the same fields as ``GET /api/v1/alerts``), keep-alive comments.

    ``since`` (the page's render time) closes the gap between rendering the page and
    opening the stream, and any gap while the browser reconnects: the stream first sends
    the watch's stored alerts raised since then (the page skips those it shows)."""
    env = get_env(request)
    sid = session_id(request) or ""
    after = _since(since)
    with locked(env):
        watch = _watch(env, state.caller, watch_id)
        items = watches.alert_stream(env, state.caller, timeout=0.0,
                                     stop=threading.Event())  # subscribed from now on
        missed: list[dict[str, Any]] = []
        if after is not None and watch.owner == state.caller.actor:
            missed = [{"event": "alert", "data": a.to_dict()} for a in reversed(
                watches.list_alerts(env, state.caller, limit=1000))
                if a.watch_id == watch_id and a.raised_at >= after]
    return StreamingResponse(watch_events(env, sid, watch_id, items, missed=missed),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/alerts")
def alert_list(request: Request, state: Annotated[SessionState, Depends(current)]
               ) -> Response:
    env = get_env(request)
    with locked(env):
        rows = watches.list_alerts(env, state.caller, limit=1000)
    return page(request, "alerts.html.j2", state, alerts=rows)


# -- feeds ---------------------------------------------------------------------------------

@router.get("/feeds")
def feed_list(request: Request, state: Annotated[SessionState, Depends(current)]
              ) -> Response:
    env = get_env(request)
    with locked(env):
        rows = data.list_sources(env, state.caller)
    return page(request, "feeds.html.j2", state, sources=rows)


def _feed_page(request: Request, state: SessionState, source_id: str, *, status: int = 200,
               minted: str | None = None, message: str = "") -> Response:
    env = get_env(request)
    is_admin = state.user.role == "admin"
    with locked(env):
        feed = feeds.feed_status(env, state.caller, source_id)
        # the token list is the admin's act (feeds.manage): not asked for anyone else
        tokens = feeds.list_tokens(env, state.caller, source_id) if is_admin else []
    return page(request, "feed.html.j2", state, status=status, feed=feed, minted=minted,
                message=message, token_days=TOKEN_DAYS, is_admin=is_admin, tokens=tokens)


@router.get("/feeds/{source_id}")
def feed_page(request: Request, source_id: str,
              state: Annotated[SessionState, Depends(current)], message: str = ""
              ) -> Response:
    return _feed_page(request, state, source_id, message=message)


@router.post("/feeds/{source_id}/tokens")
def feed_token(request: Request, source_id: str,
               state: Annotated[SessionState, Depends(verified)],
               days: Annotated[int, Form(ge=1, le=3650)] = TOKEN_DAYS) -> Response:
    """Mint a feed token (admin): shown once on the answer, never again."""
    env = get_env(request)
    with locked(env):
        bearer = feeds.create_token(env, state.caller, source_id, days=days)
    return _feed_page(request, state, source_id, status=201, minted=bearer)


@router.post("/feeds/{source_id}/tokens/revoke")
def feed_revoke(request: Request, source_id: str,
                state: Annotated[SessionState, Depends(verified)],
                token_id: Annotated[str, Form(min_length=1, max_length=200)]) -> Response:
    """Revoke a feed token of this source by its id (the part after ``idgf_``, before the
    secret); a token of another source is not found here."""
    env = get_env(request)
    with locked(env):
        feeds.revoke_token(env, state.caller, token_id.strip(), source_id=source_id)
    return RedirectResponse(f"/feeds/{quote(source_id, safe='')}?message=revoked",
                            status_code=SEE_OTHER)
