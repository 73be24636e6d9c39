"""Correction notices: who received an identity that a later merge or split changed.

For each ``merged`` or ``split`` event in ``identity_lineage``, the affected ids are
the event's identity and its related ids. Every disclosure naming one of them made
*before* the event went to a recipient who now holds a wrong picture (two people as
one, or one person as two). One :class:`Correction` per (event, recipient).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from idgraph.audit.reports.common import (
    DISCLOSURE_ACTIONS,
    Decided,
    Logged,
    audit_report,
    iso,
    load_entries,
    now,
    producer,
    utc,
)
from idgraph.store import Store
from idgraph.store.graph import graph

EVENTS = ("merged", "split")


@dataclass(frozen=True)
class Correction:
    event_at: str | None
    run_id: str | None
    event: str
    identity_id: str
    related: list[str]
    recipient_org: str | None
    recipient: str
    recipient_role: str | None
    disclosed_ids: list[str]
    disclosures: list[int]
    first_disclosed: str
    last_disclosed: str


def corrections(
    store: Store,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    entries: Sequence[Logged] | None = None,
) -> list[Correction]:
    """Recipients owed a correction for merge/split events at ``since <= at < until``."""
    rows = graph(store).lineage_events(EVENTS)
    lo = utc(since) if since else None
    hi = utc(until) if until else None
    events = [
        (utc(r.at), r)
        for r in rows
        if r.at is not None and (lo is None or utc(r.at) >= lo) and (hi is None or utc(r.at) < hi)
    ]
    if not events:
        return []
    logged = entries if entries is not None else load_entries(store, DISCLOSURE_ACTIONS, "ok")
    out: list[Correction] = []
    for at_utc, (_, run_id, event, identity_id, related) in events:
        affected = {identity_id, *related}
        by_recipient: dict[tuple[str | None, str, str | None], list[Logged]] = {}
        for item in logged:
            e = item.entry
            if e.time < at_utc and affected.intersection(e.identity_ids):
                key = (e.organisation, e.principal, e.role)
                by_recipient.setdefault(key, []).append(item)
        for (org, who, role), items in by_recipient.items():
            named = {i for it in items for i in it.entry.identity_ids if i in affected}
            out.append(
                Correction(
                    event_at=iso(at_utc),
                    run_id=run_id,
                    event=event,
                    identity_id=identity_id,
                    related=sorted(related or ()),
                    recipient_org=org,
                    recipient=who,
                    recipient_role=role,
                    disclosed_ids=sorted(named),
                    disclosures=[it.index for it in items],
                    first_disclosed=iso(items[0].entry.time) or "",
                    last_disclosed=iso(items[-1].entry.time) or "",
                )
            )
    out.sort(key=lambda c: (c.event_at or "", c.identity_id, c.recipient_org or "", c.recipient))
    return out


@dataclass(frozen=True)
class CorrectionsReport:
    since: str | None
    generated_at: str
    generated_by: str
    report_entry: int
    corrections: list[Correction]


def corrections_report(
    store: Store, *, actor: str = "", since: datetime | None = None,
    at: datetime | None = None, decision: Decided | None = None,
) -> CorrectionsReport:
    """:func:`corrections` as a report (``decision``: the act ``report.corrections``
    permitted to its actor, by Cedar: records officers and overseers); audited."""
    when = utc(at) if at is not None else now()
    detail = {"since": iso(since)}
    if decision is not None:
        actor = decision.actor
    user = producer(store, actor, decision, "report.corrections", when, detail)
    found = corrections(store, since)
    entry = audit_report(
        store, user, "report.corrections", when, {**detail, "corrections": len(found)},
        decision=decision,
    )
    return CorrectionsReport(iso(since), iso(when) or "", user.name, entry, found)
