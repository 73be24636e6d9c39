"""Request and response bodies of the REST API (Pydantic), each with an example.

Response models mirror the library's dataclasses (FastAPI turns a returned dataclass into
the model); the larger read results (profile, explanation, reports) are described by their
top-level fields and left open below them (``extra="allow"``): their shape is documented
with the library objects and in docs/api.md.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _utc(value: datetime) -> datetime:
    """The store keeps UTC times without an offset; the API always states it (RFC 3339)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDateTime = Annotated[datetime, AfterValidator(_utc)]


class Problem(BaseModel):
    """An RFC 9457 problem-details body (``application/problem+json``)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{
            "type": "urn:idgraph:problem:denied", "title": "Denied", "status": 403,
            "detail": "purpose 'marketing' may not read source 'tx_dmv'",
            "instance": "/api/v1/search", "rules": ["dppa-permitted-use"],
        }]},
    )
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    rules: list[str] | None = None
    errors: list[dict[str, Any]] | None = None


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- reads -------------------------------------------------------------------------------


class ExplanationItem(_Open):
    comparison: str
    level: str
    weight: float
    source: str | None = None


class SearchHit(_Open):
    identity_id: str
    score: float
    explanation: list[ExplanationItem] = []
    fields: dict[str, Any] = {}


class SearchOut(_Open):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "purpose": "criminal_investigation", "case_id": "C1", "criteria": ["name", "dob"],
        "hits": [{"identity_id": "I-3f2a", "score": 0.998, "fields": {"full_name": "ANA RUIZ"},
                  "explanation": [{"comparison": "name", "level": "exact", "weight": 11.2,
                                   "source": "ny_dmv"}]}],
        "withheld": ["credit_hdr"], "notices": []}]})
    purpose: str | None = None
    case_id: str | None = None
    criteria: list[str] = []
    hits: list[SearchHit] = []
    withheld: list[str] = []
    notices: list[str] = []


class ProfileOut(_Open):
    """An identity as the purpose may see it: records by source, the sections drawn from
    them, and per source whether it was included and the rules that decided."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "identity_id": "I-3f2a", "purpose": "criminal_investigation", "case_id": "C1",
        "records": {"ny_dmv": [{"record_id": "ny_dmv/991", "first_name": "ANA"}]},
        "addresses": [], "phones": [], "vehicles": [], "events": [], "links": [],
        "sources": {"credit_hdr": {"included": False, "rules": ["glba-purpose"],
                                   "duties": [], "fields": [], "records": 0}},
        "notices": []}]})
    identity_id: str
    purpose: str | None = None
    case_id: str | None = None
    records: dict[str, list[dict[str, Any]]] = {}
    addresses: list[dict[str, Any]] = []
    phones: list[dict[str, Any]] = []
    vehicles: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    links: list[list[str]] = []
    sources: dict[str, dict[str, Any]] = {}
    notices: list[str] = []


class AssociatesOut(_Open):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "identity_id": "I-3f2a", "associates": [{"identity_id": "I-77c0", "evidence": [
            {"kind": "address", "value": "12 MAIN ST", "subject_records": ["ny_dmv/991"],
             "associate_records": ["utility/55"], "dated": True}]}], "notices": []}]})
    identity_id: str
    associates: list[dict[str, Any]] = []
    notices: list[str] = []


