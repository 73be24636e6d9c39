"""Cases: list, open, close; members (assign, reassign); subjects and notes; activity;
the subject-access supplements closing makes due.

Every act is decided by Cedar and audited in ``idgraph.app.cases``; these routes only
parse and call. Need-to-know (a case's members) is decided there, not here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from idgraph.api.deps import act_caller, get_env, locked, plain
from idgraph.api.models import CaseIn, CaseOut, UtcDateTime
from idgraph.app import cases
from idgraph.app.context import Caller
from idgraph.cases.activity import PAGE_MAX
from idgraph.cases.material import NOTE_MAX

router = APIRouter()


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "add": ["det.jones"], "remove": ["det.smith"]}]})
    add: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50)
    remove: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50)


class MembersOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "case_id": "C-2026-001", "members": ["det.jones", "det.brown"]}]})
    case_id: str
    members: list[str]


class MembershipOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "case_id": "C-2026-001", "member": "det.smith", "added_by": "det.smith",
        "added_at": "2026-01-05T10:00:00Z", "removed_by": "sgt.lee",
        "removed_at": "2026-02-01T09:00:00Z", "current": False}]})
    case_id: str
    member: str
    added_by: str
    added_at: UtcDateTime
    removed_by: str | None
    removed_at: UtcDateTime | None
    current: bool


class SubjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "identity_id": "I-3f2a9c01"}]})
    identity_id: str = Field(min_length=1, max_length=200)


class SubjectOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "case_id": "C-2026-001", "identity_id": "I-3f2a9c01", "added_by": "det.jones",
        "added_at": "2026-01-06T10:00:00Z"}]})
    case_id: str
    identity_id: str
    added_by: str
    added_at: UtcDateTime


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "text": "Booked in Kings County on 3 Jan; address matches the DMV record.",
        "identity_id": "I-3f2a9c01"}]})
    text: str = Field(min_length=1, max_length=NOTE_MAX)
    identity_id: str | None = Field(default=None, max_length=200)


class NoteOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "note_id": "N-0a1b2c3d4e5f", "case_id": "C-2026-001", "identity_id": "I-3f2a9c01",
        "author": "det.jones", "at": "2026-01-06T10:05:00Z",
        "text": "Booked in Kings County on 3 Jan."}]})
    note_id: str
    case_id: str
    identity_id: str | None
    author: str
    at: UtcDateTime
    text: str


class ActivityOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "seq": 41, "time": "2026-01-06T10:00:00Z", "principal": "det.jones",
        "role": "investigator", "action": "search", "outcome": "ok",
        "purpose": "criminal_investigation", "records": 3, "identities": 2,
        "rules": ["grant.investigator"]}]})
    seq: int
    time: UtcDateTime
    principal: str
    role: str | None
    action: str
    outcome: str
    purpose: str | None
    records: int
    identities: int
    rules: list[str]


class ActivityPageOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "case_id": "C-2026-001", "total": 1, "offset": 0, "limit": 50, "items": [{
            "seq": 41, "time": "2026-01-06T10:00:00Z", "principal": "det.jones",
            "role": "investigator", "action": "search", "outcome": "ok",
            "purpose": "criminal_investigation", "records": 3, "identities": 2,
            "rules": ["grant.investigator"]}]}]})
    case_id: str
    total: int
    offset: int
    limit: int
    items: list[ActivityOut]


class SupplementOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "sar_id": "SAR-0a1b2c3d4e", "case_id": "C-2026-001", "identity_id": "I-3f2a9c01",
        "org": "nypd", "released": 2, "flagged_at": "2026-03-01T10:00:00Z",
        "sent_at": None}]})
    sar_id: str
    case_id: str
    identity_id: str
    org: str
    released: int
    flagged_at: UtcDateTime
    sent_at: UtcDateTime | None


def _no_content() -> Response:
    return Response(status_code=204)


@router.get("/cases", response_model=list[CaseOut], tags=["cases"])
def list_cases(request: Request, status: str | None = Query(None, max_length=20),
               caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(cases.list_cases(env, caller, status=status))


@router.post("/cases", response_model=CaseOut, status_code=201, tags=["cases"])
def open_case(request: Request, body: CaseIn, caller: Caller = Depends(act_caller)) -> Any:
    """Open a case of the caller's organisation; the caller is its first member."""
    env = get_env(request)
    with locked(env):
        return plain(cases.open_case(env, caller, body.case_id, title=body.title,
                                     kind=body.kind))


