"""Scoring a record pair in-process with the trained Splink model: no DuckDB per pair.

The stored model (``link_models``) is a Splink settings dict; each of its comparison
levels is matched by its SQL condition to the Python predicate defined beside it in
:mod:`idgraph.link.model`. A pair takes, per comparison, the first level whose
predicate holds (Splink's ``CASE WHEN``), and its match weight is summed as Splink's
predict sums it: the prior's weight, then per comparison its level's weight and its
term-frequency adjustment, left to right. So the weight equals Splink's
``match_weight`` for the same pair (``tests/link/test_link_score.py`` checks it on every
blocked pair of a resolved population).

Term frequencies are Splink's: a value's share of the non-NULL values of its column
over the current records. The :class:`Scorer` counts them once from the store (one
``GROUP BY`` per term-frequency column, by segment), so **after an ingest the scorer is
stale**: build a new one, or :meth:`Scorer.add` the rows of records that became current
(live attach does). :meth:`Scorer.for_segments` counts them over some segments only (a
purpose-scoped search must not be moved by a withheld source's values).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from splink import DuckDBAPI

from idgraph.link.blocking import create_blocked_pairs
from idgraph.link.model import INPUT_TABLE, Predicate, level_predicate
from idgraph.link.train import (
    build_linker,
    latest_model,
    levels_without_values,
    prepare_input,
    scratch,
)
from idgraph.schema import segment_key
from idgraph.store import DuckDBStore, Store
from idgraph.store.graph import INPUT_ROW_COLUMNS as GRAPH_INPUT_ROW_COLUMNS
from idgraph.store.graph import IdentityGraph

# Splink's floor for m and u before the logarithm (splink.internals.comparison_level)
M_U_CLAMP_MIN: Final = 1e-300
# Splink reads a level trained on no pairs as this probability
LEVEL_NOT_OBSERVED_TEXT: Final = "level not observed in training dataset"
LEVEL_NOT_OBSERVED_PROBABILITY: Final = 1e-6

# Input-row columns (INPUT_COLUMNS without its SQL): what a row passed to score() holds
INPUT_ROW_COLUMNS: Final[tuple[str, ...]] = GRAPH_INPUT_ROW_COLUMNS


class ModelError(ValueError):
    """The stored model cannot be scored in-process (no model, or a level this
    version of idgraph has no predicate for)."""


class LevelHit(NamedTuple):
    """One comparison's level for a pair: what the explanation shows."""

    comparison: str  # output column name ("first_name", "dob", ...)
    label: str  # the level's label ("exact", "Jaro-Winkler >= 0.92", "missing", ...)
    weight: float  # the level's match weight, bits (0 for a missing value)
    tf_adjustment: float  # term-frequency adjustment, bits (0 where none applies)


class PairScore(NamedTuple):
    weight: float  # match weight, bits: Splink's match_weight
    probability: float  # Splink's match_probability
    levels: tuple[LevelHit, ...]  # one per comparison, in the model's order


class _Level(NamedTuple):
    """A compiled comparison level."""

    predicate: Predicate
    gamma: int  # Splink's comparison vector value (-1: the null level)
    label: str
    weight: float
    tf_column: str | None  # term-frequency column, when the level is adjusted
    tf_log2_u: float  # log2 of u of the exact-match level on that column
    tf_weight: float
    tf_min_u: float


class _Comparison(NamedTuple):
    name: str
    levels: tuple[_Level, ...]


def _probability_value(level: Mapping[str, Any], key: str) -> float:
    value = level.get(key)
    if value == LEVEL_NOT_OBSERVED_TEXT:
        return LEVEL_NOT_OBSERVED_PROBABILITY
    if value is None:
        raise ModelError(f"level {level.get('label_for_charts')!r} has no {key}")
    return float(value)


def _level_weight(level: Mapping[str, Any]) -> float:
    """Splink's ``ComparisonLevel._match_weight``."""
    if level.get("is_null_level"):
        return 0.0
    m = max(_probability_value(level, "m_probability"), M_U_CLAMP_MIN)
    u = max(_probability_value(level, "u_probability"), M_U_CLAMP_MIN)
    return math.log2(m / u)


def _exact_u(levels: Sequence[Mapping[str, Any]], column: str) -> float:
    """u of the comparison's exact-match level on ``column`` (Splink adjusts term
    frequencies against it)."""
    for level in levels:
        if level["sql_condition"].strip().lower() == f"{column}_l = {column}_r":
            return _probability_value(level, "u_probability")
    raise ModelError(f"no exact-match level on {column} for its term-frequency adjustment")


