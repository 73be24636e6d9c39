"""Phones: E.164 via phonenumbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idgraph.normalize.base import InvalidValue
from idgraph.normalize.phones import clean

CASES = [
    ("(217) 555-0100", "+12175550100"),
    ("217-555-0100", "+12175550100"),
    ("217.245.1234", "+12172451234"),
    ("1-217-245-1234", "+12172451234"),
    ("+1 202 456 1111", "+12024561111"),
    ("2172451234", "+12172451234"),
    ("217.245.1234 x12", "+12172451234"),
    ("1-800-555-1212", "+18005551212"),
    ("+44 20 7946 0958", "+442079460958"),
    ("011 44 20 7946 0958", "+442079460958"),
    ("+12172451234", "+12172451234"),
    ("", None),
    (None, None),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_clean(text: str | None, expected: str | None) -> None:
    assert clean(text) == expected


INVALID = [
    ("555-0100", "not a valid"),  # seven digits, no area code
    ("911", "not a possible"),
    ("(000) 123-4567", "not a valid"),
    ("(123) 456-7890", "not a valid"),
    ("(217) 155-1234", "not a valid"),
    ("hello", "not a phone number"),
    ("12", "not a"),
]


@pytest.mark.parametrize(("text", "reason"), INVALID)
def test_clean_invalid(text: str, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason):
        clean(text)


def test_region() -> None:
    assert clean("020 7946 0958", region="GB") == "+442079460958"


@given(st.from_regex(r"\(?[2-9]\d\d\)?[ .-]?[2-9]\d\d[ .-]?\d{4}", fullmatch=True))
def test_e164_idempotent(text: str) -> None:
    try:
        once = clean(text)
    except InvalidValue:
        return
    assert once is not None and once.startswith("+1") and len(once) == 12
    assert clean(once) == once
