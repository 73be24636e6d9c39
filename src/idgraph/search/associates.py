"""Associates: identities that share an address, a phone or a vehicle with a subject.

Gated and audited like :func:`idgraph.policy.profile.read_profile`: decide first
(before any record is read), read only the purpose-scoped view, use and show only the
values each record's decision lets leave, audit the decisions and the response in one
transaction, create the notices the disclosing sources' duties require.

Two decisions are taken. The subject's records are read under a decision about the
subject (``identity_ids=[subject]``: legal process scoped to the subject counts). The
associates' records are read under a decision about nobody in particular
(``identity_ids=()``, as a search is decided): process naming the subject does not
reach other people, and who the associates are is only known after their records are
read. An associate's record must be in a segment both decisions permit, and a value
is evidence only when the field may leave under both (and under its own record's).

What "shared" means:

- an address: the same house number, street and ZIP (all three present);
- a phone: the same E.164 number; a vehicle: the same plate.

Dates. Numbers and addresses pass from one person to another over time, so a shared
value counts only when the two records could be of the same time. A record's span is
its booking (``booked_at`` to ``released_at``, or the booking day) when the decision
lets ``booked_at`` leave, else the day it was observed (``observed_at``, provenance);
two spans *overlap* when they come within :data:`OVERLAP_WINDOW` (one year) of each
other: a tenancy or a phone contract lasts months, and sources observe it at one
moment of it. A pair where either record carries no date counts (nothing says they are
of different times) and is marked ``dated=False``.

Associates are identities only: each associate's records must be in the associate's
own purpose-scoped view (the component :func:`idgraph.policy.view.cut` keeps), so an
associate is never found through a record its own profile would not show.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from idgraph import clock
from idgraph.audit import AuditEntry
from idgraph.policy.engine import (
    AccessDecision,
    allowed,
    audit_decision,
    decision_entries,
    response_entry,
)
from idgraph.policy.fields import NEVER
from idgraph.policy.notices import create_notices
from idgraph.policy.profile import AccessDenied, shown_ids
from idgraph.policy.registry import Registry
from idgraph.policy.view import accepted_edges, cut, member_rows, record_segment
from idgraph.schema import RECORD_COLUMNS, Query, segment_source
from idgraph.store import Store, records

OVERLAP_WINDOW: Final[timedelta] = timedelta(days=365)
ACTION: Final[str] = "associates.read"
Kind = Literal["address", "phone", "vehicle"]

_READ_COLUMNS: Final[list[str]] = [c for c in RECORD_COLUMNS if c not in NEVER]
# kind -> the fields a record must be allowed to disclose for its value to be evidence
_FIELDS: Final[dict[Kind, tuple[str, ...]]] = {
    "address": ("house_number", "street", "zip"),
    "phone": ("phone",),
    "vehicle": ("plate",),
}
_SEP: Final[str] = "\x1f"


@dataclass(frozen=True, slots=True)
class SharedEvidence:
    """One shared value: what it is, and the records (shown ids) on each side."""

    kind: Kind
    value: str
    subject_records: tuple[str, ...]
    associate_records: tuple[str, ...]
    dated: bool  # True: at least one pair of records was dated and overlapped

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "value": self.value,
            "subject_records": list(self.subject_records),
            "associate_records": list(self.associate_records),
            "dated": self.dated,
        }


@dataclass(frozen=True, slots=True)
class Associate:
    identity_id: str
    evidence: tuple[SharedEvidence, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "identity_id": self.identity_id,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass(frozen=True)
class AssociatesResult:
    identity_id: str
    query: Query
    associates: tuple[Associate, ...]
    withheld: tuple[str, ...] = ()  # segments not permitted (names only, never counts)
    notices: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "identity_id": self.identity_id,
            "purpose": self.query.purpose,
            "case_id": self.query.case_id,
            "associates": [a.to_dict() for a in self.associates],
            "withheld": list(self.withheld),
            "notices": list(self.notices),
        }


@dataclass(frozen=True, slots=True)
class _Span:
    start: datetime
    end: datetime

    def near(self, other: _Span, window: timedelta) -> bool:
        return self.start <= other.end + window and other.start <= self.end + window


def _naive(v: Any) -> datetime | None:
    if not isinstance(v, datetime):
        return None
    return v.astimezone(UTC).replace(tzinfo=None) if v.tzinfo else v


def _span(row: Mapping[str, Any], fields: Sequence[str]) -> _Span | None:
    """The time a record speaks of (see the module doc), None when undated."""
    booked = _naive(row.get("booked_at")) if "booked_at" in fields else None
    if booked is not None:
        released = _naive(row.get("released_at")) if "released_at" in fields else None
        return _Span(booked, released if released and released >= booked else booked)
    seen = _naive(row.get("observed_at"))
    return _Span(seen, seen) if seen is not None else None


def _key(kind: Kind, row: Mapping[str, Any]) -> str | None:
    """The shared value a record carries for ``kind`` (None: it carries none)."""
    values = [row.get(f) for f in _FIELDS[kind]]
    if any(v is None or v == "" for v in values):
        return None
    return _SEP.join(str(v) for v in values)


def _shown_value(key: str) -> str:
    return " ".join(key.split(_SEP))


@dataclass(frozen=True, slots=True)
class _Usable:
    """A record's usable values: (kind, key) pairs its decision lets it disclose."""

    row: dict[str, Any]
    segment: str
    keys: tuple[tuple[Kind, str], ...]
    span: _Span | None


