"""SSN, driver licence, plate, e-mail and sex."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idgraph.normalize.base import InvalidValue, Unverified
from idgraph.normalize.identifiers import (
    clean_dl,
    clean_email,
    clean_plate,
    clean_sex,
    clean_ssn,
)

SSN_CASES = [
    ("123-45-6780", "123456780"), ("001 01 0001", "001010001"), ("665-12-3456", "665123456"),
    ("899-99-9999", "899999999"), ("", None), (None, None),
]


@pytest.mark.parametrize(("text", "expected"), SSN_CASES)
def test_clean_ssn(text: str | None, expected: str | None) -> None:
    assert clean_ssn(text) == expected


# Junk: placeholders (shared by unrelated people) and unreadable values.
SSN_INVALID = [
    ("000-12-3456", "area 000"), ("123-00-4567", "group 00"), ("123-45-0000", "serial 0000"),
    ("999-99-9999", "placeholder"), ("000-00-0000", "area 000"),
    ("222-22-2222", "placeholder"), ("987-65-4321", "placeholder"),
    ("078-05-1120", "advertising"), ("219-09-9999", "advertising"),
    ("123-45-6789", "advertising"), ("12345678", "not 9 digits"), ("12-345-678A", "not 9"),
]


@pytest.mark.parametrize(("text", "reason"), SSN_INVALID)
def test_clean_ssn_invalid(text: str, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason) as info:
        clean_ssn(text)
    assert not isinstance(info.value, Unverified)


# Area 666 and the ITIN range 9xx stay junk (not unverified): an ITIN is not the
# person's SSN and would read as a conflict with it (module docstring).
@pytest.mark.parametrize("text", ["666-12-3456", "900-12-3456", "912 70 1234"])
def test_clean_ssn_never_issued_is_not_kept(text: str) -> None:
    with pytest.raises(InvalidValue, match="never issued") as info:
        clean_ssn(text)
    assert not isinstance(info.value, Unverified)


# Junk: too short or long to be any licence number, "*" outside WA, a bad state.
DL_INVALID = [
    ("ABC", None), ("SMITH**JA123", "NY"), ("A12345678901234567890", None),
    ("12345678", "ZZ"), ("123", "NY"), ("A12345678901234567890", "CA"),
]


@pytest.mark.parametrize(("number", "state"), DL_INVALID)
def test_clean_dl_invalid(number: str, state: str | None) -> None:
    with pytest.raises(InvalidValue) as info:
        clean_dl(number, state)
    assert not isinstance(info.value, Unverified)


# Failing the state's checked format but a plausible number: kept, unverified (before
# issue 13: nulled).
DL_UNVERIFIED = [
    ("12345", "NY"), ("A1234567890", "IL"), ("12345678", "CA"), ("A123456", "CA"),
    ("123456789", "TX"), ("A12345678901", "FL"), ("1234567", "PA"),
]


@pytest.mark.parametrize(("number", "state"), DL_UNVERIFIED)
def test_clean_dl_unverified_kept(number: str, state: str) -> None:
    with pytest.raises(Unverified, match=f"not a {state} driver licence") as info:
        clean_dl(number, state)
    assert info.value.value == number


PLATE_CASES = [
    ("abc 123", "ABC123"), ("7-ABC-123", "7ABC123"), ("AB", "AB"), ("ÉCOLE1", "ECOLE1"),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), PLATE_CASES)
def test_clean_plate(text: str, expected: str | None) -> None:
    assert clean_plate(text) == expected


@pytest.mark.parametrize("text", ["A", "ABCDEFGHI", "--", "!"])
def test_clean_plate_invalid(text: str) -> None:
    with pytest.raises(InvalidValue):
        clean_plate(text)


EMAIL_CASES = [
    ("John.Smith@Example.COM", "john.smith@example.com"),
    (" mailto:a+b@sub.example.org ", "a+b@sub.example.org"),
    ("o'brien@example.ie", "o'brien@example.ie"),
    ("x@xn--bcher-kva.example", "x@xn--bcher-kva.example"),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), EMAIL_CASES)
def test_clean_email(text: str, expected: str | None) -> None:
    assert clean_email(text) == expected


@pytest.mark.parametrize(
    "text",
    ["plainaddress", "a@b", "a@@b.com", "a@b.c", ".a@b.com", "a..b@c.com", "a@-b.com",
     "a b@c.com", "a@b.123", "jos\u00e9@example.com"],
)
def test_clean_email_invalid(text: str) -> None:
    with pytest.raises(InvalidValue):
        clean_email(text)


SEX_CASES = [
    ("M", "M"), ("male", "M"), ("1", "M"), ("F", "F"), ("Female", "F"), ("2", "F"),
    ("X", "X"), ("non-binary", "X"), ("U", None), ("unknown", None), ("", None),
]


@pytest.mark.parametrize(("text", "expected"), SEX_CASES)
def test_clean_sex(text: str, expected: str | None) -> None:
    assert clean_sex(text) == expected


@pytest.mark.parametrize("text", ["Q", "3", "MAYBE"])
def test_clean_sex_invalid(text: str) -> None:
    with pytest.raises(InvalidValue):
        clean_sex(text)


def _idempotent(func: object, text: str) -> None:
    assert callable(func)
    try:
        once = func(text)
    except InvalidValue:
        return
    assert func(once) == once


@given(st.from_regex(r"\d{3}-?\d{2}-?\d{4}", fullmatch=True))
def test_ssn_idempotent(text: str) -> None:
    _idempotent(clean_ssn, text)


@given(st.text(max_size=12))
def test_plate_idempotent(text: str) -> None:
    _idempotent(clean_plate, text)


@given(st.emails())
def test_email_idempotent(text: str) -> None:
    _idempotent(clean_email, text)
