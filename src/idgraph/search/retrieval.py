"""The tantivy query of a search: what finds a document, what only adds to its score.

A document is found by two name groups (any two words of the name, each matched
exactly, by canonical given name, by phonetic key or one edit away), by the one group
of a one-word name, or by an anchor term (an identifier, a full birth date, house and
street); boosters (birth year and month, ZIP, city, street words) only add to the score
of a document found otherwise (see :class:`idgraph.search.terms.QueryTerms`). Every
clause has a constant score (no index statistics) and the segment filter is a MUST
clause, so a document of a segment the purpose may not use is never found and changes
no other document's score.

A field the purpose may read only in some segments (FCRA 1681f: an identifying-only
source's phones may not leave) matches only there: each anchor and booster term is
scoped to the segments whose decision lets its field leave (``field_segments``;
:data:`idgraph.search.terms.RECORD_FIELDS`), so a withheld value neither finds a
document nor adds to its score, as if it had never been collected. Name terms match in
every permitted segment.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Final

import tantivy

from idgraph.search.criteria import Criteria, QueryRecord, readings
from idgraph.search.documents import SCHEMA
from idgraph.search.terms import QUERY_WEIGHTS, RECORD_FIELDS, QueryTerms, Term, kind

__all__ = ["FieldSegments", "Hit", "any_of", "build_query", "distinct_first", "field_scope",
           "query_rows", "scope", "term_segments"]

# canonical record field -> the permitted segments whose decision lets it leave
FieldSegments = Mapping[str, Collection[str]]


def query_rows(query: Criteria | QueryRecord | Sequence[QueryRecord]) -> list[QueryRecord]:
    if isinstance(query, Criteria):
        return readings(query)
    if isinstance(query, Mapping):
        return [dict(query)]
    return [dict(q) for q in query]


def _const(query: tantivy.Query, weight: float) -> tantivy.Query:
    return tantivy.Query.const_score_query(query, weight)


def _clauses(weights: Mapping[tuple[str, str], float]) -> list[tuple[tantivy.Occur,
                                                                      tantivy.Query]]:
    return [(tantivy.Occur.Should, _const(tantivy.Query.term_query(SCHEMA, f, t), w))
            for (f, t), w in weights.items()]


# Name words beyond this many (the least telling: see QueryTerms) are scored but do not
# find documents: every pair of the others is one intersection to run, and four words
# (JI-WOO GARCIA-BROWN) would be six.
_MAX_NAME_GROUPS: Final = 3


def _name_group(terms: QueryTerms, k: int) -> tantivy.Query:
    clauses = _clauses(terms.names[k])
    keys = terms.edits[k]
    if keys:  # one edit away: any shared edit key, counted once
        clauses.append((tantivy.Occur.Should, _const(tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(SCHEMA, "ed", key))
             for key in keys]), QUERY_WEIGHTS["ed"])))
    return tantivy.Query.boolean_query(clauses)


def any_of(field: str, values: Collection[str]) -> tantivy.Query:
    """Documents with any of ``values`` in ``field``: a union of term queries, not a
    ``term_set_query``: tantivy builds a term set's whole bitset (for segments: every
    document of every permitted segment, ~1M at scale, milliseconds per query) where a
    union of posting lists is only skipped through, to the documents the other clauses
    found."""
    return tantivy.Query.boolean_query([
        (tantivy.Occur.Should, tantivy.Query.term_query(SCHEMA, field, v))
        for v in sorted(set(values))])


def scope(segments: Collection[str]) -> tantivy.Query:
    """Documents of the permitted segments (see :func:`any_of`)."""
    return any_of("segment", segments)


def field_scope(segments: Collection[str],
                fields_for: Callable[[str], Collection[str]]) -> dict[str, list[str]]:
    """Each field an index term carries -> the ``segments`` whose ``fields_for(segment)``
    (``AccessDecision.fields_for``) holds it: the ``field_segments`` of
    :meth:`idgraph.search.index.SearchIndex.candidates`."""
    fields = sorted({f for need in RECORD_FIELDS.values() for alt in need for f in alt})
    allowed = {seg: set(fields_for(seg)) for seg in sorted(set(segments))}
    return {f: [seg for seg, ok in allowed.items() if f in ok] for f in fields}


def term_segments(term: Term, segments: Collection[str],
                  field_segments: FieldSegments | None) -> frozenset[str]:
    """The segments in which ``term`` may match: all ``segments`` for a name term or
    without ``field_segments``; else those letting its field leave (a field absent from
    ``field_segments``: none)."""
    scope_all = frozenset(segments)
    need = RECORD_FIELDS.get(kind(*term))
    if field_segments is None or need is None:
        return scope_all
    out = scope_all
    for alternatives in need:
        out &= frozenset(s for f in alternatives for s in field_segments.get(f, ()))
    return out


def _scoped(weights: Mapping[Term, float], segments: Collection[str],
            field_segments: FieldSegments | None
            ) -> list[tuple[tantivy.Occur, tantivy.Query]]:
    """SHOULD clauses of ``weights``, each matching only in its :func:`term_segments`:
    terms of all ``segments`` as they are, the others grouped by scope (MUST one of the
    terms, MUST the scope, which scores nothing: a document scores the weights of the
    terms it matches, as unscoped)."""
    whole = frozenset(segments)
    plain: dict[Term, float] = {}
    groups: dict[frozenset[str], dict[Term, float]] = {}
    for term, weight in weights.items():
        segs = term_segments(term, segments, field_segments)
        if segs == whole:
            plain[term] = weight
        elif segs:
            groups.setdefault(segs, {})[term] = weight
    out = _clauses(plain)
    for segs, group in sorted(groups.items(), key=lambda kv: sorted(kv[0])):
        out.append((tantivy.Occur.Should, tantivy.Query.boolean_query([
            (tantivy.Occur.Must, tantivy.Query.boolean_query(_clauses(group))),
            (tantivy.Occur.Must, _const(scope(segs), 0.0)),
        ])))
    return out


def _finding_groups(terms: QueryTerms) -> int:
    """How many of the name groups (most telling first) find documents: at most
    :data:`_MAX_NAME_GROUPS`, and no one- or two-letter word when two longer ones do."""
    long_words = sum(1 for w in terms.words if len(w) > 2)
    n = len(terms.words)
    return min(n, _MAX_NAME_GROUPS, long_words if long_words >= 2 else n)


def build_query(terms: QueryTerms, segments: Collection[str],
                field_segments: FieldSegments | None = None) -> tantivy.Query | None:
    """MUST be found (two name groups, or an anchor term), MUST be in a permitted
    segment (no score), SHOULD the boosters; anchors and boosters each in the segments
    letting their field leave (:func:`term_segments`). None: nothing can be found.

    Two name groups as an intersection, not "two of the union": tantivy then walks the
    rarer word's postings and skips through the other's, where a union reads every
    record of a common given name (JOHN: 3% of all records)."""
    n = _finding_groups(terms)
    groups = [_name_group(terms, k) for k in range(n)]
    found = _scoped(terms.anchors, segments, field_segments)
    if n == 1:
        found.append((tantivy.Occur.Should, groups[0]))
    for i, j in itertools.combinations(range(n), 2):
        found.append((tantivy.Occur.Should, tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, groups[i]), (tantivy.Occur.Must, groups[j])])))
    if not found:
        return None
    found_in = scope(segments)
    extra = [_name_group(terms, k) for k in range(n, len(terms.names))]
    return tantivy.Query.boolean_query([
        (tantivy.Occur.Must, tantivy.Query.boolean_query(found)),
        (tantivy.Occur.Must, _const(found_in, 0.0)),
        *_scoped(terms.boosters, segments, field_segments),
        *((tantivy.Occur.Should, g) for g in extra),
    ])


Hit = tuple[float, tantivy.DocAddress, Any]  # score, address, identity key (0: none)


def distinct_first(hits: list[Hit], limit: int) -> list[tuple[float, tantivy.DocAddress]]:
    """Best first; each identity's best record before any identity's second (a record
    with no identity id, key 0, is an identity of its own)."""
    first: list[tuple[float, tantivy.DocAddress]] = []
    rest: list[tuple[float, tantivy.DocAddress]] = []
    seen: set[int] = set()
    for score, addr, key in hits:
        if key and key in seen:
            rest.append((score, addr))
        else:
            first.append((score, addr))
            if key:
                seen.add(key)
    return (first + rest)[:limit]
