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
from idgraph.cases import Case, CaseError, CaseRefused, ensure, get_case, is_member
from idgraph.policy.users import get_user
from idgraph.store import Store

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
    ensure(store)
    rows = store.fetchall(
        "SELECT case_id, member, added_by, added_at, removed_by, removed_at FROM case_members "
        "WHERE case_id = ? UNION ALL SELECT c.case_id, c.opened_by, c.opened_by, c.opened_at, "
        "NULL, NULL FROM cases c WHERE c.case_id = ? AND c.opened_by IS NOT NULL AND NOT "
        "EXISTS (SELECT 1 FROM case_members m WHERE m.case_id = c.case_id "
        "AND m.member = c.opened_by) ORDER BY 4, 2",
        [case_id, case_id],
    )
    return [Membership(*r) for r in rows]


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
    store.execute(
        "INSERT INTO case_members (case_id, member, added_by, added_at) VALUES (?, ?, ?, ?)",
        [case_id, name, actor, now],
    )


def _remove(store: Store, case: Case, name: str, actor: str, now: datetime) -> None:
    if not store.fetchone(
        "SELECT 1 FROM case_members WHERE case_id = ? AND member = ?", [case.case_id, name]
    ):  # the opener's implicit membership becomes a row, ended now
        _add(store, case.case_id, name, case.opened_by, case.opened_at)
    store.execute(
        "UPDATE case_members SET removed_by = ?, removed_at = ? "
        "WHERE case_id = ? AND member = ? AND removed_at IS NULL",
        [actor, now, case.case_id, name],
    )


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
        for name in remove:
            _remove(store, case, name, decision.actor, now)
        for name in add:
            _add(store, case_id, name, decision.actor, now)
    return after


__all__ = ["Membership", "change", "history"]
