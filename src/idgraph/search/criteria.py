"""Search criteria: what an investigator knows, read exactly as ingest reads a record.

A search starts from partial facts typed by a person: a name in any order, a birth
date to the day, month or year, a street address, a ZIP, a phone, an SSN or licence
number, a plate. :func:`parse_criteria` checks each with the normaliser ingest uses
(:mod:`idgraph.normalize`), so a query meets records in their own terms: "Bill O'Neil"
becomes given name BILL (canonical WILLIAM, Metaphone BL) and surname ONEIL, like a
record of WILLIAM ONEIL. A value no normaliser accepts is refused with
:class:`CriteriaError` naming the criterion and the reason, never dropped silently.

:func:`readings` gives the criteria as :data:`QueryRecord` dicts with the columns of
:data:`idgraph.link.model.INPUT_SQL` (``dob_day`` "YYYYMMDD", ``dob_month`` "YYYYMM",
``dl_key`` "STATE:NUMBER", ...), so the trained model's comparison levels can compare
a query with a record as they compare two records. Missing criteria are None.

Decisions:

* A name written with a comma is "SURNAME, GIVEN [MIDDLE]": one reading. Without a
  comma the order is unknown, so there are two readings: the one ingest would make
  of the name in a ``first_last`` column (name tables may overrule the order, as for
  records), and that reading with given name and surname exchanged (BILL ONEIL and
  ONEIL BILL); when the first reading has only one part (DE LA CRUZ JUAN read as a
  surname), the second is the ``last_first`` reading (JUAN, DE LA CRUZ). A reading
  with both a given name and a surname comes first. A one-word name is a given name in
  the first reading and a surname in the second.
* A birth date: "1984", "1984-03", "03/1984", "1984-03-07", "03/07/1984" (US order;
  "3/7/84" too). A date in day-first order whose month is impossible in US order
  ("13/07/1984") is read day-first: a person typed it, and that is the only reading.
* An identifier is an SSN when it is nine digits SSA could have issued; else, and also
  for nine digits (a New York licence number is nine digits too), a driver licence
  number. "CA:A1234567" or "CA A1234567" names the issuing state; without one,
  ``dl_key`` is None and ``dl_number`` (an extra key) holds the number alone.
* The ZIP criterion wins over a ZIP inside the address line.
* A name of more than :data:`MAX_NAME_WORDS` words or :data:`MAX_NAME_CHARS` characters
  is refused: no person is searched for by such a name, and every word is terms to
  make and match (a 14,000-word "name" took seconds per search).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date
from functools import lru_cache
from typing import Any, Final

from idgraph.normalize import addresses, dates, identifiers, names, phones
from idgraph.normalize.base import InvalidValue, Partial, Unverified

__all__ = [
    "CRITERIA",
    "MAX_NAME_CHARS",
    "MAX_NAME_WORDS",
    "QUERY_COLUMNS",
    "Criteria",
    "CriteriaError",
    "QueryRecord",
    "normalised",
    "parse_criteria",
    "readings",
]

# A query as the model's input row: the columns of link.model.INPUT_SQL (record_id and
# source_id are None), plus ``dl_number`` (a licence number whose state is not known).
QueryRecord = dict[str, Any]

QUERY_COLUMNS: Final[tuple[str, ...]] = (
    "record_id", "source_id",
    "first_name", "middle_name", "last_name", "suffix",
    "first_name_canon", "first_name_phonetic", "last_name_phonetic", "last_name_parts",
    "dob_day", "dob_month", "birth_year", "sex",
    "house_number", "street", "city", "state", "zip",
    "phone", "email", "ssn", "dl_key", "plate",
    "dl_number",
)


# The longest name searched for. Words: a name as a person types it has a few (a
# 12-word name is already a list of names). Characters: the bound on the text itself; a
# long word costs little (terms.FUZZY_MAX_LENGTH: a word over 30 letters has no edit
# keys), so this is kept above the red-team's 3,000-letter one-word case, which must be
# searchable with bounded terms (tests/search/test_redteam_search.py).
MAX_NAME_WORDS: Final = 12
MAX_NAME_CHARS: Final = 4_000


class CriteriaError(ValueError):
    """A criterion that cannot be used: ``field`` names it, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Criteria:
    """What a search is given; every field is the text as typed (stripped), or None."""

    name: str | None = None  # free text "maria garcia", "GARCIA, MARIA", any order
    dob: str | None = None  # "1984", "1984-03", "03/1984", "1984-03-07", "03/07/1984"
    address: str | None = None  # free text street address (one line)
    zip: str | None = None
    phone: str | None = None
    identifier: str | None = None  # SSN or driver licence number (any format)
    plate: str | None = None

    def fields(self) -> tuple[str, ...]:
        """Names of the criteria given (for the gate's filters and the audit entry)."""
        return tuple(f.name for f in fields(self) if getattr(self, f.name) is not None)


