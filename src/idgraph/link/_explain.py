"""Why two records do (or do not) belong together: the model's waterfall, as data.

Any two current records can be explained, also ones blocking never paired: the pair
is scored directly with the saved model (Splink ``score_pair``).

Private: the waterfall quotes both records' values, so it leaves the system only
through the policy-checked read :func:`idgraph.policy.explain.read_explanation`
(``idgraph explain``, ``GET /api/v1/explain``), never from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from idgraph.link.evidence import comparison_names, has_tf, level_labels
from idgraph.link.model import INPUT_TABLE, comparisons
from idgraph.link.score import input_rows, tf_columns
from idgraph.link.train import build_linker, latest_model, prepare_input
from idgraph.store import DuckDBStore, Store
from idgraph.store.graph import IdentityGraph


@dataclass(frozen=True)
class Feature:
    """One comparison's contribution: its level, its weight (log2 Bayes factor)."""

    comparison: str
    level: str
    weight: float
    detail: str
    running_probability: float = 0.0


@dataclass(frozen=True)
class Explanation:
    record_a: str
    record_b: str
    model_id: str
    prior: float
    prior_weight: float
    features: tuple[Feature, ...]
    match_weight: float
    probability: float

    def lines(self) -> list[str]:
        """A plain-text waterfall."""
        out = [f"prior: weight {self.prior_weight:+.2f} -> p={self.prior:.6f}"]
        out += [f"{f.comparison:<11} {f.level:<40} {f.weight:+7.2f}  p={f.running_probability:.6f}"
                for f in self.features]
        out.append(f"final: weight {self.match_weight:+.2f} -> p={self.probability:.6f}")
        return out


def probability(weight: float) -> float:
    """Match probability from a total match weight (log2 odds)."""
    if weight > 60:
        return 1.0
    odds = float(2.0**weight)
    return odds / (1.0 + odds)


def _columns_used(name: str) -> list[str]:
    descriptions = {c["output_column_name"]: c for c in comparisons()}
    comp = descriptions.get(name)
    if comp is None:
        return []
    text = " ".join(lv["sql_condition"] for lv in comp["comparison_levels"])
    return sorted({w[:-2] for w in text.replace("(", " ").replace(",", " ").split()
                   if w.endswith("_l")})


def _detail(name: str, level: str, weight: float, row: dict[str, Any]) -> str:
    shown = []
    for col in _columns_used(name):
        left, right = row.get(f"{col}_l"), row.get(f"{col}_r")
        if left is not None or right is not None:
            shown.append(f"{col} {left!s} vs {right!s}")
    verb = "supports" if weight > 0 else "counts against" if weight < 0 else "is neutral on"
    values = "; ".join(shown) if shown else "no values"
    return f"{name}: {level} ({values}) {verb} a match by {abs(weight):.2f} bits"


def _first_row(store: DuckDBStore, sql: str, params: list[Any] | None = None) -> dict[str, Any]:
    cur = store.con.execute(sql, params or [])
    rows = cur.fetchall()
    if not rows:
        raise KeyError("no row")
    names = [d[0] for d in cur.description or []]
    return dict(zip(names, rows[0], strict=True))


def _record(store: DuckDBStore, record_id: str) -> dict[str, Any]:
    try:
        return _first_row(store, f"SELECT * FROM {INPUT_TABLE} WHERE record_id = ?", [record_id])
    except KeyError:
        raise KeyError(f"unknown or non-current record: {record_id}") from None


def _literal(text: str) -> str:
    """A SQL string literal of ``text`` (standard quoting: quotes doubled; PostgreSQL
    reads backslashes as written, ``standard_conforming_strings`` being on)."""
    return "'" + text.replace("'", "''") + "'"


def _frequencies(store: Store, column: str) -> dict[Any, float]:
    """Splink's term frequencies of a column over the current records: each value's
    count over the count of non-NULL values."""
    counts: dict[Any, int] = {}
    for _, _, value, n in IdentityGraph(store).value_counts(column):
        counts[value] = counts.get(value, 0) + n
    total = sum(counts.values())
    return {value: n / total for value, n in counts.items()}


def explain(store: Store, a: str, b: str) -> Explanation:
    """Score the pair (a, b) with the saved model and break the score down (Splink on
    the store's DuckDB workspace: on PostgreSQL a copy of the two records, with the
    term frequencies Splink would count over all current records handed in)."""
    trained = latest_model(store)
    if trained is None:
        raise LookupError("no trained link model: run `idgraph resolve` first")
    where, tf = "is_current", {}
    if store.dialect != "duckdb":
        for rid in (a, b):
            if not input_rows(store, [rid]):
                raise KeyError(f"unknown or non-current record: {rid}")
        where += f" AND record_id IN ({_literal(a)}, {_literal(b)})"
        tf = {col: _frequencies(store, col) for col in tf_columns(trained.model)}
    with store.workspace({"records": where}, {}) as ws:
        prepare_input(ws)
        left, right = _record(ws, a), _record(ws, b)
        for col, freq in tf.items():
            for rec in (left, right):
                rec[f"tf_{col}"] = freq.get(rec.get(col))
        linker = build_linker(ws, trained.model)
        scored = linker.inference.score_pair(left, right)
        row = _first_row(ws, f"SELECT * FROM {scored.physical_name}")
        linker.table_management.delete_tables_created_by_splink_from_db()
    prior = float(trained.model["probability_two_random_records_match"])
    prior_weight = math.log2(prior / (1.0 - prior))
    labels = level_labels(trained.model)
    running = prior_weight
    features = []
    for name in comparison_names(trained.model):
        weight = float(row[f"mw_{name}"] or 0.0)
        if has_tf(trained.model, name):
            weight += float(row.get(f"mw_tf_adj_{name}") or 0.0)
        level = labels[name].get(int(row[f"gamma_{name}"]), "?")
        running += weight
        features.append(Feature(name, level, weight, _detail(name, level, weight, row),
                                probability(running)))
    total = float(row["match_weight"])
    return Explanation(a, b, trained.model_id, prior, prior_weight, tuple(features), total,
                       float(row["match_probability"]))
