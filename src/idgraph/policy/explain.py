"""Explanations of a link, read lawfully: decided, minimised and audited.

An explanation quotes the two records' values (names, dates of birth, SSNs), so it
is a read of personal data like a profile: both records' sources must be permitted
for the query, and a comparison whose fields the purpose may not see is shown as
withheld (level, weight and values); so are every running probability from the first
withheld comparison on and the final weight and probability, since subtracting the
visible weights from them would give the withheld ones away.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Final

from idgraph.audit import AuditEntry
from idgraph.link._explain import explain
from idgraph.policy.engine import allowed, audit_decision, shell_detail
from idgraph.policy.fields import NEVER
from idgraph.policy.profile import AccessDenied
from idgraph.policy.registry import Registry
from idgraph.policy.users import get_user
from idgraph.schema import Query, segment_key
from idgraph.store import Store
from idgraph.store.graph import graph
from idgraph.store.registry import RegistryRepo

# Canonical fields each comparison of the link model reads.
COMPARISON_FIELDS: Final[dict[str, frozenset[str]]] = {
    "first_name": frozenset({"first_name"}),
    "middle_name": frozenset({"middle_name"}),
    "last_name": frozenset({"last_name"}),
    "dob": frozenset({"dob", "birth_year"}),
    "sex": frozenset({"sex"}),
    "address": frozenset({"street", "zip", "city", "state"}),
    "phone": frozenset({"phone"}),
    "email": frozenset({"email"}),
    "ssn": frozenset({"ssn"}),
    "dl_key": frozenset({"dl_number", "dl_state"}),
    "plate": frozenset({"plate"}),
}
WITHHELD: Final = "withheld: a field this purpose may not see"
UNLINKED: Final = "unlinked:"  # prefix of the stand-in identity of a record in none


def _sources_and_identities(
    store: Store, ids: tuple[str, str]
) -> tuple[list[str], list[str], list[str]]:
    """The segments to decide, the identities read, and the ids with no current record.

    A missing record is decided as its id's source (``<source_id>/...``: every segment
    of it), so whether a record exists is said only to a reader permitted to read its
    source: to anyone else a missing id and an existing one are denied alike.
    """
    repo = RegistryRepo(store)
    rows = repo.current_segments_of(ids)
    found = {r[0]: segment_key(r[1], r[2]) for r in rows}  # decided per segment
    missing = [i for i in ids if i not in found]
    segments = set(found.values()) | {i.split("/", 1)[0] for i in missing}
    if missing:
        return sorted(segments), [], missing
    members = graph(store).identity_of(ids)
    # A record in no identity yet (ingested since the last resolve) is about someone no
    # identity-scoped document or subject-access request names: it stands for itself,
    # so a request for A does not open A's record *and* a stranger's.
    idents = {members.get(i) or f"{UNLINKED}{i}" for i in ids}
    return sorted(segments), sorted(idents), []


def _visible(fields: tuple[str, ...] | None, needed: frozenset[str]) -> bool:
    if needed & NEVER:
        return False
    return fields is None or needed <= set(fields)


def read_explanation(
    store: Store, query: Query, record_a: str, record_b: str,
    *, registry: Registry | None = None,
) -> dict[str, Any]:
    """The waterfall for two records under ``query``; raises AccessDenied when denied."""
    reg = registry or Registry(store)
    sources, identities, missing = _sources_and_identities(store, (record_a, record_b))
    decision = allowed(reg, query, sources, identity_ids=identities)
    user = get_user(store, query.principal)

    def entry(outcome: str, record_ids: tuple[str, ...] = ()) -> AuditEntry:
        return AuditEntry(
            principal=query.principal, organisation=user.org if user else None,
            role=user.role if user else None, action="explain.read", outcome=outcome,
            purpose=query.purpose, claims=query.claims, basis=query.basis,
            case_id=query.case_id, sources=tuple(sources), rules=decision.rules,
            identity_ids=tuple(identities) if record_ids else (), record_ids=record_ids,
            detail={"policy_set": decision.policy_set, **shell_detail(query)})

    if decision.denied:
        audit_decision(store, decision, entry("deny"))
        raise AccessDenied(decision.rules, decision.decisions)
    if missing:  # the reader may read these sources: saying so reveals nothing more
        audit_decision(store, decision, entry("error"))  # the look-up is a read too
        raise LookupError(f"no current record {missing[0]!r}")
    ex = explain(store, record_a, record_b)
    fields: tuple[str, ...] | None = None
    for sid in sources:
        f = decision.decisions[sid].fields
        if f is not None:
            fields = f if fields is None else tuple(x for x in fields if x in f)
    features = []
    hidden = False
    for feat in ex.features:
        item = asdict(feat)
        needed = COMPARISON_FIELDS.get(feat.comparison, frozenset({feat.comparison}))
        if not _visible(fields, needed):
            hidden = True
            item.update(level="withheld", weight=None, detail=WITHHELD)
        if hidden:  # a running total after a withheld weight would give that weight away
            item.update(running_probability=None)
        features.append(item)
    out = {**asdict(ex), "features": features}
    if hidden:  # so would the final weight: final - prior - visible weights = withheld ones
        out.update(match_weight=None, probability=None)
    audit_decision(store, decision, entry("ok", (record_a, record_b)))
    return out
