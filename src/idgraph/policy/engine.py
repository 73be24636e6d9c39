"""The one decision point: :func:`allowed` decides, per source, whether a query may
read it, which rules decided, which duties follow and which fields may leave.

Cedar decides three actions per source: ``read`` (may the source be used at all),
``read_full`` (more than identifying fields) and ``read_restricted`` (highly restricted
fields). Deny by default, forbid wins. A Cedar evaluation error denies (fail closed).
The three answers of every source come from few Cedar requests (policy/plan.py: one
per segment with only the policies that can hold for it, one per query for those that
do not look at the source); a policy set the plan cannot take is asked three times per
source (:func:`_allowed_reference`, which the tests hold the plan to). Identical
(principal, context, source) inputs are answered from a per-registry cache, since the
policy set is immutable for a registry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import cedarpy

from idgraph import clock
from idgraph.audit import AuditEntry, record_many
from idgraph.policy.fields import allowed_fields, filter_name, refused_filters
from idgraph.policy.legal import NO_BASIS, LegalProcess
from idgraph.policy.plan import READ_ACTIONS, Heard, Outcome, Plan, ask
from idgraph.policy.registry import Registry
from idgraph.policy.sar import answers
from idgraph.policy.users import User
from idgraph.schema import Decision, Query
from idgraph.store import Store

_CACHE_MAX: Final[int] = 16_384
DEFAULT_DENY: Final[str] = "default.deny"
POLICY_ERROR: Final[str] = "policy.error"
UNREGISTERED_SOURCE: Final[str] = "source.unregistered"


@dataclass(frozen=True)
class AccessDecision:
    """The outcome of :func:`allowed`: one :class:`Decision` per segment asked about.

    Keys (and ``Decision.source_id``) are segment keys: ``src`` for a source's records of
    its own jurisdiction, ``src@US-CA`` for its records from California (see
    ``schema.segment_key``); ``permitted``, ``denied`` and ``fields_for`` are by segment.
    """

    query: Query
    principal: User | None
    decisions: dict[str, Decision]
    identity_ids: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()
    policy_set: str = ""  # digest of the policy set that decided (PolicyBundle.digest)

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
        "immigration_agency": bool(user and user.immigration_agency),
    }
    return json.dumps(attrs, sort_keys=True), {
        "uid": {"type": "User", "id": query.principal},
        "attrs": attrs,
        "parents": [],
    }


def _context(
    reg: Registry,
    query: Query,
    user: User | None,
    filters: Sequence[str],
    identity_ids: Sequence[str] = (),
) -> dict[str, Any]:
    """What every source's decision shares: purpose, claims, case, SAR, filters."""
    case = reg.cases.get(query.case_id) if query.case_id else None
    org = user.org if user else None
    case_open = bool(case and case.is_open and org is not None and case.org == org)
    case_kind = case.kind if case and case_open else "none"
    # need-to-know: the reader works the case (base.need_to_know reads it per role)
    case_member = bool(case and case_open and query.principal in case.members)
    basis = reg.legal.get(query.basis) if query.basis else None
    sar = query.purpose == "subject_access" and answers(
        reg.sars, org, query.case_id, identity_ids
    )
    return {
        "purpose": query.purpose,
        "purpose_known": reg.catalogue.purpose(query.purpose) is not None,
        "claims": sorted(set(query.claims)),
        "claims_known": not reg.catalogue.unknown_codes(query.claims),
        "case_open": case_open,
        "case_kind": case_kind,
        "case_kind_fits": reg.catalogue.fits(query.purpose, case_kind),
        "case_member": case_member,
        "purpose_org_type_fits": reg.catalogue.org_type_fits(
            query.purpose, user.org_type if user else "none"
        ),
        "subject_access_request": sar,
        # A named basis must be registered, and registered by the reader's organisation.
        "basis_registered": query.basis is None or (basis is not None and basis.org == org),
        "filters": sorted({filter_name(f) for f in filters}),
        "filters_allowed": not refused_filters(filters),
    }


_NO_BASIS_JSON: Final[str] = json.dumps(NO_BASIS, sort_keys=True)


