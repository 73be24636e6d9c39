"""Phones: E.164 via phonenumbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idgraph.normalize.base import InvalidValue, Unverified
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


# Junk: nothing to compare (no area code, not a number, a placeholder).
INVALID = [
    ("555-0100", "not a possible"),  # seven digits, no area code
    ("911", "not a possible"),
    ("(123) 456-7890", "placeholder"),
    ("000-000-0000", "placeholder"),
    ("999.999.9999", "placeholder"),
    ("+1 987 654 3210", "placeholder"),
    ("(555) 225-5669", "placeholder"),  # own synth gave it to three unrelated people
    ("+1 555 225 5669", "placeholder"),
    ("hello", "not a phone number"),
    ("12", "not a"),
]


@pytest.mark.parametrize(("text", "reason"), INVALID)
def test_clean_invalid(text: str, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason) as info:
        clean(text)
    assert not isinstance(info.value, Unverified)


# Well-formed but unassigned: kept (E.164 digits) and flagged unverified. Before issue
# 13 these were nulled, and two records of one person lost the number they share.
UNVERIFIED = [
    ("(217) 155-1234", "+12171551234"),  # exchange starts with 1
    ("(000) 123-4567", "+10001234567"),  # area code starts with 0
    ("(999) 555-0134", "+19995550134"),  # area code not assigned
    ("+1 (011) 245-1234 x7", "+10112451234"),  # full phonenumbers path
    ("+44 20 0000 1234", None),  # a foreign number: valid or unverified, never junk
]


@pytest.mark.parametrize(("text", "kept"), UNVERIFIED)
def test_clean_unverified_kept(text: str, kept: str | None) -> None:
    try:
        value = clean(text)
    except Unverified as exc:
        value = str(exc.value)
        assert "not a valid" in exc.reason
    assert value is not None and value.startswith("+")
    if kept is not None:
        assert value == kept
        with pytest.raises(Unverified):
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
