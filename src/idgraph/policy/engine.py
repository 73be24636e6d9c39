"""The one decision point: :func:`allowed` decides, per source, whether a query may
read it, which rules decided, which duties follow and which fields may leave.

Cedar evaluates three actions per source in one batch: ``read`` (may the source be
used at all), ``read_full`` (more than identifying fields) and ``read_restricted``
(highly restricted fields). Deny by default, forbid wins. A Cedar evaluation error
denies (fail closed). Identical (principal, context, source) inputs are answered
from a per-registry cache, since the policy set is immutable for a registry.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import cedarpy

from idgraph.audit import AuditEntry, record_many
from idgraph.policy.fields import allowed_fields
from idgraph.policy.legal import NO_BASIS
from idgraph.policy.registry import Registry
from idgraph.policy.users import User
from idgraph.schema import Decision, Query, today
from idgraph.store import Store

_ACTIONS: Final[tuple[str, ...]] = ("read", "read_full", "read_restricted")
_CACHE_MAX: Final[int] = 16_384
DEFAULT_DENY: Final[str] = "default.deny"
POLICY_ERROR: Final[str] = "policy.error"
UNREGISTERED_SOURCE: Final[str] = "source.unregistered"


@dataclass(frozen=True)
class AccessDecision:
    """The outcome of :func:`allowed`: one :class:`Decision` per source asked about."""

    query: Query
    principal: User | None
    decisions: dict[str, Decision]
    identity_ids: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()

    @property
    def permitted(self) -> tuple[str, ...]:
        return tuple(s for s, d in self.decisions.items() if d.permit)

    @property
    def denied(self) -> tuple[str, ...]:
        return tuple(s for s, d in self.decisions.items() if not d.permit)

    @property
    def any_permitted(self) -> bool:
        return any(d.permit for d in self.decisions.values())

    def fields_for(self, source_id: str) -> tuple[str, ...]:
        """Fields that may leave for ``source_id``; none if it is not permitted."""
        d = self.decisions.get(source_id)
        return () if d is None or not d.permit or d.fields is None else d.fields

    @property
    def rules(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for d in self.decisions.values():
            seen.update(dict.fromkeys(d.rules))
        return tuple(seen)


def _principal_entity(query: Query, user: User | None) -> tuple[str, dict[str, Any]]:
    attrs = {
        "role": user.role if user else "none",
        "org": user.org if user else "",
        "org_type": user.org_type if user else "none",
        "active": bool(user and user.active),
    }
    return json.dumps(attrs, sort_keys=True), {
        "uid": {"type": "User", "id": query.principal},
        "attrs": attrs,
        "parents": [],
    }


def _context(
    reg: Registry, query: Query, user: User | None, filters: Sequence[str]
) -> dict[str, Any]:
    case = reg.cases.get(query.case_id) if query.case_id else None
    return {
        "purpose": query.purpose,
        "purpose_known": reg.catalogue.purpose(query.purpose) is not None,
        "claims": sorted(set(query.claims)),
        "claims_known": not reg.catalogue.unknown_codes(query.claims),
        "case_open": bool(case and case.is_open and user and case.org == user.org),
        "basis_registered": query.basis is None or query.basis in reg.legal,
        "filters": sorted({f.strip().lower() for f in filters}),
    }


def _legal_for(reg: Registry, query: Query, source_id: str, identity_ids: Sequence[str]) -> str:
    doc = reg.legal.get(query.basis) if query.basis else None
    on = query.at.date() if query.at else today()
    if doc is not None and doc.covers(source_id, identity_ids, query.case_id, on):
        return json.dumps(doc.cedar(), sort_keys=True)
    return json.dumps(NO_BASIS, sort_keys=True)


def _ids(result: cedarpy.AuthzResult) -> tuple[str, ...]:
    ann = result.diagnostics.id_annotations_by_reason
    return tuple(sorted(ann.get(r, r) for r in result.diagnostics.reasons))


def _decide_source(
    reg: Registry,
    results: Sequence[cedarpy.AuthzResult],
    source_id: str,
    purpose_fields: tuple[str, ...] | None,
) -> Decision:
    read, full, restricted = results
    if any(r.diagnostics.errors for r in results):
        return Decision(source_id=source_id, permit=False, rules=(POLICY_ERROR,))
    if not read.allowed:
        return Decision(source_id=source_id, permit=False, rules=_ids(read) or (DEFAULT_DENY,))
    rules = list(_ids(read))
    for r in (full, restricted):
        if not r.allowed:  # the forbids that cut fields are part of why
            rules += [i for i in _ids(r) if i not in rules]
    duties = tuple(d for rid in _ids(read) for d in reg.policies.duties.get(rid, ()))
    fields = allowed_fields(full.allowed, restricted.allowed, purpose_fields)
    return Decision(
        source_id=source_id, permit=True, rules=tuple(rules), duties=duties, fields=fields
    )


def _evaluate(
    reg: Registry,
    query: Query,
    user: User | None,
    keys: list[tuple[str, str, str]],
    ctx: dict[str, Any],
) -> None:
    """Fill ``reg.decision_cache`` for every key not yet in it, in one Cedar batch."""
    missing = [k for k in dict.fromkeys(keys) if k not in reg.decision_cache]
    if not missing:
        return
    _, principal = _principal_entity(query, user)
    entities = reg.entities.with_added_json_str(json.dumps([principal]))
    uid = {"type": "User", "id": query.principal}
    requests = [
        {
            "principal": uid,
            "action": {"type": "Action", "id": a},
            "resource": {"type": "Source", "id": sid},
            "context": {**ctx, "legal": json.loads(legal)},
        }
        for _, legal, sid in missing
        for a in _ACTIONS
    ]
    results = cedarpy.is_authorized_batch(requests, reg.policies.policy_set, entities)
    if len(reg.decision_cache) > _CACHE_MAX:
        reg.decision_cache.clear()
    purpose = reg.catalogue.purpose(query.purpose)
    pfields = purpose.fields if purpose else None
    for i, key in enumerate(missing):
        reg.decision_cache[key] = _decide_source(reg, results[3 * i : 3 * i + 3], key[2], pfields)


def allowed(
    where: Registry | Store,
    query: Query,
    sources: Iterable[str] | None = None,
    *,
    identity_ids: Sequence[str] = (),
    filters: Sequence[str] = (),
) -> AccessDecision:
    """Decide ``query`` for each of ``sources`` (default: every registered source).

    ``identity_ids`` are the identities the read is about (legal-process scope);
    ``filters`` are the attributes the query searches or filters by. Pure: the
    caller audits the decision with :func:`audit_decision` in the act's transaction.
    """
    reg = where if isinstance(where, Registry) else Registry(where)
    user = reg.users.get(query.principal)
    wanted = list(reg.sources) if sources is None else list(dict.fromkeys(sources))
    ctx = _context(reg, query, user, filters)
    pkey, _ = _principal_entity(query, user)
    # The principal's id is part of the key: a deployment policy may name a user.
    base = json.dumps([query.principal, pkey, ctx], sort_keys=True)
    keys = {
        sid: (base, _legal_for(reg, query, sid, identity_ids), sid)
        for sid in wanted
        if sid in reg.sources
    }
    _evaluate(reg, query, user, list(keys.values()), ctx)
    decisions = {
        sid: reg.decision_cache[keys[sid]]
        if sid in keys
        else Decision(source_id=sid, permit=False, rules=(UNREGISTERED_SOURCE,))
        for sid in wanted
    }
    return AccessDecision(query, user, decisions, tuple(identity_ids), tuple(filters))


def decision_entries(decision: AccessDecision) -> list[AuditEntry]:
    """One audit entry per source decided (permit or deny, rules, duties, fields)."""
    q, user = decision.query, decision.principal
    return [
        AuditEntry(
            principal=q.principal,
            organisation=user.org if user else None,
            role=user.role if user else None,
            action="policy.decide",
            outcome="permit" if d.permit else "deny",
            purpose=q.purpose,
            claims=q.claims,
            basis=q.basis,
            case_id=q.case_id,
            sources=(sid,),
            rules=d.rules,
            identity_ids=decision.identity_ids,
            detail={
                "duties": list(d.duties),
                "fields": list(d.fields or ()),
                "filters": list(decision.filters),
            },
        )
        for sid, d in decision.decisions.items()
    ]


def audit_decision(store: Store, decision: AccessDecision, *extra: AuditEntry) -> list[int]:
    """Append the decision's entries (and ``extra``, e.g. the response) in one batch."""
    return list(record_many(store, [*decision_entries(decision), *extra]))


def decide(
    store: Store,
    query: Query,
    sources: Iterable[str] | None = None,
    *,
    registry: Registry | None = None,
    identity_ids: Sequence[str] = (),
    filters: Sequence[str] = (),
) -> AccessDecision:
    """:func:`allowed` plus its audit entries: what other read paths call."""
    reg = registry or Registry(store)
    decision = allowed(reg, query, sources, identity_ids=identity_ids, filters=filters)
    audit_decision(store, decision)
    return decision
