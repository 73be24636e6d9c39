"""Reports: subject access, oversight, corrections; JSON, or HTML by Accept or ?format=."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from annotated_types import Ge, Le
from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, Response

from idgraph.api.deps import act_caller, get_env, locked
from idgraph.api.models import ReportOut
from idgraph.api.security import csp_with_inline_styles
from idgraph.app import reports
from idgraph.app.context import Caller
from idgraph.app.reports import FIRST_DAY, LAST_DAY
from idgraph.audit.reports.common import to_jsonable
from idgraph.audit.reports.render import render_html

router = APIRouter(prefix="/reports", tags=["reports"])

Format = Literal["json", "html"]
# the days a report window may name (app.reports refuses others for every shell)
Day = Annotated[date, Ge(FIRST_DAY), Le(LAST_DAY)]
FORMAT = Query(None, description="json or html (default: by the Accept header, else json).")
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {"schema": {"type": "string"}}},
          "description": "The report (JSON, or HTML)."},
}


def _wants_html(request: Request, fmt: Format | None) -> bool:
    if fmt is not None:
        return fmt == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def _respond(request: Request, report: Any, fmt: Format | None) -> Response:
    if _wants_html(request, fmt):
        html = render_html(report)
        return HTMLResponse(html, headers={
            "Content-Security-Policy": csp_with_inline_styles(html)})
    return JSONResponse(jsonable_encoder(to_jsonable(report)))


@router.get("/subject/{identity_id}", response_model=ReportOut, responses=RESPONSES,
            summary="Subject-access report of one identity")
def subject(
    request: Request,
    identity_id: str,
    copy: Literal["subject", "overseer"] = Query("subject"),
    format: Format | None = FORMAT,
    caller: Caller = Depends(act_caller),
) -> Response:
    """Everything held on the subject, by source, and every access to it (the overseer's
    copy keeps the names of those who read)."""
    env = get_env(request)
    with locked(env):
        report = reports.subject_report(env, caller, identity_id, copy=copy)
    return _respond(request, report, format)


@router.get("/oversight", response_model=ReportOut, responses=RESPONSES,
            summary="Oversight report for a period")
def oversight(
    request: Request,
    start: Annotated[Day, Query(description="First day (UTC).")],
    end: Annotated[Day, Query(description="Last day (UTC), inclusive.")],
    format: Format | None = FORMAT,
    caller: Caller = Depends(act_caller),
) -> Response:
    env = get_env(request)
    with locked(env):
        report = reports.oversight_report(env, caller, start=start, end=end)
    return _respond(request, report, format)


@router.get("/corrections", response_model=ReportOut, responses=RESPONSES,
            summary="Corrections (judgements, merges, splits) since a day")
def corrections(
    request: Request,
    since: Annotated[Day | None, Query(description="From this day (UTC).")] = None,
    format: Format | None = FORMAT,
    caller: Caller = Depends(act_caller),
) -> Response:
    env = get_env(request)
    since_at = datetime.combine(since, datetime.min.time()) if since else None
    with locked(env):
        report = reports.corrections_report(env, caller, since=since_at)
    return _respond(request, report, format)
