"""The Splink model, built from the canonical record schema.

Comparisons are plain Splink settings dicts (SQL conditions over ``<col>_l`` /
``<col>_r``), so the trained model is one JSON document we can store and reload.
Every level has a human label: that label is what :mod:`idgraph.link._explain` shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any, Final

from rapidfuzz.distance.DamerauLevenshtein import distance as _rf_damerau
from rapidfuzz.distance.JaroWinkler import similarity as _rf_jaro_winkler

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
INPUT_COLUMNS: Final = """record_id, source_id,
       first_name, middle_name, last_name, suffix,
       first_name_canon, first_name_phonetic, last_name_phonetic,
       CASE WHEN len(last_name_parts) > 0 THEN last_name_parts END AS last_name_parts,
       CASE WHEN dob_precision = 'day' OR (dob IS NOT NULL AND dob_precision IS NULL)
            THEN strftime(dob, '%Y%m%d') END AS dob_day,
       CASE WHEN dob_precision IN ('day', 'month') OR (dob IS NOT NULL AND dob_precision IS NULL)
            THEN strftime(dob, '%Y%m') END AS dob_month,
       coalesce(birth_year, year(dob)) AS birth_year,
       sex, house_number, street, city, state, zip,
       phone, email, ssn,
       CASE WHEN dl_number IS NOT NULL THEN coalesce(dl_state, '') || ':' || dl_number END
           AS dl_key,
       plate"""

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


# --- comparison levels: each one SQL condition (what Splink runs) and one Python predicate
# (what :mod:`idgraph.link.score` runs on a pair of input rows), defined side by side. The
# predicate holds exactly when the SQL condition is TRUE: a NULL operand makes a
# comparison NULL, and a NULL condition does not fire (the level is skipped). Predicates
# are registered by their SQL text, so a stored model's level finds its predicate only
# if its SQL is this version's (see :func:`level_predicate`).

Row = Mapping[str, Any]
Predicate = Callable[[Row, Row], bool]

_PREDICATES: dict[str, Predicate] = {}


def _register(sql: str, py: Predicate) -> None:
    _PREDICATES[sql] = py


def level_predicate(sql_condition: str) -> Predicate:
    """The Python predicate of the level whose SQL condition is ``sql_condition``.

    Raises KeyError for a condition this version does not define (a model saved by
    another version: retrain it, or score it with Splink)."""
    if not _PREDICATES:
        comparisons()
    try:
        return _PREDICATES[sql_condition]
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


def _null(cols: list[str]) -> dict[str, Any]:
    cond = " OR ".join(f"({c}_l IS NULL OR {c}_r IS NULL)" for c in cols)
    py = (_either_null(cols[0]) if len(cols) == 1
          else lambda x, y: any(x[c] is None or y[c] is None for c in cols))
    return _null_level(cond, "missing", py)


def _null_level(sql: str, label: str, py: Predicate) -> dict[str, Any]:
    _register(sql, py)
    return {"sql_condition": sql, "label_for_charts": label, "is_null_level": True}


def _level(sql: str, label: str, tf: str | None = None, *, py: Predicate) -> dict[str, Any]:
    _register(sql, py)
    level: dict[str, Any] = {"sql_condition": sql, "label_for_charts": label}
    if tf:
        level["tf_adjustment_column"] = tf
        level["tf_adjustment_weight"] = 1.0
    return level


def _else() -> dict[str, Any]:
    _register("ELSE", lambda _x, _y: True)
    return {"sql_condition": "ELSE", "label_for_charts": "different"}


_SWAPPED: Final = ("jaro_winkler_similarity(first_name_l, last_name_r) >= 0.92 "
                   "AND jaro_winkler_similarity(last_name_l, first_name_r) >= 0.92 "
                   "AND first_name_l <> first_name_r")


def _swapped(x: Row, y: Row) -> bool:
    first_l, first_r = x["first_name"], y["first_name"]
    return (first_l is not None and first_r is not None and first_l != first_r
            and jw_at_least(first_l, y["last_name"], 0.92)
            and jw_at_least(x["last_name"], first_r, 0.92))


def _first_name() -> dict[str, Any]:
    return {
        "output_column_name": "first_name",
        "comparison_description": "given name",
        "comparison_levels": [
            _null(["first_name"]),
            _level("first_name_l = first_name_r", "exact", "first_name",
                   py=_eq("first_name")),
            _level("first_name_canon_l = first_name_canon_r", "same canonical name (nickname)",
                   py=_eq("first_name_canon")),
            _level(
                "jaro_winkler_similarity(first_name_l, first_name_r) >= 0.92",
                "Jaro-Winkler >= 0.92", py=_jw("first_name", 0.92),
            ),
            _level("first_name_phonetic_l = first_name_phonetic_r", "same sound (phonetic)",
                   py=_eq("first_name_phonetic")),
            _level(
                "first_name_l = middle_name_r OR middle_name_l = first_name_r",
                "given and middle name swapped",
                py=_any(_eq("first_name", "middle_name"), _eq("middle_name", "first_name")),
            ),
            _level(_SWAPPED, "given and surname swapped", py=_swapped),
            _level(
                "jaro_winkler_similarity(first_name_l, first_name_r) >= 0.8",
                "Jaro-Winkler >= 0.8", py=_jw("first_name", 0.8),
            ),
            _else(),
        ],
    }


def _last_name() -> dict[str, Any]:
    return {
        "output_column_name": "last_name",
        "comparison_description": "surname",
        "comparison_levels": [
            # a swap is counted once, under the given name
            _null_level(f"last_name_l IS NULL OR last_name_r IS NULL OR ({_SWAPPED})",
                        "missing, or swapped with the given name (counted there)",
                        _any(_either_null("last_name"), _swapped)),
            _level("last_name_l = last_name_r", "exact", "last_name", py=_eq("last_name")),
            _level(
                "jaro_winkler_similarity(last_name_l, last_name_r) >= 0.92",
                "Jaro-Winkler >= 0.92", py=_jw("last_name", 0.92),
            ),
            _level("last_name_phonetic_l = last_name_phonetic_r", "same sound (phonetic)",
                   py=_eq("last_name_phonetic")),
            _level(
                "list_has_any(last_name_parts_l, last_name_parts_r)",
                "shares part of a compound surname",
                py=lambda x, y: list_has_any(x["last_name_parts"], y["last_name_parts"]),
            ),
            _level(
                "jaro_winkler_similarity(last_name_l, last_name_r) >= 0.8",
                "Jaro-Winkler >= 0.8", py=_jw("last_name", 0.8),
            ),
            _else(),
        ],
    }


def _initials(x: Row, y: Row) -> bool:
    a, b = x["middle_name"], y["middle_name"]
    return a is not None and b is not None and a[:1] == b[:1]


def _middle_name() -> dict[str, Any]:
    return {
        "output_column_name": "middle_name",
        "comparison_description": "middle name or initial",
        "comparison_levels": [
            _null(["middle_name"]),
            _level("middle_name_l = middle_name_r", "exact", "middle_name",
                   py=_eq("middle_name")),
            _level("left(middle_name_l, 1) = left(middle_name_r, 1)", "initial agrees",
                   py=_initials),
            _else(),
        ],
    }


def _day_month_swapped(x: Row, y: Row) -> bool:
    a, b = x["dob_day"], y["dob_day"]  # substr(s, start, n) is s[start - 1:start - 1 + n]
    return (a is not None and b is not None and a[0:4] == b[0:4]
            and a[4:6] == b[6:8] and a[6:8] == b[4:6])


def _years_within_one(x: Row, y: Row) -> bool:
    a, b = x["birth_year"], y["birth_year"]
    return a is not None and b is not None and abs(a - b) <= 1


def _dob() -> dict[str, Any]:
    swap = (
        "substr(dob_day_l, 1, 4) = substr(dob_day_r, 1, 4) "
        "AND substr(dob_day_l, 5, 2) = substr(dob_day_r, 7, 2) "
        "AND substr(dob_day_l, 7, 2) = substr(dob_day_r, 5, 2)"
    )
    return {
        "output_column_name": "dob",
        "comparison_description": "date of birth (precision-aware)",
        "comparison_levels": [
            _null(["birth_year"]),
            _level("dob_day_l = dob_day_r", "exact date", py=_eq("dob_day")),
            _level(swap, "day and month swapped", py=_day_month_swapped),
            _level("damerau_levenshtein(dob_day_l, dob_day_r) <= 1", "one digit off",
                   py=lambda x, y: damerau_within_one(x["dob_day"], y["dob_day"])),
            _level(
                "dob_month_l = dob_month_r AND (dob_day_l IS NULL OR dob_day_r IS NULL)",
                "same month (one side month precision)",
                py=_all(_eq("dob_month"), _either_null("dob_day")),
            ),
            _level(
                "birth_year_l = birth_year_r AND (dob_month_l IS NULL OR dob_month_r IS NULL)",
                "same year (one side year only)",
                py=_all(_eq("birth_year"), _either_null("dob_month")),
            ),
            _level("abs(birth_year_l - birth_year_r) <= 1", "within one year",
                   py=_years_within_one),
            _else(),
        ],
    }


def _address() -> dict[str, Any]:
    house_street = _all(_eq("house_number"), _eq("street"))
    return {
        "output_column_name": "address",
        "comparison_description": "house number, street and ZIP",
        "comparison_levels": [
            _null_level("(street_l IS NULL OR street_r IS NULL) "
                        "AND (zip_l IS NULL OR zip_r IS NULL)", "missing",
                        _all(_either_null("street"), _either_null("zip"))),
            _level(
                "house_number_l = house_number_r AND street_l = street_r AND zip_l = zip_r",
                "same house, street and ZIP", py=_all(house_street, _eq("zip")),
            ),
            _level(
                "house_number_l = house_number_r AND street_l = street_r "
                "AND (zip_l IS NULL OR zip_r IS NULL)",
                "same house and street, ZIP missing",
                py=_all(house_street, _either_null("zip")),
            ),
            _level(
                "house_number_l = house_number_r AND street_l = street_r",
                "same house and street, other ZIP", py=house_street,
            ),
            _level(
                "house_number_l = house_number_r "
                "AND jaro_winkler_similarity(street_l, street_r) >= 0.9",
                "same house, similar street", py=_all(_eq("house_number"), _jw("street", 0.9)),
            ),
            _level("zip_l = zip_r", "same ZIP", py=_eq("zip")),
            _level("city_l = city_r AND state_l = state_r", "same city",
                   py=_all(_eq("city"), _eq("state"))),
            _else(),
        ],
    }


def _exact(col: str, description: str, fuzzy: bool = False) -> dict[str, Any]:
    levels = [_null([col]), _level(f"{col}_l = {col}_r", "exact", py=_eq(col))]
    if fuzzy:
        levels.append(_level(f"damerau_levenshtein({col}_l, {col}_r) <= 1", "one digit off",
                             py=lambda x, y: damerau_within_one(x[col], y[col])))
    levels.append(_else())
    return {
        "output_column_name": col,
        "comparison_description": description,
        "comparison_levels": levels,
    }


def _other_states(x: Row, y: Row) -> bool:
    a, b = x["dl_key"], y["dl_key"]
    return a is None or b is None or split_part(a, ":", 1) != split_part(b, ":", 1)


def _licence() -> dict[str, Any]:
    """Licence numbers compare only within one issuing state (``dl_key`` is
    ``STATE:NUMBER``): numbers of two states say nothing either way."""
    state = "split_part(dl_key_{s}, ':', 1)"
    return {
        "output_column_name": "dl_key",
        "comparison_description": "driver licence number (same issuing state)",
        "comparison_levels": [
            _null_level("dl_key_l IS NULL OR dl_key_r IS NULL OR "
                        f"{state.format(s='l')} <> {state.format(s='r')}",
                        "missing or other state", _other_states),
            _level("dl_key_l = dl_key_r", "exact", py=_eq("dl_key")),
            _else(),
        ],
    }


def comparisons() -> list[dict[str, Any]]:
    """All comparisons of the idgraph model, in display order."""
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


def settings_dict(
    blocking_rules: tuple[str, ...] = BLOCKING_RULES,
    prior: float = 1e-5,
) -> dict[str, Any]:
    """A fresh (untrained) Splink settings dict for one dedupe over all records."""
    return {
        "link_type": "dedupe_only",
        # an integer key: Splink joins pairs back to records on it several times
        "unique_id_column_name": "uid",
        "probability_two_random_records_match": prior,
        "comparisons": comparisons(),
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": br, "sql_dialect": "duckdb"} for br in blocking_rules
        ],
        "retain_matching_columns": True,
        "retain_intermediate_calculation_columns": True,
        "additional_columns_to_retain": ["record_id", "source_id"],
        "max_iterations": 20,
        "em_convergence": 0.0001,
    }
