"""The Splink model, built from the canonical record schema.

Comparisons and blocking rules are made with Splink's dialect-neutral creators and
rendered for one engine (DuckDB, the default, or Spark: :data:`DIALECTS`) as plain
Splink settings dicts (SQL conditions over ``<col>_l`` / ``<col>_r``), so the trained
model is one JSON document we can store, reload and render for the other engine
(:func:`for_dialect`). Every level has a human label: that label is what
:mod:`idgraph.link._explain` shows, and what matches a level across dialects.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Final, Literal

import splink.comparison_level_library as cll
from rapidfuzz.distance.DamerauLevenshtein import distance as _rf_damerau
from rapidfuzz.distance.JaroWinkler import similarity as _rf_jaro_winkler
from splink.blocking_rule_library import CustomRule
from splink.internals.comparison_level_creator import ComparisonLevelCreator
from splink.internals.dialects import SplinkDialect

from idgraph.store.graph import INPUT_COLUMNS as GRAPH_INPUT_COLUMNS

# Input view the model reads: current records, one row per record_id. ``uid`` numbers
# them 1..n in record id order; resolve takes uid - 1 as a record's index.
INPUT_TABLE: Final = "__idg_link_input"

# Largest block of the name-only blocking rule. Pairs agreeing on the name alone grow
# with the square of a name's frequency (JAMES SMITH: 201 records at 20k people, 2,415
# at 220k, 153M pairs at 1M records) while such a pair of a common name can only be a
# match with other evidence, which the other rules block. So ``name_key`` is the name
# when at most this many records carry it, else the name and city when those are at
# most this many, else NULL (not blocked on the name alone). At 1M records this rule
# still makes 12.9M of 17.8M candidate pairs; a cap of 30 cut B-cubed recall at 20k
# people from 0.957 to 0.950.
NAME_BLOCK_CAP: Final = 100

# The model's columns of one current record, as expressions over ``records``: shared by
# the batch input below and the in-process scorer (:mod:`idgraph.link.score`).
# (on PostgreSQL: ``idgraph.store.graph.INPUT_COLUMNS["postgres"]``)
INPUT_COLUMNS: Final = GRAPH_INPUT_COLUMNS["duckdb"]

# (the name counts are grouped and joined back, not window counts: 1M records in 2 s
# less)
INPUT_SQL: Final = f"""
CREATE OR REPLACE TEMP TABLE {INPUT_TABLE} AS
WITH cur AS (
SELECT row_number() OVER (ORDER BY record_id) AS uid, {INPUT_COLUMNS}
FROM records WHERE is_current),
names AS (SELECT first_name_canon, last_name, count(*) AS n FROM cur GROUP BY ALL),
towns AS (SELECT first_name_canon, last_name, city, count(*) AS n FROM cur GROUP BY ALL)
SELECT cur.*,
       CASE WHEN names.n <= {NAME_BLOCK_CAP}
            THEN cur.first_name_canon || ' ' || cur.last_name
            WHEN towns.n <= {NAME_BLOCK_CAP}
            THEN cur.first_name_canon || ' ' || cur.last_name || ' | ' || cur.city
       END AS name_key
FROM cur
LEFT JOIN names ON names.first_name_canon = cur.first_name_canon
               AND names.last_name = cur.last_name
LEFT JOIN towns ON towns.first_name_canon = cur.first_name_canon
               AND towns.last_name = cur.last_name AND towns.city = cur.city