def compile_model(model: Mapping[str, Any]) -> tuple[_Comparison, ...]:
    out = []
    for comp in model["comparisons"]:
        raw = comp["comparison_levels"]
        gamma = sum(1 for lv in raw if not lv.get("is_null_level")) - 1
        levels = []
        for lv in raw:
            try:
                predicate = level_predicate(lv["sql_condition"])
            except KeyError as exc:
                raise ModelError(f"{comp['output_column_name']}: {exc.args[0]}") from None
            tf = lv.get("tf_adjustment_column")
            tf_weight = float(lv.get("tf_adjustment_weight", 1.0)) if tf else 0.0
            is_null = bool(lv.get("is_null_level"))
            adjusted = bool(tf) and tf_weight != 0 and not is_null and (
                lv["sql_condition"].strip().upper() != "ELSE")
            levels.append(_Level(
                predicate, -1 if is_null else gamma, str(lv.get("label_for_charts", "")),
                _level_weight(lv), str(tf) if adjusted else None,
                math.log2(_exact_u(raw, str(tf))) if adjusted else 0.0,
                tf_weight, float(lv.get("tf_minimum_u_value", 0.0))))
            if not is_null:
                gamma -= 1
        if raw[-1]["sql_condition"].strip().upper() != "ELSE":
            raise ModelError(f"{comp['output_column_name']}: the last level must be ELSE")
        out.append(_Comparison(str(comp["output_column_name"]), tuple(levels)))
    return tuple(out)


def tf_columns(model: Mapping[str, Any]) -> tuple[str, ...]:
    """Columns the model adjusts for term frequency, in model order."""
    cols = [str(lv["tf_adjustment_column"]) for comp in model["comparisons"]
            for lv in comp["comparison_levels"] if lv.get("tf_adjustment_column")]
    return tuple(dict.fromkeys(cols))


def probability(weight: float) -> float:
    """Splink's match probability of a match weight (stable on both sides of 0)."""
    if weight >= 0:
        return 1.0 / (1.0 + math.pow(2.0, -weight))
    bf = math.pow(2.0, weight)
    return bf / (1.0 + bf)


def match_weight(probability: float) -> float:
    """The match weight (bits) of a match probability, kept finite (as resolve's)."""
    p = min(max(probability, 1e-9), 1 - 1e-9)
    return math.log2(p / (1 - p))


# segment -> column -> value -> number of current records carrying it
SegmentCounts = dict[str, dict[str, Counter[Any]]]


class Frequencies:
    """Term frequencies of some columns (Splink's: count / non-NULL count)."""

    __slots__ = ("counts", "totals")

    def __init__(self, counts: Mapping[str, Counter[Any]]) -> None:
        self.counts = {col: Counter(c) for col, c in counts.items()}
        self.totals = {col: sum(c.values()) for col, c in self.counts.items()}

    def tf(self, column: str, value: Any) -> float | None:
        """The value's term frequency, or None (NULL, or never seen)."""
        if value is None:
            return None
        n = self.counts[column].get(value)
        return n / self.totals[column] if n else None

    def add(self, row: Mapping[str, Any], sign: int = 1) -> None:
        for col, counts in self.counts.items():
            value = row.get(col)
            if value is not None:
                counts[value] += sign
                self.totals[col] += sign


def _segment_counts(store: Store, columns: Sequence[str]) -> SegmentCounts:
    """One GROUP BY per column over the current records, by segment."""
    out: SegmentCounts = {}
    for col in columns:
        if col not in INPUT_ROW_COLUMNS:
            raise ModelError(f"unknown term-frequency column {col!r}")
        for source, origin, value, n in IdentityGraph(store).value_counts(col):
            seg = out.setdefault(segment_key(source, origin), {})
            seg.setdefault(col, Counter())[value] += int(n)
    return out


def _sum_segments(counts: SegmentCounts, columns: Sequence[str],
                  segments: Collection[str] | None) -> dict[str, Counter[Any]]:
    total: dict[str, Counter[Any]] = {col: Counter() for col in columns}
    for seg, by_col in counts.items():
        if segments is None or seg in segments:
            for col, c in by_col.items():
                total[col].update(c)
    return total


@dataclass(frozen=True, slots=True)
class _Model:
    model_id: str
    model: dict[str, Any]
    comparisons: tuple[_Comparison, ...]
    prior_weight: float
    tf_columns: tuple[str, ...]
    null_levels: frozenset[tuple[str, str]]


