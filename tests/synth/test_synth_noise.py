"""Noise functions: each makes the small, realistic error it claims to."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime

import jellyfish
import pytest
from hypothesis import given
from hypothesis import strategies as st

from idgraph.synth import noise

ALWAYS = noise.Profile(typo=0.0, nickname=1.0, dob_swap=1.0, middle_full=0.0, middle_drop=0.0,
                       suffix_drop=1.0, compound_hyphen=1.0, compound_first=0.0, missing=1.0)
NEVER = noise.Profile(typo=0.0, nickname=0.0, dob_swap=0.0, middle_full=1.0, middle_drop=0.0,
                      suffix_drop=0.0, compound_hyphen=0.0, compound_first=0.0, missing=0.0)


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ' -", min_size=3, max_size=20),
       st.integers(min_value=0, max_value=2**32))
def test_typo_is_one_edit(name: str, seed: int) -> None:
    out = noise.typo(name, random.Random(seed))
    assert jellyfish.damerau_levenshtein_distance(name, out) <= 1


CASES = [  # (function, args, profile, expected)
    (noise.given, ("WILLIAM",), ALWAYS, {"BILL", "WILL", "BILLY"}),
    (noise.given, ("WILLIAM",), NEVER, {"WILLIAM"}),
    (noise.given, ("MINH",), ALWAYS, {"MINH"}),  # no nickname known
    (noise.family, ("GARCIA LOPEZ", True), ALWAYS, {"GARCIA-LOPEZ"}),
    (noise.family, ("GARCIA LOPEZ", True), NEVER, {"GARCIA LOPEZ"}),
    (noise.family, ("O'BRIEN", False), ALWAYS, {"O'BRIEN"}),
    (noise.middle, ("ANNE",), ALWAYS, {"A"}),
    (noise.middle, ("ANNE",), NEVER, {"ANNE"}),
    (noise.middle, ("",), NEVER, {""}),
    (noise.suffix, ("JR",), ALWAYS, {""}),
    (noise.suffix, ("JR",), NEVER, {"JR"}),
    (noise.blank, ("x",), ALWAYS, {""}),
]


@pytest.mark.parametrize(("fn", "args", "prof", "expected"), CASES)
def test_variants(fn: Callable[..., str], args: tuple[object, ...], prof: noise.Profile,
                  expected: set[str]) -> None:
    rng = random.Random(0)
    got = {fn(*args, rng, prof) for _ in range(40)}
    assert got == expected


def test_compound_surname_may_shrink_to_first_part() -> None:
    prof = noise.Profile(typo=0.0, compound_hyphen=0.0, compound_first=1.0)
    assert noise.family("GARCIA LOPEZ", True, random.Random(1), prof) == "GARCIA"


DOB_CASES = [  # (dob, swap possible, swapped value)
    (date(1980, 3, 7), True, date(1980, 7, 3)),
    (date(1980, 3, 25), False, date(1980, 3, 25)),  # day > 12: cannot swap
    (date(1980, 5, 5), False, date(1980, 5, 5)),  # same day and month
]


@pytest.mark.parametrize(("dob", "swappable", "expected"), DOB_CASES)
def test_day_month_swap(dob: date, swappable: bool, expected: date) -> None:
    assert noise.dob(dob, random.Random(0), ALWAYS) == expected
    assert noise.dob(dob, random.Random(0), NEVER) == dob
    assert (expected != dob) is swappable


def test_phone_text_formats_all_keep_the_digits() -> None:
    rng = random.Random(3)
    seen = {noise.phone_text("2125550134", rng) for _ in range(200)}
    assert {"(212) 555-0134", "212.555.0134", "+1 212 555 0134", "2125550134"} <= seen
    assert all("".join(c for c in s if c.isdigit())[-10:] == "2125550134" for s in seen)


@pytest.mark.parametrize("fmt", ["%m/%d/%Y", "%Y-%m-%d", "%Y%m%d"])
def test_bad_dates_never_parse(fmt: str) -> None:
    rng = random.Random(5)
    for _ in range(50):
        with pytest.raises(ValueError):
            datetime.strptime(noise.bad_date(fmt, rng), fmt)


STREET_CASES = [  # (line, typo rate, changed)
    ("123 MAPLE AVE APT 4 CHICAGO IL 60601", 2.0, True),
    ("123 MAPLE AVE APT 4 CHICAGO IL 60601", 0.0, False),
    ("12 N ST", 2.0, False),  # no long word to slip on
]


@pytest.mark.parametrize(("line", "rate", "changed"), STREET_CASES)
def test_street_typo_touches_only_the_street_name(line: str, rate: float, changed: bool) -> None:
    rng = random.Random(4)
    prof = noise.Profile(typo=rate)
    outs = [noise.street_typo(line, rng, prof) for _ in range(20)]
    assert any(o != line for o in outs) is changed
    for out in outs:
        assert jellyfish.damerau_levenshtein_distance(line, out) <= 1
        assert out.split(" ")[0] == line.split(" ")[0]  # house number kept
        assert out.endswith(line.split(" ")[-1])  # ZIP kept