ORDER BY cur.uid
"""


# --- comparison levels: each one built with Splink's dialect-neutral comparison-level
# creators (``splink.comparison_level_library``: exact match, Jaro-Winkler,
# Damerau-Levenshtein, null, array intersection, and/or/not), rendered for one SQL
# dialect when a settings dict is made (:func:`comparisons`, :func:`settings_dict`), and
# one Python predicate (what :mod:`idgraph.link.score` runs on a pair of input rows),
# defined side by side. Conditions no creator expresses (part of a string, a year apart,
# the licence's state) are written once in DuckDB's SQL as ``CustomLevel``s with
# ``base_dialect_str="duckdb"``, which Splink translates (sqlglot) for another engine.
# The predicate holds exactly when the SQL condition is TRUE: a NULL operand makes a
# comparison NULL, and a NULL condition does not fire (the level is skipped). Predicates
# are registered by their SQL text in every dialect (and by the text models saved before
# the creators carried: ``levels_v1.json``), so a stored model's level finds its
# predicate only if its SQL is one this version renders.

Row = Mapping[str, Any]
Predicate = Callable[[Row, Row], bool]
Dialect = Literal["duckdb", "spark"]
DIALECTS: Final[tuple[Dialect, ...]] = ("duckdb", "spark")

_PREDICATES: dict[str, Predicate] = {}
# the level texts of models saved before the creators: (comparison, label) -> SQL
_LEGACY: Final[dict[tuple[str, str], str]] = {
    (c, label): sql for c, label, sql in json.loads(
        (Path(__file__).parent / "levels_v1.json").read_text(encoding="utf-8"))}


def _key(sql: str) -> str:
    """A level's SQL text as looked up: identifier quotes dropped, spaces collapsed."""
    return " ".join(sql.replace('"', "").replace("`", "").split())


def level_predicate(sql_condition: str) -> Predicate:
    """The Python predicate of the level whose SQL condition is ``sql_condition`` (in any
    dialect this version renders, or as models saved before it had it).

    Raises KeyError for a condition this version does not define (a model saved by
    another version: retrain it, or score it with Splink)."""
    if not _PREDICATES:
        _rendered("duckdb")
    try:
        return _PREDICATES[_key(sql_condition)]
    except KeyError:
        raise KeyError(f"no Python predicate for the level {sql_condition!r}") from None


# Jaro-Winkler as DuckDB's ``jaro_winkler_similarity`` computes it (ported from
# rapidfuzz-cpp): on code points, 0.0 when either string is empty (rapidfuzz says 1.0
# for two empty strings), and the prefix bonus as one fused multiply-add (DuckDB's build
# contracts ``sim + prefix * 0.1 * (1 - sim)``: 186 of 100k random pairs differ in the
# last bit from the unfused sum). rapidfuzz gives the same value within an ulp or two
# and ~20x faster, so it decides unless the value lies within _JW_BAND of a threshold.
_JW_BAND: Final = 1e-9


def _jaro(s1: str, s2: str) -> float:
    """Jaro similarity, operation for operation as rapidfuzz-cpp (and so DuckDB)."""
    n1, n2 = len(s1), len(s2)
    if not n1 or not n2:
        return 0.0
    if n1 == 1 and n2 == 1:
        return float(s1 == s2)
    bound = max(n1, n2) // 2 - 1
    taken1, taken2 = [False] * n1, [False] * n2
    common = 0
    for i, ch in enumerate(s1):
        for j in range(max(0, i - bound), min(n2, i + bound + 1)):
            if not taken2[j] and s2[j] == ch:
                taken1[i] = taken2[j] = True
                common += 1
                break
    if not common:
        return 0.0
    transpositions, k = 0, 0
    for i in range(n1):
        if taken1[i]:
            while not taken2[k]:
                k += 1
            transpositions += s1[i] != s2[k]
            k += 1
    transpositions //= 2
    sim = 0.0
    sim += common / n1
    sim += common / n2
    sim += (common - transpositions) / common
    return sim / 3.0


def jaro_winkler(s1: str, s2: str) -> float:
    """DuckDB's ``jaro_winkler_similarity`` of two non-NULL strings, bit for bit."""
    sim = _jaro(s1, s2)
    if sim > 0.7:
        prefix = 0
        for a, b in zip(s1[:4], s2[:4], strict=False):
            if a != b:
                break
            prefix += 1
        # fused: prefix * 0.1 * (1 - sim) + sim rounded once
        sim = float(Fraction(prefix * 0.1) * Fraction(1.0 - sim) + Fraction(sim))
    return sim


def jw_at_least(a: str | None, b: str | None, threshold: float) -> bool:
    """``jaro_winkler_similarity(a, b) >= threshold`` is TRUE (NULL: not)."""
    if a is None or b is None:
        return False
    if not a or not b:
        return threshold <= 0.0
    fast = _rf_jaro_winkler(a, b)
    if abs(fast - threshold) > _JW_BAND:
        return fast >= threshold
    return jaro_winkler(a, b) >= threshold


