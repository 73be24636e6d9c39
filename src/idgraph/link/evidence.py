"""Per-comparison evidence of a scored pair: level label and match weight.

Level numbers (Splink's ``gamma``) follow Splink's rule: the null level is -1 and the
other levels count down from the top to 0.
"""

from __future__ import annotations

import re
from typing import Any, Final

from idgraph.store import Store

_IDENT: Final = re.compile(r"^[a-z_][a-z0-9_]*$")
LEVELS_TABLE: Final = "__idg_levels"


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


def register_levels(store: Store, model: dict[str, Any]) -> None:
    """A temp lookup table ``comparison:gamma -> label`` for evidence SQL."""
    store.execute(f"CREATE OR REPLACE TEMP TABLE {LEVELS_TABLE} (key VARCHAR, label VARCHAR)")
    rows = [
        [f"{name}:{g}", label]
        for name, labels in level_labels(model).items()
        for g, label in labels.items()
    ]
    store.con.executemany(f"INSERT INTO {LEVELS_TABLE} VALUES (?, ?)", rows)


def evidence_sql(model: dict[str, Any], alias: str = "p", lookup: str = "lv") -> str:
    """A SQL expression building the evidence JSON from a Splink predict row.

    Needs ``{lookup}.m`` in scope: ``(SELECT map(list(key), list(label)) AS m FROM
    __idg_levels) AS {lookup}``.
    """
    parts = []
    for name in comparison_names(model):
        weight = f"{alias}.mw_{name}"
        if has_tf(model, name):
            weight = f"({weight} + coalesce({alias}.mw_tf_adj_{name}, 0))"
        parts.append(
            f"'{name}', json_object('level', {lookup}.m['{name}:' || {alias}.gamma_{name}], "
            f"'gamma', {alias}.gamma_{name}, 'weight', round({weight}, 4))"
        )
    return "json_object(" + ", ".join(parts) + ")"
