"""Scoring candidates: the trained model's pair score, on what may be compared.

A record is compared only on the fields its segment's decision lets leave
(:func:`scorable`): a value that may not be shown may not speak through a score
either. An identity is scored as a whole (:func:`identity_score`): for each
comparison the best level over its visible records (a max over records per
comparison), summed with the prior into a match weight, whose probability is the
hit's score; the explanation names each level's source, leaving out comparisons the
query gave no value for.
"""

from __future__ import annotations

import functools
import heapq
import math
import operator
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from idgraph.link.model import RECORD_KNOWN
from idgraph.link.score import INPUT_ROW_COLUMNS, LevelHit, Scorer, compile_model, probability
from idgraph.policy.engine import AccessDecision
from idgraph.search.criteria import QueryRecord

K = TypeVar("K")

# fields a hit may show, in display order
SUMMARY_FIELDS: Final[tuple[str, ...]] = (
    "full_name", "first_name", "middle_name", "last_name", "suffix", "dob", "birth_year",
)

# model input column -> the decision fields, one of which must let it leave for a record's
# value to be compared (a value that may not leave may not speak through a score either)
_INPUT_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "dob_day": ("dob",), "dob_month": ("dob",), "birth_year": ("birth_year", "dob"),
    "dl_key": ("dl_number",),
}
_VALUE_COLUMNS: Final[tuple[str, ...]] = tuple(
    c for c in INPUT_ROW_COLUMNS if c not in ("record_id", "source_id"))
# comparison -> the input columns any of which the query must give for it to count
_KNOWN: Final[dict[str, tuple[str, ...]]] = {
    comp: tuple(re.findall(r"(\w+) IS NOT NULL", cond)) for comp, cond in RECORD_KNOWN.items()
}



@dataclass(frozen=True, slots=True)
class Explanation:
    """One comparison of the best-scoring pair: its level and weight (bits)."""

    comparison: str
    level: str
    weight: float
    source: str = ""  # the source of the record that gave this level
    record_id: str = ""  # that record (audit only: never shown, see Hit.record_ids)

    def to_dict(self) -> dict[str, Any]:
        return {"comparison": self.comparison, "level": self.level, "weight": self.weight,
                "source": self.source}


@dataclass(frozen=True, slots=True)
class Hit:
    identity_id: str
    score: float  # the match probability of the identity's weight (identity_score)
    explanation: tuple[Explanation, ...]
    fields: dict[str, Any]
    weight: float = 0.0  # its match weight, bits (ranks where probabilities round to 1)
    record_id: str = ""  # the record that gave most levels (audit only: never shown)
    segments: tuple[str, ...] = ()  # segments whose values the hit shows (audit, notices)
    record_ids: tuple[str, ...] = ()  # every record that gave a level (audit only)

    def to_dict(self) -> dict[str, Any]:
        return {
            "identity_id": self.identity_id,
            "score": self.score,
            "explanation": [e.to_dict() for e in self.explanation],
            "fields": dict(self.fields),
        }


def at_each_precision(query_rows: Sequence[QueryRecord]) -> list[QueryRecord]:
    """The readings, and each reading with a month-precision birth date also at year
    precision (the best pair counts, so this never lowers a score).

    A searcher who types "03/1984" chose a precision; records rarely carry one, so a
    model trained on records may never have seen the level "same month (one side month
    precision)" and gives it no weight (m = u), less than "same year (one side year
    only)" earns: a month-and-year query would rank the right person below one typed
    with the year alone. Comparing at year precision as well uses a level the model
    did learn; when it learns the month level, the month reading wins by itself."""
    out = list(query_rows)
    for q in query_rows:
        if q.get("dob_month") and not q.get("dob_day"):
            out.append({**q, "dob_month": None})
    return out



