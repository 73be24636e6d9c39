"""The in-process scorer: a predicate for every level, SQL's NULL semantics, DuckDB's
string functions bit for bit, and Splink's own match weights on a synthetic population."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from idgraph.link.model import (
    comparisons,
    jaro_winkler,
    jw_at_least,
    level_predicate,
    settings_dict,
)
from idgraph.link.score import (
    INPUT_ROW_COLUMNS,
    ModelError,
    Scorer,
    input_rows,
    splink_parity,
)
from idgraph.link.train import prepare_input, save_model
from idgraph.settings import Settings
from idgraph.sources import ingest_paths
from idgraph.store import Store, open_store
from idgraph.synth import generate


def fixed_model_dict(prior: float = 1e-3) -> dict[str, Any]:
    """The model with hand-set m and u, strongest level first (no training; as the
    link conftest's, which a test module cannot import by name: tests/synth has a
    conftest too)."""
    model = settings_dict(prior=prior)
    for comp in model["comparisons"]:
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        for i, lv in enumerate(levels):
            last = i == len(levels) - 1
            lv["m_probability"] = 0.02 if last else 0.9 / 2**i
            lv["u_probability"] = 0.98 if last else 0.0005 * 4**i
    return model


LEVELS = [(c["output_column_name"], lv["label_for_charts"], lv["sql_condition"])
          for c in comparisons() for lv in c["comparison_levels"]]


@pytest.mark.parametrize(("comparison", "label", "sql"), LEVELS,
                         ids=[f"{c}: {lab}" for c, lab, _ in LEVELS])
def test_every_level_has_a_predicate(comparison: str, label: str, sql: str) -> None:
    assert callable(level_predicate(sql)), (comparison, label)


def test_a_level_without_a_predicate_is_refused() -> None:
    model = fixed_model_dict()
    model["comparisons"][0]["comparison_levels"][1]["sql_condition"] = "lower(x_l) = x_r"
    with pytest.raises(ModelError, match="no Python predicate"):
        Scorer.from_model(model)


# --- the predicates against DuckDB's own evaluation of each level's SQL condition ---

_TYPES = {"birth_year": "INTEGER", "last_name_parts": "VARCHAR[]"}
_COLUMNS = [c for c in INPUT_ROW_COLUMNS if c not in ("record_id", "source_id")]

BASE: dict[str, Any] = {
    "first_name": "JOHN", "middle_name": "PAUL", "last_name": "MILLER", "suffix": None,
    "first_name_canon": "JOHN", "first_name_phonetic": "JN", "last_name_phonetic": "MLR",
    "last_name_parts": ["MILLER"], "dob_day": "19800304", "dob_month": "198003",
    "birth_year": 1980, "sex": "M", "house_number": "12", "street": "OAK ST",
    "city": "SPRINGFIELD", "state": "IL", "zip": "62701", "phone": "+12175550100",
    "email": "j@example.org", "ssn": "123456789", "dl_key": "IL:M1234", "plate": "IL:ABC1",
}
NULLS = dict.fromkeys(_COLUMNS)


def _with(**values: Any) -> dict[str, Any]:
    return {**BASE, **values}


# (name, left, right): every level's SQL is evaluated on each pair by DuckDB and by its
# predicate; they must agree on every level, not only on the level that fires
PAIRS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("identical", BASE, BASE),
    ("all NULL", NULLS, NULLS),
    ("one side all NULL", BASE, NULLS),
    ("empty strings", _with(first_name="", middle_name="", last_name="", street=""),
     _with(first_name="", middle_name="", last_name="", street="")),
    ("empty against a value", _with(first_name="", middle_name=""), BASE),
    ("nickname", _with(first_name="JACK"), BASE),
    ("typo", _with(first_name="JHON", last_name="MILER", street="OAK STR"), BASE),
    ("given and middle swapped", _with(first_name="PAUL", middle_name="JOHN"), BASE),
    ("middle name NULL one side", _with(middle_name=None), _with(first_name="PAUL")),
    ("names swapped", _with(first_name="MILLER", last_name="JOHN"), BASE),
    ("names swapped, surname NULL", _with(first_name="MILLER", last_name=None), BASE),
    ("middle initial", _with(middle_name="P"), BASE),
    ("compound surname", _with(last_name="GARCIA LOPEZ", last_name_parts=["GARCIA", "LOPEZ"]),
     _with(last_name="LOPEZ", last_name_parts=["LOPEZ"])),
    ("parts NULL", _with(last_name_parts=None), BASE),
    ("parts with a NULL element", _with(last_name_parts=["A", None]),
     _with(last_name_parts=["B", None])),
    ("day and month swapped", _with(dob_day="19800403", dob_month="198004"), BASE),
    ("one digit off", _with(dob_day="19800305"), BASE),
    ("month precision", _with(dob_day=None), BASE),
    ("year only", _with(dob_day=None, dob_month=None), BASE),
    ("a year apart, year only", _with(dob_day=None, dob_month=None, birth_year=1981), BASE),
    ("birth year NULL, day known", _with(birth_year=None), BASE),
    ("other date", _with(dob_day="19551111", dob_month="195511", birth_year=1955), BASE),
    ("ZIP missing", _with(zip=None), BASE),
    ("other ZIP", _with(zip="62702"), BASE),
    ("similar street", _with(street="OAK STREET"), BASE),
    ("street and ZIP missing", _with(street=None, zip=None), BASE),
    ("same city only", _with(house_number="9", street="ELM ST", zip="62702"), BASE),
    ("house number NULL", _with(house_number=None), BASE),
    ("SSN one digit off", _with(ssn="123456798"), BASE),
    ("licence of another state", _with(dl_key="WI:M1234"), BASE),
    ("licence without a state", _with(dl_key=":M1234"), _with(dl_key=":M1234")),
    ("other licence", _with(dl_key="IL:X9"), BASE),
]


def _duckdb_truth(pairs: list[tuple[dict[str, Any], dict[str, Any]]],
                  conds: list[str] | None = None) -> list[list[bool]]:
    con = duckdb.connect()
    cols = ", ".join(f"{c}_{s} {_TYPES.get(c, 'VARCHAR')}" for c in _COLUMNS for s in "lr")
    con.execute(f"CREATE TABLE p (k INTEGER, {cols})")
    for k, (a, b) in enumerate(pairs):
        values = [k] + [side[c] for c in _COLUMNS for side in (a, b)]
        con.execute(f"INSERT INTO p VALUES ({', '.join('?' * len(values))})", values)
    conds = conds if conds is not None else [sql for _, _, sql in LEVELS]
    select = ", ".join(f"coalesce(({sql}), false)" if sql != "ELSE" else "true"
                       for sql in conds)
    return [list(r) for r in con.execute(f"SELECT {select} FROM p ORDER BY k").fetchall()]


def test_predicates_agree_with_duckdb_on_every_level() -> None:
    pairs = [(a, b) for _, a, b in PAIRS] + [(b, a) for _, a, b in PAIRS]
    names = [n for n, _, _ in PAIRS] + [f"{n} (reversed)" for n, _, _ in PAIRS]
    truth = _duckdb_truth(pairs)
    wrong = [(name, comp, label, expected)
             for name, (a, b), row in zip(names, pairs, truth, strict=True)
             for (comp, label, sql), expected in zip(LEVELS, row, strict=True)
             if level_predicate(sql)(a, b) is not expected]
    assert not wrong


def _random_names(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    alphabet = "ABCDEÉ "
    pairs = [("", ""), ("", "A"), ("A", ""), ("A", "A"), ("AB", "BA")]
    for _ in range(n):
        a = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        b = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        pairs.append((a, b))
    return pairs


def test_jaro_winkler_is_duckdbs_bit_for_bit() -> None:
    pairs = _random_names(4000, 3)
    con = duckdb.connect()
    con.register("t", pa.table({"a": [a for a, _ in pairs], "b": [b for _, b in pairs]}))
    theirs = [r[0] for r in con.execute("SELECT jaro_winkler_similarity(a, b) FROM t")
              .fetchall()]
    assert [jaro_winkler(a, b) for a, b in pairs] == theirs
    for threshold in (0.8, 0.9, 0.92, theirs[7], theirs[11]):  # also exactly at a value
        at = [r[0] for r in con.execute(
            "SELECT jaro_winkler_similarity(a, b) >= ? FROM t", [threshold]).fetchall()]
        assert [jw_at_least(a, b, threshold) for a, b in pairs] == at


# --- Splink's own predictions ---

@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    root = tmp_path_factory.mktemp("score")
    generate(root / "src", people=300, seed=7)
    settings = Settings(data_dir=root / "data", ingest_workers=0)
    store = open_store(settings.db_path)
    ingest_paths(store, [root / "src"], settings)
    save_model(store, fixed_model_dict(prior=1e-4), {"fixed": True})
    yield store
    store.close()


def test_weights_and_levels_equal_splinks(population: Store) -> None:
    parity = splink_parity(population, Scorer.from_store(population))
    assert parity.pairs > 1000
    assert parity.max_abs_diff <= 1e-6, parity.worst
    assert parity.level_mismatches == 0


def test_score_explains_each_comparison(population: Store) -> None:
    scorer = Scorer.from_store(population)
    ids = [r[0] for r in population.fetchall(
        "SELECT record_id FROM records WHERE is_current ORDER BY record_id LIMIT 2")]
    a, b = input_rows(population, ids)
    score = scorer.score(a, a)
    assert [h.comparison for h in score.levels] == list(scorer.comparison_names())
    assert score.weight == pytest.approx(scorer.weight(a, a))
    assert score.weight == pytest.approx(
        scorer.prior_weight + sum(h.weight + h.tf_adjustment for h in score.levels))
    assert 0.0 <= scorer.score(a, b).probability <= score.probability <= 1.0
    assert {h.label for h in score.levels} <= {"exact", "exact date", "missing",
                                               "same house, street and ZIP",
                                               "missing or other state"}


def test_term_frequencies_follow_segments_and_new_records(population: Store) -> None:
    scorer = Scorer.from_store(population)
    source = str(population.fetchall("SELECT min(source_id) FROM records")[0][0])
    row = input_rows(population, [str(population.fetchall(
        "SELECT min(record_id) FROM records WHERE source_id = ? AND first_name IS NOT NULL",
        [source])[0][0])])[0]
    everywhere = scorer.frequencies.tf("first_name", row["first_name"])
    alone = scorer.for_segments([source]).frequencies.tf("first_name", row["first_name"])
    assert everywhere is not None and alone is not None and alone != everywhere
    assert scorer.for_segments(["nowhere"]).frequencies.tf("first_name", "JOHN") is None
    before = scorer.score(row, row).levels[0].tf_adjustment
    scorer.add([row] * 50)
    assert scorer.score(row, row).levels[0].tf_adjustment < before  # commoner: less telling


def test_input_rows_are_the_model_input(population: Store) -> None:
    prepare_input(population)
    names = [d[0] for d in population.con.execute(
        "SELECT * FROM __idg_link_input LIMIT 0").description]
    assert [c for c in names if c not in ("uid", "name_key")] == list(INPUT_ROW_COLUMNS)
    ids = [r[0] for r in population.fetchall(
        "SELECT record_id FROM __idg_link_input ORDER BY uid DESC LIMIT 3")]
    expected = population.fetchall(
        f"SELECT {', '.join(INPUT_ROW_COLUMNS)} FROM __idg_link_input "
        "ORDER BY uid DESC LIMIT 3")
    got = input_rows(population, [*ids, "nowhere/1"])
    assert [tuple(r[c] for c in INPUT_ROW_COLUMNS) for r in got] == expected


def test_no_model_no_scorer(tmp_path: Path) -> None:
    store = open_store(None)
    try:
        with pytest.raises(ModelError, match="no trained model"):
            Scorer.from_store(store)
    finally:
        store.close()