@router.get("/sar/supplements", response_model=list[SupplementOut], tags=["subject access"])
def supplements_due(request: Request, caller: Caller = Depends(act_caller)) -> Any:
    """Subject-access requests owed a supplement: a case that withheld disclosures about
    their person closed."""
    env = get_env(request)
    with locked(env):
        return plain(cases.supplements_due(env, caller))


@router.post("/sar/{sar_id}/supplements/{case_id}/sent", status_code=204,
             tags=["subject access"])
def supplement_sent(request: Request, sar_id: str, case_id: str,
                    caller: Caller = Depends(act_caller)) -> Response:
    """Record that the supplement owed for the closed case was sent to the requester."""
    env = get_env(request)
    with locked(env):
        cases.supplement_sent(env, caller, sar_id, case_id)
    return _no_content()


@router.get("/cases/{case_id}", response_model=CaseOut, tags=["cases"])
def get_case(request: Request, case_id: str, caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(cases.get_case(env, caller, case_id))


@router.post("/cases/{case_id}/close", status_code=204, tags=["cases"])
def close_case(request: Request, case_id: str,
               caller: Caller = Depends(act_caller)) -> Response:
    """Close the case: reads and watches under it stop; withheld disclosures are released."""
    env = get_env(request)
    with locked(env):
        cases.close_case(env, caller, case_id)
    return _no_content()


@router.post("/cases/{case_id}/assign", response_model=MembersOut, tags=["cases"])
def assign(request: Request, case_id: str, body: AssignIn,
           caller: Caller = Depends(act_caller)) -> Any:
    """Assign, remove or reassign members (a supervisor of the case's organisation)."""
    env = get_env(request)
    with locked(env):
        after = cases.assign(env, caller, case_id, add=body.add, remove=body.remove)
    return {"case_id": case_id, "members": list(after)}


@router.get("/cases/{case_id}/members", response_model=list[MembershipOut], tags=["cases"])
def members(request: Request, case_id: str, caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        found = cases.members(env, caller, case_id)
    return [{**plain(m), "current": m.current} for m in found]


@router.get("/cases/{case_id}/subjects", response_model=list[SubjectOut], tags=["cases"])
def subjects(request: Request, case_id: str, caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(cases.subjects(env, caller, case_id))


@router.post("/cases/{case_id}/subjects", response_model=SubjectOut, status_code=201,
             tags=["cases"])
def add_subject(request: Request, case_id: str, body: SubjectIn,
                caller: Caller = Depends(act_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        return plain(cases.add_subject(env, caller, case_id, body.identity_id))


@router.get("/cases/{case_id}/notes", response_model=list[NoteOut], tags=["cases"])
def notes(request: Request, case_id: str, caller: Caller = Depends(act_caller)) -> Any:
    """The case's notes: its members and its organisation's supervisors only."""
    env = get_env(request)
    with locked(env):
        return plain(cases.notes(env, caller, case_id))


@router.post("/cases/{case_id}/notes", response_model=NoteOut, status_code=201,
             tags=["cases"])
def add_note(request: Request, case_id: str, body: NoteIn,
             caller: Caller = Depends(act_caller)) -> Any:
    """Append a note (notes are never edited or deleted)."""
    env = get_env(request)
    with locked(env):
        return plain(cases.add_note(env, caller, case_id, body.text,
                                    identity_id=body.identity_id))


@router.get("/cases/{case_id}/activity", response_model=ActivityPageOut, tags=["cases"])
def activity(request: Request, case_id: str, offset: int = Query(0, ge=0),
             limit: int = Query(50, ge=1, le=PAGE_MAX),
             caller: Caller = Depends(act_caller)) -> Any:
    """Every read, search, match, alert, export and download under the case (from the
    audit log), newest first."""
    env = get_env(request)
    with locked(env):
        return plain(cases.activity(env, caller, case_id, offset=offset, limit=limit))