def with_licence_states(
    decision: AccessDecision,
    query_rows: Sequence[QueryRecord],
    members: Mapping[str, Sequence[Mapping[str, Any]]],
) -> list[QueryRecord]:
    """The readings, and each one with a licence number but no state (``dl_key`` None:
    "B7654321") also read with the state of every visible record holding that number
    whose decision lets it leave. The model compares ``dl_key`` (STATE:NUMBER) only,
    so a bare number would agree with nobody; the best reading counts, so this never
    lowers a score, and a state no visible record holds is never tried."""
    out = list(query_rows)
    withheld: dict[str, bool] = {}
    for q in query_rows:
        number = q.get("dl_number")
        if not number or q.get("dl_key"):
            continue
        states: set[str] = set()
        for recs in members.values():
            for r in recs:
                key, seg = r.get("dl_key"), str(r.get("segment"))
                if not isinstance(key, str) or key.partition(":")[2] != number:
                    continue
                if seg not in withheld:
                    withheld[seg] = "dl_key" in withheld_columns(decision.fields_for(seg))
                if not withheld[seg]:
                    states.add(key.partition(":")[0])
        out += [{**q, "dl_key": f"{st}:{number}"} for st in sorted(states)]
    return out


def given_comparisons(reading: Mapping[str, Any]) -> frozenset[str]:
    """The comparisons ``reading`` gives a value for (the others are left out of an
    explanation: a query without a phone says nothing about phones)."""
    given = {
        comp for comp, cols in _KNOWN.items()
        if any(reading.get(c) not in (None, "", []) for c in cols)
    }
    if reading.get("dl_number"):  # a licence number without its state (reading_for)
        given.add("dl_key")
    return frozenset(given)


def withheld_columns(fields: Collection[str]) -> tuple[str, ...]:
    """The model input columns whose values ``fields`` do not let leave."""
    allowed_fields = set(fields)
    return tuple(c for c in _VALUE_COLUMNS
                 if allowed_fields.isdisjoint(_INPUT_FIELDS.get(c, (c,))))


def scorable(row: Mapping[str, Any], fields: Collection[str]) -> dict[str, Any]:
    """``row`` with every value its decision's ``fields`` do not let leave set to None:
    a withheld field neither scores nor explains (1681f identifying-only records are
    compared on names and addresses alone)."""
    return {**row, **dict.fromkeys(withheld_columns(fields))}