def damerau_within_one(a: str | None, b: str | None) -> bool:
    """``damerau_levenshtein(a, b) <= 1`` is TRUE. DuckDB's is the unrestricted
    Damerau-Levenshtein distance on code points, as rapidfuzz's."""
    return a is not None and b is not None and _rf_damerau(a, b, score_cutoff=1) <= 1


def list_has_any(a: Sequence[Any] | None, b: Sequence[Any] | None) -> bool:
    """``list_has_any(a, b)`` is TRUE: a NULL list is NULL; NULL elements never match."""
    if a is None or b is None:
        return False
    return any(x is not None and x in b for x in a)


def split_part(s: str, sep: str, index: int) -> str:
    """DuckDB's ``split_part`` for a positive index ('' past the last part)."""
    parts = s.split(sep)
    return parts[index - 1] if index <= len(parts) else ""


def _eq(col_l: str, col_r: str | None = None) -> Predicate:
    """``<col_l>_l = <col_r>_r`` is TRUE."""
    right = col_r or col_l
    return lambda x, y: (v := x[col_l]) is not None and v == y[right]


def _all(first: Predicate, second: Predicate) -> Predicate:
    return lambda x, y: first(x, y) and second(x, y)


def _any(first: Predicate, second: Predicate) -> Predicate:
    return lambda x, y: first(x, y) or second(x, y)


def _either_null(col: str) -> Predicate:
    return lambda x, y: x[col] is None or y[col] is None


def _jw(col_l: str, threshold: float, col_r: str | None = None) -> Predicate:
    right = col_r or col_l
    return lambda x, y: jw_at_least(x[col_l], y[right], threshold)


class _CrossJaroWinkler(ComparisonLevelCreator):
    """``<dialect's Jaro-Winkler>(<left>_l, <right>_r) >= threshold``: Splink's
    ``JaroWinklerLevel`` across two columns (it compares one column with itself)."""

    def __init__(self, left: str, right: str, threshold: float) -> None:
        self.left, self.right, self.threshold = left, right, threshold

    def create_sql(self, sql_dialect: SplinkDialect) -> str:
        fn = sql_dialect.jaro_winkler_function_name
        return f"{fn}({self.left}_l, {self.right}_r) >= {self.threshold}"

    def create_label_for_charts(self) -> str:
        return f"Jaro-Winkler of {self.left} and {self.right} >= {self.threshold}"


@dataclass(frozen=True)
class _Spec:
    """One comparison level before it is rendered for a dialect."""

    creator: ComparisonLevelCreator
    label: str
    py: Predicate
    tf: str | None = None
    null: bool = False


def _custom(sql: str) -> ComparisonLevelCreator:
    """A condition no creator expresses, written in DuckDB's SQL (Splink translates it)."""
    return cll.CustomLevel(sql, base_dialect_str="duckdb")


def _null(cols: list[str]) -> _Spec:
    creator: ComparisonLevelCreator = (
        cll.NullLevel(cols[0]) if len(cols) == 1 else cll.Or(*[cll.NullLevel(c) for c in cols]))
    py = (_either_null(cols[0]) if len(cols) == 1
          else lambda x, y: any(x[c] is None or y[c] is None for c in cols))
    return _Spec(creator, "missing", py, null=True)


def _null_level(creator: ComparisonLevelCreator, label: str, py: Predicate) -> _Spec:
    return _Spec(creator, label, py, null=True)


def _level(creator: ComparisonLevelCreator, label: str, tf: str | None = None, *,
           py: Predicate) -> _Spec:
    return _Spec(creator, label, py, tf)


def _exact_level(col: str, label: str = "exact", tf: str | None = None) -> _Spec:
    return _level(cll.ExactMatchLevel(col), label, tf, py=_eq(col))


def _jw_level(col: str, threshold: float, label: str) -> _Spec:
    return _level(cll.JaroWinklerLevel(col, threshold), label, py=_jw(col, threshold))


def _else() -> _Spec:
    return _Spec(cll.ElseLevel(), "different", lambda _x, _y: True)


def _swapped_creator() -> ComparisonLevelCreator:
    return cll.And(_CrossJaroWinkler("first_name", "last_name", 0.92),
                   _CrossJaroWinkler("last_name", "first_name", 0.92),
                   cll.Not(cll.ExactMatchLevel("first_name")))


