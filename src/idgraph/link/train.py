"""Training the Splink model on the store's own DuckDB connection, and keeping it.

Unsupervised first (u by random sampling, m by expectation maximisation over several
blocking rules); then, when investigators have recorded enough ``same`` judgements,
those pairs add a labelled estimate of m. The trained model JSON lives in
``link_models`` so resolve, explain and search reuse it without retraining.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from unittest.mock import patch

from splink import Linker
from splink.backends.duckdb import DuckDBAPI

from idgraph.link.model import (
    DETERMINISTIC_RULES,
    INPUT_SQL,
    INPUT_TABLE,
    TRAINING_RULES,
    settings_dict,
)
from idgraph.link.tables import ensure_tables, one
from idgraph.store import Store

Progress = Callable[[str], None]

# Fewer labelled pairs than this are too few to estimate m from.
MIN_LABELS_FOR_M = 20
# Training reads a uniform sample of at most this many records: m and u do not depend
# on the number of records, and neither does the prior (matches and pairs both scale
# with the square of the sampling fraction).
TRAIN_SAMPLE: Final = 60_000
SAMPLE_TABLE: Final = "__idg_train_input"
SCRATCH_CATALOG: Final = "__idg_scratch"

for _name in ("splink", "splink.internals"):
    logging.getLogger(_name).setLevel(logging.ERROR)


@dataclass(frozen=True)
class TrainedModel:
    """A Splink settings dict with trained parameters, and its id in ``link_models``."""

    model_id: str
    model: dict[str, Any]


def prepare_input(store: Store) -> int:
    """(Re)build the temp input table of current records; return its row count."""
    store.execute(INPUT_SQL)
    return int(one(store, f"SELECT count(*) FROM {INPUT_TABLE}"))


def build_linker(store: Store, model: dict[str, Any], table: str = INPUT_TABLE,
                 keep_values: bool = True) -> Linker:
    """A Splink linker over the prepared input table, on the store's connection.

    Predictions keep the level (gamma) and weight columns of every comparison, which
    evidence needs, and with ``keep_values`` the compared values too (Splink keeps the
    levels only with the values, unless :func:`levels_without_values` is active)."""
    db_api = DuckDBAPI(connection=store.con)
    sdf = db_api.register(table)
    settings = json.loads(json.dumps(model))
    settings["retain_matching_columns"] = keep_values
    settings["retain_intermediate_calculation_columns"] = True
    # models saved before the integer key keyed on record_id
    settings["unique_id_column_name"] = "uid"
    retained = settings.setdefault("additional_columns_to_retain", [])
    if "record_id" not in retained:
        retained.insert(0, "record_id")
    # blocking is not trained: saved models predict with the current rules
    settings["blocking_rules_to_generate_predictions"] = settings_dict()[
        "blocking_rules_to_generate_predictions"]
    return Linker(sdf, settings)


_PREDICT_COLUMNS_HOOK: Final = ("self", "retain_matching_columns",
                                 "retain_intermediate_calculation_columns", "training_mode")


@contextmanager
def levels_without_values() -> Iterator[bool]:
    """While active, Splink's predictions keep each comparison's level (gamma column)
    without the compared values, as its own training mode does.

    Splink 5 keeps the levels only together with both records' values of every
    compared column. At ~1M records those values are 55 of the 84 columns of 4M
    scored pairs, and carrying them cost 7 s of the prediction; idgraph reads the
    values from the records when it explains a pair. The shim asks Splink's column
    chooser for its training-mode selection. Yields False, changing nothing, if this
    Splink's chooser is not the one the shim knows (then keep the values)."""
    try:
        from splink.internals.comparison import Comparison
    except ImportError:  # a Splink laid out otherwise
        yield False
        return
    original = getattr(Comparison, "_columns_to_select_for_predict", None)
    if original is None or tuple(inspect.signature(original).parameters) != _PREDICT_COLUMNS_HOOK:
        yield False
        return

    def with_levels(self: Comparison, retain_matching_columns: bool,
                    retain_intermediate_calculation_columns: bool,
                    training_mode: bool) -> list[str]:
        columns: list[str] = original(self, retain_matching_columns,
                                      retain_intermediate_calculation_columns, True)
        return columns

    with patch.object(Comparison, "_columns_to_select_for_predict", with_levels):
        yield True


