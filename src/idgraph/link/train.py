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
import math
import re
from collections.abc import Callable, Iterator, Sequence
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
    RECORD_KNOWN,
    TRAINING_RULES,
    settings_dict,
)
from idgraph.link.tables import one
from idgraph.store import DuckDBStore, Store
from idgraph.store.graph import IdentityGraph

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


def prepare_input(store: DuckDBStore) -> int:
    """(Re)build the temp input table of current records; return its row count."""
    store.execute(INPUT_SQL)
    return int(one(store, f"SELECT count(*) FROM {INPUT_TABLE}"))


def build_linker(store: DuckDBStore, model: dict[str, Any], table: str = INPUT_TABLE,
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
def scratch(store: DuckDBStore) -> Iterator[None]:
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


def _sample_input(store: DuckDBStore, sample: int, seed: int) -> None:
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


def _label_pairs(store: DuckDBStore) -> int:
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
    ~12 s at 1M records). Training runs in the store's DuckDB workspace (the store
    itself on DuckDB; on PostgreSQL a copy of the current records and judgements)."""
    with store.workspace(TRAIN_READS, {}) as ws:
        model, detail = fit(ws, max_pairs=max_pairs, seed=seed, progress=progress,
                            sample=sample, prepared=prepared and ws is store)
    return save_model(store, model, detail)


# what training reads (a workspace's copy on PostgreSQL)
TRAIN_READS: Final[dict[str, str | None]] = {"records": "is_current", "judgements": None}


def fit(
    store: DuckDBStore,
    *,
    max_pairs: float = 1e6,
    seed: int = 42,
    progress: Progress | None = None,
    sample: int = TRAIN_SAMPLE,
    prepared: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The trained model dict and a description of the run, not saved (see :func:`train`)."""
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
        u_levels = estimate_u(store, max_pairs, seed)
        linker = build_linker(store, _with_u(linker.misc.save_model_to_json(), u_levels),
                              SAMPLE_TABLE)
        sessions = 0
        for rule in TRAINING_RULES:
            say(f"EM on {rule}")
            before = linker.misc.save_model_to_json()
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, estimate_without_term_frequencies=True
                )
                sessions += 1
                # floored before the next session: a ``different`` level at m ~ 0 would
                # give its pairs a posterior of 0 there, and a level seen only in such
                # pairs an m of 0.0, which Splink refuses (the whole session was lost)
                trained = linker.misc.save_model_to_json()
                if floor_contact_m(trained):
                    linker = build_linker(store, trained, SAMPLE_TABLE)
            except Exception as exc:  # a training rule that finds no pairs is not fatal
                say(f"skipped EM on {rule}: {exc}")
                # a session that fails half-way has already written some of its values
                # (a prior of 0.53 instead of 1.6e-4 was seen): start again from before
                linker = build_linker(store, before, SAMPLE_TABLE)
        if used_labels:
            say(f"estimating m from {n_labels} judged pairs")
            linker.training.estimate_m_from_pairwise_labels("__idg_labels")
        model = linker.misc.save_model_to_json()
        filled = fill_unobserved(model, max_pairs)
        filled += floor_contact_m(model)
        filled += floor_agreement_m(model)
        detail = {"records": n, "sample": min(n, sample), "em_sessions": sessions,
                  "labels": n_labels, "labels_used": used_labels, "max_pairs": max_pairs,
                  "seed": seed, "filled": filled}
        linker.table_management.delete_tables_created_by_splink_from_db()
    return model, detail


# Random pairs for u are drawn independently, pair by pair. Splink's random sampling
# takes every pair among a random subset of records (1e6 pairs are all pairs of ~1,400
# records), so its counts cluster by person: a rare level (a surname swapped with the
# given name, the same house on a similar street) was seen a handful of times and its
# weight moved by up to 2 bits from one seed to the next on a 3,000-person population.
U_PAIRS: Final = "__idg_u_pairs"
# A level seen in fewer random pairs than this gets u = U_MIN_COUNT / pairs (both values
# known): a count that small is mostly luck (an email agreeing by chance in 0 or 3 of
# the ~50k pairs with two emails moved its weight 6 bits between seeds), and the bound
# can only understate the level's weight. At 30 the count's own noise is ~0.26 bits.
U_MIN_COUNT: Final = 30