class Levels:
    """Each comparison's level for (reading, record), as :meth:`Scorer.score` gives it,
    cached by the values of the columns the comparison reads: a search compares one
    reading with hundreds of records that share most values (namesakes share names, a
    person's records share a birth date), so most comparisons are looked up, not
    evaluated. The levels are the scorer's own (its compiled model, its term
    frequencies); ``tests/search/test_find.py`` checks them against ``Scorer.score``."""

    __slots__ = ("_caches", "_comparisons", "_frequencies", "_keys", "prior")

    def __init__(self, scorer: Scorer) -> None:
        self._comparisons, columns = _compiled(scorer)
        self._keys = [operator.itemgetter(*cols) for cols in columns]
        self._frequencies = scorer.frequencies
        self.prior = scorer.prior_weight
        # id(reading) -> (the reading, kept alive so its id is not reused; its caches)
        self._caches: dict[int, tuple[Mapping[str, Any],
                                      list[dict[Any, tuple[LevelHit, bool]]]]] = {}

    def of(self, reading: Mapping[str, Any], record: Mapping[str, Any]
           ) -> list[tuple[LevelHit, bool]]:
        """(level, is it the null level) of every comparison, in model order."""
        held = self._caches.get(id(reading))
        if held is None or held[0] is not reading:
            held = self._caches[id(reading)] = (reading, [{} for _ in self._comparisons])
        caches = held[1]
        out = []
        for comp, key_of, cache in zip(self._comparisons, self._keys, caches, strict=True):
            try:
                key = key_of(record)
                got = cache.get(key)
            except TypeError:  # a list value (last_name_parts): hashable as a tuple
                key = tuple(_hashable(v) for v in _as_tuple(key_of(record)))
                got = cache.get(key)
            if got is None:
                got = cache[key] = self._level(comp.name, comp.levels, reading, record)
            out.append(got)
        return out

    def _level(self, name: str, levels: Sequence[Any], a: Mapping[str, Any],
               b: Mapping[str, Any]) -> tuple[LevelHit, bool]:
        for lv in levels:
            if lv.predicate(a, b):
                adj = self._adjust(lv, a, b) if lv.tf_column is not None else 0.0
                return LevelHit(name, lv.label, lv.weight, adj), lv.gamma == -1
        raise AssertionError(f"{name}: no level holds (the last level is ELSE)")

    def _adjust(self, level: Any, a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
        """``Scorer``'s term-frequency adjustment (Splink's)."""
        col = level.tf_column
        tf_a = self._frequencies.tf(col, a[col])
        tf_b = self._frequencies.tf(col, b[col])
        if tf_a is None:
            if tf_b is None:
                return 0.0
            tf_a = tf_b
        u = max(tf_a, tf_b if tf_b is not None else tf_a, level.tf_min_u)
        return float(level.tf_weight * (level.tf_log2_u - math.log2(u)))


@functools.lru_cache(maxsize=64)
def _compiled(scorer: Scorer) -> tuple[tuple[Any, ...], tuple[tuple[str, ...], ...]]:
    """The scorer's compiled comparisons, and the columns each one's levels read."""
    comparisons = compile_model(scorer.model)
    columns = []
    for comp, raw in zip(comparisons, scorer.model["comparisons"], strict=True):
        sql = " ".join(str(lv["sql_condition"]) for lv in raw["comparison_levels"])
        cols = set(re.findall(r"\b(\w+?)_[lr]\b", sql))
        cols |= {lv.tf_column for lv in comp.levels if lv.tf_column}
        columns.append(tuple(sorted(cols)))
    return comparisons, tuple(columns)


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


@dataclass(frozen=True, slots=True)
class Pick:
    """One comparison's best level over an identity's records, and the record it came
    from (the first such record by id)."""

    hit: LevelHit
    record: int  # index into the identity's comparable records
    null: bool = False  # the comparison's null level: no record carries the value


@dataclass(frozen=True, slots=True)
class IdentityScore:
    """A reading scored against an identity as a whole (see :func:`identity_score`)."""

    weight: float
    reading: int
    picks: tuple[Pick, ...]


def identity_score(
    scorer: Scorer | Levels,
    query_rows: Sequence[QueryRecord],
    records: Sequence[Mapping[str, Any]],
    bound: bool = False,
) -> IdentityScore | None:
    """The identity's score: for each reading, each comparison's best level over the
    records that carry a value for it (**a max over records per comparison**: the birth
    date may agree on one record and the old address on another; a record without the
    value neither helps nor hides what the others say; with no record carrying it, the
    comparison is missing, 0 bits), the prior plus those weights summed; the best
    reading. With one record this is the model's pair weight (Splink's match weight).
    Ties: the first record by id, the first reading. None without records.

    ``bound``: a missing value counts as a level of 0 bits beside the others, which makes
    the weight an upper bound of the score of any part of ``records`` (the view of the
    identity, which the cut may make smaller)."""
    if not records:
        return None
    levels = scorer if isinstance(scorer, Levels) else Levels(scorer)
    best: IdentityScore | None = None
    for i, q in enumerate(query_rows):
        scored = [levels.of(q, rec) for rec in records]
        picks: list[Pick] = []
        total = levels.prior
        for c, (first, null) in enumerate(scored[0]):
            pick, known = Pick(first, 0, null), not null
            for j in range(1, len(scored)):
                hit, null = scored[j][c]
                if null and not bound:
                    continue
                if not known or hit.weight + hit.tf_adjustment > (
                        pick.hit.weight + pick.hit.tf_adjustment):
                    pick, known = Pick(hit, j, False), True
            picks.append(pick)
            total += pick.hit.weight + pick.hit.tf_adjustment
        if best is None or total > best.weight:
            best = IdentityScore(total, i, tuple(picks))
    return best


def explain(
    score: IdentityScore, given: frozenset[str], records: Sequence[Mapping[str, Any]]
) -> tuple[Explanation, ...]:
    """The picks of the comparisons the query gave a value for, each naming the source
    of the record that gave it."""
    return tuple(
        Explanation(p.hit.comparison, p.hit.label,
                    round(p.hit.weight + p.hit.tf_adjustment, 6),
                    str(records[p.record]["source_id"]), str(records[p.record]["record_id"]))
        for p in score.picks
        if p.hit.comparison in given or p.hit.comparison not in _KNOWN
    )


def summary(
    decision: AccessDecision, best: Mapping[str, Any], records: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Summary fields of a hit: each from the best record when its decision lets the
    field leave, else from the first visible record (by id) whose decision does; and
    the segments of the scoring record and of those the fields came from."""
    out: dict[str, Any] = {}
    ordered = [best, *(r for r in records if r["record_id"] != best["record_id"])]
    segment = [str(r["segment"]) for r in ordered]
    fields_of = [set(decision.fields_for(g)) for g in segment]
    used = {segment[0]}
    for f in SUMMARY_FIELDS:
        for i, r in enumerate(ordered):
            value = _dob(r) if f == "dob" else r.get(f)
            if f in fields_of[i] and value not in (None, ""):
                out[f] = value
                used.add(segment[i])
                break
    return out, tuple(sorted(used))


def _dob(row: Mapping[str, Any]) -> str | None:
    """The birth date as precise as the record gives it: 1984-03-07, or 1984-03."""
    day, month = row.get("dob_day"), row.get("dob_month")
    if day:
        return f"{day[:4]}-{day[4:6]}-{day[6:]}"
    return f"{month[:4]}-{month[4:]}" if month else None


@dataclass(frozen=True, slots=True)
class ScoredView:
    """An identity's visible records, and the same records as they may be compared."""

    records: list[dict[str, Any]]
    comparable: list[dict[str, Any]]


def prepare(
    decision: AccessDecision, views: Mapping[K, list[dict[str, Any]]]
) -> dict[K, ScoredView]:
    """Each view's records cut to what may be compared (:func:`scorable`), once."""
    withheld: dict[str, tuple[str, ...]] = {}
    out: dict[K, ScoredView] = {}
    for iid, recs in views.items():
        rows = []
        for r in recs:
            seg = str(r["segment"])
            if seg not in withheld:
                withheld[seg] = withheld_columns(decision.fields_for(seg))
            cut_cols = withheld[seg]
            parts = r.get("last_name_parts")
            if isinstance(parts, list):  # hashable, for Levels' keys (compares the same)
                r["last_name_parts"] = tuple(parts)
            rows.append({**r, **dict.fromkeys(cut_cols)} if cut_cols else r)
        out[iid] = ScoredView(recs, rows)
    return out


def prepare_fragments(
    decision: AccessDecision, frags: Mapping[str, Sequence[list[dict[str, Any]]]]
) -> dict[str, list[ScoredView]]:
    """:func:`prepare` for each identity's fragments (``scope.fragments``)."""
    flat = {(iid, k): f for iid, fs in frags.items() for k, f in enumerate(fs)}
    views = prepare(decision, flat)
    return {iid: [views[(iid, k)] for k in range(len(fs))] for iid, fs in frags.items()}


def best_fragment(
    levels: Levels, query_rows: Sequence[QueryRecord], frags: Sequence[ScoredView]
) -> tuple[IdentityScore, ScoredView] | None:
    """The identity's best-scoring fragment (ties: the first, the one its profile
    shows), and its score."""
    best: tuple[IdentityScore, ScoredView] | None = None
    for view in frags:
        s = identity_score(levels, query_rows, view.comparable)
        if s is not None and (best is None or s.weight > best[0].weight):
            best = (s, view)
    return best


def score_identities(
    scorer: Scorer,
    decision: AccessDecision,
    query_rows: Sequence[QueryRecord],
    identity_ids: Sequence[str],
    views: Mapping[str, Sequence[ScoredView]],
    top: int | None = None,
) -> list[Hit]:
    """A hit for each identity whose visible records agree on some given criterion (a
    level with a positive weight), best first: by :func:`identity_score`'s weight on
    its best fragment (:func:`best_fragment`), ties by identity id (identities the
    model cannot tell apart on what the query gives are ties: no order between them is
    evidence). ``top``: only the best so many are explained and summarised."""
    given = [given_comparisons(q) for q in query_rows]
    levels = Levels(scorer)
    ranked: list[tuple[float, str, IdentityScore, ScoredView]] = []
    for iid in dict.fromkeys(identity_ids):
        got = best_fragment(levels, query_rows, views.get(iid, ()))
        if got is not None:
            ranked.append((-got[0].weight, iid, *got))
    ranked.sort(key=lambda t: (t[0], t[1]))
    hits: list[Hit] = []
    for _, iid, s, view in ranked:
        if top is not None and len(hits) >= top:
            break
        hit = _hit(decision, iid, s, view, given)
        if hit is not None:
            hits.append(hit)
    return hits


def _hit(decision: AccessDecision, iid: str, s: IdentityScore, view: ScoredView,
         given: Sequence[frozenset[str]]) -> Hit | None:
    """The hit of an identity scored ``s`` on ``view``; None when no level of a given
    criterion has a positive weight."""
    explanation = explain(s, given[s.reading], view.comparable)
    if not any(e.weight > 0 for e in explanation):
        return None
    used = sorted({p.record for p in s.picks if not p.null} or {0})
    lead = max(used, key=lambda j: (sum(p.record == j for p in s.picks), -j))
    shown, segments = summary(decision, view.records[lead], view.records)
    segments = tuple(sorted({*segments, *(str(view.records[j]["segment"]) for j in used)}))
    return Hit(iid, probability(s.weight), explanation, shown, s.weight,
               str(view.records[lead]["record_id"]), segments,
               tuple(str(view.records[j]["record_id"]) for j in used))


def rank_lazily(
    scorer: Scorer,
    decision: AccessDecision,
    query_rows: Sequence[QueryRecord],
    identity_ids: Sequence[str],
    members: Mapping[str, list[dict[str, Any]]],
    cut: Callable[[Mapping[str, list[dict[str, Any]]]],
                  Mapping[str, Sequence[list[dict[str, Any]]]]],
    top: int,
) -> list[Hit]:
    """:func:`score_identities` over the fragments ``cut(members)`` gives
    (``scope.fragments``), splitting only the identities that might reach the first
    ``top`` places: the same hits, in the same order. An identity of one visible
    record is its own fragment; any other is first ranked by a bound
    (:func:`identity_score` with ``bound``: no part of its members scores more), and
    split (with the others that are next, in one read of the edges) when that bound
    reaches the head of the ranking; it goes back in at its best fragment's score."""
    given = [given_comparisons(q) for q in query_rows]
    levels = Levels(scorer)
    prepared = prepare(decision, members)
    heap: list[tuple[float, str, bool, IdentityScore]] = []
    views: dict[str, ScoredView] = {}
    for iid in dict.fromkeys(identity_ids):
        view = prepared.get(iid)
        if view is None or not view.records:
            continue
        exact = len(view.records) < 2
        s = identity_score(levels, query_rows, view.comparable, bound=not exact)
        assert s is not None
        if exact:
            views[iid] = view
        heap.append((-s.weight, iid, exact, s))
    heapq.heapify(heap)
    hits: list[Hit] = []
    while heap and len(hits) < top:
        _, iid, exact, s = heap[0]
        if exact:
            heapq.heappop(heap)
            hit = _hit(decision, iid, s, views[iid], given)
            if hit is not None:
                hits.append(hit)
            continue
        # cut this one and the next bounded ones, as many as places are left (a read of
        # the edges costs ~1 ms and ~0.1 ms a record: reading more rarely pays)
        batch = [t[1] for t in heapq.nsmallest(top - len(hits), heap) if not t[2]]
        frags = prepare_fragments(decision, cut({i: members[i] for i in batch}))
        heap = [t for t in heap if t[1] not in set(batch)]
        for i in batch:
            got = best_fragment(levels, query_rows, frags.get(i, ()))
            if got is not None:
                views[i] = got[1]
                heap.append((-got[0].weight, i, True, got[0]))
        heapq.heapify(heap)
    return hits
