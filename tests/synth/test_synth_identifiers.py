"""Synthetic identifiers are well-formed, unique and deterministic."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from idgraph.synth.identifiers import (
    IdFactory,
    Permutation,
    ssn_from,
    ssn_is_valid,
    us_area_codes,
)

SSN_CASES = [  # (ssn, valid per SSA rules)
    ("123456789", True),
    ("001010001", True),
    ("899999999", True),
    ("000123456", False),  # area 000
    ("666123456", False),  # area 666
    ("900123456", False),  # area 9xx
    ("123006789", False),  # group 00
    ("123450000", False),  # serial 0000
    ("12345678", False),
    ("12345678A", False),
]


@pytest.mark.parametrize(("ssn", "valid"), SSN_CASES)
def test_ssn_rules(ssn: str, valid: bool) -> None:
    assert ssn_is_valid(ssn) is valid


DL_CASES = [  # (state, pattern)
    ("NY", r"\d{9}"),
    ("IL", r"[A-Z]\d{11}"),
    ("CA", r"[A-Z]\d{7}"),
]


@pytest.mark.parametrize(("state", "pattern"), DL_CASES)
def test_licence_number_formats_and_uniqueness(state: str, pattern: str) -> None:
    ids = IdFactory(5)
    numbers = [ids.dl_for(i, state, "O'BRIEN") for i in range(5000)]
    assert all(re.fullmatch(pattern, n) for n in numbers)
    assert len(set(numbers)) == len(numbers)


def test_illinois_licence_starts_with_surname_initial() -> None:
    assert IdFactory(1).dl_for(3, "IL", "O'BRIEN").startswith("O")


PLATE_CASES = [("NY", r"[A-Z]{3}\d{4}"), ("IL", r"[A-Z]{2}\d{5}"), ("CA", r"\d[A-Z]{3}\d{3}")]


@pytest.mark.parametrize(("state", "pattern"), PLATE_CASES)
def test_plate_formats(state: str, pattern: str) -> None:
    ids = IdFactory(2)
    assert all(re.fullmatch(pattern, ids.plate_for(i, state)) for i in range(2000))


def test_ssns_valid_and_unique_across_many_people() -> None:
    ids = IdFactory(9)
    ssns = [ids.ssn_for(i) for i in range(20000)]
    assert all(ssn_is_valid(s) for s in ssns)
    assert len(set(ssns)) == len(ssns)


@given(st.integers(min_value=0, max_value=898 * 99 * 9999 - 1))
def test_every_ssn_index_decodes_to_a_valid_ssn(k: int) -> None:
    assert ssn_is_valid(ssn_from(k))


@given(st.integers(min_value=2, max_value=10**6), st.integers(min_value=0, max_value=10**6))
def test_permutation_is_a_bijection(space: int, seed: int) -> None:
    perm = Permutation(min(space, 3000), seed, 1)
    assert sorted(perm(i) for i in range(perm.space)) == list(range(perm.space))


def test_phones_fictional_valid_and_unique() -> None:
    ids = IdFactory(4)
    phones = [ids.phone_for(i, s) for i in range(3000) for s in range(3)]
    assert len(set(phones)) == len(phones)
    for p in phones[:500]:
        assert p[3:6] == "555"
        assert phonenumbers.is_valid_number(phonenumbers.parse(p, "US"))
    assert len(us_area_codes()) > 200


def test_different_seeds_give_different_identifiers() -> None:
    a, b = IdFactory(1), IdFactory(2)
    assert [a.ssn_for(i) for i in range(50)] != [b.ssn_for(i) for i in range(50)]
    assert [a.ssn_for(i) for i in range(50)] == [IdFactory(1).ssn_for(i) for i in range(50)]