@contextmanager
def scratch(store: Store) -> Iterator[None]:
    """Run Splink with an in-memory catalog as the default, so its intermediate
    tables (blocked pairs, predictions: millions of rows at scale) never reach the
    store's file and its write-ahead log. Inputs are TEMP tables, visible from any
    catalog."""
    home = str(one(store, "SELECT current_database()"))
    store.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {SCRATCH_CATALOG}")
    store.execute(f"USE {SCRATCH_CATALOG}")
    try:
        yield
    finally:
        store.execute(f"USE {_quoted(home)}")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sample_input(store: Store, sample: int, seed: int) -> None:
    """The training input: a uniform sample of records (the smallest hashes of their
    ids: the same records every time), plus every judged record."""
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE {SAMPLE_TABLE} AS SELECT * FROM {INPUT_TABLE}
        WHERE record_id IN (SELECT record_id FROM {INPUT_TABLE}
                            ORDER BY hash(record_id, {int(seed)}) LIMIT {int(sample)})
           OR record_id IN (SELECT record_id_l FROM judgements)
           OR record_id IN (SELECT record_id_r FROM judgements)
        ORDER BY uid"""  # a fixed order: Splink's seeded sampling then repeats itself
    )


def _label_pairs(store: Store) -> int:
    """Register the latest ``same`` judgements (both records current) as labels."""
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE __idg_labels AS
        WITH latest AS (
            SELECT least(record_id_l, record_id_r) AS a, greatest(record_id_l, record_id_r) AS b,
                   arg_max(verdict, "at") AS verdict
            FROM judgements GROUP BY 1, 2)
        SELECT l.uid AS uid_l, r.uid AS uid_r FROM latest
        JOIN {SAMPLE_TABLE} l ON l.record_id = latest.a
        JOIN {SAMPLE_TABLE} r ON r.record_id = latest.b
        WHERE verdict = 'same'"""
    )
    return int(one(store, "SELECT count(*) FROM __idg_labels"))


def train(
    store: Store,
    *,
    max_pairs: float = 1e6,
    seed: int = 42,
    progress: Progress | None = None,
    sample: int = TRAIN_SAMPLE,
    prepared: bool = False,
) -> TrainedModel:
    """Train the model on (a sample of) the current records, save it, and return it.

    ``prepared``: the caller has just built the input table (rebuilding it costs
    ~12 s at 1M records)."""
    ensure_tables(store)
    say = progress or (lambda _msg: None)
    n = (int(one(store, f"SELECT count(*) FROM {INPUT_TABLE}")) if prepared
         else prepare_input(store))
    if n < 2:
        raise ValueError("need at least two current records to train a model")
    _sample_input(store, sample, seed)
    n_labels = _label_pairs(store)  # reads judgements: before leaving the store's catalog
    used_labels = n_labels >= MIN_LABELS_FOR_M
    with scratch(store):
        linker = build_linker(store, settings_dict(), SAMPLE_TABLE)
        say("estimating the prior match probability")
        linker.training.estimate_probability_two_random_records_match(
            list(DETERMINISTIC_RULES), recall=0.8
        )
        say("estimating u by random sampling")
        linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
        sessions = 0
        for rule in TRAINING_RULES:
            say(f"EM on {rule}")
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, estimate_without_term_frequencies=True
                )
                sessions += 1
            except Exception as exc:  # a training rule that finds no pairs is not fatal
                say(f"skipped EM on {rule}: {exc}")
        if used_labels:
            say(f"estimating m from {n_labels} judged pairs")
            linker.training.estimate_m_from_pairwise_labels("__idg_labels")
        model = linker.misc.save_model_to_json()
        filled = fill_unobserved(model, max_pairs)
        filled += floor_contact_m(model)
        detail = {"records": n, "sample": min(n, sample), "em_sessions": sessions,
                  "labels": n_labels, "labels_used": used_labels, "max_pairs": max_pairs,
                  "seed": seed, "filled": filled}
        linker.table_management.delete_tables_created_by_splink_from_db()
    return save_model(store, model, detail)