CRITERIA: Final[tuple[str, ...]] = tuple(f.name for f in fields(Criteria))


def parse_criteria(*, region: str = "US", **given: str | None) -> Criteria:
    """Criteria from keyword text (blank values are not given); each is checked with its
    normaliser now, so a bad value is refused before anything is read.

    Raises :class:`CriteriaError` for an unknown criterion, for none at all, and for a
    value that does not normalise.
    """
    for key in given:
        if key not in CRITERIA:
            raise CriteriaError(key, f"not a search criterion (use {', '.join(CRITERIA)})")
    values: dict[str, str | None] = {}
    for key, text in given.items():
        if text is not None and not isinstance(text, str):
            raise CriteriaError(key, "must be text")
        values[key] = " ".join(text.split()) or None if text is not None else None
    criteria = Criteria(**values)
    _bounded_name(criteria.name)
    if not criteria.fields():
        raise CriteriaError("criteria", "no criterion given")
    _read(criteria, region)  # raises on the first bad value
    return criteria


def normalised(criteria: Criteria, region: str = "US") -> QueryRecord:
    """The criteria as one model input row: the first of :func:`readings`."""
    return readings(criteria, region)[0]


def readings(criteria: Criteria, region: str = "US") -> list[QueryRecord]:
    """The criteria as model input rows: one per reading of the name (1 or 2)."""
    return [{k: list(v) if isinstance(v, list) else v for k, v in r.items()}
            for r in _read(criteria, region)]


@lru_cache(maxsize=4096)
def _read(criteria: Criteria, region: str) -> tuple[QueryRecord, ...]:
    base: QueryRecord = dict.fromkeys(QUERY_COLUMNS)
    if criteria.dob is not None:
        base.update(_dob(criteria.dob))
    if criteria.address is not None:
        base.update(_address(criteria.address))
    if criteria.zip is not None:
        base["zip"] = _checked("zip", addresses.clean_zip, criteria.zip)
    if criteria.phone is not None:
        base["phone"] = _checked("phone", lambda t: phones.clean(t, region), criteria.phone)
    if criteria.identifier is not None:
        base.update(_identifier(criteria.identifier))
    if criteria.plate is not None:
        base["plate"] = _checked("plate", identifiers.clean_plate, criteria.plate)
    if criteria.name is None:
        return (base,)
    return tuple({**base, **_name_columns(n)} for n in _name_readings(criteria.name))


def _checked(field: str, clean: Any, text: str) -> Any:
    """``clean(text)``; an unverified value is kept (as ingest keeps it), junk refused."""
    try:
        value = clean(text)
    except Unverified as exc:
        return exc.value
    except InvalidValue as exc:
        raise CriteriaError(field, exc.reason) from None
    if value is None:
        raise CriteriaError(field, "nothing usable")
    return value


# --- names ----------------------------------------------------------------------------


def _bounded_name(text: str | None) -> None:
    if text is None:
        return
    if len(text) > MAX_NAME_CHARS:
        raise CriteriaError("name", f"longer than {MAX_NAME_CHARS:,} characters")
    if len(text.split()) > MAX_NAME_WORDS:
        raise CriteriaError("name", f"more than {MAX_NAME_WORDS} words")


