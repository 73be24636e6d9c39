"""Person search: partial facts in, ranked identities out, inside the policy gate.

Order of work, as for a profile (``policy/profile.py``): decide (before any record is
read) -> candidates from the index, restricted to permitted segments inside the
index query -> the purpose-scoped view of each candidate identity -> score -> minimise
-> audit the decisions and the response in one transaction -> return.

Decisions:

* **Gate.** ``allowed(query, filters=...)`` with the criteria as canonical field names
  (:func:`criteria_filters`); a search is about nobody named yet (``identity_ids=()``),
  so legal process scoped to identities does not count for it (``LegalDoc.covers``).
  Any other criterion (``extra``: race, religion, national origin, or any attribute
  that is not one of the search's criteria) goes to the gate too: a protected one
  refuses the whole search there (``base.filters_allowed``) and the refusal is
  audited; a lawful one the search cannot use is refused after the gate (audited,
  outcome ``refused``), never ignored.
* **Scope.** A candidate identity is scored on its purpose-scoped view only: its
  current records in permitted segments, split by the accepted edges between them
  into fragments (``scope.fragments``; one, unless a withheld record joined them). Each
  fragment is scored as if the withheld record never existed (each would then be an
  identity of its own, as the red-team tests require), and the identity's hit is its
  best fragment: never two hits for one identity (which would say that a withheld
  record joins them). The first fragment is the one its profile shows
  (:func:`policy.view.cut`); a hit on another one rests on records that profile does
  not show (see the report: the profile would need the hit's anchor).
* **Score.** Each reading of the criteria (one or two name orders) is scored with the
  trained model against the identity's visible records as a whole
  (:func:`scoring.identity_score`: per comparison the best level over the records that
  carry the value, a max over records per comparison, summed with the prior;
  :class:`idgraph.link.score.Scorer`, cut to the permitted segments); the score is that
  weight's probability, the explanation its levels, each naming the source of the
  record that gave it, leaving out comparisons the query gave no value for. Ranked by
  match weight (which orders as the probability does but does not round to 1.0 for
  strong matches), ties by identity id.
* **Minimise.** A hit carries summary fields (name, birth date or year) only from
  records whose decision lets that field leave (``AccessDecision.fields_for``); no
  count of records or sources, so nothing says a withheld record exists.
* **Audit.** One act: the decision entries and a ``search`` entry listing the criteria
  by field name with an HMAC-SHA256 of their values under the deployment's key
  (:func:`criteria_digest`, kept as ``criteria_sha256``: the log is exported to outside
  verifiers, so the typed values are not in it in clear, and an unkeyed hash of a phone
  number would be reversed by enumeration; whoever holds the key and the criteria, e.g.
  a reviewer with the case file, can check that this search was the one), the identity
  ids returned, their scores, and the records that scored them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC
from typing import Any, Final

from idgraph import clock
from idgraph.audit import AuditEntry
from idgraph.link.score import Scorer
from idgraph.policy.engine import AccessDecision, allowed, audit_decision
from idgraph.policy.engine import response_entry as engine_response_entry
from idgraph.policy.notices import create_notices
from idgraph.policy.profile import AccessDenied
from idgraph.policy.registry import Registry
from idgraph.schema import Query
from idgraph.search.criteria import Criteria, CriteriaError, QueryRecord, readings
from idgraph.search.index import SearchIndex, field_scope
from idgraph.search.scope import fragments, member_records
from idgraph.search.scoring import (
    Hit,
    at_each_precision,
    rank_lazily,
    with_licence_states,
    withheld_columns,
)
from idgraph.store import Store

ACTION: Final[str] = "search"
# identities scored per search (at least 3x the hits asked for; 60 against 30 took top-1
# from 0.947 to 0.952 at 90k records, latency within the noise): the index ranks every
# identity by its best record's shared terms, the model re-scores these
CANDIDATE_IDENTITIES: Final[int] = 60

# criterion -> the canonical fields it searches by (what the gate's filters name)
_FILTERS: Final[dict[str, tuple[str, ...]]] = {
    "name": ("full_name",),
    "dob": ("dob",),
    "address": ("address",),
    "zip": ("zip",),
    "phone": ("phone",),
    "identifier": ("ssn", "dl_number"),
    "plate": ("plate",),
}
def criteria_filters(criteria: Criteria) -> tuple[str, ...]:
    """The canonical fields ``criteria`` search by (the gate's ``filters``)."""
    return tuple(dict.fromkeys(f for c in criteria.fields() for f in _FILTERS.get(c, (c,))))


DIGEST_KEY: Final[str] = "search-digest"  # Store.secret name: search-digest.key


def digest_key(store: Store) -> bytes:
    """The deployment's key for criteria digests (``Store.secret``: 32 random bytes
    beside the database, ``search-digest.key``, readable by its owner only; an
    in-memory store uses one drawn for the process)."""
    return store.secret(DIGEST_KEY)


def criteria_digest(
    criteria: Criteria, extra: Mapping[str, str] | None, key: bytes
) -> str:
    """HMAC-SHA256 under ``key`` of the criteria as given (canonical JSON, sorted keys).

    Keyed, because the log is exported: an unkeyed hash of a phone number (10^4 values
    per exchange) or an SSN (10^9) is reversed by hashing them all. Whoever holds the key
    (the deployment, an overseer it gives it to) can check a search's criteria."""
    doc = {c: getattr(criteria, c) for c in criteria.fields()}
    doc.update({f"extra:{k}": v for k, v in (extra or {}).items()})
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SearchResult:
    query: Query
    criteria: Criteria
    hits: tuple[Hit, ...]
    withheld: tuple[str, ...] = ()  # segments not permitted (names only)
    notices: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "purpose": self.query.purpose,
            "case_id": self.query.case_id,
            "criteria": list(self.criteria.fields()),
            "hits": [h.to_dict() for h in self.hits],
            "withheld": list(self.withheld),
            "notices": list(self.notices),
        }


