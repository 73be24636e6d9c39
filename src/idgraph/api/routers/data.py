"""Data acts: ingest (multipart upload), resolve, search index, sources, quarantine."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile

from idgraph.api import uploads
from idgraph.api.deps import act_caller, get_env, locked, plain
from idgraph.api.models import IngestOut, QuarantineOut, ResolveIn, ResolveOut, SourceOut
from idgraph.app import data
from idgraph.app.context import Caller

router = APIRouter(tags=["data"])


@router.post("/ingest", response_model=IngestOut, summary="Ingest uploaded source files")
def ingest(
    request: Request,
    manifest: UploadFile = File(..., description="The source manifest (YAML)."),
    files: list[UploadFile] = File(..., description="The data files the manifest names."),
    live: bool = Form(False, description="Link the new records at once (real-time)."),
    caller: Caller = Depends(act_caller),
) -> Any:
    """The manifest and its files are written to a private folder and ingested from there
    (the manifest's ``input.path`` names one of the uploaded files). The summary lists the
    quarantined rows of each batch."""
    env = get_env(request)
    folder = uploads.new_folder("ingest")
    try:
        manifest_path = uploads.save(manifest, folder, "manifest.yaml")
        names = {uploads.save(upload, folder, "data").name for upload in files}
        uploads.confine_manifest(manifest_path, names)
        with locked(env):
            outcome = data.ingest(env, caller, [manifest_path], live=live, confined=True)
            batches = [s.batch_id for s in outcome.summaries if s.rows_quarantined]
            quarantined = [
                data.quarantine(env, caller, batch=b, limit=100) for b in batches
            ]
    finally:
        uploads.remove(folder)
    return plain({**outcome.as_dict(), "quarantine": quarantined})


@router.post("/resolve", response_model=ResolveOut, summary="Link records into identities")
def resolve(request: Request, body: ResolveIn | None = None,
            caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    body = body or ResolveIn()
    with locked(env):
        return plain(data.resolve(env, caller, retrain=body.retrain, threshold=body.threshold))


@router.post("/index/rebuild", summary="Rebuild the search index")
def index_rebuild(request: Request, caller: Caller = Depends(act_caller)) -> dict[str, int]:
    env = get_env(request)
    with locked(env):
        return {"documents": data.index_rebuild(env, caller)}


@router.get("/index/check", summary="Check the search index against the store")
def index_check(request: Request, caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(data.index_check(env, caller))


@router.get("/sources", response_model=list[SourceOut], summary="Sources and their counts")
def sources(request: Request, caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(data.list_sources(env, caller))


@router.get("/quarantine", response_model=QuarantineOut, summary="Quarantined rows")
def quarantine(
    request: Request,
    source: str | None = Query(None, max_length=200),
    batch: str | None = Query(None, max_length=200),
    limit: int = Query(100, ge=1, le=10_000),
    caller: Caller = Depends(act_caller),
) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(data.quarantine(env, caller, source=source, batch=batch, limit=limit))