@lru_cache(maxsize=256)
def _legal_json(doc: LegalProcess) -> str:
    return json.dumps(doc.cedar(), sort_keys=True)


def _legal_for(reg: Registry, query: Query, source_id: str, identity_ids: Sequence[str]) -> str:
    """``context.legal`` for one source: the basis if it counts for it, else NO_BASIS."""
    doc = reg.legal.get(query.basis) if query.basis else None
    if doc is None or query.basis in reg.legal_reshaped:
        return _NO_BASIS_JSON
    user = reg.users.get(query.principal)
    on = query.at.date() if query.at else clock.today()
    if doc.counts_for(user.org if user else None, source_id, identity_ids, query.case_id, on):
        return _legal_json(doc)
    return _NO_BASIS_JSON


def _ids(result: cedarpy.AuthzResult) -> tuple[str, ...]:
    ann = result.diagnostics.id_annotations_by_reason
    return tuple(sorted(ann.get(r, r) for r in result.diagnostics.reasons))


def _answer(result: cedarpy.AuthzResult) -> Outcome:
    return Outcome(result.allowed, _ids(result), bool(result.diagnostics.errors))


def _decide_source(
    reg: Registry,
    outcomes: Sequence[Outcome],
    source_id: str,
    purpose_fields: tuple[str, ...] | None,
) -> Decision:
    """One source's decision from Cedar's answers for read, read_full, read_restricted."""
    read, full, restricted = outcomes
    if any(o.error for o in outcomes):
        return Decision(source_id=source_id, permit=False, rules=(POLICY_ERROR,))
    if not read.allowed:
        return Decision(source_id=source_id, permit=False, rules=read.rules or (DEFAULT_DENY,))
    rules = list(read.rules)
    for o in (full, restricted):
        if not o.allowed:  # the forbids that cut fields are part of why
            rules += [i for i in o.rules if i not in rules]
    duties = tuple(d for rid in read.rules for d in reg.policies.duties.get(rid, ()))
    fields = allowed_fields(full.allowed, restricted.allowed, purpose_fields)
    return Decision(
        source_id=source_id, permit=True, rules=tuple(rules), duties=duties, fields=fields
    )


Key = tuple[str, str, str]  # (principal + context, legal basis as it counts, segment)
# Cedar's answers (read, read_full, read_restricted) for each key not yet decided
Evaluate = Callable[
    [Registry, dict[str, Any], dict[str, Any], list[Key], dict[str, Any]],
    dict[Key, Sequence[Outcome]],
]


def _three_requests(
    reg: Registry, principal: dict[str, Any], uid: dict[str, Any], missing: list[Key],
    ctx: dict[str, Any],
) -> dict[Key, Sequence[Outcome]]:
    """The reference: one Cedar request per segment and action, in one batch."""
    entities = reg.entities.with_added_json_str(json.dumps([principal]))
    requests = [
        {
            "principal": uid,
            "action": {"type": "Action", "id": a},
            "resource": {"type": "Source", "id": sid},
            "context": {**ctx, "legal": json.loads(legal)},
        }
        for _, legal, sid in missing
        for a in READ_ACTIONS
    ]
    results = cedarpy.is_authorized_batch(requests, reg.policies.policy_set, entities)
    return {
        key: [_answer(r) for r in results[3 * i : 3 * i + 3]] for i, key in enumerate(missing)
    }