def _swapped(x: Row, y: Row) -> bool:
    first_l, first_r = x["first_name"], y["first_name"]
    return (first_l is not None and first_r is not None and first_l != first_r
            and jw_at_least(first_l, y["last_name"], 0.92)
            and jw_at_least(x["last_name"], first_r, 0.92))


def _comparison(name: str, description: str, levels: list[_Spec]) -> dict[str, Any]:
    return {"output_column_name": name, "comparison_description": description,
            "comparison_levels": levels}


def _first_name() -> dict[str, Any]:
    return _comparison("first_name", "given name", [
        _null(["first_name"]),
        _exact_level("first_name", tf="first_name"),
        _exact_level("first_name_canon", "same canonical name (nickname)"),
        _jw_level("first_name", 0.92, "Jaro-Winkler >= 0.92"),
        _exact_level("first_name_phonetic", "same sound (phonetic)"),
        _level(cll.Or(cll.ColumnsReversedLevel("first_name", "middle_name"),
                      cll.ColumnsReversedLevel("middle_name", "first_name")),
               "given and middle name swapped",
               py=_any(_eq("first_name", "middle_name"), _eq("middle_name", "first_name"))),
        _level(_swapped_creator(), "given and surname swapped", py=_swapped),
        _jw_level("first_name", 0.8, "Jaro-Winkler >= 0.8"),
        _else(),
    ])


def _last_name() -> dict[str, Any]:
    return _comparison("last_name", "surname", [
        # a swap is counted once, under the given name
        _null_level(cll.Or(cll.NullLevel("last_name"), _swapped_creator()),
                    "missing, or swapped with the given name (counted there)",
                    _any(_either_null("last_name"), _swapped)),
        _exact_level("last_name", tf="last_name"),
        _jw_level("last_name", 0.92, "Jaro-Winkler >= 0.92"),
        _exact_level("last_name_phonetic", "same sound (phonetic)"),
        _level(cll.ArrayIntersectLevel("last_name_parts", 1),
               "shares part of a compound surname",
               py=lambda x, y: list_has_any(x["last_name_parts"], y["last_name_parts"])),
        _jw_level("last_name", 0.8, "Jaro-Winkler >= 0.8"),
        _else(),
    ])


def _initials(x: Row, y: Row) -> bool:
    a, b = x["middle_name"], y["middle_name"]
    return a is not None and b is not None and a[:1] == b[:1]


def _middle_name() -> dict[str, Any]:
    return _comparison("middle_name", "middle name or initial", [
        _null(["middle_name"]),
        _exact_level("middle_name", tf="middle_name"),
        _level(_custom("left(middle_name_l, 1) = left(middle_name_r, 1)"),
               "initial agrees", py=_initials),
        _else(),
    ])


def _day_month_swapped(x: Row, y: Row) -> bool:
    a, b = x["dob_day"], y["dob_day"]  # substr(s, start, n) is s[start - 1:start - 1 + n]
    return (a is not None and b is not None and a[0:4] == b[0:4]
            and a[4:6] == b[6:8] and a[6:8] == b[4:6])


def _years_within_one(x: Row, y: Row) -> bool:
    a, b = x["birth_year"], y["birth_year"]
    return a is not None and b is not None and abs(a - b) <= 1


def _dob() -> dict[str, Any]:
    swap = _custom(
        "substr(dob_day_l, 1, 4) = substr(dob_day_r, 1, 4) "
        "AND substr(dob_day_l, 5, 2) = substr(dob_day_r, 7, 2) "
        "AND substr(dob_day_l, 7, 2) = substr(dob_day_r, 5, 2)")
    return _comparison("dob", "date of birth (precision-aware)", [
        _null(["birth_year"]),
        _exact_level("dob_day", "exact date"),
        _level(swap, "day and month swapped", py=_day_month_swapped),
        _level(cll.DamerauLevenshteinLevel("dob_day", 1), "one digit off",
               py=lambda x, y: damerau_within_one(x["dob_day"], y["dob_day"])),
        _level(cll.And(cll.ExactMatchLevel("dob_month"), cll.NullLevel("dob_day")),
               "same month (one side month precision)",
               py=_all(_eq("dob_month"), _either_null("dob_day"))),
        _level(cll.And(cll.ExactMatchLevel("birth_year"), cll.NullLevel("dob_month")),
               "same year (one side year only)",
               py=_all(_eq("birth_year"), _either_null("dob_month"))),
        _level(cll.AbsoluteDifferenceLevel("birth_year", 1), "within one year",
               py=_years_within_one),
        _else(),
    ])