def _usable(
    rows: Iterable[dict[str, Any]], decisions: Sequence[AccessDecision]
) -> list[_Usable]:
    out = []
    for row in rows:
        seg = record_segment(row)
        allowed_sets = [set(d.fields_for(seg)) for d in decisions]
        fields = set.intersection(*allowed_sets) if allowed_sets else set()
        keys: list[tuple[Kind, str]] = []
        for kind, needed in _FIELDS.items():
            key = _key(kind, row)
            if key is not None and fields.issuperset(needed):
                keys.append((kind, key))
        out.append(_Usable(row, seg, tuple(keys), _span(row, sorted(fields))))
    return out


def _visible(
    store: Store, identity_id: str, segments: Sequence[str]
) -> list[dict[str, Any]]:
    """The identity's records in its purpose-scoped view (the component ``cut`` keeps)."""
    members = member_rows(store, identity_id, segments, _READ_COLUMNS)
    ids = [r["record_id"] for r in members]
    keep = set(cut(identity_id, ids, accepted_edges(store, ids)).record_ids)
    return [r for r in members if r["record_id"] in keep]


def _matching_rows(
    store: Store, wanted: Mapping[Kind, set[str]], segments: Sequence[str], exclude: str
) -> dict[str, list[dict[str, Any]]]:
    """Current records of permitted sources carrying a wanted value, by identity (not
    ``exclude``). Cut to the segments' sources in SQL, to the segments after."""
    sources = sorted({segment_source(s) for s in segments})
    if not sources or not any(wanted.values()):
        return {}
    rows = records.records_sharing_values(
        store, exclude_identity=exclude, source_ids=sources,
        addresses=sorted(wanted.get("address", ())), phones=sorted(wanted.get("phone", ())),
        plates=sorted(wanted.get("vehicle", ())), columns=_READ_COLUMNS)
    allowed = set(segments)
    out: dict[str, list[dict[str, Any]]] = {}
    for identity_id, row in rows:
        if record_segment(row) in allowed:
            out.setdefault(identity_id, []).append(row)
    return out


@dataclass
class _Found:
    subject: set[str] = field(default_factory=set)
    associate: set[str] = field(default_factory=set)
    dated: bool = False


def _evidence(
    subject: Sequence[_Usable], theirs: Sequence[_Usable], window: timedelta
) -> dict[tuple[Kind, str], _Found]:
    """Shared (kind, value) -> the records on each side of qualifying pairs."""
    by_key: dict[tuple[Kind, str], list[_Usable]] = {}
    for u in subject:
        for k in u.keys:
            by_key.setdefault(k, []).append(u)
    found: dict[tuple[Kind, str], _Found] = {}
    for t in theirs:
        for k in t.keys:
            for s in by_key.get(k, ()):
                undated = s.span is None or t.span is None
                if s.span is not None and t.span is not None and not s.span.near(t.span, window):
                    continue
                f = found.setdefault(k, _Found())
                f.subject.add(str(s.row["record_id"]))
                f.associate.add(str(t.row["record_id"]))
                f.dated = f.dated or not undated
    return found


def _response_entry(
    decision: AccessDecision,
    identity_ids: Sequence[str],
    outcome: str,
    sources: Sequence[str],
    record_ids: Sequence[str],
    detail: dict[str, Any],
) -> AuditEntry:
    return response_entry(decision, ACTION, outcome, identity_ids=identity_ids,
                          sources=sources, record_ids=record_ids, detail=detail)


def _notices(
    store: Store,
    reg: Registry,
    decisions: Sequence[AccessDecision],
    disclosed: Mapping[str, set[str]],
) -> list[str]:
    """Notices owed for each identity whose records were disclosed (segments by identity):
    the duties of every rule that permitted the segment, under either decision."""
    query, user = decisions[0].query, decisions[0].principal
    at = (query.at or clock.now()).astimezone(UTC).replace(tzinfo=None)
    out: list[str] = []
    for identity_id, segments in sorted(disclosed.items()):
        duties = [
            (s, rule, duty)
            for s in sorted(segments)
            for rule in dict.fromkeys(
                r for d in decisions if s in d.decisions for r in d.decisions[s].rules
            )
            for duty in reg.policies.duties.get(rule, ())
        ]
        out += create_notices(
            store,
            identity_id=identity_id,
            org=user.org if user else "",
            principal=query.principal,
            case_id=query.case_id,
            duties=duties,
            at=at,
            jurisdictions=reg.policies.jurisdictions,
        )
    return out


