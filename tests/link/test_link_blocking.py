"""Candidate pairs: ours are exactly Splink's, and namesakes years apart are left out."""

from __future__ import annotations

import random
from datetime import date

import duckdb
import pytest
from link_fixtures import AddRecord

from idgraph.link.blocking import Blocking, blocked_pairs_sql, create_blocked_pairs
from idgraph.link.model import INPUT_TABLE, blocking_rules
from idgraph.link.train import SCRATCH_CATALOG, TrainedModel, build_linker, prepare_input, scratch
from idgraph.store import Store

FIRST = ["JOHN", "JON", "MARY", "MARIA", "ROBERT", "BOB"]
LAST = ["SMITH", "SMYTH", "GARCIA", "LEE"]
STREETS = ["OAK ST", "ELM AVE"]


def _random_records(add: AddRecord, n: int, seed: int) -> None:
    rng = random.Random(seed)
    for i in range(n):
        dob = date(rng.choice([1960, 1961, 1970, 1980]), rng.randint(1, 2), rng.randint(1, 2))
        add(f"s{i % 3}/{i}",
            first_name=rng.choice(FIRST), last_name=rng.choice(LAST),
            middle_name=rng.choice([None, "A", "B"]),
            dob=dob if rng.random() < 0.7 else None,
            house_number=rng.choice(["1", "2", None]), street=rng.choice(STREETS),
            zip=rng.choice(["10001", "10002"]), city="TROY", state="NY",
            phone=rng.choice([None, None, "+15185550100", "+15185550101"]),
            ssn=rng.choice([None, None, "123456789", "987654321"]))


def test_pairs_are_splinks_own(store: Store, model: TrainedModel, add: AddRecord) -> None:
    """Every pair Splink's blocking makes, no other, each with the first rule's key."""
    _random_records(add, 160, seed=3)
    prepare_input(store)
    with scratch(store):
        create_blocked_pairs(store, "ours")
        ours = set(store.fetchall("SELECT join_key_l, join_key_r, match_key FROM ours"))
        linker = build_linker(store, model.model)
        pred = linker.inference.predict(warning_mode="never")
        splinks = set(store.fetchall(
            f"SELECT uid_l, uid_r, match_key FROM {pred.physical_name}"))
    assert len(ours) > 1000  # the records make plenty of pairs under many rules
    assert len({k for _, _, k in ours}) >= 8
    assert ours == splinks


YEAR_CASES = [
    # (birth year of a, of b, kept as a name-only candidate pair)
    (1975, 1975, True),
    (1975, 1976, True),    # a year apart
    (1979, 1980, True),
    (1975, 1978, True),    # one digit slipped
    (1989, 1998, True),    # two digits transposed within the decade
    (1975, None, True),    # unknown: could be anyone's
    (1975, 1995, False),   # twenty years apart: a namesake, never one person
    (1975, 1957, False),   # transposed across generations
    (1975, 1985, False),
]


@pytest.mark.parametrize(("year_a", "year_b", "kept"), YEAR_CASES)
def test_name_only_pairs_need_compatible_years(
    store: Store, add: AddRecord, year_a: int, year_b: int | None, kept: bool
) -> None:
    # one uncommon name, nothing else in common (different towns, no identifiers)
    for rid, year, city in (("a/1", year_a, "TROY"), ("b/1", year_b, "ALBANY")):
        add(rid, first_name="ZEBEDEE", last_name="QUILLFEATHER", city=city,
            birth_year=year, dob_precision="year" if year else None)
    prepare_input(store)
    pairs = store.fetchall(f"SELECT count(*) FROM ({blocked_pairs_sql()})")[0][0]
    assert pairs == (1 if kept else 0)
    assert store.fetchall(f"SELECT count(*) FROM {INPUT_TABLE}")[0][0] == 2


def test_no_rules_is_an_error() -> None:
    with pytest.raises(ValueError, match="no blocking rules"):
        blocked_pairs_sql(())


def _tables(store: Store) -> set[str]:
    return {r[0] for r in store.fetchall(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [SCRATCH_CATALOG])}


def test_background_pairs_are_the_same(store: Store, add: AddRecord) -> None:
    """Made on a second connection while the first goes on; the same pairs."""
    _random_records(add, 120, seed=5)
    prepare_input(store)
    blocking = Blocking(store, "bg")
    assert store.fetchall("SELECT count(*) FROM __idg_link_input")[0][0] == 120  # not blocked
    n = blocking.result()
    with scratch(store):
        create_blocked_pairs(store, "fg")
        assert n == len(store.fetchall("SELECT * FROM fg")) > 100
        assert store.fetchall("SELECT * FROM bg EXCEPT SELECT * FROM fg") == []
        assert store.fetchall("SELECT * FROM fg EXCEPT SELECT * FROM bg") == []
    assert "__idg_block_input" not in _tables(store)  # its input copy is gone


def test_abandoned_pairs_are_dropped(store: Store, add: AddRecord) -> None:
    _random_records(add, 30, seed=6)
    prepare_input(store)
    blocking = Blocking(store, "gone")
    blocking.abandon()
    assert not {"gone", "__idg_block_input"} & _tables(store)


def test_a_failing_rule_is_raised_on_result(store: Store, add: AddRecord) -> None:
    _random_records(add, 10, seed=7)
    prepare_input(store)
    blocking = Blocking(store, "bad", rules=("l.no_such_column = r.no_such_column",))
    with pytest.raises(duckdb.BinderException):
        blocking.result()
    assert "__idg_block_input" not in _tables(store)


def test_without_the_birth_date_rule_namesakes_years_apart_are_pairs(
    store: Store, add: AddRecord
) -> None:
    for rid, year in (("a/1", 1975), ("b/1", 1995)):
        add(rid, first_name="ZEBEDEE", last_name="QUILLFEATHER", birth_year=year,
            dob_precision="year")
    prepare_input(store)
    count = "SELECT count(*) FROM ({})"
    assert store.fetchall(count.format(blocked_pairs_sql(blocking_rules())))[0][0] == 0
    assert store.fetchall(
        count.format(blocked_pairs_sql(blocking_rules(dates_of_birth=False))))[0][0] == 1
