"""The audit log and the policy set: every read of the log is itself logged (in app/)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request

from idgraph.api.deps import act_caller, get_env, locked, plain
from idgraph.api.models import AuditEntryOut, AuditVerifyOut, CheckpointOut, PolicyOut, ProofOut
from idgraph.app import admin, audit
from idgraph.app.context import Caller

router = APIRouter(tags=["audit"])


@router.get("/audit/verify", response_model=AuditVerifyOut, summary="Verify the whole log")
def verify(request: Request, caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(audit.audit_verify(env, caller))


@router.post("/audit/checkpoint", response_model=CheckpointOut,
             summary="Sign a checkpoint of the log now")
def checkpoint(request: Request, caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return {"note": audit.audit_checkpoint(env, caller)}


@router.get("/audit/proof/{index}", response_model=ProofOut,
            summary="Inclusion proof of one entry")
def proof(request: Request, index: int = Path(..., ge=0, le=2**62),
          caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(audit.audit_prove(env, caller, index))


@router.get("/audit/export", response_model=list[AuditEntryOut],
            summary="Entries of the log (a range)")
def export(
    request: Request,
    start: int | None = Query(None, ge=0, le=2**62, description="First entry index."),
    end: int | None = Query(None, ge=0, le=2**62, description="Entry index to stop before."),
    caller: Caller = Depends(act_caller),
) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(audit.audit_export(env, caller, start=start, end=end))


@router.get("/audit/pubkey", summary="The audit log's public key (signed-note verifier key)")
def pubkey(request: Request, caller: Caller = Depends(act_caller)) -> dict[str, str]:
    env = get_env(request)
    with locked(env):
        return {"key": audit.audit_pubkey(env, caller)}


@router.get("/policy", response_model=PolicyOut, tags=["policy"],
            summary="The policy set in force")
def policy(request: Request, caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(admin.policy_show(env, caller))
