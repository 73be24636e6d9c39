"""Human judgements on record pairs: append-only, who/when/why, latest wins.

``different`` is a cannot-link and ``same`` a must-link at the next resolve; both
survive re-runs and retraining because they live in their own table.

Judging is the act ``link.judge`` (supervisors and records officers), decided by Cedar
in ``idgraph.app.admin.judge``, which hands the decision in here: a judgement merges
or splits identities, and so moves records in or out of what an identity-scoped
warrant or a subject-access request covers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from idgraph.audit import AuditEntry, record
from idgraph.store import Store
from idgraph.store.graph import IdentityGraph


class Decided(Protocol):
    """A permitted act (``idgraph.policy.acts.ActDecision``): who, and its audit entry."""

    actor: str

    def entry(self, outcome: str = "ok", *, detail: dict[str, Any] | None = None,
              record_ids: tuple[str, ...] | list[str] = ()) -> AuditEntry: ...


class Verdict(StrEnum):
    SAME = "same"
    DIFFERENT = "different"
    UNSURE = "unsure"


@dataclass(frozen=True)
class Judgement:
    judgement_id: str
    record_id_l: str
    record_id_r: str
    verdict: Verdict
    by: str
    reason: str
    at: datetime


def judge(
    store: Store, a: str, b: str, verdict: Verdict | str, *, by: str = "", reason: str = "",
    decision: Decided | None = None,
) -> Judgement:
    """Record a judgement on the pair (a, b) and audit it, in one transaction
    (``decision``: the act ``link.judge`` permitted to its actor, who judges)."""
    if decision is not None:
        by = decision.actor
    v = Verdict(verdict)
    if a == b:
        raise ValueError("a judgement needs two different records")
    if not by.strip():
        raise ValueError("a judgement needs the name of who made it")
    graph = IdentityGraph(store)
    for rid in (a, b):
        if not graph.record_exists(rid):
            raise KeyError(f"unknown record: {rid}")
    j = Judgement(
        "J-" + uuid.uuid4().hex[:16], min(a, b), max(a, b), v, by, reason,
        datetime.now(UTC).replace(tzinfo=None),
    )
    with store.transaction():
        # (and the generation bumped: live linkers read the judgements again)
        graph.add_judgement(j.judgement_id, j.record_id_l, j.record_id_r, j.verdict.value,
                            by, reason, j.at)
        detail = {"reason": reason, "judgement_id": j.judgement_id}
        record(
            store,
            decision.entry(v.value, detail=detail, record_ids=(a, b)) if decision is not None
            else AuditEntry(principal=by, action="link.judge", outcome=v.value,
                            record_ids=(a, b), detail=detail),
        )
    return j


def latest_verdicts(store: Store) -> list[tuple[str, str, Verdict]]:
    """The latest verdict for every judged pair (pair ordered: lower id first)."""
    return [(a, b, Verdict(v)) for a, b, v in IdentityGraph(store).latest_verdicts()]