def _address() -> dict[str, Any]:
    house_street = _all(_eq("house_number"), _eq("street"))
    same_house = cll.And(cll.ExactMatchLevel("house_number"), cll.ExactMatchLevel("street"))
    return _comparison("address", "house number, street and ZIP", [
        _null_level(cll.And(cll.NullLevel("street"), cll.NullLevel("zip")), "missing",
                    _all(_either_null("street"), _either_null("zip"))),
        _level(cll.And(same_house, cll.ExactMatchLevel("zip")), "same house, street and ZIP",
               py=_all(house_street, _eq("zip"))),
        _level(cll.And(same_house, cll.NullLevel("zip")), "same house and street, ZIP missing",
               py=_all(house_street, _either_null("zip"))),
        _level(same_house, "same house and street, other ZIP", py=house_street),
        _level(cll.And(cll.ExactMatchLevel("house_number"), cll.JaroWinklerLevel("street", 0.9)),
               "same house, similar street", py=_all(_eq("house_number"), _jw("street", 0.9))),
        _exact_level("zip", "same ZIP"),
        _level(cll.And(cll.ExactMatchLevel("city"), cll.ExactMatchLevel("state")), "same city",
               py=_all(_eq("city"), _eq("state"))),
        _else(),
    ])


def _exact(col: str, description: str, fuzzy: bool = False) -> dict[str, Any]:
    levels = [_null([col]), _exact_level(col)]
    if fuzzy:
        levels.append(_level(cll.DamerauLevenshteinLevel(col, 1), "one digit off",
                             py=lambda x, y: damerau_within_one(x[col], y[col])))
    levels.append(_else())
    return _comparison(col, description, levels)


def _other_states(x: Row, y: Row) -> bool:
    a, b = x["dl_key"], y["dl_key"]
    return a is None or b is None or split_part(a, ":", 1) != split_part(b, ":", 1)


def _licence() -> dict[str, Any]:
    """Licence numbers compare only within one issuing state (``dl_key`` is
    ``STATE:NUMBER``): numbers of two states say nothing either way."""
    other_state = _custom("split_part(dl_key_l, ':', 1) <> split_part(dl_key_r, ':', 1)")
    return _comparison("dl_key", "driver licence number (same issuing state)", [
        _null_level(cll.Or(cll.NullLevel("dl_key"), other_state), "missing or other state",
                    _other_states),
        _exact_level("dl_key"),
        _else(),
    ])


def _specs() -> list[dict[str, Any]]:
    return [
        _first_name(),
        _middle_name(),
        _last_name(),
        _dob(),
        _exact("sex", "sex"),
        _address(),
        _exact("phone", "phone number (E.164)"),
        _exact("email", "email address"),
        _exact("ssn", "social security number", fuzzy=True),
        _licence(),
        _exact("plate", "vehicle plate"),
    ]


def _sql(spec: _Spec, dialect: Dialect) -> str:
    """The level's condition in ``dialect``: the creator's SQL without identifier quotes
    (every column name here is a plain identifier in both dialects)."""
    text = spec.creator.get_comparison_level(dialect).sql_condition
    return text if text == "ELSE" else _key(text)


@functools.cache
def _rendered(dialect: Dialect) -> str:
    """All comparisons rendered for ``dialect``, as JSON (callers get fresh copies); every
    level's predicate registered under its text in each dialect and its legacy text."""
    out = []
    for comp in _specs():
        levels = []
        for spec in comp["comparison_levels"]:
            texts = {_sql(spec, d) for d in DIALECTS}
            legacy = _LEGACY.get((comp["output_column_name"], spec.label))
            for text in (*texts, *([legacy] if legacy else [])):
                _PREDICATES.setdefault(_key(text), spec.py)
            level: dict[str, Any] = {"sql_condition": _sql(spec, dialect),
                                     "label_for_charts": spec.label}
            if spec.null:
                level["is_null_level"] = True
            if spec.tf:
                level["tf_adjustment_column"] = spec.tf
                level["tf_adjustment_weight"] = 1.0
            levels.append(level)
        out.append({**comp, "comparison_levels": levels})
    return json.dumps(out)