def _planned(
    reg: Registry, principal: dict[str, Any], uid: dict[str, Any], missing: list[Key],
    ctx: dict[str, Any],
) -> dict[Key, Sequence[Outcome]]:
    """The plan (policy/plan.py): one request per legal basis for the policies that do not
    read the source, one per segment for those that can hold for it."""
    plan = reg.plan
    if plan is None:
        return _three_requests(reg, principal, uid, missing, ctx)
    entities = reg.entities_with(principal)
    contexts = {legal: {**ctx, "legal": json.loads(legal)} for _, legal, _ in missing}
    shared = _shared(plan, entities, uid, contexts, {legal: sid for _, legal, sid in missing})
    by_rules: dict[frozenset[str], list[Key]] = {}
    for key in missing:
        by_rules.setdefault(reg.segment_rules[key[2]], []).append(key)
    out: dict[Key, Sequence[Outcome]] = {}
    for pids, keys in by_rules.items():
        if not pids:
            out.update((k, plan.outcomes(shared[k[1]])) for k in keys)
            continue
        group = plan.group(pids)
        as_read = {legal: group.context(contexts[legal]) for legal in {k[1] for k in keys}}
        heard = ask(group, entities, uid, [(k[2], as_read[k[1]]) for k in keys])
        out.update((k, plan.outcomes(shared[k[1]] | h)) for k, h in zip(keys, heard, strict=True))
    return out


def _shared(
    plan: Plan, entities: cedarpy.Entities, uid: dict[str, Any],
    contexts: dict[str, dict[str, Any]], resource: dict[str, str],
) -> dict[str, Heard]:
    """Per legal basis, what the policies that do not read the source say: asked once
    per distinct context they read (the basis only if they read it)."""
    group = plan.shared
    as_read = {legal: group.context(ctx) for legal, ctx in contexts.items()}
    first = {c: legal for legal, c in reversed(as_read.items())}  # context -> a basis
    heard = dict(zip(first, ask(group, entities, uid,
                                [(resource[lg], c) for c, lg in first.items()]), strict=True))
    return {legal: heard[c] for legal, c in as_read.items()}


def _evaluate(
    reg: Registry,
    query: Query,
    keys: list[Key],
    ctx: dict[str, Any],
    cache: dict[Key, Decision],
    evaluate: Evaluate,
    principal: dict[str, Any],
) -> None:
    """Fill ``cache`` for every key not yet in it."""
    missing = [k for k in dict.fromkeys(keys) if k not in cache]
    if not missing:
        return
    answers = evaluate(reg, principal, {"type": "User", "id": query.principal}, missing, ctx)
    if len(cache) > _CACHE_MAX:
        cache.clear()
    purpose = reg.catalogue.purpose(query.purpose)
    pfields = purpose.fields if purpose else None
    for key in missing:
        cache[key] = _decide_source(reg, answers[key], key[2], pfields)


def _held(segment: Decision, holder: Decision) -> Decision:
    """A segment's decision joined with its holder's (the source's own segment): both
    must permit; rules and duties of both apply; only fields both let leave leave.

    A California DMV file's records whose origin column says ``NV`` or ``US`` are still
    California DMV records (Cal. Veh. Code § 12801.9(j) binds the department that holds
    them); a national compilation's California records are under California's rules and
    the compilation's own. Neither segment alone may decide them."""
    if not holder.permit:
        rules = tuple(dict.fromkeys([*holder.rules, *(() if segment.permit else segment.rules)]))
        return Decision(source_id=segment.source_id, permit=False, rules=rules)
    if not segment.permit:
        return segment
    if segment.fields is None or holder.fields is None:
        fields = segment.fields if holder.fields is None else holder.fields
    else:
        fields = tuple(f for f in segment.fields if f in set(holder.fields))
    return Decision(
        source_id=segment.source_id,
        permit=True,
        rules=tuple(dict.fromkeys([*segment.rules, *holder.rules])),
        duties=tuple(dict.fromkeys([*segment.duties, *holder.duties])),
        fields=fields,
    )


def _segments_asked(reg: Registry, sources: Iterable[str] | None) -> list[str]:
    """Segment keys to decide: a source id expands to every segment of the source."""
    if sources is None:
        return list(reg.segments)
    out: dict[str, None] = {}
    for s in sources:
        out.update(dict.fromkeys(reg.segments_of.get(s, (s,))))
    return list(out)


