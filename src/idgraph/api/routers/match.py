"""Bulk list matching as a job: upload a list and its mapping, poll, fetch the CSV.

The job runs in a thread of its own, holding the env lock while it matches (one
connection: other requests to this process wait; see api/deps.py). Progress is read without
the lock. A job is visible only to the user who started it; jobs live in memory for the
process's life (results are the caller's, already audited as one act when the match ran),
so with ``serve --workers N`` only the worker that started a job knows it (docs/deploy.md,
"Limits of this version").
"""

from __future__ import annotations

import csv
import io
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import StreamingResponse

from idgraph.api import uploads
from idgraph.api.deps import bearer_caller, get_env, locked
from idgraph.api.models import JobStatus, MatchJobOut, Problem
from idgraph.api.problems import app_error_body, log
from idgraph.app import reads
from idgraph.app.context import Caller, Env
from idgraph.app.errors import AppError, Conflict, NotFound, Unavailable

router = APIRouter(tags=["match"])

MAX_JOBS_KEPT = 200  # finished jobs beyond this are forgotten, oldest first
MAX_RUNNING_PER_USER = 2  # each job is a thread waiting for the env lock: bounded
MAX_RUNNING = 16


@dataclass
class MatchJob:
    job_id: str
    actor: str
    status: JobStatus = "queued"
    rows: int = 0
    result: reads.MatchResult | None = None
    error: AppError | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def out(self) -> MatchJobOut:
        error = None if self.error is None else Problem(**app_error_body(self.error))
        return MatchJobOut(
            job_id=self.job_id, status=self.status, rows=self.rows,
            counts=self.result.counts() if self.result else None,
            unused_fields=list(self.result.unused_fields) if self.result else [],
            notices=list(self.result.notices) if self.result else [],
            error=error,
        )


class MatchJobs:
    """The process's match jobs (kept on ``app.state.match_jobs``)."""

    def __init__(self) -> None:
        self._jobs: dict[str, MatchJob] = {}
        self._guard = threading.Lock()

    def start(self, env: Env, caller: Caller, list_path: Path, mapping_path: Path,
              folder: Path) -> MatchJob:
        job = MatchJob(job_id="m-" + secrets.token_hex(8), actor=caller.actor)
        with self._guard:
            running = [j for j in self._jobs.values() if not j.done.is_set()]
            if sum(j.actor == caller.actor for j in running) >= MAX_RUNNING_PER_USER:
                raise Conflict(f"{MAX_RUNNING_PER_USER} of your match jobs are still "
                               "running: wait for one to finish")
            if len(running) >= MAX_RUNNING:
                raise Unavailable("the server is busy with match jobs: try again later")
            if len(self._jobs) >= MAX_JOBS_KEPT:
                finished = [j for j in self._jobs.values() if j.done.is_set()]
                for old in finished[: len(finished) // 2 + 1]:
                    del self._jobs[old.job_id]
            self._jobs[job.job_id] = job
        thread = threading.Thread(target=self._run, name=f"match-{job.job_id}", daemon=True,
                                  args=(job, env, caller, list_path, mapping_path, folder))
        thread.start()
        return job

    def _run(self, job: MatchJob, env: Env, caller: Caller, list_path: Path,
             mapping_path: Path, folder: Path) -> None:
        def on_rows(n: int) -> None:
            job.rows += n

        try:
            with locked(env):
                job.status = "running"
                job.result = reads.match(env, caller, list_path, mapping_path, on_rows=on_rows)
            job.status = "done"
        except AppError as exc:
            job.error, job.status = exc, "failed"
        except Exception as exc:  # reported to the job's owner, logged by the server
            job.error = AppError("the match failed with an internal error")
            job.status = "failed"
            log.error("match job %s failed", job.job_id,
                                                   exc_info=exc)
        finally:
            uploads.remove(folder)
            job.done.set()

    def get(self, job_id: str, caller: Caller) -> MatchJob:
        with self._guard:
            job = self._jobs.get(job_id)
        if job is None or job.actor != caller.actor:
            raise NotFound(f"no match job {job_id!r}")
        return job


def jobs_of(request: Request) -> MatchJobs:
    jobs: MatchJobs = request.app.state.match_jobs
    return jobs


def _list_caller(
    request: Request,
    purpose: str = Form(..., max_length=100, examples=["criminal_investigation"]),
    claims: str = Form("", description="Codes, comma-separated.", max_length=500),
    basis: str | None = Form(None, max_length=200),
    case_id: str = Form(..., min_length=1, max_length=200, description="The open case."),
) -> Caller:
    return bearer_caller(request, purpose=purpose,
                         claims=tuple(c.strip() for c in claims.split(",") if c.strip()),
                         basis=basis or None, case_id=case_id)


@router.post("/match", response_model=MatchJobOut, status_code=202,
             summary="Start matching a list of people (multipart upload)")
def start_match(
    request: Request,
    list_file: UploadFile = File(..., description="The list (csv, jsonl, parquet)."),
    mapping: UploadFile = File(..., description="Its column mapping (manifest YAML)."),
    caller: Caller = Depends(_list_caller),
) -> Any:
    """Starts one audited act: the best identity per row (or none). Poll the job, then
    fetch the results as CSV. At most 2 running jobs a user (409), 16 in all (503)."""
    folder = uploads.new_folder("match")
    try:
        list_path = uploads.save(list_file, folder, "list.csv")
        mapping_path = uploads.save(mapping, folder, "mapping.yaml")
        job = jobs_of(request).start(get_env(request), caller, list_path, mapping_path,
                                     folder)
    except BaseException:
        uploads.remove(folder)
        raise
    return job.out()


def _job_caller(request: Request) -> Caller:
    return bearer_caller(request)


@router.get("/match/{job_id}", response_model=MatchJobOut, summary="A match job's progress")
def match_progress(request: Request, job_id: str,
                   caller: Caller = Depends(_job_caller)) -> Any:
    return jobs_of(request).get(job_id, caller).out()


@router.get("/match/{job_id}/results", summary="A finished match job's rows as CSV",
            response_class=StreamingResponse, description="Each download is audited "
            "(match.download: the identities and records it discloses); formula cells are "
            "made inert.",
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                             "description": "One row per input row."}})
def match_results(request: Request, job_id: str,
                  caller: Caller = Depends(_job_caller)) -> StreamingResponse:
    job = jobs_of(request).get(job_id, caller)
    if job.status == "failed" and job.error is not None:
        raise job.error
    if job.result is None:
        raise Conflict(f"match job {job_id!r} is {job.status}, not done")
    env = get_env(request)
    with locked(env):  # each download is audited (the identities it discloses)
        rows = reads.match_download(env, caller, job.result, job=job_id)

    def lines() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(reads.MATCH_COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
        yield buf.getvalue()

    return StreamingResponse(lines(), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{job_id}.csv"'})