def comparisons(dialect: Dialect = "duckdb") -> list[dict[str, Any]]:
    """All comparisons of the idgraph model, in display order, rendered for ``dialect``."""
    result: list[dict[str, Any]] = json.loads(_rendered(dialect))
    return result


def for_dialect(model: dict[str, Any], dialect: Dialect) -> dict[str, Any]:
    """A trained model (rendered for any dialect, or saved before the creators) with
    every level's condition rendered for ``dialect``: the levels are matched by
    comparison and label; m, u and term-frequency settings are kept."""
    fresh = {c["output_column_name"]: {lv["label_for_charts"]: lv["sql_condition"]
                                       for lv in c["comparison_levels"]}
             for c in comparisons(dialect)}
    out: dict[str, Any] = json.loads(json.dumps(model))
    for comp in out["comparisons"]:
        name = comp["output_column_name"]
        for level in comp["comparison_levels"]:
            try:
                level["sql_condition"] = fresh[name][level["label_for_charts"]]
            except KeyError:
                raise KeyError(f"{name}: no level {level.get('label_for_charts')!r} in this "
                               "version's model: retrain it") from None
    out["sql_dialect"] = dialect
    return out


# When does one record carry what a comparison compares (both records must, or the pair
# falls in the comparison's null level)? Training draws random pairs for u among such
# records when they are few (see :func:`idgraph.link.train.estimate_u`).
RECORD_KNOWN: Final[dict[str, str]] = {
    "first_name": "first_name IS NOT NULL",
    "middle_name": "middle_name IS NOT NULL",
    "last_name": "last_name IS NOT NULL",
    "dob": "birth_year IS NOT NULL",
    "sex": "sex IS NOT NULL",
    "address": "(street IS NOT NULL OR zip IS NOT NULL)",
    "phone": "phone IS NOT NULL",
    "email": "email IS NOT NULL",
    "ssn": "ssn IS NOT NULL",
    "dl_key": "dl_key IS NOT NULL",
    "plate": "plate IS NOT NULL",
}


# Candidate pairs: a pair is scored when any rule holds (OR of the rules).
# Birth years that could belong to one person (as ``constraints.dobs_compatible`` has
# it: unknown, a year apart, or a one-digit slip within the decade). Namesakes born
# years apart made 4.4M of the name-only rule's 13.8M pairs at 1M records, and every
# one of them is a cannot-link.
YEARS_COMPATIBLE: Final = (
    "(l.birth_year IS NULL OR r.birth_year IS NULL "
    "OR (abs(l.birth_year - r.birth_year) < 10 AND (abs(l.birth_year - r.birth_year) <= 1 "
    "OR damerau_levenshtein(CAST(l.birth_year AS VARCHAR), CAST(r.birth_year AS VARCHAR)) <= 1)))"
)

