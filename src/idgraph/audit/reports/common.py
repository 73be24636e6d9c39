"""Shared pieces of the reports: reading the log, disclosures, proofs, authorisation.

A *disclosure* is an audit entry of a response that carried person data out of the
system: an action in :data:`DISCLOSURE_ACTIONS` with outcome ``ok``. Every report is
itself audited. Who may produce which report is decided by Cedar (the acts
``report.subject``, ``report.oversight``, ``report.corrections`` in
``policies/acts.cedar``) in ``idgraph.app.reports``, which hands the decision in here;
a refused attempt is audited there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from datetime import UTC, date, datetime
from typing import Any, Final, Protocol

from idgraph.audit import AuditEntry, AuditLog, Checkpoint, merkle, record
from idgraph.cases import Case, list_cases
from idgraph.policy.users import User, get_user
from idgraph.store import Store
from idgraph.store.auditlog import AuditRepo

# Actions whose ``ok`` entries are responses that left the system with person data.
# Later read paths (search results, alerts, exports) add their action names here.
DISCLOSURE_ACTIONS: Final[tuple[str, ...]] = ("profile.read", "explain.read", "alert")


class Decided(Protocol):
    """A permitted act (``idgraph.policy.acts.ActDecision``): who, and its audit entry."""

    actor: str
    user: User

    def entry(self, outcome: str = "ok", *, detail: dict[str, Any] | None = None,
              identity_ids: tuple[str, ...] | list[str] = ()) -> AuditEntry: ...


class ReportError(PermissionError):
    """The actor may not produce this report (the refusal is audited)."""


@dataclass(frozen=True)
class Logged:
    """One stored audit entry with its index and exact bytes."""

    index: int
    entry: AuditEntry
    data: bytes


@dataclass(frozen=True)
class CheckpointInfo:
    id: int
    size: int
    root: str
    time: str
    signature: str
    pubkey: str
    signature_ok: bool
    origin: str | None = None
    note: str | None = None  # the C2SP signed note (None for a legacy checkpoint)


@dataclass(frozen=True)
class Proof:
    """Inclusion of entry ``index`` in the checkpoint of the report (RFC 9162)."""

    index: int
    tree_size: int
    leaf_hash: str
    path: list[str]
    entry: str | None  # the canonical entry; None when it names other people
    verified: bool


@dataclass(frozen=True)
class Disclosure:
    index: int
    time: str
    action: str
    principal: str
    organisation: str | None
    role: str | None
    purpose: str | None
    basis: str | None
    case_id: str | None
    case_kind: str | None
    case_status: str | None
    sources: list[str]
    identity_ids: list[str]
    record_ids: list[str]
    withheld: bool = False
    proof: Proof | None = None


def iso(t: datetime | date | None) -> str | None:
    """UTC ISO text (naive datetimes are taken as UTC)."""
    if t is None:
        return None
    if isinstance(t, datetime):
        aware = t if t.tzinfo else t.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    return t.isoformat()


def utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC)


def load_entries(
    store: Store, actions: Iterable[str] | None = None, outcome: str | None = None
) -> list[Logged]:
    """Stored entries (optionally only ``actions`` / ``outcome``), in log order."""
    rows = AuditRepo(store).entries_matching(
        sorted(set(actions)) if actions is not None else None, outcome)
    return [
        Logged(seq, AuditEntry.model_validate_json(data), data.encode()) for seq, data in rows
    ]


def cases_by_id(store: Store) -> dict[str, Case]:
    return {c.case_id: c for c in list_cases(store)}


def is_withholdable(case: Case | None) -> bool:
    """Disclosures in an open criminal case may be kept from the subject until it closes."""
    return case is not None and case.is_open and case.kind == "criminal"


def disclosure_of(
    item: Logged, cases: Mapping[str, Case], record_ids: Sequence[str] | None = None
) -> Disclosure:
    e = item.entry
    case = cases.get(e.case_id) if e.case_id else None
    return Disclosure(
        index=item.index,
        time=iso(e.time) or "",
        action=e.action,
        principal=e.principal,
        organisation=e.organisation,
        role=e.role,
        purpose=e.purpose,
        basis=e.basis,
        case_id=e.case_id,
        case_kind=case.kind if case else None,
        case_status=case.status if case else None,
        sources=sorted(e.sources),
        identity_ids=sorted(e.identity_ids),
        record_ids=sorted(record_ids if record_ids is not None else e.record_ids),
        withheld=is_withholdable(case),
    )


def covering_checkpoint(log: AuditLog, max_index: int) -> Checkpoint:
    """The latest signed checkpoint if it covers ``max_index``; else sign a new one."""
    cp = log.latest_checkpoint()
    if cp is None or cp.size <= max_index:
        cp = log.checkpoint()
    return cp


def checkpoint_info(log: AuditLog, cp: Checkpoint) -> CheckpointInfo:
    return CheckpointInfo(
        id=cp.id,
        size=cp.size,
        root=cp.root.hex(),
        time=cp.time,
        signature=cp.signature.hex(),
        pubkey=cp.pubkey,
        signature_ok=cp.signed_by(log.public_key),
        origin=cp.origin,
        note=cp.note,
    )


def prove(log: AuditLog, index: int, cp: Checkpoint, *, show_entry: bool) -> Proof:
    p = log.prove(index, cp)
    ok = merkle.verify_inclusion(index, cp.size, p.leaf_hash, p.path, cp.root)
    ok = ok and merkle.leaf_hash(p.entry) == p.leaf_hash
    return Proof(
        index=index,
        tree_size=cp.size,
        leaf_hash=p.leaf_hash.hex(),
        path=[h.hex() for h in p.path],
        entry=p.entry.decode() if show_entry else None,
        verified=ok,
    )


def producer(
    store: Store,
    actor: str,
    decision: Decided | None,
    action: str,
    at: datetime,
    detail: dict[str, Any],
    identity_ids: Sequence[str] = (),
) -> User:
    """Who produces the report: the decision's user; without a decision (a caller that
    decided already) the active user ``actor``, else the attempt is audited and refused."""
    if decision is not None:
        return decision.user
    user = get_user(store, actor)
    if user is not None and user.active:
        return user
    why = "unknown or disabled user"
    record(
        store,
        AuditEntry(
            time=at,
            principal=actor,
            organisation=user.org if user else None,
            role=user.role if user else None,
            action=action,
            outcome="deny",
            identity_ids=tuple(identity_ids),
            detail={**detail, "reason": why},
        ),
    )
    raise ReportError(f"{actor!r} may not produce {action} ({why})")


def refuse(
    store: Store,
    user: User,
    decision: Decided | None,
    action: str,
    at: datetime,
    detail: dict[str, Any],
    identity_ids: Sequence[str] = (),
) -> None:
    """Audit an object-level refusal (under a decision the application's gate audits it)."""
    if decision is not None:
        return
    record(store, AuditEntry(
        time=at, principal=user.name, organisation=user.org, role=user.role,
        action=action, outcome="deny", identity_ids=tuple(identity_ids), detail=detail,
    ))


def audit_report(
    store: Store,
    user: User,
    action: str,
    at: datetime,
    detail: dict[str, Any],
    identity_ids: Sequence[str] = (),
    decision: Decided | None = None,
) -> int:
    """The entry that says this report was produced; returns its index. Under a
    decision the entry is the act's own (rules, policy-set digest, via)."""
    if decision is not None:
        entry = decision.entry("ok", detail=detail, identity_ids=tuple(identity_ids))
        return record(store, entry.model_copy(update={"time": at}))
    return record(
        store,
        AuditEntry(
            time=at,
            principal=user.name,
            organisation=user.org,
            role=user.role,
            action=action,
            outcome="ok",
            identity_ids=tuple(identity_ids),
            detail=detail,
        ),
    )


def to_jsonable(report: Any) -> Any:
    """A report dataclass as plain JSON data."""
    if is_dataclass(report) and not isinstance(report, type):
        return asdict(report)
    raise TypeError(f"not a report: {type(report).__name__}")


def to_json(report: Any) -> str:
    """Deterministic JSON text of a report (sorted keys, two-space indent, final newline)."""
    return json.dumps(to_jsonable(report), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class NoticeRow:
    notice_id: str
    identity_id: str
    org: str | None
    principal: str | None
    case_id: str | None
    sources: list[str]
    rule: str | None
    duty: str | None
    created_at: str | None
    due_date: str | None
    sent_at: str | None
    sent_by: str | None
    status: str  # sent | sent late | due | overdue




def notice_status(due: date | None, sent_at: datetime | None, today: date) -> str:
    if sent_at is not None:
        return "sent late" if due is not None and sent_at.date() > due else "sent"
    return "overdue" if due is not None and today > due else "due"


def load_notices(store: Store, today: date, identity_id: str | None = None) -> list[NoticeRow]:
    """Notice rows (of one identity, or all), oldest first, with their status on ``today``."""
    from idgraph.store.registry import RegistryRepo

    rows = RegistryRepo(store).notice_records(identity_id)
    return [
        NoticeRow(
            notice_id=r[0],
            identity_id=r[1],
            org=r[2],
            principal=r[3],
            case_id=r[4],
            sources=sorted(r[5] or ()),
            rule=r[6],
            duty=r[7],
            created_at=iso(r[8]),
            due_date=iso(r[9]),
            sent_at=iso(r[10]),
            sent_by=r[11],
            status=notice_status(r[9], r[10], today),
        )
        for r in rows
    ]
