"""Cases: every read happens under an open case of the reader's organisation.

The ``cases`` table holds case id, title, status (open|closed), kind, owning
organisation, who opened it and when. Opening and closing are audited. The kind
enters every decision (``context.case_kind``): each purpose of the catalogue is
allowed only under the case kinds that fit it (``case_kinds`` in catalogue.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from idgraph import clock
from idgraph.audit import AuditEntry, record
from idgraph.policy.names import name_problem
from idgraph.policy.users import get_user
from idgraph.store import Store

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


CASE_ROLES: Final[tuple[str, ...]] = ("investigator", "supervisor", "records_officer", "overseer")


def _actor(store: Store, actor: str, action: str, case_id: str) -> tuple[str, str]:
    """The actor's organisation and role; a refusal is audited (``action``, deny)."""
    user = get_user(store, actor)
    if user is not None and user.active and user.role in CASE_ROLES:
        return user.org, user.role
    why = (f"unknown or disabled user {actor!r}" if user is None or not user.active
           else f"role {user.role!r} may not open or close cases")
    with store.transaction():
        record(store, AuditEntry(
            principal=actor, organisation=user.org if user else None,
            role=user.role if user else None, action=action, outcome="deny",
            case_id=case_id, detail={"reason": why},
        ))
    raise CaseRefused(why)


def open_case(store: Store, case_id: str, *, title: str, kind: str, actor: str) -> Case:
    """Open a case owned by ``actor``'s organisation."""
    ensure(store)
    problem = name_problem("case id", case_id)
    if problem:
        raise CaseError(problem)
    if kind not in KINDS:
        raise CaseError(f"unknown case kind {kind!r}; one of {', '.join(KINDS)}")
    now = clock.now_naive()
    org, role = _actor(store, actor, "cases.open", case_id)
    with store.transaction():
        if get_case(store, case_id) is not None:
            raise CaseError(f"case {case_id!r} exists")
        store.execute(
            f"INSERT INTO cases ({_COLS}) VALUES (?, ?, 'open', ?, ?, ?, ?)",
            [case_id, title, kind, org, actor, now],
        )
        record(
            store,
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


def close_case(store: Store, case_id: str, *, actor: str) -> None:
    """Close a case of ``actor``'s organisation: no read can use it afterwards."""
    ensure(store)
    org, role = _actor(store, actor, "cases.close", case_id)
    case = get_case(store, case_id)
    if case is None or case.org != org:
        raise CaseError(f"no case {case_id!r} in {org!r}")
    if actor != case.opened_by and role != "supervisor":
        # Closing ends the case's reads and releases what was withheld from subjects for
        # it: the one who opened it decides, or a supervisor of the organisation.
        why = f"only {case.opened_by!r} (who opened it) or a supervisor may close {case_id!r}"
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
        record(
            store,
            AuditEntry(
                principal=actor,
                organisation=org,
                role=role,
                action="cases.close",
                outcome="ok",
                case_id=case_id,
            ),
        )
