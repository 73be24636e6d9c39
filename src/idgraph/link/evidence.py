"""Per-comparison evidence of a scored pair: level label and match weight.

Level numbers (Splink's ``gamma``) follow Splink's rule: the null level is -1 and the
other levels count down from the top to 0.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

_IDENT: Final = re.compile(r"^[a-z_][a-z0-9_]*$")


def comparison_names(model: dict[str, Any]) -> list[str]:
    """Output column names of the model's comparisons (validated as identifiers)."""
    names = [str(c["output_column_name"]) for c in model["comparisons"]]
    for name in names:
        if not _IDENT.match(name):
            raise ValueError(f"unsafe comparison name in model: {name!r}")
    return names


def level_labels(model: dict[str, Any]) -> dict[str, dict[int, str]]:
    """comparison -> gamma -> label."""
    out: dict[str, dict[int, str]] = {}
    for comp in model["comparisons"]:
        levels = comp["comparison_levels"]
        non_null = [lv for lv in levels if not lv.get("is_null_level")]
        gamma = len(non_null) - 1
        labels: dict[int, str] = {}
        for lv in levels:
            label = str(lv.get("label_for_charts", lv["sql_condition"]))
            if lv.get("is_null_level"):
                labels[-1] = label
            else:
                labels[gamma] = label
                gamma -= 1
        out[str(comp["output_column_name"])] = labels
    return out


def has_tf(model: dict[str, Any], name: str) -> bool:
    comp = next(c for c in model["comparisons"] if c["output_column_name"] == name)
    return any(lv.get("tf_adjustment_column") for lv in comp["comparison_levels"])


def _weight_sql(model: dict[str, Any], name: str, alias: str) -> str:
    """One comparison's match weight in a predict row, term-frequency adjustment
    included."""
    weight = f"{alias}.mw_{name}"
    if has_tf(model, name):
        weight = f"({weight} + coalesce({alias}.mw_tf_adj_{name}, 0))"
    return weight


def evidence_sql(model: dict[str, Any], alias: str = "p") -> str:
    """A SQL expression building the evidence JSON of a Splink predict row.

    Compact on purpose (a 1M-record run keeps ~2M edges): ``{"gamma": [...],
    "weight": [...]}`` with one entry per comparison in the model's order; the
    run's model (``link_runs.model_id``) names the comparisons and labels the levels,
    see :func:`decode_evidence`. Building nested JSON objects with labels cost ~5x
    more in DuckDB.
    """
    names = comparison_names(model)
    gammas = [f"{alias}.gamma_{name}::TINYINT" for name in names]
    weights = [f"round({_weight_sql(model, name, alias)}, 3)" for name in names]
    return (f"to_json(struct_pack(gamma := list_value({', '.join(gammas)}), "
            f"weight := list_value({', '.join(weights)})))")


def decode_evidence(model: dict[str, Any], evidence: str | dict[str, Any]
                    ) -> dict[str, dict[str, Any]]:
    """Stored evidence -> comparison -> {"level", "gamma", "weight"}."""
    data = json.loads(evidence) if isinstance(evidence, str) else evidence
    labels = level_labels(model)
    out: dict[str, dict[str, Any]] = {}
    for name, gamma, weight in zip(comparison_names(model), data["gamma"], data["weight"],
                                   strict=True):
        out[name] = {"level": labels[name].get(int(gamma), "?"), "gamma": int(gamma),
                     "weight": float(weight)}
    return out


def weights_sql(model: dict[str, Any], alias: str = "p") -> str:
    """Per-comparison match weights of a Splink predict row as a list, in the model's
    order, NULL where a value is missing (the null level says nothing)."""
    parts = [f"CASE WHEN {alias}.gamma_{name} = -1 THEN NULL "
             f"ELSE {_weight_sql(model, name, alias)} END" for name in comparison_names(model)]
    return f"list_value({', '.join(parts)})::FLOAT[]"