def _name_readings(text: str) -> list[names.Name]:
    try:
        first = names.parse_full(text, "first_last")
    except InvalidValue as exc:
        raise CriteriaError("name", exc.reason) from None
    if first is None or (first.first is None and first.last is None):
        raise CriteriaError("name", "no usable name (only placeholders such as FNU or LNU)")
    if "," in text:
        return [first]
    other = _exchanged(first)
    if first.first is None or first.last is None:
        # one part only: the other order may parse into both (DE LA CRUZ JUAN)
        parsed = names.parse_full(text, "last_first")
        if parsed is not None and parsed != first:
            other = parsed
    if other == first:
        return [first]
    # a reading with both a given name and a surname first (stable: else as made)
    return sorted((first, other), key=lambda n: n.first is None or n.last is None)


def _exchanged(n: names.Name) -> names.Name:
    """The name with given name and surname exchanged (keys made as for a record)."""
    parts = names.from_parts(None, None, n.first)
    return names.Name(
        first=n.last, middle=n.middle, last=n.first, suffix=n.suffix,
        first_canon=names.canonical_given(n.last), first_phonetic=names.phonetic(n.last),
        last_phonetic=names.phonetic(n.first),
        last_parts=parts.last_parts if parts is not None else (),
    )


def _name_columns(n: names.Name) -> QueryRecord:
    return {
        "first_name": n.first, "middle_name": n.middle, "last_name": n.last,
        "suffix": n.suffix, "first_name_canon": n.first_canon,
        "first_name_phonetic": n.first_phonetic, "last_name_phonetic": n.last_phonetic,
        "last_name_parts": list(n.last_parts) or None,
    }


# --- dates ----------------------------------------------------------------------------

_DAY_FIRST = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")


def _dob(text: str) -> QueryRecord:
    try:
        parsed = dates.clean_dob(text)
    except Partial as exc:
        parsed = _day_first(text)
        if parsed is None:
            raise CriteriaError("dob", exc.reason.split(";")[0]) from None
    except InvalidValue as exc:
        raise CriteriaError("dob", exc.reason) from None
    if parsed is None:
        raise CriteriaError("dob", "nothing usable")
    value = parsed.value
    return {
        "dob_day": value.strftime("%Y%m%d") if parsed.precision == "day" else None,
        "dob_month": value.strftime("%Y%m") if parsed.precision != "year" else None,
        "birth_year": value.year,
    }


def _day_first(text: str) -> dates.PartialDate | None:
    """"13/07/1984" read as 13 July 1984 (only when the US reading is impossible)."""
    m = _DAY_FIRST.fullmatch(text.strip())
    if m is None:
        return None
    day, month, year = (int(g) for g in m.groups())
    try:
        return dates.clean_dob(date(year, month, day).isoformat())
    except (ValueError, InvalidValue):
        return None


# --- addresses ------------------------------------------------------------------------


def _address(text: str) -> QueryRecord:
    try:
        parsed = addresses.parse(text)
    except InvalidValue as exc:
        raise CriteriaError("address", exc.reason) from None
    if parsed is None:
        raise CriteriaError("address", "nothing usable")
    if parsed.problems:
        part, why = parsed.problems[0]
        raise CriteriaError("address", f"{part}: {why}")
    return {"house_number": parsed.house_number, "street": parsed.street,
            "city": parsed.city, "state": parsed.state, "zip": parsed.zip}


# --- identifiers ----------------------------------------------------------------------

_STATE_PREFIX = re.compile(r"([A-Za-z]{2})\s*[:\s]\s*(\S.*)")


def _identifier(text: str) -> QueryRecord:
    out: QueryRecord = {}
    digits = re.sub(r"[\s.-]", "", text)
    ssn_reason = None
    if re.fullmatch(r"\d{9}", digits):
        try:
            out["ssn"] = identifiers.clean_ssn(digits)
        except InvalidValue as exc:
            ssn_reason = exc.reason
    state, number = None, text
    m = _STATE_PREFIX.fullmatch(text)
    if m is not None and m.group(1).upper() in addresses.STATES.values():
        state, number = m.group(1).upper(), m.group(2)
    try:
        dl = identifiers.clean_dl(number, state)
    except Unverified as exc:
        dl = str(exc.value)
    except InvalidValue as exc:
        if "ssn" in out:
            return out
        raise CriteriaError("identifier", ssn_reason or exc.reason) from None
    if dl is None:
        raise CriteriaError("identifier", ssn_reason or "nothing usable")
    out["dl_number"] = dl
    out["dl_key"] = f"{state}:{dl}" if state else None
    return out