class Scorer:
    """The trained model's pair score, in Python (see the module doc)."""

    def __init__(self, model: _Model, segment_counts: SegmentCounts,
                 segments: Collection[str] | None = None) -> None:
        self._model = model
        self._segment_counts = segment_counts
        self.segments = None if segments is None else frozenset(segments)
        self.frequencies = Frequencies(_sum_segments(segment_counts, model.tf_columns,
                                                     self.segments))

    @classmethod
    def from_model(cls, model: Mapping[str, Any], segment_counts: SegmentCounts | None = None,
                   model_id: str = "") -> Scorer:
        """A scorer of a model dict, with term frequencies from ``segment_counts``."""
        prior = float(model["probability_two_random_records_match"])
        comps = compile_model(model)
        compiled = _Model(model_id, dict(model), comps,
                          math.log2(prior / (1 - prior)) if prior != 1 else math.inf,
                          tf_columns(model),
                          frozenset((c.name, lv.label) for c in comps for lv in c.levels
                                    if lv.gamma == -1))
        return cls(compiled, segment_counts or {})

    @classmethod
    def from_store(cls, store: Store, segments: Collection[str] | None = None) -> Scorer:
        """The latest trained model, term frequencies over the current records (of
        ``segments`` only, when given)."""
        trained = latest_model(store)
        if trained is None:
            raise ModelError("no trained model: run `idgraph link` first")
        scorer = cls.from_model(trained.model, model_id=trained.model_id)
        counts = _segment_counts(store, scorer._model.tf_columns)
        return cls(scorer._model, counts, segments)

    @property
    def segment_counts(self) -> SegmentCounts:
        """The term-frequency counts per segment this scorer sums (what a bulk-match
        worker needs to rebuild it)."""
        return self._segment_counts

    @property
    def model_id(self) -> str:
        return self._model.model_id

    @property
    def model(self) -> dict[str, Any]:
        return self._model.model

    @property
    def prior_weight(self) -> float:
        return self._model.prior_weight

    def for_segments(self, segments: Collection[str] | None) -> Scorer:
        """This model with term frequencies over the current records of ``segments``
        only (None: all)."""
        return Scorer(self._model, self._segment_counts, segments)

    def add(self, rows: Iterable[Mapping[str, Any]], segment: str | None = None) -> None:
        """Count the rows of records that became current (after an ingest or attach).
        ``segment`` is their segment key (by default their source id)."""
        for row in rows:
            seg = segment or str(row["source_id"])
            by_col = self._segment_counts.setdefault(seg, {})
            for col in self._model.tf_columns:
                value = row.get(col)
                if value is not None:
                    by_col.setdefault(col, Counter())[value] += 1
            if self.segments is None or seg in self.segments:
                self.frequencies.add(row)

    def _adjust(self, level: _Level, a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
        """Splink's term-frequency adjustment: the greater of the two sides' frequency
        (one side's when the other is unknown), not below the level's minimum."""
        col = level.tf_column
        assert col is not None
        tf_a = self.frequencies.tf(col, a[col])
        tf_b = self.frequencies.tf(col, b[col])
        if tf_a is None:
            if tf_b is None:
                return 0.0
            tf_a = tf_b
        u = max(tf_a, tf_b if tf_b is not None else tf_a, level.tf_min_u)
        return level.tf_weight * (level.tf_log2_u - math.log2(u))

    def _levels(self, a: Mapping[str, Any], b: Mapping[str, Any]) -> list[_Level]:
        chosen = []
        for comp in self._model.comparisons:
            for level in comp.levels:
                if level.predicate(a, b):
                    chosen.append(level)
                    break
        return chosen

    def weight(self, a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
        """The pair's match weight alone (what :meth:`score` sums, without the
        explanation)."""
        total = self._model.prior_weight
        for level in self._levels(a, b):
            total += level.weight
            if level.tf_column is not None:
                total += self._adjust(level, a, b)
        return total

    def weight_labels(self, a: Mapping[str, Any],
                      b: Mapping[str, Any]) -> tuple[float, tuple[str, ...]]:
        """The pair's match weight and each comparison's level label, in model order
        (what :meth:`score` gives, without building the explanation)."""
        total = self._model.prior_weight
        labels = []
        for level in self._levels(a, b):
            total += level.weight
            if level.tf_column is not None:
                total += self._adjust(level, a, b)
            labels.append(level.label)
        return total, tuple(labels)

    def score(self, a: Mapping[str, Any], b: Mapping[str, Any]) -> PairScore:
        """Match weight, probability and the level of every comparison of a pair of
        input rows (:func:`input_rows`)."""
        total = self._model.prior_weight
        hits = []
        for comp, level in zip(self._model.comparisons, self._levels(a, b), strict=True):
            adj = self._adjust(level, a, b) if level.tf_column is not None else 0.0
            total += level.weight
            total += adj
            hits.append(LevelHit(comp.name, level.label, level.weight, adj))
        return PairScore(total, probability(total), tuple(hits))

    def gammas(self, a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[int, ...]:
        """Splink's level number (gamma) of every comparison, in model order."""
        return tuple(level.gamma for level in self._levels(a, b))

    def is_missing(self, hit: LevelHit) -> bool:
        """Is the hit its comparison's null level (a value missing: no evidence)?"""
        return (hit.comparison, hit.label) in self._model.null_levels

    def gamma_of(self, hit: LevelHit) -> int:
        """The level number (gamma) of a hit."""
        for comp in self._model.comparisons:
            if comp.name == hit.comparison:
                return next(lv.gamma for lv in comp.levels if lv.label == hit.label)
        raise KeyError(hit.comparison)

    def comparison_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self._model.comparisons)


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def input_rows(store: Store, record_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The current records ``record_ids`` as model input rows (the columns of
    ``INPUT_COLUMNS``, which are those of ``link.model.INPUT_SQL`` without ``uid`` and
    ``name_key``), in the order asked; ids not current are left out.

    A plain ``record_id IN (...)`` so DuckDB can use the index on ``records`` (on
    either backend: :meth:`idgraph.store.graph.IdentityGraph.input_rows`)."""
    return IdentityGraph(store).input_rows(record_ids)


# the contract's name (CONTRACTS14.md) for the same function
input_row = input_rows


@dataclass(frozen=True)
class Parity:
    """The in-process scorer beside Splink's own predictions on blocked pairs."""

    pairs: int  # pairs compared
    max_abs_diff: float  # largest |weight - Splink's match_weight|, bits
    level_mismatches: int  # pairs where some comparison's level (gamma) differs
    worst: tuple[str, str, float, float] | None  # record ids, ours, Splink's


def splink_parity(store: Store, scorer: Scorer, sample: int | None = None,
                  seed: int = 0) -> Parity:
    """Score the blocked pairs of the current records (``sample`` of them, drawn with
    ``seed``; None: all) with Splink's predict and with ``scorer``, and compare.

    Splink counts term frequencies over all current records: pass a scorer over all
    segments built after the last ingest. Runs in the store's DuckDB workspace."""
    with store.workspace({"records": "is_current"}, {}) as ws:
        return _splink_parity(ws, scorer, sample, seed)


def _splink_parity(store: DuckDBStore, scorer: Scorer, sample: int | None,
                   seed: int) -> Parity:
    prepare_input(store)
    table = "__idg_parity_pairs"
    with scratch(store), levels_without_values() as levels_only:
        create_blocked_pairs(store, table)
        if sample is not None:
            store.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {table} "
                          f"ORDER BY hash(join_key_l, join_key_r, ?) LIMIT ?", [seed, sample])
        linker = build_linker(store, scorer.model, keep_values=not levels_only)
        linker.table_management.register_blocked_pairs_for_predict(
            DuckDBAPI(connection=store.con).register(table))
        pred = linker.inference.predict(warning_mode="never")
        names = scorer.comparison_names()
        rows = store.fetchall(
            f"SELECT uid_l, uid_r, match_weight, {', '.join(f'gamma_{n}' for n in names)} "
            f"FROM {pred.physical_name}")
        linker.table_management.delete_tables_created_by_splink_from_db()
        store.execute(f"DROP TABLE IF EXISTS {table}")
    cols = ("uid", *INPUT_ROW_COLUMNS)
    by_uid = {r[0]: dict(zip(cols, r, strict=True)) for r in store.fetchall(
        f"SELECT uid, {', '.join(INPUT_ROW_COLUMNS)} FROM {INPUT_TABLE}")}
    worst: tuple[str, str, float, float] | None = None
    max_diff, mismatches = 0.0, 0
    for uid_l, uid_r, weight, *gammas in rows:
        a, b = by_uid[uid_l], by_uid[uid_r]
        ours = scorer.weight(a, b)
        diff = abs(ours - float(weight))
        if diff > max_diff or worst is None:
            max_diff = max(max_diff, diff)
            worst = (a["record_id"], b["record_id"], ours, float(weight))
        mismatches += scorer.gammas(a, b) != tuple(int(g) for g in gammas)
    return Parity(len(rows), max_diff, mismatches, worst)
