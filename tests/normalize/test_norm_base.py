"""fold() and InvalidValue."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idgraph.normalize.base import InvalidValue, blank, fold

CASES = [
    ("José Núñez", "JOSE NUNEZ"),
    ("  many   spaces\there ", "MANY SPACES HERE"),
    ("straße", "STRASSE"),
    ("Łódź", "LODZ"),
    ("Søren Ærø", "SOREN AERO"),
    ("ﬁne", "FINE"),
    ("O’Brien", "O'BRIEN"),
    ("Jean–Luc", "JEAN-LUC"),
    ("北京", ""),
    ("", ""),
    ("\u00a0nbsp\u00a0", "NBSP"),
    ("Zoë", "ZOE"),
    ("Ⅻ", "XII"),
    ("ǅ", "DZ"),
    ("a\nb", "A B"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected


@given(st.text())
def test_fold_is_ascii_upper_and_idempotent(text: str) -> None:
    folded = fold(text)
    assert folded.isascii()
    assert folded == folded.upper()
    assert "  " not in folded
    assert fold(folded) == folded


def test_invalid_value_carries_reason() -> None:
    err = InvalidValue("month 13 out of range")
    assert isinstance(err, ValueError)
    assert err.reason == "month 13 out of range"


BLANK_CASES = [(None, True), ("", True), (" \t", True), ("x", False)]


@pytest.mark.parametrize(("value", "expected"), BLANK_CASES)
def test_blank(value: str | None, expected: bool) -> None:
    assert blank(value) is expected
