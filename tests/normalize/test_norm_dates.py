"""Dates, dates of birth and timestamps."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idgraph.normalize.base import InvalidValue, Partial
from idgraph.normalize.dates import PartialDate, Precision, clean, clean_dob, clean_timestamp

TODAY = date(2026, 11, 29)

CASES = [
    ("1980-05-17", None, date(1980, 5, 17), "day"),
    ("19800517", None, date(1980, 5, 17), "day"),
    ("05/17/1980", None, date(1980, 5, 17), "day"),
    ("5/7/1980", None, date(1980, 5, 7), "day"),
    ("5/17/80", None, date(1980, 5, 17), "day"),
    ("5/17/25", None, date(2025, 5, 17), "day"),
    ("5/17/27", None, date(1927, 5, 17), "day"),
    ("12-25-1999", None, date(1999, 12, 25), "day"),
    ("1980-05-17 00:00:00", None, date(1980, 5, 17), "day"),
    ("1980-05", None, date(1980, 5, 1), "month"),
    ("05/1980", None, date(1980, 5, 1), "month"),
    ("1980", None, date(1980, 1, 1), "year"),
    ("2024-02-29", None, date(2024, 2, 29), "day"),
    ("17.05.1980", "%d.%m.%Y", date(1980, 5, 17), "day"),
    ("May 1980", "%B %Y", date(1980, 5, 1), "month"),
    ("1980", "%Y", date(1980, 1, 1), "year"),
]


@pytest.mark.parametrize(("text", "fmt", "value", "precision"), CASES)
def test_clean(text: str, fmt: str | None, value: date, precision: Precision) -> None:
    assert clean(text, fmt, pivot_year=TODAY.year) == PartialDate(value, precision)


INVALID = [
    ("2023-02-30", None, "day 30 out of range for month 2 of 2023"),
    ("02/29/2023", None, "day 29 out of range for month 2 of 2023"),
    ("1980-13-01", None, "month 13 out of range"),
    ("13/1980", None, "month 13 out of range"),
    ("0000-00-00", None, "year 0 out of range"),
    ("1980-04-31", None, "day 31 out of range for month 4"),
    ("yesterday", None, "not a recognised date"),
    ("1980/05/17", "%Y-%m-%d", "does not match format"),
]


@pytest.mark.parametrize(("text", "fmt", "reason"), INVALID)
def test_clean_invalid(text: str, fmt: str | None, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason):
        clean(text, fmt, pivot_year=TODAY.year)


def test_clean_blank() -> None:
    assert clean("") is None
    assert clean(None) is None
    assert clean_dob("  ") is None
    assert clean_timestamp("") is None


DOB_INVALID = [
    ("2030-01-01", "in the future"),
    ("2026-11-30", "in the future"),
    ("1899-12-31", "before 1900"),
    ("1901-06-01", "age over 120"),
    ("2030-13-01", "month 13"),  # bad month and a future year: nothing kept
    ("1880-02-30", "day 30"),  # bad day and a year before 1900: nothing kept
]


@pytest.mark.parametrize(("text", "reason"), DOB_INVALID)
def test_clean_dob_invalid(text: str, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason) as info:
        clean_dob(text, today=TODAY)
    assert not isinstance(info.value, Partial)


# Issue 13: an impossible month or day no longer voids the year with it. Before, each
# of these raised InvalidValue and the record lost its birth year.
DOB_PARTIAL = [
    ("1980-13-05", None, "month 13"),
    ("13/05/1980", None, "month 13"),  # perhaps day-month swapped: not guessed
    ("02/30/1980", "%m/%d/%Y", "day 30"),
    ("19801305", "%Y%m%d", "month 13"),
    ("1980-04-31", "%Y-%m-%d", "day 31"),
]


@pytest.mark.parametrize(("text", "fmt", "reason"), DOB_PARTIAL)
def test_clean_dob_keeps_the_year_of_an_impossible_date(
    text: str, fmt: str | None, reason: str
) -> None:
    with pytest.raises(Partial, match=reason) as info:
        clean_dob(text, fmt, today=TODAY)
    assert info.value.value == PartialDate(date(1980, 1, 1), "year")


@pytest.mark.parametrize(
    ("text", "value"),
    [("2026-11-29", date(2026, 11, 29)), ("5/17/30", date(1930, 5, 17)),
     ("1907", date(1907, 1, 1)), ("11/2026", date(2026, 11, 1))],
)
def test_clean_dob(text: str, value: date) -> None:
    result = clean_dob(text, today=TODAY)
    assert result is not None and result.value == value


TS_CASES = [
    ("2024-03-01T12:30:00Z", datetime(2024, 3, 1, 12, 30)),
    ("2024-03-01T12:30:00+05:30", datetime(2024, 3, 1, 7, 0)),
    ("2024-03-01T23:30:00-0500", datetime(2024, 3, 2, 4, 30)),
    ("2024-03-01 12:30", datetime(2024, 3, 1, 12, 30)),
    ("2024-03-01T12:30:00.250", datetime(2024, 3, 1, 12, 30, 0, 250000)),
    ("2024-03-01", datetime(2024, 3, 1)),
    ("03/01/2024 1:05 PM", datetime(2024, 3, 1, 13, 5)),
    ("03/01/2024 12:05 AM", datetime(2024, 3, 1, 0, 5)),
    ("03/01/2024 13:05:09", datetime(2024, 3, 1, 13, 5, 9)),
    ("3/1/2024", datetime(2024, 3, 1)),
]


@pytest.mark.parametrize(("text", "expected"), TS_CASES)
def test_clean_timestamp(text: str, expected: datetime) -> None:
    result = clean_timestamp(text)
    assert result == expected
    assert result is not None and result.tzinfo is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [("2024-03-01T25:00", "hour 25"), ("2024-02-30T10:00", "day 30"),
     ("03/01/2024 13:05 PM", "hour 13"), ("2024-03-01T10:61", "minute 61"),
     ("noon", "not a recognised timestamp")],
)
def test_clean_timestamp_invalid(text: str, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason):
        clean_timestamp(text)


def test_clean_timestamp_with_format() -> None:
    assert clean_timestamp("01.03.2024 07:00 +0100", "%d.%m.%Y %H:%M %z") == datetime(
        2024, 3, 1, 6, 0
    )


@given(st.dates(min_value=date(1000, 1, 1)), st.sampled_from(["day", "month", "year"]))
def test_iso_round_trip(value: date, precision: Precision) -> None:
    first = clean(value.isoformat())
    assert first is not None
    cut = PartialDate(
        value.replace(day=1) if precision != "day" else value, precision
    )
    if precision == "year":
        cut = PartialDate(value.replace(month=1, day=1), "year")
    assert clean(cut.iso) == cut