def associates(
    store: Store,
    query: Query,
    identity_id: str,
    *,
    registry: Registry | None = None,
    window: timedelta = OVERLAP_WINDOW,
) -> AssociatesResult:
    """Identities sharing an address, phone or vehicle with ``identity_id`` (see module
    doc), as ``query`` may see them; audited as one act; raises AccessDenied."""
    reg = registry or Registry(store)
    decision = allowed(reg, query, identity_ids=[identity_id])
    if not decision.any_permitted:
        with store.transaction():
            audit_decision(
                store, decision, _response_entry(decision, [identity_id], "deny", (), (), {})
            )
        raise AccessDenied(decision.rules or ("default.deny",), decision.decisions)
    others = allowed(reg, query)  # about nobody named: how a search is decided
    both = tuple(s for s in decision.permitted if s in set(others.permitted))
    subject = _usable(_visible(store, identity_id, decision.permitted), [decision])
    wanted: dict[Kind, set[str]] = {}
    for u in subject:
        for kind, key in u.keys:
            wanted.setdefault(kind, set()).add(key)
    found: list[tuple[str, dict[tuple[Kind, str], _Found]]] = []
    theirs_all: dict[str, _Usable] = {}
    for aid, rows in sorted(_matching_rows(store, wanted, both, identity_id).items()):
        visible = {r["record_id"] for r in _visible(store, aid, both)}
        theirs = _usable([r for r in rows if r["record_id"] in visible], [decision, others])
        shared = _evidence(subject, theirs, window)
        if shared:
            found.append((aid, shared))
            theirs_all.update((str(t.row["record_id"]), t) for t in theirs)
    return _respond(store, reg, (decision, others), identity_id, subject, theirs_all, found)


def _shown(rows: Sequence[_Usable], decisions: Sequence[AccessDecision]) -> dict[str, str]:
    """Record ids shown as pseudonyms (``profile.shown_ids``): when any decision says so."""
    out: dict[str, str] = {}
    plain = [u.row for u in rows]
    segments = [u.segment for u in rows]
    for d in decisions:
        for rid, alias in shown_ids(plain, segments, d).items():
            out.setdefault(rid, alias)
    return out


def _respond(
    store: Store,
    reg: Registry,
    decisions: tuple[AccessDecision, AccessDecision],
    identity_id: str,
    subject: Sequence[_Usable],
    theirs: Mapping[str, _Usable],
    found: Sequence[tuple[str, dict[tuple[Kind, str], _Found]]],
) -> AssociatesResult:
    """Shown ids, then the audit entries and the notices in one transaction."""
    decision, others = decisions
    mine = {str(u.row["record_id"]): u for u in subject}
    used: dict[str, set[str]] = {}  # identity -> segments whose records were disclosed
    real: list[str] = []
    for aid, shared in found:
        for f in shared.values():
            for rid in sorted(f.subject):
                used.setdefault(identity_id, set()).add(mine[rid].segment)
                real.append(rid)
            for rid in sorted(f.associate):
                used.setdefault(aid, set()).add(theirs[rid].segment)
                real.append(rid)
    shown = {**_shown(subject, [decision]), **_shown(list(theirs.values()), [decision, others])}
    result = tuple(
        Associate(
            aid,
            tuple(
                SharedEvidence(
                    kind,
                    _shown_value(key),
                    tuple(sorted(shown.get(r, r) for r in f.subject)),
                    tuple(sorted(shown.get(r, r) for r in f.associate)),
                    f.dated,
                )
                for (kind, key), f in sorted(shared.items())
            ),
        )
        for aid, shared in sorted(found, key=lambda x: (-len(x[1]), x[0]))
    )
    ids = [identity_id, *(a.identity_id for a in result)]
    sources = sorted({s for segs in used.values() for s in segs})
    with store.transaction():
        notices = _notices(store, reg, decisions, used)
        detail = {
            "associates": [a.identity_id for a in result],
            "withheld": list(decision.denied),
            "notices": notices,
        }
        response = _response_entry(
            decision, ids, "ok", sources, list(dict.fromkeys(real)), detail
        )
        audit_decision(store, decision, *decision_entries(others), response)
    return AssociatesResult(identity_id, decision.query, result, decision.denied, tuple(notices))