# -- audit -----------------------------------------------------------------------------


def response_entry(
    decision: AccessDecision,
    outcome: str,
    hits: Sequence[Hit],
    detail: dict[str, Any],
    action: str = ACTION,
) -> AuditEntry:
    """The search's response entry: the hits' identities, segments and scoring records."""
    return engine_response_entry(
        decision, action, outcome,
        identity_ids=[h.identity_id for h in hits],
        sources=sorted({g for h in hits for g in h.segments}),
        record_ids=list(dict.fromkeys(r for h in hits for r in h.record_ids or (h.record_id,))),
        detail=detail)


def notices_for(
    store: Store, reg: Registry, decision: AccessDecision, disclosed: Mapping[str, set[str]]
) -> list[str]:
    """Notices owed for each identity about which a segment's values were disclosed."""
    query, user = decision.query, decision.principal
    at = (query.at or clock.now()).astimezone(UTC).replace(tzinfo=None)
    out: list[str] = []
    for iid, segments in sorted(disclosed.items()):
        duties = [
            (s, rule, duty)
            for s in sorted(segments)
            for rule in decision.decisions[s].rules
            for duty in reg.policies.duties.get(rule, ())
        ]
        if duties:
            out += create_notices(
                store, identity_id=iid, org=user.org if user else "",
                principal=query.principal, case_id=query.case_id, duties=duties, at=at,
                jurisdictions=reg.policies.jurisdictions,
            )
    return out


def gate(
    store: Store,
    reg: Registry,
    query: Query,
    filters: Sequence[str],
    detail: Mapping[str, Any],
    *,
    unusable: Sequence[str] = (),
    action: str = ACTION,
    reason: str = "not a search criterion (the search cannot use it)",
) -> AccessDecision:
    """Decide a search by ``filters`` (canonical field names, and any other criterion
    given); a denied one, or one naming ``unusable`` criteria the gate let pass, is
    audited here (``detail`` in its response entry) and raises."""
    decision = allowed(reg, query, filters=filters)
    detail = {**detail, "withheld": list(decision.denied)}
    if not decision.any_permitted:
        with store.transaction():
            audit_decision(store, decision, response_entry(decision, "deny", (), detail, action))
        raise AccessDenied(decision.rules or ("default.deny",), decision.decisions)
    if unusable:
        with store.transaction():
            audit_decision(
                store, decision, response_entry(decision, "refused", (), detail, action)
            )
        raise CriteriaError(unusable[0], reason)
    return decision


