"""Cases: every read happens under an open case of the reader's organisation.

A case has *members* (``case_members``; the opener first): need-to-know. An
investigator reads, searches, matches and watches under a case only as one of its
members (the decision point computes ``context.case_member``; ``base.need_to_know``
forbids otherwise); supervisors of the organisation assign and reassign
(``cases.members``). Subjects with notes (``cases.material``), the case's activity
from the audit log (``cases.activity``) and what closing releases
(``cases.release``) are in their own modules.

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
from idgraph.store.registry import CaseRow, RegistryRepo

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
    members: tuple[str, ...] = ()  # current members, the opener first (need-to-know)

    @property
    def is_open(self) -> bool:
        return self.status == "open"


def ensure(store: Store) -> None:
    """Kept for callers of other packages: the tables are made by the store's migrations."""


def members_of(store: Store, case_id: str | None = None) -> dict[str, tuple[str, ...]]:
    """Current members of ``case_id`` (default: of every case), earliest first. A case
    with no membership row for its opener counts the opener (cases opened before members
    were kept); membership rows are ended (``removed_at``), never deleted."""
    return RegistryRepo(store).members(case_id)


def is_member(store: Store, case_id: str, actor: str) -> bool:
    """Whether ``actor`` is now a member of ``case_id`` (read from the tables)."""
    return actor in members_of(store, case_id).get(case_id, ())


def _case(row: CaseRow, members: tuple[str, ...]) -> Case:
    case_id, title, status, kind, org, opened_by, opened_at = row
    return Case(case_id, title, status, kind, org, opened_by, opened_at, members)


def get_case(store: Store, case_id: str) -> Case | None:
    row = RegistryRepo(store).case(case_id)
    if row is None:
        return None
    return _case(row, members_of(store, case_id).get(case_id, ()))


def list_cases(store: Store, *, org: str | None = None, status: str | None = None) -> list[Case]:
    rows = RegistryRepo(store).cases(org=org, status=status)
    members = members_of(store)
    return [_case(r, members.get(r[0], ())) for r in rows]


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
    problem = name_problem("case id", case_id)
    if problem:
        raise CaseError(problem)
    if kind not in KINDS:
        raise CaseError(f"unknown case kind {kind!r}; one of {', '.join(KINDS)}")
    now = clock.now_naive()
    actor = decision.actor if decision is not None else actor
    org, role = _actor(store, actor, decision)
    with store.transaction():
        store.lock("cases")  # workers sharing a PostgreSQL database queue here
        if get_case(store, case_id) is not None:
            raise CaseError(f"case {case_id!r} exists")
        RegistryRepo(store).insert_case(case_id, title=title, kind=kind, org=org, by=actor,
                                        at=now)
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
    return Case(case_id, title, "open", kind, org, actor, now, (actor,))


def close_case(
    store: Store, case_id: str, *, actor: str = "", decision: ActDecision | None = None
) -> None:
    """Close a case of ``actor``'s organisation (``decision``: the act ``cases.close``
    permitted to them): no read can use it afterwards."""
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
        store.lock("cases")  # closed once, though two workers close it at once
        again = get_case(store, case_id)
        if again is None or not again.is_open:
            raise CaseError(f"case {case_id!r} is already closed")
        RegistryRepo(store).close_case(case_id, by=actor, at=clock.now_naive())
        # what was withheld from subjects for this case is theirs now (cases/release.py)
        from idgraph.cases.release import flag_supplements

        flagged = flag_supplements(store, case)
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
                detail={"supplements_due": [s.sar_id for s in flagged]},
            ),
        )
