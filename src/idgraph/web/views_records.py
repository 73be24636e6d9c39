"""Records officer and overseer pages: notices, retention, subject-access requests, the
oversight dashboard and the subject-access report."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated, Final, TypeVar

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from idgraph import clock
from idgraph.api.deps import get_env, locked
from idgraph.app import admin
from idgraph.app import reports as app_reports
from idgraph.app.auth import SessionState
from idgraph.app.errors import AppError, Invalid
from idgraph.audit.reports.common import to_jsonable
from idgraph.web.errors import SEE_OTHER, WebRoute
from idgraph.web.render import page
from idgraph.web.session import current, verified

router = APIRouter(route_class=WebRoute)
T = TypeVar("T")

WINDOW_DAYS: Final = 30
COPIES: Final = ("subject", "oversight")


# The days a form may name (as the API's report windows): 9999-12-31 plus a day overflows.
FIRST_DAY: Final = date(1970, 1, 1)
LAST_DAY: Final = date(9000, 12, 31)


def _day(value: str, name: str, default: date) -> date:
    if not value.strip():
        return default
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(f"{name}: not a date (YYYY-MM-DD): {value!r}", field=name) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise Invalid(f"{name}: a date from {FIRST_DAY} to {LAST_DAY}, please", field=name)
    return day


def _listed(name: str, refused: dict[str, AppError], call: Callable[[], list[T]]) -> list[T]:
    """A listing, or none with the refusal kept (shown instead of that part)."""
    try:
        return call()
    except AppError as exc:
        refused[name] = exc
        return []


@router.get("/records")
def records(request: Request, state: Annotated[SessionState, Depends(current)],
            message: str = "") -> Response:
    """Notices due and overdue, retention runs and subject-access requests; a part the
    user may not list says so instead of failing the page."""
    env, caller, today = get_env(request), state.caller, clock.today()
    refused: dict[str, AppError] = {}
    with locked(env):
        notices = _listed("notices", refused, lambda: admin.list_notices(env, caller))
        runs = _listed("retention", refused, lambda: admin.list_retention_runs(env, caller))
        sars = _listed("sars", refused, lambda: admin.list_sars(env, caller))
    overdue = sum(1 for n in notices if n.overdue(today))
    return page(request, "records.html.j2", state, notices=notices, runs=runs, sars=sars,
                refused=refused, today=today, overdue=overdue, message=message)


@router.post("/notices/{notice_id}/sent")
def notice_sent(request: Request, notice_id: str,
                state: Annotated[SessionState, Depends(verified)]) -> Response:
    env = get_env(request)
    with locked(env):
        admin.mark_notice_sent(env, state.caller, notice_id)
    return RedirectResponse("/records?message=notice-sent", status_code=SEE_OTHER)


@router.post("/retention/apply")
def retention_apply(request: Request, state: Annotated[SessionState, Depends(verified)]
                    ) -> Response:
    env = get_env(request)
    with locked(env):
        admin.apply_retention(env, state.caller)
    return RedirectResponse("/records?message=retention-applied", status_code=SEE_OTHER)


@router.post("/sars")
def sar_open(
    request: Request,
    state: Annotated[SessionState, Depends(verified)],
    identity_id: Annotated[str, Form()],
    case_id: Annotated[str, Form()],
    requester: Annotated[str, Form()],
    received: Annotated[str, Form()] = "",
) -> Response:
    env = get_env(request)
    received_on = _day(received, "received", clock.today())
    with locked(env):
        admin.open_sar(env, state.caller, identity_id.strip(), case_id=case_id.strip(),
                       requester=requester.strip(), received=received_on)
    return RedirectResponse("/records?message=sar-opened", status_code=SEE_OTHER)


@router.post("/sars/{sar_id}/close")
def sar_close(request: Request, sar_id: str,
              state: Annotated[SessionState, Depends(verified)]) -> Response:
    env = get_env(request)
    with locked(env):
        admin.close_sar(env, state.caller, sar_id)
    return RedirectResponse("/records?message=sar-closed", status_code=SEE_OTHER)


@router.get("/oversight")
def oversight(request: Request, state: Annotated[SessionState, Depends(current)],
              start: str = "", end: str = "") -> Response:
    """The oversight report's own template (charts from audit/reports/svg.py) in the
    site layout, with the window form above it."""
    today = clock.today()
    first = _day(start, "start", today - timedelta(days=WINDOW_DAYS - 1))
    last = _day(end, "end", today)
    env = get_env(request)
    with locked(env):
        report = app_reports.oversight_report(env, state.caller, start=first, end=last)
    return page(request, "oversight.html.j2", state, r=to_jsonable(report),
                preface="oversight_preface.html.j2", start=first, end=last)


@router.get("/reports/subject/{identity_id}")
def subject(request: Request, identity_id: str,
            state: Annotated[SessionState, Depends(current)], copy: str = "subject"
            ) -> Response:
    """The subject-access report (its own template, print styles from app.css)."""
    if copy not in COPIES:
        raise Invalid(f"copy: one of {', '.join(COPIES)}", field="copy")
    env = get_env(request)
    with locked(env):
        report = app_reports.subject_report(env, state.caller, identity_id, copy=copy)
    return page(request, "subject.html.j2", state, r=to_jsonable(report),
                preface="subject_preface.html.j2", identity_id=identity_id, copy=copy)
