"""Subject-access requests: the only thing a ``subject_access`` read may answer.

A records officer registers a person's request to see what is held about them
(``open_sar``): the identity it concerns, a description of the requester (who they
said they were and how that was checked; synthetic in tests), the date it was
received and the open ``subject_access`` case of the officer's organisation it is
handled under. A read declared ``subject_access`` is allowed only for identities with
an open request under the query's case (the decision point computes
``context.subject_access_request``; ``base.subject_access_request`` forbids
otherwise). Opening, listing and closing are audited.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final

from idgraph import clock
from idgraph.audit import record
from idgraph.store import Store
from idgraph.store.graph import graph
from idgraph.store.registry import RegistryRepo, SarRow

if TYPE_CHECKING:
    from idgraph.policy.acts import ActDecision
    from idgraph.policy.registry import Registry

STATUSES: Final[tuple[str, ...]] = ("open", "closed")
CASE_KIND: Final[str] = "subject_access"

class SarError(ValueError):
    """A subject-access request operation that may not proceed."""


@dataclass(frozen=True, slots=True)
class SubjectAccessRequest:
    sar_id: str
    identity_id: str
    requester: str
    received: date
    case_id: str
    org: str
    opened_by: str
    opened_at: datetime
    status: str

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    def to_dict(self) -> dict[str, Any]:
        return {
            "sar_id": self.sar_id,
            "identity_id": self.identity_id,
            "requester": self.requester,
            "received": self.received.isoformat(),
            "case_id": self.case_id,
            "org": self.org,
            "opened_by": self.opened_by,
            "opened_at": self.opened_at.isoformat(),
            "status": self.status,
        }


def ensure(store: Store) -> None:
    """Kept for callers of other packages: the tables are made by the store's migrations."""


def get_sar(store: Store, sar_id: str) -> SubjectAccessRequest | None:
    row = RegistryRepo(store).sar(sar_id)
    return None if row is None else SubjectAccessRequest(*row)


def list_sars(
    store: Store, *, org: str | None = None, status: str | None = None
) -> list[SubjectAccessRequest]:
    """Requests, optionally of one organisation and one status, oldest first."""
    return [SubjectAccessRequest(*r) for r in RegistryRepo(store).sars(org=org, status=status)]


# Lineage events that can change who an identity id stands for (identity_lineage,
# link/ids.py): records of another cluster merged in (or the identity merged away),
# retired, the id given to a split-off piece, or first given to a cluster (a request
# opened for an id no one had yet). See lineage_changed for which side counts.
RESHAPING: Final[tuple[str, ...]] = ("merged", "split", "retired", "new")


def lineage_changed(
    store: Store, wanted: Sequence[tuple[str, Sequence[str], datetime]]
) -> set[str]:
    """Keys of ``wanted`` (key, identity ids, since) any of whose identities, at or after
    ``since``, took in another's records (``merged``), was merged into another or
    retired, or was itself given to a split-off piece or a new cluster (``split``,
    ``new``): the id then stands for records it did not stand for."""
    ids = sorted({i for _, idents, _ in wanted for i in idents})
    if not ids:
        return set()
    rows = graph(store).lineage_events(RESHAPING, ids)
    out: set[str] = set()
    for key, idents, since in wanted:
        for row in rows:
            ident, event, related, at = row.identity_id, row.event, row.related, row.at
            # a piece split off an identity only takes records away from it: that
            # does not change whose the rest are (the subject report explains it)
            if at is not None and at >= since and (
                ident in idents
                or (event == "merged" and any(i in idents for i in related or ()))
            ):
                out.add(key)
                break
    return out


def reshaped(store: Store, sars: Sequence[SubjectAccessRequest]) -> set[str]:
    """Ids of the requests whose identity was merged with another, split, retired or first
    created after the request was opened.

    The requester's identity was checked against the identity as it was: after a merge
    (a ``judge ... same`` and a resolve, or a new model) the same id holds another
    person's records too, or has gone to another cluster. Such
    a request no longer answers a read; the records officer checks again and opens a
    new one. An id that named no identity when the request was opened (a typo; an id
    link/ids.py derives deterministically and a later run gives to whoever's records
    come first) answers no one either. An identity that only gained or lost records of
    its own ("kept", or a piece split off it) still answers: that is the data held about
    the person."""
    return lineage_changed(store, [(s.sar_id, (s.identity_id,), s.opened_at) for s in sars])


def answering(store: Store) -> list[SubjectAccessRequest]:
    """The open requests that still answer a read (see :func:`reshaped`)."""
    sars = list_sars(store, status="open")
    stale = reshaped(store, sars)
    return [s for s in sars if s.sar_id not in stale]