def audit_failure(
    store: Store,
    decision: AccessDecision,
    detail: Mapping[str, Any],
    exc: BaseException,
    action: str = ACTION,
) -> None:
    """A search that failed after the gate permitted it: the decision and an ``error``
    response entry (the failure's type only: its message may quote a value)."""
    entry = response_entry(decision, "error", (), {
        **detail, "withheld": list(decision.denied), "error": type(exc).__name__}, action)
    with store.transaction():
        audit_decision(store, decision, entry)


def refuse_criteria(
    store: Store,
    query: Query,
    given: Sequence[str],
    extra: Mapping[str, str],
    error: CriteriaError,
    *,
    registry: Registry | None = None,
    action: str = ACTION,
) -> None:
    """A search whose criteria did not parse (``error``) is still decided and audited
    by the criteria it names (``given``: criterion names, ``extra``: any others), so an
    attempt to search by a protected attribute leaves a trace whatever else is wrong:
    raises AccessDenied when the gate refuses, else ``error`` (audited ``refused``)."""
    reg = registry or Registry(store)
    filters = [f for c in given for f in _FILTERS.get(c, (c,))]
    detail = {"criteria": [*given, *(f"extra:{k}" for k in extra)],
              "criteria_sha256": None, "error": f"{error.field}: invalid"}
    gate(store, reg, query, (*filters, *extra), detail, unusable=[error.field],
         action=action, reason=error.reason)


class SearchIndexMissing(LookupError):
    """The store has no search index (an in-memory store, or a data dir never indexed)."""


# -- search ----------------------------------------------------------------------------


@dataclass
class Engine:
    """The index and the scorers a process reuses across searches (one Scorer per set
    of permitted segments: term frequencies are counted over those segments only)."""

    store: Store
    index: SearchIndex
    _base: Scorer | None = None
    _scorers: dict[frozenset[str], Scorer] = field(default_factory=dict)

    @classmethod
    def open(cls, store: Store) -> Engine:
        """The engine of a file store: its data dir's index (which must exist)."""
        index = SearchIndex.of_store(store)
        if index is None:
            raise SearchIndexMissing(
                "no search index beside the store: run `idgraph index rebuild`")
        return cls(store, index)

    def scorer(self, segments: Collection[str]) -> Scorer:
        """The model with term frequencies over ``segments`` only (counted once per
        engine, summed once per set of segments)."""
        key = frozenset(segments)
        if key not in self._scorers:
            if self._base is None:
                self._base = Scorer.from_store(self.store)
            if len(self._scorers) > 64:
                self._scorers.clear()
            self._scorers[key] = self._base.for_segments(key)
        return self._scorers[key]


# criterion -> the model input columns it gives (a criterion none of whose columns may
# leave a segment cannot find or rank that segment's records)
_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "name": ("first_name", "last_name"),
    "dob": ("dob_day", "dob_month", "birth_year"),
    "address": ("house_number", "street"),
    "zip": ("zip",),
    "phone": ("phone",),
    "identifier": ("ssn", "dl_key"),
    "plate": ("plate",),
}


def usable_criteria(
    decision: AccessDecision, criteria: Criteria, segments: Collection[str]
) -> dict[Criteria, list[str]]:
    """The criteria each permitted segment may be searched by -> those segments: a
    criterion whose fields may not leave a segment (FCRA 1681f: the phone of an
    identifying-only record) neither finds its records nor chooses which of them are
    considered, as if the value were never collected."""
    groups: dict[Criteria, list[str]] = {}
    for seg in sorted(segments):
        withheld = set(withheld_columns(decision.fields_for(seg)))
        drop = {c: None for c in criteria.fields() if set(_COLUMNS.get(c, ())) <= withheld}
        reduced = replace(criteria, **drop) if drop else criteria
        if reduced.fields():
            groups.setdefault(reduced, []).append(seg)
    return groups