def allowed(
    where: Registry | Store,
    query: Query,
    sources: Iterable[str] | None = None,
    *,
    identity_ids: Sequence[str] = (),
    filters: Sequence[str] = (),
) -> AccessDecision:
    """Decide ``query`` for each segment of ``sources`` (default: every segment).

    Decisions are per *segment* (see ``schema.segment_key``): ``src`` for the records
    of the source's own jurisdiction, ``src@US-CA`` for its records from California.
    A source id in ``sources`` stands for all its segments; a segment key for itself.
    ``identity_ids`` are the identities the read is about (legal-process scope);
    ``filters`` are the attributes the query searches or filters by. Pure: the
    caller audits the decision with :func:`audit_decision` in the act's transaction.
    """
    reg = where if isinstance(where, Registry) else Registry(where)
    return _decide(reg, query, sources, identity_ids, filters, reg.decision_cache, _planned)


def _allowed_reference(
    reg: Registry,
    query: Query,
    sources: Iterable[str] | None = None,
    *,
    identity_ids: Sequence[str] = (),
    filters: Sequence[str] = (),
) -> AccessDecision:
    """:func:`allowed` asking Cedar three times per segment, without a cache: what the
    plan must always equal (tests/policy/test_gate_fast.py)."""
    return _decide(reg, query, sources, identity_ids, filters, {}, _three_requests)


def _decide(
    reg: Registry,
    query: Query,
    sources: Iterable[str] | None,
    identity_ids: Sequence[str],
    filters: Sequence[str],
    cache: dict[Key, Decision],
    evaluate: Evaluate,
) -> AccessDecision:
    user = reg.users.get(query.principal)
    wanted = _segments_asked(reg, sources)
    ctx = _context(reg, query, user, filters, identity_ids)
    pkey, principal = _principal_entity(query, user)
    # The principal's id is part of the key: a deployment policy may name a user.
    base = json.dumps([query.principal, pkey, ctx], sort_keys=True)
    # A segment of another origin is still held by its source, under the source's own
    # jurisdiction: the holder's segment is decided too and must permit as well.
    holders = {
        sid: reg.segments[sid].source_id
        for sid in wanted
        if sid in reg.segments and reg.segments[sid].origin is not None
    }
    # Legal process is scoped to sources: it covers every segment of the source it names.
    keys = {
        sid: (base, _legal_for(reg, query, reg.segments[sid].source_id, identity_ids), sid)
        for sid in dict.fromkeys([*wanted, *holders.values()])
        if sid in reg.segments
    }
    _evaluate(reg, query, list(keys.values()), ctx, cache, evaluate, principal)
    decisions = {
        sid: _held(cache[keys[sid]], cache[keys[holders[sid]]])
        if sid in holders
        else cache[keys[sid]]
        if sid in keys
        else Decision(source_id=sid, permit=False, rules=(UNREGISTERED_SOURCE,))
        for sid in wanted
    }
    return AccessDecision(
        query, user, decisions, tuple(identity_ids), tuple(filters), reg.policies.digest
    )


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
                "policy_set": decision.policy_set,
                **_via(q),
            },
        )
        for sid, d in decision.decisions.items()
    ]


def response_entry(
    decision: AccessDecision,
    action: str,
    outcome: str,
    *,
    identity_ids: Sequence[str] = (),
    sources: Sequence[str] = (),
    record_ids: Sequence[str] = (),
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """The entry of what a read under ``decision`` answered (``profile.read``,
    ``search``, ``associates.read``, ``match``), audited beside the decision's entries."""
    q, user = decision.query, decision.principal
    return AuditEntry(
        principal=q.principal,
        organisation=user.org if user else None,
        role=user.role if user else None,
        action=action,
        outcome=outcome,
        purpose=q.purpose,
        claims=q.claims,
        basis=q.basis,
        case_id=q.case_id,
        sources=tuple(sources),
        rules=decision.rules,
        identity_ids=tuple(identity_ids),
        record_ids=tuple(record_ids),
        detail={**(detail or {}), "policy_set": decision.policy_set, **_via(q)},
    )


def _via(query: Query) -> dict[str, str]:
    """The shell a read came through (``via``) and the API token it used (``token_id``),
    for its entries' detail; nothing for a library caller."""
    return {k: v for k, v in (("via", query.via), ("token_id", query.token_id)) if v}


shell_detail = _via  # for read paths that build their own response entry


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
