"""Bulk match: upload a list and its mapping, watch the progress, download the results."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Depends, File, Request, Response, UploadFile
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from idgraph.api.deps import get_env, locked
from idgraph.app import reads
from idgraph.app.auth import SessionState
from idgraph.app.errors import Invalid, NotFound
from idgraph.web import jobs
from idgraph.web.errors import SEE_OTHER, WebRoute
from idgraph.web.render import fragment, page
from idgraph.web.session import LoginRequired, current, session_id, verified, with_purpose

router = APIRouter(route_class=WebRoute)

EXAMPLE_MAPPING = """record_id: REF
fields:
  full_name: NAME
  dob: BORN
  address: ADDR
  zip: ZIP
  phone: PHONE
"""


@router.get("/match")
def match_form(request: Request, state: Annotated[SessionState, Depends(with_purpose)]) -> Response:
    return page(request, "match.html.j2", state, example=EXAMPLE_MAPPING)


@router.post("/match")
async def match_start(
    request: Request,
    state: Annotated[SessionState, Depends(verified)],
    list_file: Annotated[UploadFile, File()],
    mapping_file: Annotated[UploadFile, File()],
) -> Response:
    if state.caller.purpose is None:
        raise Invalid("Choose a purpose (and the case) before matching a list.", field="purpose")
    list_bytes, mapping_bytes = await list_file.read(), await mapping_file.read()
    if not list_bytes:
        raise Invalid("The list file is empty.", field="list_file")
    if not mapping_bytes:
        raise Invalid("The mapping file is empty.", field="mapping_file")
    job = jobs.start(get_env(request), state.caller, session_id(request) or "",
                     list_name=list_file.filename or "list.csv", list_bytes=list_bytes,
                     mapping_bytes=mapping_bytes)
    return RedirectResponse(f"/match/jobs/{job.job_id}", status_code=SEE_OTHER)


def _job(request: Request, job_id: str) -> jobs.Job:
    job = jobs.get(job_id, session_id(request))
    if job is None:
        if session_id(request) is None:
            raise LoginRequired(request.url.path)
        raise NotFound("No such match job in this session (jobs are kept for an hour).")
    return job


@router.get("/match/jobs/{job_id}")
def match_job(request: Request, job_id: str,
              state: Annotated[SessionState, Depends(with_purpose)]) -> Response:
    job = _job(request, job_id)
    return page(request, "match_job.html.j2", state, job=job,
                withheld=_withheld(request, state, job))


def _withheld(request: Request, state: SessionState, job: jobs.Job) -> str | None:
    """Why a finished job's rows are not shown to ``state`` now (its case closed, ...)."""
    if job.result is None:
        return None
    env = get_env(request)
    with locked(env):
        return reads.results_withheld(env, state.caller, job.result)


@router.get("/match/jobs/{job_id}/progress")
async def match_progress(request: Request, job_id: str) -> Response:
    """Polled by htmx. While the job runs (holding the env's lock) the poll shows only the
    row count, bound to the cookie of the session that started it (see ``web.jobs``);
    once it has ended, the session must be live (``auth.session_of``, looked up off the
    event loop) and the job its user's before any result row is shown: a logged-out,
    revoked or disabled session's old cookie gets nothing."""
    job = _job(request, job_id)
    if job.status == "running":
        return fragment("match_progress.html.j2", job=job)
    try:
        state = await run_in_threadpool(current, request)
    except LoginRequired as exc:
        raise LoginRequired(f"/match/jobs/{job_id}") from exc
    if job.owner != state.user.name:
        raise NotFound("No such match job in this session (jobs are kept for an hour).")
    withheld = await run_in_threadpool(_withheld, request, state, job)
    return fragment("match_progress.html.j2", job=job, withheld=withheld)


@router.get("/match/jobs/{job_id}/results.csv")
def match_results(request: Request, job_id: str,
                  state: Annotated[SessionState, Depends(with_purpose)]) -> Response:
    """The results as CSV, through ``app.reads.match_download``: audited, and refused
    (Denied, an error page with status 403) to anyone but the user who ran the match, to a
    user disabled since, and once the match's case is closed."""
    job = _job(request, job_id)
    if job.owner != state.user.name or job.result is None:
        raise NotFound("This job has no results (yet).")
    env = get_env(request)
    with locked(env):
        rows = list(reads.match_download(env, state.caller, job.result, job=job.job_id))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(reads.MATCH_COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    name = f"match-{job.job_id}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