def candidates(
    engine: Engine,
    query: Criteria | QueryRecord,
    segments: Collection[str],
    limit: int,
    decision: AccessDecision | None = None,
) -> list[str]:
    """Candidate identity ids from the index (permitted segments only), best first;
    with a ``decision``, each segment is searched by the criteria it may be searched by
    (:func:`usable_criteria`), and the lists merged by the index's score."""
    # distinct identities come first: asking for n records gives n identities if there are
    n = max(limit * 3, CANDIDATE_IDENTITIES)
    if decision is None or not isinstance(query, Criteria):
        found = engine.index.candidates(query, segments, limit=n)
    else:
        groups = usable_criteria(decision, query, segments)
        # and each term only where its field may leave (an SSN-withheld segment whose
        # licences may leave: the identifier's SSN term does not match there)
        scoped = field_scope(segments, decision.fields_for)
        found = [c for crit, segs in groups.items()
                 for c in engine.index.candidates(crit, segs, limit=n, field_segments=scoped)]
        if len(groups) > 1:
            found.sort(key=lambda c: -c.score)
    return list(dict.fromkeys(c.identity_id for c in found if c.identity_id))[:n]


def rank(
    engine: Engine,
    decision: AccessDecision,
    criteria: Criteria,
    query_rows: Sequence[QueryRecord],
    limit: int,
    markers: Mapping[str, int] | None = None,
) -> list[Hit]:
    """Score every candidate identity on its view; the best ``limit`` hits (the views
    cut only where a cut could change them: :func:`scoring.rank_lazily`)."""
    segments = decision.permitted
    ids = candidates(engine, criteria, segments, limit, decision)
    members = member_records(engine.store, ids, segments, engine.index, markers)
    query_rows = with_licence_states(decision, query_rows, members)
    return rank_lazily(engine.scorer(segments), decision, query_rows, ids, members,
                       lambda m: fragments(engine.store, m), limit)


def find(
    store: Store,
    query: Query,
    criteria: Criteria,
    *,
    registry: Registry | None = None,
    limit: int = 10,
    index: SearchIndex | None = None,
    engine: Engine | None = None,
    extra: Mapping[str, str] | None = None,
    markers: Mapping[str, int] | None = None,
) -> SearchResult:
    """Ranked identities for ``criteria`` as ``query`` may see them (see module doc);
    one audited act; raises AccessDenied (gate) or CriteriaError (``extra``).
    ``markers``: the store's ``store_markers`` as the caller just read them (the app
    layer does, to pick its cached engine), so the index's staleness check need not
    read them again."""
    reg = registry or Registry(store)
    extra = dict(extra or {})
    detail: dict[str, Any] = {
        "criteria": [*criteria.fields(), *(f"extra:{k}" for k in extra)],
        "criteria_sha256": criteria_digest(criteria, extra, digest_key(store)),
    }
    decision = gate(store, reg, query, (*criteria_filters(criteria), *extra), detail,
                    unusable=list(extra))
    try:
        if engine is None:
            engine = Engine(store, index) if index is not None else Engine.open(store)
        hits = rank(engine, decision, criteria, at_each_precision(readings(criteria)), limit,
                    markers)
    except BaseException as exc:  # the attempt is evidence too (a tantivy panic is a
        # BaseException, so is an interrupt): audited, then raised
        audit_failure(store, decision, detail, exc)
        raise
    disclosed = {h.identity_id: set(h.segments) for h in hits}
    detail = {
        **detail,
        "scores": [[h.identity_id, h.score] for h in hits],
        "withheld": list(decision.denied),
        "limit": limit,
    }
    with store.transaction():
        notices = notices_for(store, reg, decision, disclosed)
        detail["notices"] = notices
        audit_decision(store, decision, response_entry(decision, "ok", hits, detail))
    return SearchResult(query, criteria, tuple(hits), decision.denied, tuple(notices))