def _draws_sql(tag: str, known: str, pairs: int, seed: int) -> str:
    """``pairs`` random pairs of the training sample's records where ``known`` holds,
    each drawn independently (a pair of one record with itself is dropped)."""
    return f"""SELECT '{tag}' AS match_key, least(l.uid, r.uid) AS join_key_l,
               greatest(l.uid, r.uid) AS join_key_r
        FROM (SELECT hash(i, {int(seed)}, '{tag}l') % n.n AS a,
                     hash(i, {int(seed)}, '{tag}r') % n.n AS b
              FROM range({int(pairs)}) AS t(i),
                   (SELECT count(*) AS n FROM {SAMPLE_TABLE} WHERE {known}) AS n) AS d
        JOIN (SELECT row_number() OVER (ORDER BY uid) - 1 AS k, uid FROM {SAMPLE_TABLE}
              WHERE {known}) AS l ON l.k = d.a
        JOIN (SELECT row_number() OVER (ORDER BY uid) - 1 AS k, uid FROM {SAMPLE_TABLE}
              WHERE {known}) AS r ON r.k = d.b
        WHERE d.a <> d.b"""


def estimate_u(store: DuckDBStore, max_pairs: float, seed: int) -> dict[str, dict[int, float]]:
    """u of every non-null level (comparison -> gamma -> share of the random pairs
    where both values are known that fall in that level), from ``max_pairs`` pairs of
    the training sample drawn independently with ``seed``. A comparison whose values
    few records carry (an email, a licence) would be known in few of those pairs: it
    gets its own ``max_pairs / 10`` pairs drawn among the records that carry it. A rare
    level's count is raised to :data:`U_MIN_COUNT`. A comparison never known on both
    sides is left out (:func:`fill_unobserved` gives it a u)."""
    pairs = int(max_pairs)
    own_pairs = max(pairs // 10, 1)
    n = int(one(store, f"SELECT count(*) FROM {SAMPLE_TABLE}"))
    carried = store.fetchall("SELECT " + ", ".join(
        f"count(*) FILTER (WHERE {cond})" for cond in RECORD_KNOWN.values())
        + f" FROM {SAMPLE_TABLE}")[0]
    tag_of: dict[str, str] = {}
    parts = [_draws_sql("all", "true", pairs, seed)]
    for name, cond, count in zip(RECORD_KNOWN, RECORD_KNOWN.values(), carried, strict=True):
        tag_of[name] = "all"
        if int(count) >= 2 and (int(count) / n) ** 2 * pairs < own_pairs:
            tag_of[name] = name
            parts.append(_draws_sql(name, cond, own_pairs, seed))
    store.execute(f"CREATE OR REPLACE TABLE {U_PAIRS} AS " + "\nUNION ALL\n".join(parts))
    placeholder = json.loads(json.dumps(settings_dict()))  # levels share dicts (_ELSE)
    for comp in placeholder["comparisons"]:
        for level in comp["comparison_levels"]:
            if not level.get("is_null_level"):
                level["m_probability"] = level["u_probability"] = 0.5
                level.pop("tf_adjustment_column", None)
    out: dict[str, dict[int, float]] = {}
    with levels_without_values() as levels_only:
        linker = build_linker(store, placeholder, SAMPLE_TABLE, keep_values=not levels_only)
        linker.table_management.register_blocked_pairs_for_predict(
            DuckDBAPI(connection=store.con).register(U_PAIRS))
        pred = linker.inference.predict(warning_mode="never")
        for comp in placeholder["comparisons"]:
            name = comp["output_column_name"]
            rows = store.fetchall(
                f"SELECT gamma_{name}, count(*) FROM {pred.physical_name} "
                f"WHERE gamma_{name} <> -1 AND match_key = ? GROUP BY 1",
                [tag_of.get(name, "all")])
            known = sum(int(r[1]) for r in rows)
            if not known:
                continue
            seen = {int(g): int(c) for g, c in rows}
            levels = sum(1 for lv in comp["comparison_levels"] if not lv.get("is_null_level"))
            out[name] = {g: max(seen.get(g, 0), U_MIN_COUNT) / known for g in range(levels)}
        linker.table_management.delete_tables_created_by_splink_from_db()
    store.execute(f"DROP TABLE IF EXISTS {U_PAIRS}")
    for name, (column, gamma) in _exact_levels(placeholder).items():
        exact = _exact_u(store, column, RECORD_KNOWN[name])
        if exact is not None:
            out.setdefault(name, {})[gamma] = exact
    return out


_EQUAL = re.compile(r"^(\w+)_l = \1_r$")


def _exact_levels(model: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """Comparisons whose strictest level is one column's equality: name -> (column,
    gamma). Not the licence: its null level also holds numbers of two states."""
    found: dict[str, tuple[str, int]] = {}
    for comp in model["comparisons"]:
        name = comp["output_column_name"]
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        match = _EQUAL.match(levels[0]["sql_condition"]) if levels else None
        if match and name in RECORD_KNOWN and name != "dl_key":
            found[name] = (match.group(1), len(levels) - 1)
    return found


def _exact_u(store: DuckDBStore, column: str, known: str) -> float | None:
    """Share of all pairs of the training sample's records that carry the comparison
    (``known``) whose ``column`` is equal: counted from the values, not sampled. (A
    shared email is ~2 in a million pairs: 1e5 sampled pairs see none, and a count
    raised to :data:`U_MIN_COUNT` understated its weight by 7 bits.) Never below one
    pair in all pairs; None when fewer than two records carry it."""
    row = store.fetchall(
        f"""SELECT sum(n * (n - 1)), (SELECT count(*) FROM {SAMPLE_TABLE} WHERE {known})
        FROM (SELECT count(*) AS n FROM {SAMPLE_TABLE}
              WHERE {known} AND {column} IS NOT NULL GROUP BY {column})""")[0]
    holders = int(row[1])
    if holders < 2:
        return None
    pairs = holders * (holders - 1)
    return max(float(row[0] or 0), 2.0) / pairs


def _with_u(model: dict[str, Any], u_levels: dict[str, dict[int, float]]) -> dict[str, Any]:
    """The model with the estimated u of each level (Splink numbers the non-null levels
    from the strictest, n - 1, down to 0)."""
    for comp in model["comparisons"]:
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        found = u_levels.get(comp["output_column_name"], {})
        for gamma, level in zip(range(len(levels) - 1, -1, -1), levels, strict=True):
            if gamma in found:
                level["u_probability"] = found[gamma]
    return model


def level_weights(model: dict[str, Any]) -> dict[str, float]:
    """Match weight (log2 m/u, bits) of every non-null level: "comparison: label"."""
    weights: dict[str, float] = {}
    for comp in model["comparisons"]:
        for level in comp["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            if _unset(m) or _unset(u) or not float(m) or not float(u):
                continue
            name = f"{comp['output_column_name']}: {level['label_for_charts']}"
            weights[name] = math.log2(float(m) / float(u))
    return weights


def weight_spread(
    store: Store, seeds: Sequence[int] = (1, 2, 3, 4, 5), *, sample: int = TRAIN_SAMPLE,
    max_pairs: float = 1e6, progress: Progress | None = None,
) -> dict[str, tuple[float, float]]:
    """(lowest, highest) match weight of every level over models trained with each seed
    (a seed picks the training sample and the u sample); nothing is saved."""
    with store.workspace(TRAIN_READS, {}) as ws:
        prepare_input(ws)
        runs = [level_weights(fit(ws, seed=s, sample=sample, max_pairs=max_pairs,
                                  prepared=True, progress=progress)[0]) for s in seeds]
    return {name: (min(r[name] for r in runs if name in r),
                   max(r[name] for r in runs if name in r))
            for name in dict.fromkeys(k for r in runs for k in r)}


def format_spread(spread: dict[str, tuple[float, float]]) -> str:
    """One line per level: lowest and highest weight and their difference, widest first."""
    rows = sorted(spread.items(), key=lambda kv: kv[1][0] - kv[1][1])
    return "\n".join(f"{name:<62} {lo:7.2f} {hi:7.2f}  spread {hi - lo:5.2f} bits"
                      for name, (lo, hi) in rows)


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
        filled += _borrow_looser(comp, {n for n in filled if n.endswith(" (m)")})
    return filled


def _borrow_looser(comp: dict[str, Any], unseen_m: set[str]) -> list[str]:
    """An agreeing level whose m training never saw (a birth month where the training
    population gives full dates only) weighs what the nearest looser agreeing level
    that training did see weighs, when that one counts for a match: agreeing more
    closely is not less evidence. Without this, a searcher's "03/1984" scored 0 bits
    on the month while "1984" scored +6.3 on the year."""
    borrowed = []
    levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
    for i, level in enumerate(levels):
        name = f"{comp['output_column_name']}: {level['label_for_charts']}"
        if f"{name} (m)" not in unseen_m or level["label_for_charts"] in ("exact", "different"):
            continue
        for looser in levels[i + 1:]:
            lname = f"{comp['output_column_name']}: {looser['label_for_charts']}"
            if looser["label_for_charts"] == "different" or f"{lname} (m)" in unseen_m:
                continue
            factor = float(looser["m_probability"]) / float(looser["u_probability"])
            if factor > 1.0:
                level["m_probability"] = min(1.0, float(level["u_probability"]) * factor)
                borrowed.append(f"{name} (m from {looser['label_for_charts']})")
            break
    return borrowed


# Contacts change: a person's records show several phone numbers and mailboxes over the
# years (m(different) was 0.14 for phones where EM fitted well). Where a training sample
# holds few matched pairs with two different numbers, EM drives m(different) to ~0 and a
# second number costs a match 50-70 bits: at ~1M records one population lost 0.008 of
# B³ recall that way, and demo seed 42 had m(email different) = 0. The floor keeps a
# different number strong evidence against (about -4 bits), never a veto.
CONTACT_COMPARISONS: Final = ("phone", "email")
CONTACT_DIFFERENT_M_FLOOR: Final = 0.05


# Any other ``different`` level: where the training blocks hold no matched pair that
# disagrees (no middle name that differs in a small population), EM drives m to ~1e-20
# and the weight to -40..-80 bits, a different number each seed (-39 to -50 for middle
# names over five seeds at 1,500 people). The floor makes it -10 bits: still decisive,
# and the same every time. A different SSN or licence number stays a veto (-40 bits),
# the same veto every time.
DIFFERENT_M_FLOOR: Final = 0.001
IDENTIFIER_COMPARISONS: Final = ("ssn", "dl_key")
IDENTIFIER_DIFFERENT_M_FLOOR: Final = 1e-12


def _different_m_floor(comparison: str) -> float:
    if comparison in CONTACT_COMPARISONS:
        return CONTACT_DIFFERENT_M_FLOOR
    if comparison in IDENTIFIER_COMPARISONS:
        return IDENTIFIER_DIFFERENT_M_FLOOR
    return DIFFERENT_M_FLOOR


def floor_contact_m(model: dict[str, Any]) -> list[str]:
    """Raise m of the ``different`` level of phone and email to at least
    :data:`CONTACT_DIFFERENT_M_FLOOR`, of SSN and licence to at least
    :data:`IDENTIFIER_DIFFERENT_M_FLOOR` and of every other comparison to at least
    :data:`DIFFERENT_M_FLOOR`, in place; return what was raised."""
    raised = []
    for comp in model["comparisons"]:
        for level in comp["comparison_levels"]:
            # never above u: a "different" level random sampling never met (plates in a
            # population without plates: u = 1/max_pairs) would otherwise weigh +10 bits
            floor = _different_m_floor(comp["output_column_name"])
            if not _unset(level.get("u_probability")):
                floor = min(floor, float(level["u_probability"]))
            if (level.get("label_for_charts") == "different" and not level.get("is_null_level")
                    and not _unset(level.get("m_probability"))
                    and float(level["m_probability"]) < floor):
                level["m_probability"] = floor
                raised.append(f"{comp['output_column_name']}: different (m floor)")
    return raised


# A level of partial agreement (same ZIP, other street) that EM saw in a handful of
# matched pairs gets an m of a few in ten thousand, and a weight below the comparison's
# ``different`` level: on the foreign-conventions population "address: same ZIP" moved
# from -3.9 to -2.1 bits over five seeds, against -2.8 for "different". Agreeing on part
# of a value is never more evidence against a match than disagreeing on all of it, so
# such a level's weight is raised to the ``different`` level's: m >= u * m_diff / u_diff.
def floor_agreement_m(model: dict[str, Any]) -> list[str]:
    """Raise m of every agreeing level whose weight is below its comparison's
    ``different`` level to that level's weight, in place; return what was raised."""
    raised = []
    for comp in model["comparisons"]:
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        last = levels[-1] if levels else None
        if (last is None or last.get("label_for_charts") != "different"
                or _unset(last.get("m_probability")) or _unset(last.get("u_probability"))):
            continue
        ratio = float(last["m_probability"]) / float(last["u_probability"])
        for level in levels[:-1]:
            if _unset(level.get("m_probability")) or _unset(level.get("u_probability")):
                continue
            floor = float(level["u_probability"]) * ratio
            if float(level["m_probability"]) < floor:
                level["m_probability"] = floor
                raised.append(f"{comp['output_column_name']}: {level['label_for_charts']}"
                              " (m floor: not below different)")
    return raised


def save_model(store: Store, model: dict[str, Any], detail: dict[str, Any]) -> TrainedModel:
    """Store a model; its id is a content hash, so saving twice is harmless."""
    text = json.dumps(model, sort_keys=True, default=str)
    model_id = "M-" + hashlib.sha256(text.encode()).hexdigest()[:12]
    IdentityGraph(store).save_model(model_id, datetime.now(UTC).replace(tzinfo=None), text,
                                    json.dumps(detail))
    return TrainedModel(model_id, json.loads(text))


def latest_model(store: Store) -> TrainedModel | None:
    """The most recently saved model, if any."""
    stored = IdentityGraph(store).latest_model()
    if stored is None:
        return None
    return TrainedModel(stored.model_id, json.loads(stored.model))
