"""The tantivy query of a search: what finds a document, what only adds to its score.

A document is found by two name groups (any two words of the name, each matched
exactly, by canonical given name, by phonetic key or one edit away), by the one group
of a one-word name, or by an anchor term (an identifier, a full birth date, house and
street); boosters (birth year and month, ZIP, city, street words) only add to the score
of a document found otherwise (see :class:`idgraph.search.terms.QueryTerms`). Every
clause has a constant score (no index statistics) and the segment filter is a MUST
clause, so a document of a segment the purpose may not use is never found and changes
no other document's score.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final

import tantivy

from idgraph.search.criteria import Criteria, QueryRecord, readings
from idgraph.search.documents import SCHEMA
from idgraph.search.terms import QUERY_WEIGHTS, QueryTerms

__all__ = ["Hit", "any_of", "build_query", "distinct_first", "query_rows", "scope"]

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


def _finding_groups(terms: QueryTerms) -> int:
    """How many of the name groups (most telling first) find documents: at most
    :data:`_MAX_NAME_GROUPS`, and no one- or two-letter word when two longer ones do."""
    long_words = sum(1 for w in terms.words if len(w) > 2)
    n = len(terms.words)
    return min(n, _MAX_NAME_GROUPS, long_words if long_words >= 2 else n)


def build_query(terms: QueryTerms, segments: Collection[str]) -> tantivy.Query:
    """MUST be found (two name groups, or an anchor term), MUST be in a permitted
    segment (no score), SHOULD the boosters.

    Two name groups as an intersection, not "two of the union": tantivy then walks the
    rarer word's postings and skips through the other's, where a union reads every
    record of a common given name (JOHN: 3% of all records)."""
    n = _finding_groups(terms)
    groups = [_name_group(terms, k) for k in range(n)]
    found: list[tuple[tantivy.Occur, tantivy.Query]] = _clauses(terms.anchors)
    if n == 1:
        found.append((tantivy.Occur.Should, groups[0]))
    for i, j in itertools.combinations(range(n), 2):
        found.append((tantivy.Occur.Should, tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, groups[i]), (tantivy.Occur.Must, groups[j])])))
    found_in = scope(segments)
    extra = [_name_group(terms, k) for k in range(n, len(terms.names))]
    return tantivy.Query.boolean_query([
        (tantivy.Occur.Must, tantivy.Query.boolean_query(found)),
        (tantivy.Occur.Must, _const(found_in, 0.0)),
        *_clauses(terms.boosters),
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