class ExplainOut(_Open):
    """How the link model compares two records (the explain waterfall), as the purpose
    may see it."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "record_a": "ny_dmv/991", "record_b": "court/12", "match_probability": 0.97}]})


JobStatus = Literal["queued", "running", "done", "failed"]


class MatchJobOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "job_id": "m-4f1c9e", "status": "done", "rows": 120,
        "counts": {"matched": 98, "none": 20, "malformed": 2, "with_problems": 5},
        "unused_fields": [], "error": None}]})
    job_id: str
    status: JobStatus
    rows: int = Field(0, description="Rows read so far.")
    counts: dict[str, int] | None = None
    unused_fields: list[str] = []
    notices: list[str] = []
    error: Problem | None = None


# -- data --------------------------------------------------------------------------------


class IngestOut(_Open):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "summaries": [{"source_id": "ny_dmv", "source_file": "ny_dmv.csv", "batch_id": "b-1",
                       "rows": 100, "records_added": 98, "rows_quarantined": 2}],
        "errors": [], "live": None, "current_records": 98, "ok": True,
        "quarantine": [{"rows": [], "total": 2, "whole_rows": 2}]}]})
    summaries: list[dict[str, Any]] = []
    errors: list[str] = []
    live: dict[str, int] | None = None
    current_records: int = 0
    ok: bool
    quarantine: list[dict[str, Any]] = Field(
        default_factory=list, description="The quarantine listing of each batch with rows "
        "quarantined (first 100 rows each).")


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"retrain": False, "threshold": 0.9}]})
    retrain: bool = False
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)


class ResolveOut(_Open):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "run_id": "r-1", "model_id": "m-1", "threshold": 0.9, "n_records": 1000,
        "n_edges": 2400, "n_accepted": 900, "n_identities": 410}]})
    run_id: str
    n_records: int
    n_identities: int


class SourceOut(_Open):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "source": "ny_dmv", "kind": "dmv", "jurisdiction": "US-NY", "regimes": "DPPA",
        "retention_days": 3650, "records": 1000, "versions": 1002, "quarantined_rows": 3,
        "bad_fields": 1, "last_ingest": "2026-01-05T10:00:00", "batches": 2, "rows": 1005}]})
    source: str
    records: int = 0


class QuarantineOut(_Open):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "rows": [{"source": "ny_dmv", "batch_id": "b-1", "line": 17, "field": "dob",
                  "reason": "not a date"}], "total": 1, "whole_rows": 0}]})
    rows: list[dict[str, Any]] = []
    total: int = 0
    whole_rows: int = 0


# -- people and cases --------------------------------------------------------------------


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "jdoe", "role": "investigator", "org": "nypd", "org_type": "government"}]})
    name: str = Field(min_length=1, max_length=100)
    role: str = Field(min_length=1, max_length=50)
    org: str = Field(min_length=1, max_length=100)
    org_type: Literal["government", "private"] = "private"
    immigration_agency: bool = False


class UserOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "name": "jdoe", "role": "investigator", "org": "nypd", "org_type": "government",
        "disabled": False, "immigration_agency": False}]})
    name: str
    role: str
    org: str
    org_type: str
    disabled: bool = False
    immigration_agency: bool = False


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"password": "correct horse battery staple", "current": "the old long passphrase"}]})
    password: str = Field(min_length=1, max_length=1024)
    current: str | None = Field(default=None, max_length=1024, description="One's own "
                                "current password (required to change one's own once set).")


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "nightly-match", "days": 30}]})
    user: str | None = Field(default=None, description="Whose token (admin only; default: "
                             "the caller).")
    name: str = Field(min_length=1, max_length=100)
    days: int = Field(default=30, ge=1, le=366)
    password: str | None = Field(default=None, max_length=1024, description="The caller's "
                                 "own password: required when the request comes with a web "
                                 "session, not a bearer token (a stolen session cannot mint a "
                                 "long-lived token).")


class TokenGrantOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "token_id": "t3k9", "secret": "idg_t3k9_...", "user": "jdoe",
        "expires": "2026-02-01T00:00:00"}]})
    token_id: str
    secret: str = Field(description="The bearer token; shown once, stored hashed.")
    user: str
    expires: UtcDateTime


class TokenOut(_Open):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "token_id": "t3k9", "user": "jdoe", "name": "nightly-match",
        "expires": "2026-02-01T00:00:00", "revoked": False}]})
    token_id: str
    user: str


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "case_id": "C-2026-001", "title": "burglary series", "kind": "criminal"}]})
    case_id: str = Field(min_length=1, max_length=100)
    title: str = Field(min_length=1, max_length=500)
    kind: str = Field(min_length=1, max_length=50)


class CaseOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "case_id": "C-2026-001", "title": "burglary series", "status": "open",
        "kind": "criminal", "org": "nypd", "opened_by": "jdoe",
        "opened_at": "2026-01-05T10:00:00"}]})
    case_id: str
    title: str
    status: str
    kind: str
    org: str
    opened_by: str
    opened_at: UtcDateTime


class LegalIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "type": "warrant", "number": "W-17", "issued": "2026-01-02", "expires": "2026-03-02",
        "court": "NY Sup Ct", "judge": "Hon. A. Smith", "case_id": "C-2026-001",
        "scope_identities": [], "scope_sources": ["credit_hdr"]}]})
    type: str = Field(min_length=1, max_length=50)
    number: str = Field(min_length=1, max_length=100)
    issued: date
    expires: date | None = None
    court: str | None = None
    judge: str | None = None
    judge_appointment: str | None = None
    level: str | None = None
    issuer: str | None = None
    scope_identities: list[str] = []
    scope_sources: list[str] = []
    case_id: str = Field(min_length=1, max_length=100)


class LegalVerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"sha256": "ab" * 32}]})
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$",
                        description="SHA-256 of the scanned document checked.")


class LegalOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "legal_id": "L-1", "type": "warrant", "number": "W-17", "court": "NY Sup Ct",
        "judge": "Hon. A. Smith", "level": "judicial", "issuer": "court",
        "issued": "2026-01-02", "expires": "2026-03-02", "scope_identities": [],
        "scope_sources": ["credit_hdr"], "case_id": "C-2026-001"}]})
    legal_id: str
    type: str
    number: str
    court: str | None = None
    judge: str | None = None
    level: str
    issuer: str
    issued: date
    expires: date | None = None
    scope_identities: list[str] = []
    scope_sources: list[str] = []
    case_id: str | None = None
    judge_appointment: str | None = None
    org: str | None = None
    registered_by: str | None = None
    verified_by: str | None = None
    verified_at: UtcDateTime | None = None
    document_sha256: str | None = None


class NoticeOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "notice_id": "N-1", "identity_id": "I-3f2a", "org": "nypd", "case_id": "C1",
        "sources": ["ny_dmv"], "rule": "ny-vtl-201-notice", "duty": "notify subject",
        "due_date": "2026-02-01", "sent_at": None}]})
    notice_id: str
    identity_id: str
    org: str
    case_id: str | None = None
    sources: list[str] = []
    rule: str
    duty: str
    due_date: date
    sent_at: UtcDateTime | None = None


class RetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"as_of": None}]})
    as_of: datetime | None = Field(default=None, description="Apply as of this time "
                                   "(UTC when no offset is given; not in the future).")


class RetentionRunOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "run_id": "ret-1", "as_of": "2026-01-05T00:00:00", "removed": 3,
        "by_source": {"utility": 3}, "record_ids": ["utility/1", "utility/2", "utility/3"]}]})
    run_id: str
    as_of: UtcDateTime
    removed: int
    by_source: dict[str, int] = {}
    record_ids: list[str] = []


class JudgementIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "record_a": "ny_dmv/991", "record_b": "court/12", "verdict": "different",
        "reason": "different middle names on the court file"}]})
    record_a: str = Field(min_length=1, max_length=300)
    record_b: str = Field(min_length=1, max_length=300)
    verdict: Literal["same", "different", "unsure"]
    reason: str = Field(default="", max_length=2000)


class JudgementOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "judgement_id": "j-1", "record_id_l": "court/12", "record_id_r": "ny_dmv/991",
        "verdict": "different", "by": "chief", "reason": "different middle names",
        "at": "2026-01-05T10:00:00"}]})
    judgement_id: str
    record_id_l: str
    record_id_r: str
    verdict: str
    by: str
    reason: str
    at: UtcDateTime


class SarIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "identity_id": "I-3f2a", "case_id": "SA-1", "requester": "the subject",
        "received": "2026-01-03"}]})
    identity_id: str = Field(min_length=1, max_length=200)
    case_id: str = Field(min_length=1, max_length=100)
    requester: str = Field(min_length=1, max_length=300)
    received: date


class SarOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "sar_id": "SAR-1", "identity_id": "I-3f2a", "requester": "the subject",
        "received": "2026-01-03", "case_id": "SA-1", "org": "nypd", "opened_by": "rec",
        "opened_at": "2026-01-03T09:00:00", "status": "open"}]})
    sar_id: str
    identity_id: str
    requester: str
    received: date
    case_id: str
    org: str
    opened_by: str
    opened_at: UtcDateTime
    status: str


# -- reports, audit, policy --------------------------------------------------------------


class ReportOut(_Open):
    """A report as JSON (the HTML rendering with ``Accept: text/html`` or ``?format=html``)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "generated_at": "2026-01-05T10:00:00"}]})


class AuditVerifyOut(_Open):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "ok": True, "size": 1204, "root": "9f2c...", "checkpoints": 2, "problems": []}]})
    ok: bool
    size: int


class CheckpointOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "note": "idgraph.local/audit\n1204\nnyw...=\n\n— idgraph.local/audit ...\n"}]})
    note: str = Field(description="The signed checkpoint (C2SP signed note).")


class ProofOut(_Open):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "index": 5, "size": 1204, "leaf_hash": "...", "path": ["..."]}]})


class AuditEntryOut(_Open):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "index": 0, "actor": "root", "action": "users.manage", "outcome": "ok"}]})


class PolicyOut(_Open):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "digest": "3b1f...", "purposes": ["criminal_investigation"]}]})


class Accepted(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"ok": True}]})
    ok: bool = True
