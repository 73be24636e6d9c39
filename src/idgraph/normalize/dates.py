"""Dates of birth, event dates and timestamps.

Decisions (tested in tests/normalize/test_dates.py):

* Accepted without a format: ISO "YYYY-MM-DD" (a trailing time is ignored), compact
  "YYYYMMDD", US "MM/DD/YYYY" and "M/D/YY" (also with "-" or "."), "YYYY-MM",
  "MM/YYYY" and "YYYY". Month precision is stored as day 1, year precision as Jan 1.
* Two-digit years use a sliding window: YY is 20YY when that is not later than the
  pivot year, else 19YY. The pivot is the current year unless given (clean_dob passes
  ``today.year``, so a birth date is never put in the future). This is the only place a
  clock is read; pass ``pivot_year`` to make clean() fully deterministic.
* Impossible dates raise with the reason ("month 13 out of range",
  "day 30 out of range for month 2 of 2023").
* A birth date whose month or day is impossible but whose year is plausible keeps the
  year (issue 13, "nothing lost"): clean_dob raises :class:`Partial` with the year at
  year precision as its value ("1980-13-05" -> 1980, precision "year"); ingest stores
  the year and quarantines the reason. A day-month swap is not guessed. A year in the
  future, before 1900 or meaning an age over 120 is junk as a whole (InvalidValue).
  No date is "unverified": a date is either possible or not.
* Timestamps: ISO 8601 with or without time, seconds, fraction and zone ("Z",
  "+05:30"), and US "MM/DD/YYYY HH:MM[:SS] [AM|PM]". Zoned values are converted to
  UTC; the result is always naive UTC. A naive input is taken to be UTC already.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Literal

from idgraph import clock
from idgraph.normalize.base import InvalidValue, Partial, blank

__all__ = ["PartialDate", "clean", "clean_dob", "clean_timestamp"]

Precision = Literal["day", "month", "year"]
EARLIEST_DOB = date(1900, 1, 1)
MAX_AGE_YEARS = 120


@dataclass(frozen=True)
class PartialDate:
    """A date and how much of it the source gave."""

    value: date
    precision: Precision

    @property
    def iso(self) -> str:
        """"1980-05-17", "1980-05" or "1980": clean(iso) gives this date back."""
        full = self.value.isoformat()
        return {"day": full, "month": full[:7], "year": full[:4]}[self.precision]


class _BadMonthOrDay(InvalidValue):
    """A date whose year is fine but whose month or day is impossible."""

    def __init__(self, reason: str, year: int) -> None:
        super().__init__(reason)
        self.year = year


def _make_date(year: int, month: int, day: int) -> date:
    if not 1 <= year <= 9999:
        raise InvalidValue(f"year {year} out of range")
    if not 1 <= month <= 12:
        raise _BadMonthOrDay(f"month {month} out of range", year)
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise _BadMonthOrDay(f"day {day} out of range for month {month} of {year}", year)
    return date(year, month, day)


def _year(text: str, pivot_year: int) -> int:
    if len(text) == 4:
        return int(text)
    yy = int(text)
    century = pivot_year - pivot_year % 100
    return century + yy if century + yy <= pivot_year else century - 100 + yy


_DAY_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][\d:.]+(?:Z|[+-][\d:]+)?)?"), "ymd"),
    (re.compile(r"(\d{4})(\d{2})(\d{2})"), "ymd"),
    (re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})"), "mdy"),
)
_MONTH_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(\d{4})-(\d{1,2})"), "ym"),
    (re.compile(r"(\d{1,2})/(\d{4})"), "my"),
)


def _guess(text: str, pivot_year: int) -> PartialDate:
    for pattern, order in _DAY_PATTERNS:
        m = pattern.fullmatch(text)
        if m:
            if order == "ymd":
                y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
            else:
                mo, d, y = int(m.group(1)), int(m.group(2)), _year(m.group(3), pivot_year)
            return PartialDate(_make_date(y, mo, d), "day")
    for pattern, order in _MONTH_PATTERNS:
        m = pattern.fullmatch(text)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            y, mo = (a, b) if order == "ym" else (b, a)
            return PartialDate(_make_date(y, mo, 1), "month")
    if re.fullmatch(r"\d{4}", text):
        return PartialDate(_make_date(int(text), 1, 1), "year")
    raise InvalidValue(f"not a recognised date: {text[:20]}")


_FAST_FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "%Y-%m-%d": (re.compile(r"(\d{4})-(\d{2})-(\d{2})"), "ymd"),
    "%m/%d/%Y": (re.compile(r"(\d{2})/(\d{2})/(\d{4})"), "mdy"),
    "%Y%m%d": (re.compile(r"(\d{4})(\d{2})(\d{2})"), "ymd"),
}


def _with_format(text: str, fmt: str) -> PartialDate:
    fast = _FAST_FORMATS.get(fmt)
    if fast is not None:  # strptime is slow; these common formats are plain digits
        m = fast[0].fullmatch(text)
        if m is not None:
            a, b, c = (int(g) for g in m.groups())
            y, mo, d = (a, b, c) if fast[1] == "ymd" else (c, a, b)
            return PartialDate(_make_date(y, mo, d), "day")
    try:
        parsed = datetime.strptime(text, fmt)
    except ValueError as exc:
        message = str(exc)
        if "out of range" in message or "must be in" in message:
            raise InvalidValue(message) from exc
        raise InvalidValue(f"does not match format {fmt}") from exc
    has_day = any(c in fmt for c in ("%d", "%j", "%-d"))
    has_month = any(c in fmt for c in ("%m", "%b", "%B", "%-m"))
    precision: Precision = "day" if has_day else "month" if has_month else "year"
    return PartialDate(parsed.date(), precision)


def clean(
    text: str | None, fmt: str | None = None, *, pivot_year: int | None = None
) -> PartialDate | None:
    """Parse a date (with ``fmt``, a strptime format, if the source gives one)."""
    if blank(text):
        return None
    assert text is not None
    stripped = text.strip()
    if fmt is not None:
        return _with_format(stripped, fmt)
    return _guess(stripped, pivot_year if pivot_year is not None else clock.today().year)


def clean_dob(
    text: str | None, fmt: str | None = None, today: date | None = None
) -> PartialDate | None:
    """A date of birth: not in the future, not before 1900, age at most 120.

    Raises Partial (value: the year, at year precision) when only the month or day is
    impossible.
    """
    today = today or clock.today()
    try:
        parsed = clean(text, fmt, pivot_year=today.year)
    except _BadMonthOrDay as exc:
        year = PartialDate(date(exc.year, 1, 1), "year")
        try:
            _check_dob(year, today)
        except InvalidValue:
            raise exc from None
        raise Partial(year, f"{exc.reason}; birth year kept") from exc
    if parsed is None:
        return None
    _check_dob(parsed, today)
    return parsed


def _check_dob(parsed: PartialDate, today: date) -> None:
    if parsed.value > today:
        raise InvalidValue(f"date of birth {parsed.iso} is in the future")
    if parsed.value < EARLIEST_DOB:
        raise InvalidValue(f"date of birth {parsed.iso} is before 1900")
    oldest = today.replace(year=today.year - MAX_AGE_YEARS, day=min(today.day, 28))
    if parsed.value < oldest:
        raise InvalidValue(f"date of birth {parsed.iso} means an age over {MAX_AGE_YEARS}")


_ISO_TS = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
_US_TS = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AP]M)?)?",
    re.IGNORECASE,
)


def _offset(zone: str | None) -> timezone | None:
    if not zone:
        return None
    if zone.upper() == "Z":
        return UTC
    digits = zone[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) > 2 else 0)
    if minutes >= 24 * 60:
        raise InvalidValue(f"time zone offset {zone} out of range")
    return timezone(timedelta(minutes=-minutes if zone[0] == "-" else minutes))


def _clock(hour: int, minute: int, second: int, micro: int) -> tuple[int, int, int, int]:
    if not 0 <= hour <= 23:
        raise InvalidValue(f"hour {hour} out of range")
    if not 0 <= minute <= 59:
        raise InvalidValue(f"minute {minute} out of range")
    if not 0 <= second <= 59:
        raise InvalidValue(f"second {second} out of range")
    return hour, minute, second, micro


def _to_utc_naive(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _guess_timestamp(text: str) -> datetime:
    m = _ISO_TS.fullmatch(text)
    if m:
        day = _make_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
        clock = _clock(int(m.group(4) or 0), int(m.group(5) or 0), int(m.group(6) or 0), micro)
        tz = _offset(m.group(8))
        return _to_utc_naive(datetime(day.year, day.month, day.day, *clock, tzinfo=tz))
    m = _US_TS.fullmatch(text)
    if m:
        day = _make_date(int(m.group(3)), int(m.group(1)), int(m.group(2)))
        hour = int(m.group(4) or 0)
        meridiem = (m.group(7) or "").upper()
        if meridiem and not 1 <= hour <= 12:
            raise InvalidValue(f"hour {hour} out of range for {meridiem}")
        if meridiem:
            hour = hour % 12 + (12 if meridiem == "PM" else 0)
        clock = _clock(hour, int(m.group(5) or 0), int(m.group(6) or 0), 0)
        return datetime(day.year, day.month, day.day, *clock)
    raise InvalidValue(f"not a recognised timestamp: {text[:30]}")


def clean_timestamp(text: str | None, fmt: str | None = None) -> datetime | None:
    """A point in time as a naive UTC datetime."""
    if blank(text):
        return None
    assert text is not None
    stripped = text.strip()
    if fmt is None:
        return _guess_timestamp(stripped)
    try:
        return _to_utc_naive(datetime.strptime(stripped, fmt))
    except ValueError as exc:
        raise InvalidValue(f"does not match format {fmt}: {exc}") from exc