# m of an ``exact`` level EM never saw among its candidate matches (licence or plate
# numbers when no source repeats them): a modest prior belief, so agreement counts but
# cannot dominate. Other unseen levels get m = u (no evidence either way).
UNOBSERVED_M: Final = 0.1


def _unset(value: Any) -> bool:
    return value is None or isinstance(value, str)


def fill_unobserved(model: dict[str, Any], max_pairs: float) -> list[str]:
    """Give every non-null level an m and a u, in place; return what was filled.

    A level random sampling never met (an email or licence agreeing by chance) gets
    u = 1 / ``max_pairs``: fewer than one in the pairs sampled, so still an upper
    bound. Without this Splink scores such levels 0 (no evidence) however telling.
    """
    filled = []
    for comp in model["comparisons"]:
        top: float | None = None  # Bayes factor of the first (strictest) level
        for level in comp["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            name = f"{comp['output_column_name']}: {level['label_for_charts']}"
            guessed_u = _unset(level.get("u_probability"))
            if guessed_u:
                level["u_probability"] = 1.0 / max_pairs
                filled.append(f"{name} (u)")
            if _unset(level.get("m_probability")):
                exact = level["label_for_charts"] == "exact"
                level["m_probability"] = UNOBSERVED_M if exact else level["u_probability"]
                filled.append(f"{name} (m)")
            m, u = float(level["m_probability"]), float(level["u_probability"])
            if top is None:
                top = m / u
            elif guessed_u and m / u > top:  # a looser level never outweighs the strictest
                level["u_probability"] = m / top
    return filled


# Contacts change: a person's records show several phone numbers and mailboxes over the
# years (m(different) was 0.14 for phones where EM fitted well). Where a training sample
# holds few matched pairs with two different numbers, EM drives m(different) to ~0 and a
# second number costs a match 50-70 bits: at ~1M records one population lost 0.008 of
# B³ recall that way, and demo seed 42 had m(email different) = 0. The floor keeps a
# different number strong evidence against (about -4 bits), never a veto.
CONTACT_COMPARISONS: Final = ("phone", "email")
CONTACT_DIFFERENT_M_FLOOR: Final = 0.05


def floor_contact_m(model: dict[str, Any]) -> list[str]:
    """Raise m of the ``different`` level of phone and email to at least
    :data:`CONTACT_DIFFERENT_M_FLOOR`, in place; return what was raised."""
    raised = []
    for comp in model["comparisons"]:
        if comp["output_column_name"] not in CONTACT_COMPARISONS:
            continue
        for level in comp["comparison_levels"]:
            if (level.get("label_for_charts") == "different" and not level.get("is_null_level")
                    and float(level["m_probability"]) < CONTACT_DIFFERENT_M_FLOOR):
                level["m_probability"] = CONTACT_DIFFERENT_M_FLOOR
                raised.append(f"{comp['output_column_name']}: different (m floor)")
    return raised


def save_model(store: Store, model: dict[str, Any], detail: dict[str, Any]) -> TrainedModel:
    """Store a model; its id is a content hash, so saving twice is harmless."""
    ensure_tables(store)
    text = json.dumps(model, sort_keys=True, default=str)
    model_id = "M-" + hashlib.sha256(text.encode()).hexdigest()[:12]
    with store.transaction():
        store.execute(
            "INSERT INTO link_models VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [model_id, datetime.now(UTC).replace(tzinfo=None), text, json.dumps(detail)],
        )
    return TrainedModel(model_id, json.loads(text))


def latest_model(store: Store) -> TrainedModel | None:
    """The most recently saved model, if any."""
    ensure_tables(store)
    rows = store.fetchall(
        "SELECT model_id, model FROM link_models ORDER BY created_at DESC, model_id LIMIT 1"
    )
    if not rows:
        return None
    row = rows[0]
    return TrainedModel(str(row[0]), json.loads(row[1]))
