"""Who works a case: assigning, removing and reassigning members (need-to-know).

The act ``cases.assign`` (a supervisor; ``policies/acts.cedar``) is decided by Cedar in
``idgraph.app.cases``, which hands the decision in here; this module checks what only
the tables know: the case is the supervisor's organisation's and open, the member is an
active user of that organisation, and they are (or are not) a member already. Rows are
never deleted: removal ends a row (``removed_by``, ``removed_at``), so who could read
under a case on any day stays answerable. Every change is one audited transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from idgraph import clock
from idgraph.cases import Case, CaseError, CaseRefused, get_case, is_member, members_of
from idgraph.policy.users import get_user
from idgraph.store import Store
from idgraph.store.registry import RegistryRepo

if TYPE_CHECKING:
    from idgraph.policy.acts import ActDecision


@dataclass(frozen=True, slots=True)
class Membership:
    """One assignment of a member to a case (``removed_at`` set once it ended)."""

    case_id: str
    member: str
    added_by: str
    added_at: datetime
    removed_by: str | None
    removed_at: datetime | None

    @property
    def current(self) -> bool:
        return self.removed_at is None


def history(store: Store, case_id: str) -> list[Membership]:
    """Every assignment of ``case_id``, oldest first (the opener's implicit one included)."""
    return [Membership(*r) for r in RegistryRepo(store).membership_history(case_id)]


def _case_of(store: Store, case_id: str, decision: ActDecision) -> Case:
    """The open case ``case_id`` of the deciding supervisor's organisation."""
    case = get_case(store, case_id)
    if case is None or case.org != decision.user.org:
        # another organisation's case is not named back to the caller
        raise CaseRefused(f"no case {case_id!r} in {decision.user.org!r}")
    if not case.is_open:
        raise CaseError(f"case {case_id!r} is closed")
    return case


def _check_member(store: Store, case: Case, name: str) -> None:
    user = get_user(store, name)
    if user is None or user.org != case.org:
        raise CaseError(f"no user {name!r} in {case.org!r}")
    if not user.active:
        raise CaseError(f"user {name!r} is disabled")


def _add(store: Store, case_id: str, name: str, actor: str, now: datetime) -> None:
    RegistryRepo(store).add_member(case_id, name, by=actor, at=now)


def _remove(store: Store, case: Case, name: str, actor: str, now: datetime) -> None:
    repo = RegistryRepo(store)
    if not repo.has_member_row(case.case_id, name):
        # the opener's implicit membership becomes a row, ended now
        _add(store, case.case_id, name, case.opened_by, case.opened_at)
    repo.end_membership(case.case_id, name, by=actor, at=now)


def change(
    store: Store, case_id: str, *, add: tuple[str, ...] = (), remove: tuple[str, ...] = (),
    decision: ActDecision,
) -> tuple[str, ...]:
    """Add ``add`` and remove ``remove`` from ``case_id``'s members in one transaction
    (a reassignment is both); returns the members after. A case keeps one member at
    least: nobody could otherwise work it but supervisors."""
    if not add and not remove:
        raise CaseError("name a member to assign or remove")
    if set(add) & set(remove):
        raise CaseError("a member cannot be assigned and removed at once")
    case = _case_of(store, case_id, decision)
    for name in add:
        _check_member(store, case, name)
        if is_member(store, case_id, name):
            raise CaseError(f"{name!r} is already a member of {case_id!r}")
    for name in remove:
        if not is_member(store, case_id, name):
            raise CaseError(f"{name!r} is not a member of {case_id!r}")
    after = tuple(m for m in case.members if m not in remove) + tuple(add)
    if not after:
        raise CaseError(f"case {case_id!r} needs a member: assign someone before removing "
                        f"{', '.join(remove)}")
    now = clock.now_naive()
    with store.transaction():
        # workers sharing a PostgreSQL database queue here; what was checked above is
        # checked again under the lock, before anything is written
        store.lock("cases")
        if tuple(m for m in members_of(store, case_id).get(case_id, ())) != case.members:
            raise CaseError(f"the members of {case_id!r} changed meanwhile: try again")
        for name in remove:
            _remove(store, case, name, decision.actor, now)
        for name in add:
            _add(store, case_id, name, decision.actor, now)
    return after


__all__ = ["Membership", "change", "history"]