def answers(
    sars: Sequence[SubjectAccessRequest],
    org: str | None,
    case_id: str | None,
    identity_ids: Sequence[str],
) -> bool:
    """Whether every identity read has an open request of ``org`` under ``case_id``."""
    if org is None or case_id is None or not identity_ids:
        return False
    covered = {s.identity_id for s in sars if s.is_open and s.org == org and s.case_id == case_id}
    return all(i in covered for i in identity_ids)


class SarRefused(SarError):
    """An object-level refusal of an authorised act (audited as a deny; CLI exit 3)."""


def _refuse(store: Store, dec: ActDecision, reason: str, **fields: Any) -> SarRefused:
    with store.transaction():
        record(store, dec.entry(outcome="deny", detail={"reason": reason}, **fields))
    return SarRefused(reason)


def open_sar(
    store: Store,
    identity_id: str,
    *,
    case_id: str,
    requester: str,
    received: date,
    actor: str = "",
    registry: Registry | None = None,
    decision: ActDecision | None = None,
) -> SubjectAccessRequest:
    """Register a request (audited) under an open subject-access case of ``actor``'s org."""
    from idgraph.cases import get_case
    from idgraph.policy.acts import authorise_act  # acts imports the registry

    if not requester.strip():
        raise SarError("describe the requester (--requester)")
    if received > clock.today():
        raise SarError("a request cannot be received in the future")
    dec = decision or authorise_act(store, actor, "sar.open", registry=registry,
                                    target=identity_id, case_id=case_id)
    actor, org = dec.actor, dec.user.org
    case = get_case(store, case_id)
    if case is None or case.org != org:
        raise _refuse(store, dec, f"no case {case_id!r} in {org!r}", case_id=case_id)
    if not case.is_open or case.kind != CASE_KIND:
        raise _refuse(
            store, dec, f"case {case_id!r} is not an open {CASE_KIND} case", case_id=case_id
        )
    now = clock.now_naive()
    key = f"{org}\x1f{case_id}\x1f{identity_id}\x1f{now.isoformat()}"
    sar = SubjectAccessRequest(
        sar_id="SAR-" + hashlib.sha256(key.encode()).hexdigest()[:10],
        identity_id=identity_id,
        requester=requester.strip(),
        received=received,
        case_id=case_id,
        org=org,
        opened_by=actor,
        opened_at=now,
        status="open",
    )
    with store.transaction():
        RegistryRepo(store).insert_sar(SarRow(
            sar.sar_id, identity_id, sar.requester, received, case_id, org, actor, now, "open"))
        detail = {"sar_id": sar.sar_id, "received": received.isoformat()}
        record(store, dec.entry(detail=detail, case_id=case_id, identity_ids=(identity_id,)))
    return sar


def close_sar(
    store: Store, sar_id: str, *, actor: str = "", registry: Registry | None = None,
    decision: ActDecision | None = None,
) -> SubjectAccessRequest:
    """Close a request of ``actor``'s organisation (audited): reads under it end."""
    from idgraph.policy.acts import authorise_act

    # Closing needs the same standing as opening: a records officer of the organisation.
    dec = decision or authorise_act(store, actor, "sar.close", registry=registry, target=sar_id)
    actor = dec.actor
    sar = get_sar(store, sar_id)
    if sar is None or sar.org != dec.user.org:
        raise _refuse(store, dec, f"no request {sar_id!r} in {dec.user.org!r}")
    if not sar.is_open:
        raise _refuse(store, dec, f"{sar_id} is already closed", case_id=sar.case_id)
    with store.transaction():
        store.lock("sars")  # closed once, though two workers close it at once
        again = get_sar(store, sar_id)
        if again is None or not again.is_open:
            raise SarError(f"{sar_id} is already closed")
        RegistryRepo(store).close_sar(sar_id, by=actor, at=clock.now_naive())
        entry = dec.entry(
            detail={"sar_id": sar_id}, case_id=sar.case_id, identity_ids=(sar.identity_id,)
        )
        record(store, entry)
    return replace(sar, status="closed")


def read_sars(
    store: Store, *, actor: str = "", status: str | None = None,
    registry: Registry | None = None, decision: ActDecision | None = None,
) -> list[SubjectAccessRequest]:
    """The requests of ``actor``'s organisation (audited as ``sar.list``)."""
    from idgraph.policy.acts import authorise_act

    dec = decision or authorise_act(store, actor, "sar.list", registry=registry)
    items = list_sars(store, org=dec.user.org, status=status)
    with store.transaction():
        record(store, dec.entry(detail={"status": status, "count": len(items)}))
    return items
