"""Cases: every read happens under an open case of the reader's organisation.

The ``cases`` table holds case id, title, status (open|closed), kind, owning
organisation, who opened it and when. Opening and closing are the acts ``cases.open``
and ``cases.close``, decided by Cedar in ``idgraph.app.admin`` (which hands the
decision in here); closing is also limited to the case's owner or a supervisor of its
organisation (checked here, an object-level rule). Both are audited. The kind
enters every decision (``context.case_kind``): each purpose of the catalogue is
allowed only under the case kinds that fit it (``case_kinds`` in catalogue.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from idgraph import clock
from idgraph.audit import AuditEntry, record
from idgraph.policy.names import name_problem
from idgraph.policy.users import get_user
from idgraph.store import Store

if TYPE_CHECKING:
    from idgraph.policy.acts import ActDecision

KINDS: Final[tuple[str, ...]] = (
    "criminal",
    "civil",
    "immigration",
    "fraud",
    "regulatory",
    "subject_access",
    "oversight",
    "journalism",
    "research",
    "employment",
    "credit",
    "insurance",
    "tenancy",
    "other",
)

DDL: Final[tuple[str, ...]] = (
    """CREATE TABLE IF NOT EXISTS cases (
        case_id VARCHAR PRIMARY KEY, title VARCHAR, status VARCHAR NOT NULL, kind VARCHAR,
        org VARCHAR NOT NULL, opened_by VARCHAR, opened_at TIMESTAMP,
        closed_by VARCHAR, closed_at TIMESTAMP)""",
)


class CaseError(ValueError):
    """A case operation that may not proceed."""


class CaseRefused(CaseError):
    """The actor may not open or close cases (a refusal by the policy layer; CLI exit 3)."""


@dataclass(frozen=True, slots=True)
class Case:
    case_id: str
    title: str
    status: str
    kind: str
    org: str
    opened_by: str
    opened_at: datetime

    @property
    def is_open(self) -> bool:
        return self.status == "open"


_COLS = "case_id, title, status, kind, org, opened_by, opened_at"


def ensure(store: Store) -> None:
    store.ensure("cases", DDL)


def get_case(store: Store, case_id: str) -> Case | None:
    ensure(store)
    row = store.fetchone(f"SELECT {_COLS} FROM cases WHERE case_id = ?", [case_id])
    return None if row is None else Case(*row)


def list_cases(store: Store, *, org: str | None = None, status: str | None = None) -> list[Case]:
    ensure(store)
    rows = store.fetchall(
        f"SELECT {_COLS} FROM cases WHERE (? IS NULL OR org = ?) AND (? IS NULL OR status = ?) "
        "ORDER BY opened_at, case_id",
        [org, org, status, status],
    )
    return [Case(*r) for r in rows]


def _actor(store: Store, actor: str, decision: ActDecision | None) -> tuple[str, str]:
    """The actor's organisation and role: the decision's user, or (no decision: a caller
    that decided already) the stored user."""
    if decision is not None:
        return decision.user.org, decision.user.role
    user = get_user(store, actor)
    if user is None:
        raise CaseError(f"no user {actor!r}")
    return user.org, user.role


def _record(store: Store, decision: ActDecision | None, entry: AuditEntry) -> None:
    if decision is None:
        record(store, entry)
    else:
        record(store, decision.entry(entry.outcome, detail=entry.detail, case_id=entry.case_id))


def open_case(
    store: Store, case_id: str, *, title: str, kind: str, actor: str = "",
    decision: ActDecision | None = None,
) -> Case:
    """Open a case owned by ``actor``'s organisation (``decision``: the act
    ``cases.open`` permitted to them)."""
    ensure(store)
    problem = name_problem("case id", case_id)
    if problem:
        raise CaseError(problem)
    if kind not in KINDS:
        raise CaseError(f"unknown case kind {kind!r}; one of {', '.join(KINDS)}")
    now = clock.now_naive()
    actor = decision.actor if decision is not None else actor
    org, role = _actor(store, actor, decision)
    with store.transaction():
        if get_case(store, case_id) is not None:
            raise CaseError(f"case {case_id!r} exists")
        store.execute(
            f"INSERT INTO cases ({_COLS}) VALUES (?, ?, 'open', ?, ?, ?, ?)",
            [case_id, title, kind, org, actor, now],
        )
        _record(
            store,
            decision,
            AuditEntry(
                principal=actor,
                organisation=org,
                role=role,
                action="cases.open",
                outcome="ok",
                case_id=case_id,
                detail={"title": title, "kind": kind},
            ),
        )
    return Case(case_id, title, "open", kind, org, actor, now)


def close_case(
    store: Store, case_id: str, *, actor: str = "", decision: ActDecision | None = None
) -> None:
    """Close a case of ``actor``'s organisation (``decision``: the act ``cases.close``
    permitted to them): no read can use it afterwards."""
    ensure(store)
    actor = decision.actor if decision is not None else actor
    org, role = _actor(store, actor, decision)
    case = get_case(store, case_id)
    if case is None or case.org != org:
        raise CaseError(f"no case {case_id!r} in {org!r}")
    if actor != case.opened_by and role != "supervisor":
        # Closing ends the case's reads and releases what was withheld from subjects for
        # it: the one who opened it decides, or a supervisor of the organisation.
        why = f"only {case.opened_by!r} (who opened it) or a supervisor may close {case_id!r}"
        if decision is None:  # under a decision the gate audits the refusal
            with store.transaction():
                record(store, AuditEntry(
                    principal=actor, organisation=org, role=role, action="cases.close",
                    outcome="deny", case_id=case_id, detail={"reason": why},
                ))
        raise CaseRefused(why)
    if not case.is_open:
        raise CaseError(f"case {case_id!r} is already closed")
    with store.transaction():
        store.execute(
            "UPDATE cases SET status = 'closed', closed_by = ?, closed_at = ? WHERE case_id = ?",
            [actor, clock.now_naive(), case_id],
        )
        _record(
            store,
            decision,
            AuditEntry(
                principal=actor,
                organisation=org,
                role=role,
                action="cases.close",
                outcome="ok",
                case_id=case_id,
            ),
        )