BLOCKING_RULES: Final[tuple[str, ...]] = (
    "l.ssn = r.ssn",
    "l.dl_key = r.dl_key",
    "l.phone = r.phone",
    "l.email = r.email",
    "l.plate = r.plate",
    "l.first_name_canon = r.first_name_canon AND l.last_name = r.last_name "
    "AND l.birth_year = r.birth_year",
    # name alone only for uncommon names (see NAME_BLOCK_CAP), and never for birth
    # years the cannot-link rule would part anyway (see YEARS_COMPATIBLE)
    f"l.name_key = r.name_key AND {YEARS_COMPATIBLE}",
    "l.last_name_phonetic = r.last_name_phonetic AND l.dob_day = r.dob_day",
    "l.first_name_phonetic = r.first_name_phonetic AND l.dob_day = r.dob_day",
    "l.first_name_canon = r.first_name_canon AND l.birth_year = r.birth_year "
    "AND l.zip = r.zip",
    "l.house_number = r.house_number AND l.street = r.street AND l.zip = r.zip "
    "AND l.birth_year = r.birth_year",
    "l.last_name_phonetic = r.last_name_phonetic AND l.zip = r.zip "
    "AND l.first_name_phonetic = r.first_name_phonetic",
    "l.dob_day = r.dob_day AND l.zip = r.zip",
    "l.dob_day = r.dob_day AND l.house_number = r.house_number",
    "l.first_name = r.last_name AND l.last_name = r.first_name",
    # sparse sources (phone, utility: no birth date; voter: birth year only)
    "l.house_number = r.house_number AND l.street = r.street AND l.zip = r.zip "
    "AND l.last_name_phonetic = r.last_name_phonetic",
    "l.house_number = r.house_number AND l.street = r.street "
    "AND l.first_name_canon = r.first_name_canon",
    "l.last_name = r.last_name AND l.house_number = r.house_number AND l.zip = r.zip",
    "l.first_name_canon = r.first_name_canon AND l.middle_name = r.middle_name "
    "AND l.birth_year = r.birth_year",
    "l.first_name_canon = r.first_name_canon AND l.last_name_phonetic = r.last_name_phonetic "
    "AND l.birth_year = r.birth_year",
    # one address, the names read the other way round by sound (NAVARRETE DAVE at the
    # house of DAVE NAVARRETE, a compound surname cut differently): one rule per direction,
    # so each is a plain hash join on four keys (an OR would join on the address alone)
    "l.house_number = r.house_number AND l.street = r.street AND l.zip = r.zip "
    "AND l.first_name_phonetic = r.last_name_phonetic",
    "l.house_number = r.house_number AND l.street = r.street AND l.zip = r.zip "
    "AND l.last_name_phonetic = r.first_name_phonetic",
)

def blocking_rules(dates_of_birth: bool = True) -> tuple[str, ...]:
    """The blocking rules; without the birth-date cannot-link rule, the name-only block
    keeps namesakes born years apart too (nothing would part them but the model)."""
    if dates_of_birth:
        return BLOCKING_RULES
    return tuple(r.replace(f" AND {YEARS_COMPATIBLE}", "") for r in BLOCKING_RULES)


# Rules for EM training sessions (each leaves the other comparisons free to learn).
# Each block is made mostly of true matches: a block on the name alone would be full
# of namesakes and relatives, and EM would learn that matches often disagree on the
# birth date (it did: m(dob different) 0.28 against ~0.07 with these blocks).
TRAINING_RULES: Final[tuple[str, ...]] = (
    "l.ssn = r.ssn",
    "l.dob_day = r.dob_day AND l.first_name_canon = r.first_name_canon",
    "l.phone = r.phone",
    "l.house_number = r.house_number AND l.street = r.street "
    "AND l.first_name_canon = r.first_name_canon",
)

# Near-certain rules for estimating the prior match probability.
DETERMINISTIC_RULES: Final[tuple[str, ...]] = (
    "l.first_name = r.first_name AND l.last_name = r.last_name AND l.dob_day = r.dob_day",
    "l.ssn = r.ssn AND l.last_name = r.last_name",
)


def rules_for(rules: Sequence[str], dialect: Dialect) -> tuple[str, ...]:
    """Blocking rules (written in DuckDB's SQL over ``l.`` and ``r.``) rendered for
    ``dialect`` by Splink's ``CustomRule`` (translated by sqlglot)."""
    if dialect == "duckdb":
        return tuple(rules)
    return tuple(CustomRule(rule, sql_dialect="duckdb").get_blocking_rule(dialect)
                 .blocking_rule_sql for rule in rules)


def settings_dict(
    blocking_rules: tuple[str, ...] = BLOCKING_RULES,
    prior: float = 1e-5,
    dialect: Dialect = "duckdb",
) -> dict[str, Any]:
    """A fresh (untrained) Splink settings dict for one dedupe over all records,
    rendered for ``dialect``."""
    return {
        "link_type": "dedupe_only",
        # an integer key: Splink joins pairs back to records on it several times
        "unique_id_column_name": "uid",
        "probability_two_random_records_match": prior,
        "comparisons": comparisons(dialect),
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": br, "sql_dialect": dialect}
            for br in rules_for(blocking_rules, dialect)
        ],
        "retain_matching_columns": True,
        "retain_intermediate_calculation_columns": True,
        "additional_columns_to_retain": ["record_id", "source_id"],
        "max_iterations": 20,
        "em_convergence": 0.0001,
    }
