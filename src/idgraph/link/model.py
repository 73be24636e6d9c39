"""The Splink model, built from the canonical record schema.

Comparisons are plain Splink settings dicts (SQL conditions over ``<col>_l`` /
``<col>_r``), so the trained model is one JSON document we can store and reload.
Every level has a human label: that label is what :mod:`idgraph.link.explain` shows.
"""

from __future__ import annotations

from typing import Any, Final

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

# (the name counts are grouped and joined back, not window counts: 1M records in 2 s
# less)
INPUT_SQL: Final = f"""
CREATE OR REPLACE TEMP TABLE {INPUT_TABLE} AS
WITH cur AS (
SELECT row_number() OVER (ORDER BY record_id) AS uid, record_id, source_id,
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
       plate
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


def _null(cols: list[str]) -> dict[str, Any]:
    cond = " OR ".join(f"({c}_l IS NULL OR {c}_r IS NULL)" for c in cols)
    return {"sql_condition": cond, "label_for_charts": "missing", "is_null_level": True}


def _level(sql: str, label: str, tf: str | None = None) -> dict[str, Any]:
    level: dict[str, Any] = {"sql_condition": sql, "label_for_charts": label}
    if tf:
        level["tf_adjustment_column"] = tf
        level["tf_adjustment_weight"] = 1.0
    return level


_ELSE: Final = {"sql_condition": "ELSE", "label_for_charts": "different"}


_SWAPPED: Final = ("jaro_winkler_similarity(first_name_l, last_name_r) >= 0.92 "
                   "AND jaro_winkler_similarity(last_name_l, first_name_r) >= 0.92 "
                   "AND first_name_l <> first_name_r")


def _first_name() -> dict[str, Any]:
    return {
        "output_column_name": "first_name",
        "comparison_description": "given name",
        "comparison_levels": [
            _null(["first_name"]),
            _level("first_name_l = first_name_r", "exact", "first_name"),
            _level("first_name_canon_l = first_name_canon_r", "same canonical name (nickname)"),
            _level(
                "jaro_winkler_similarity(first_name_l, first_name_r) >= 0.92",
                "Jaro-Winkler >= 0.92",
            ),
            _level("first_name_phonetic_l = first_name_phonetic_r", "same sound (phonetic)"),
            _level(
                "first_name_l = middle_name_r OR middle_name_l = first_name_r",
                "given and middle name swapped",
            ),
            _level(_SWAPPED, "given and surname swapped"),
            _level(
                "jaro_winkler_similarity(first_name_l, first_name_r) >= 0.8",
                "Jaro-Winkler >= 0.8",
            ),
            _ELSE,
        ],
    }


def _last_name() -> dict[str, Any]:
    return {
        "output_column_name": "last_name",
        "comparison_description": "surname",
        "comparison_levels": [
            {   # a swap is counted once, under the given name
                "sql_condition": f"last_name_l IS NULL OR last_name_r IS NULL OR ({_SWAPPED})",
                "label_for_charts": "missing, or swapped with the given name (counted there)",
                "is_null_level": True,
            },
            _level("last_name_l = last_name_r", "exact", "last_name"),
            _level(
                "jaro_winkler_similarity(last_name_l, last_name_r) >= 0.92",
                "Jaro-Winkler >= 0.92",
            ),
            _level("last_name_phonetic_l = last_name_phonetic_r", "same sound (phonetic)"),
            _level(
                "list_has_any(last_name_parts_l, last_name_parts_r)",
                "shares part of a compound surname",
            ),
            _level(
                "jaro_winkler_similarity(last_name_l, last_name_r) >= 0.8",
                "Jaro-Winkler >= 0.8",
            ),
            _ELSE,
        ],
    }


def _middle_name() -> dict[str, Any]:
    return {
        "output_column_name": "middle_name",
        "comparison_description": "middle name or initial",
        "comparison_levels": [
            _null(["middle_name"]),
            _level("middle_name_l = middle_name_r", "exact", "middle_name"),
            _level("left(middle_name_l, 1) = left(middle_name_r, 1)", "initial agrees"),
            _ELSE,
        ],
    }


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
            _level("dob_day_l = dob_day_r", "exact date"),
            _level(swap, "day and month swapped"),
            _level("damerau_levenshtein(dob_day_l, dob_day_r) <= 1", "one digit off"),
            _level(
                "dob_month_l = dob_month_r AND (dob_day_l IS NULL OR dob_day_r IS NULL)",
                "same month (one side month precision)",
            ),
            _level(
                "birth_year_l = birth_year_r AND (dob_month_l IS NULL OR dob_month_r IS NULL)",
                "same year (one side year only)",
            ),
            _level("abs(birth_year_l - birth_year_r) <= 1", "within one year"),
            _ELSE,
        ],
    }


def _address() -> dict[str, Any]:
    return {
        "output_column_name": "address",
        "comparison_description": "house number, street and ZIP",
        "comparison_levels": [
            {
                "sql_condition": "(street_l IS NULL OR street_r IS NULL) "
                "AND (zip_l IS NULL OR zip_r IS NULL)",
                "label_for_charts": "missing",
                "is_null_level": True,
            },
            _level(
                "house_number_l = house_number_r AND street_l = street_r AND zip_l = zip_r",
                "same house, street and ZIP",
            ),
            _level(
                "house_number_l = house_number_r AND street_l = street_r "
                "AND (zip_l IS NULL OR zip_r IS NULL)",
                "same house and street, ZIP missing",
            ),
            _level(
                "house_number_l = house_number_r AND street_l = street_r",
                "same house and street, other ZIP",
            ),
            _level(
                "house_number_l = house_number_r "
                "AND jaro_winkler_similarity(street_l, street_r) >= 0.9",
                "same house, similar street",
            ),
            _level("zip_l = zip_r", "same ZIP"),
            _level("city_l = city_r AND state_l = state_r", "same city"),
            _ELSE,
        ],
    }


def _exact(col: str, description: str, fuzzy: bool = False) -> dict[str, Any]:
    levels = [_null([col]), _level(f"{col}_l = {col}_r", "exact")]
    if fuzzy:
        levels.append(_level(f"damerau_levenshtein({col}_l, {col}_r) <= 1", "one digit off"))
    levels.append(_ELSE)
    return {
        "output_column_name": col,
        "comparison_description": description,
        "comparison_levels": levels,
    }


def _licence() -> dict[str, Any]:
    """Licence numbers compare only within one issuing state (``dl_key`` is
    ``STATE:NUMBER``): numbers of two states say nothing either way."""
    state = "split_part(dl_key_{s}, ':', 1)"
    return {
        "output_column_name": "dl_key",
        "comparison_description": "driver licence number (same issuing state)",
        "comparison_levels": [
            {"sql_condition": "dl_key_l IS NULL OR dl_key_r IS NULL OR "
             f"{state.format(s='l')} <> {state.format(s='r')}",
             "label_for_charts": "missing or other state", "is_null_level": True},
            _level("dl_key_l = dl_key_r", "exact"),
            _ELSE,
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
