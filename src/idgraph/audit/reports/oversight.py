"""The oversight report over a window of days: who read what, under what, and oddities.

Reads (disclosures) by purpose, organisation, user, source and day; denials with the
rules that decided; legal process used or expired; notices due, sent and overdue;
patterns worth a look (:mod:`.patterns`) and correction notices owed
(:mod:`.corrections`). The window is ``[from 00:00 UTC, to + 1 day 00:00 UTC)``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from idgraph.audit.reports.common import (
    DISCLOSURE_ACTIONS,
    Decided,
    Logged,
    NoticeRow,
    audit_report,
    iso,
    load_entries,
    load_notices,
    now,
    producer,
    utc,
)
from idgraph.audit.reports.corrections import Correction, corrections
from idgraph.audit.reports.patterns import Pattern, Thresholds, find_patterns
from idgraph.policy.legal import LegalProcess, list_legal
from idgraph.store import Store

DECIDE: Final[str] = "policy.decide"


@dataclass(frozen=True)
class Count:
    key: str
    count: int


@dataclass(frozen=True)
class UserReads:
    principal: str
    organisation: str | None
    role: str | None
    reads: int
    denied: int
    identities: int
    purposes: list[Count]


@dataclass(frozen=True)
class DenialRule:
    rule: str
    source_decisions: int
    requests: int
    indexes: list[int]


@dataclass(frozen=True)
class DeniedRequest:
    index: int
    time: str
    principal: str
    organisation: str | None
    purpose: str | None
    case_id: str | None
    identity_ids: list[str]
    rules: list[str]


@dataclass(frozen=True)
class LegalUse:
    legal_id: str
    type: str
    number: str
    court: str | None
    issued: str | None
    expires: str | None
    case_id: str | None
    status: str  # in force | expired | expired in window | not yet in force
    reads: int
    indexes: list[int]


@dataclass(frozen=True)
class OversightReport:
    window_from: str
    window_to: str
    generated_at: str
    generated_by: str
    report_entry: int
    thresholds: Thresholds
    totals: dict[str, int]
    reads_by_day: list[Count]
    reads_by_purpose: list[Count]
    reads_by_organisation: list[Count]
    reads_by_source: list[Count]
    users: list[UserReads]
    denials: list[DenialRule]
    denied_requests: list[DeniedRequest]
    legal: list[LegalUse]
    notices: list[NoticeRow]
    patterns: list[Pattern]
    corrections: list[Correction]
    notes: list[str] = field(default_factory=list)


def _counts(keys: Iterable[str]) -> list[Count]:
    c = Counter(keys)
    return [Count(k, n) for k, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))]


def _per_day(reads: Sequence[Logged], start: date, end: date) -> list[Count]:
    c = Counter(r.entry.time.date().isoformat() for r in reads)
    days = (end - start).days + 1
    names = [(start + timedelta(days=i)).isoformat() for i in range(days)]
    return [Count(d, c.get(d, 0)) for d in names]


def _users(reads: Sequence[Logged], denied: Sequence[Logged]) -> list[UserReads]:
    who: dict[str, list[Logged]] = {}
    for r in reads:
        who.setdefault(r.entry.principal, []).append(r)
    refused = Counter(d.entry.principal for d in denied)
    for name in refused:
        who.setdefault(name, [])
    latest = {d.entry.principal: d.entry for d in denied}
    latest.update({r.entry.principal: r.entry for r in reads})
    out = []
    for name in sorted(who):
        items = who[name]
        last = latest[name]
        out.append(
            UserReads(
                principal=name,
                organisation=last.organisation,
                role=last.role,
                reads=len(items),
                denied=refused.get(name, 0),
                identities=len({i for r in items for i in r.entry.identity_ids}),
                purposes=_counts(r.entry.purpose or "(none)" for r in items),
            )
        )
    return out


def _denials(decides: Sequence[Logged], denied: Sequence[Logged]) -> list[DenialRule]:
    rules: dict[str, tuple[Counter[str], list[int]]] = {}
    for kind, items in (("source", decides), ("request", denied)):
        for item in items:
            for rule in item.entry.rules or ("default.deny",):
                counter, ix = rules.setdefault(rule, (Counter(), []))
                counter[kind] += 1
                ix.append(item.index)
    return [
        DenialRule(rule, c["source"], c["request"], sorted(set(ix)))
        for rule, (c, ix) in sorted(rules.items(), key=lambda kv: (-kv[1][0].total(), kv[0]))
    ]


def _legal_status(doc: LegalProcess, start: date, end: date) -> str:
    if doc.issued > end:
        return "not yet in force"
    if doc.expires is None or doc.expires >= end:
        return "in force"
    return "expired in window" if doc.expires >= start else "expired"


def _legal(
    docs: Sequence[LegalProcess], reads: Sequence[Logged], start: date, end: date
) -> list[LegalUse]:
    used: dict[str, list[int]] = {}
    for r in reads:
        if r.entry.basis:
            used.setdefault(r.entry.basis, []).append(r.index)
    out = []
    for doc in sorted(docs, key=lambda d: d.legal_id):
        status = _legal_status(doc, start, end)
        if doc.legal_id not in used and status != "expired in window":
            continue
        ix = used.get(doc.legal_id, [])
        out.append(
            LegalUse(
                doc.legal_id,
                doc.type,
                doc.number,
                doc.court,
                iso(doc.issued),
                iso(doc.expires),
                doc.case_id,
                status,
                len(ix),
                ix,
            )
        )
    return out


def _notices(rows: Sequence[NoticeRow], start: date, end: date) -> list[NoticeRow]:
    lo, hi = start.isoformat(), end.isoformat()

    def relevant(n: NoticeRow) -> bool:
        due = n.due_date or ""
        sent = (n.sent_at or "")[:10]
        return lo <= due <= hi or (bool(sent) and lo <= sent <= hi) or n.status == "overdue"

    return [n for n in rows if relevant(n)]


def oversight_report(
    store: Store,
    *,
    start: date,
    end: date,
    actor: str = "",
    thresholds: Thresholds | None = None,
    at: datetime | None = None,
    decision: Decided | None = None,
) -> OversightReport:
    """The oversight report for days ``start`` to ``end`` (inclusive); audited
    (``decision``: the act ``report.oversight`` permitted to its actor, by Cedar)."""
    if end < start:
        raise ValueError("the window ends before it starts")
    t = thresholds or Thresholds()
    when = utc(at) if at is not None else now()
    window = {"from": start.isoformat(), "to": end.isoformat()}
    if decision is not None:
        actor = decision.actor
    user = producer(store, actor, decision, "report.oversight", when, window)
    lo = datetime.combine(start, time(), tzinfo=UTC)
    hi = datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC)

    def inside(items: Sequence[Logged]) -> list[Logged]:
        return [i for i in items if lo <= i.entry.time < hi]

    reads = inside(load_entries(store, DISCLOSURE_ACTIONS, "ok"))
    denied = inside(load_entries(store, DISCLOSURE_ACTIONS, "deny"))
    decides = inside(load_entries(store, [DECIDE], "deny"))
    docs = list_legal(store)
    legal_map = {d.legal_id: d for d in docs}
    patterns = find_patterns(reads, lo, hi, t, legal_map)
    fixes = corrections(store, lo, hi)
    notices = _notices(load_notices(store, end), start, end)
    lo_day, hi_day = start.isoformat(), end.isoformat()
    totals = {
        "reads": len(reads),
        "denied_requests": len(denied),
        "denied_source_decisions": len(decides),
        "users": len({r.entry.principal for r in reads}),
        "identities": len({i for r in reads for i in r.entry.identity_ids}),
        "reads_without_case": sum(1 for r in reads if not r.entry.case_id),
        "notices_due": sum(1 for n in notices if lo_day <= (n.due_date or "") <= hi_day),
        "notices_sent": sum(1 for n in notices if n.sent_at),
        "notices_overdue": sum(1 for n in notices if n.status == "overdue"),
        "patterns": len(patterns),
        "corrections": len(fixes),
    }
    entry = audit_report(store, user, "report.oversight", when, {**window, **totals},
                         decision=decision)
    return OversightReport(
        window_from=start.isoformat(),
        window_to=end.isoformat(),
        generated_at=iso(when) or "",
        generated_by=user.name,
        report_entry=entry,
        thresholds=t,
        totals=totals,
        reads_by_day=_per_day(reads, start, end),
        reads_by_purpose=_counts(r.entry.purpose or "(none)" for r in reads),
        reads_by_organisation=_counts(r.entry.organisation or "(none)" for r in reads),
        reads_by_source=_counts(s for r in reads for s in r.entry.sources),
        users=_users(reads, denied),
        denials=_denials(decides, denied),
        denied_requests=[
            DeniedRequest(
                d.index,
                iso(d.entry.time) or "",
                d.entry.principal,
                d.entry.organisation,
                d.entry.purpose,
                d.entry.case_id,
                sorted(d.entry.identity_ids),
                list(d.entry.rules),
            )
            for d in denied
        ],
        legal=_legal(docs, reads, start, end),
        notices=notices,
        patterns=patterns,
        corrections=fixes,
        notes=[
            "Notice status is as of the window's last day; 'sent' reflects the notices "
            "table when the report was made."
        ],
    )
