"""Addresses: USPS forms and usaddress parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idgraph.normalize.addresses import (
    Address,
    clean_city,
    clean_state,
    clean_street,
    clean_unit,
    clean_zip,
    from_parts,
    parse,
)
from idgraph.normalize.base import InvalidValue

PARSE_CASES = [
    ("123 North Main Street Apt 4, Springfield, IL 62704-1234",
     "123 N MAIN ST APT 4, SPRINGFIELD, IL 62704"),
    ("1600 Pennsylvania Ave NW, Washington DC 20500",
     "1600 PENNSYLVANIA AVE NW, WASHINGTON, DC 20500"),
    ("PO Box 123, Austin TX 78701", "PO BOX 123, AUSTIN, TX 78701"),
    ("45 W 34th St # 4, New York, NY 10001", "45 W 34TH ST UNIT 4, NEW YORK, NY 10001"),
    ("123 Main St Ste 200 Springfield IL 62704", "123 MAIN ST STE 200, SPRINGFIELD, IL 62704"),
    ("742 Evergreen Terrace", "742 EVERGREEN TER"),
    ("12 Avenue of the Americas, New York, NY 10036",
     "12 AVENUE OF THE AMERICAS, NEW YORK, NY 10036"),
    ("100 North Ave, Atlanta, Georgia 30332", "100 NORTH AVE, ATLANTA, GA 30332"),
    ("5 St. James Place, St. Louis MO 63101", "5 ST JAMES PL, SAINT LOUIS, MO 63101"),
]


@pytest.mark.parametrize(("line", "one_line"), PARSE_CASES)
def test_parse(line: str, one_line: str) -> None:
    address = parse(line)
    assert address is not None
    assert address.one_line == one_line


def test_parse_fields() -> None:
    assert parse("123 North Main Street Apt 4, Springfield, IL 62704-1234") == Address(
        "123", "N MAIN ST", "APT 4", "SPRINGFIELD", "IL", "62704"
    )


def test_parse_invalid() -> None:
    with pytest.raises(InvalidValue, match="no street, city or ZIP"):
        parse("garbage text")


# Issue 13: one bad part nulls only itself; before, each of these raised and the whole
# address (house number, street, city) was lost.
BAD_PART_LINES = [
    ("123 Main St, Springfield, XX 62704",
     Address("123", "MAIN ST", None, "SPRINGFIELD", None, "62704"), "state"),
    ("123 Main St, Springfield, IL 627",
     Address("123", "MAIN ST", None, "SPRINGFIELD", "IL", None), "zip"),
    ("123 Main St, Springfield, IL 00000",
     Address("123", "MAIN ST", None, "SPRINGFIELD", "IL", None), "zip"),
]


@pytest.mark.parametrize(("line", "expected", "part"), BAD_PART_LINES)
def test_parse_bad_part_nulls_only_itself(line: str, expected: Address, part: str) -> None:
    address = parse(line)
    assert address == expected
    assert [p for p, _ in address.problems] == [part]


BAD_PART_COLUMNS = [
    # (street line, unit, city, state, zip) -> kept address, the parts left out
    (("5112 145th st", None, "Anytown", "WA", "00000"),
     Address("5112", "145TH ST", None, "ANYTOWN", "WA", None), ["zip"]),
    (("5112 145th st", None, "Anytown", "WA", "001200"),
     Address("5112", "145TH ST", None, "ANYTOWN", "WA", None), ["zip"]),
    (("927 Broomfield Ln", "Apartment", "Anytown", "WA", "98101"),
     Address("927", "BROOMFIELD LN", None, "ANYTOWN", "WA", "98101"), ["unit"]),
    (("927 Broomfield Ln", "Apt 4", "12345", "Ontario", "98101"),
     Address("927", "BROOMFIELD LN", "APT 4", None, None, "98101"), ["city", "state"]),
]


@pytest.mark.parametrize(("parts", "expected", "bad"), BAD_PART_COLUMNS)
def test_from_parts_bad_part_nulls_only_itself(
    parts: tuple[str | None, ...], expected: Address, bad: list[str]
) -> None:
    address = from_parts(*parts)
    assert address == expected
    assert [p for p, _ in address.problems] == bad


def test_parse_blank() -> None:
    assert parse("  ") is None


def test_from_parts() -> None:
    address = from_parts("123 North Main Street", "Apartment 4", "Springfield", "illinois",
                         "62704-1234")
    assert address == Address("123", "N MAIN ST", "APT 4", "SPRINGFIELD", "IL", "62704")
    assert address.one_line == "123 N MAIN ST APT 4, SPRINGFIELD, IL 62704"
    assert from_parts(None).one_line == ""
    assert from_parts("12B Elm Road").house_number == "12B"


STREET_CASES = [
    ("North Main Street", "N MAIN ST"), ("N MAIN ST", "N MAIN ST"),
    ("Pennsylvania Avenue Northwest", "PENNSYLVANIA AVE NW"),
    ("Sunset Boulevard", "SUNSET BLVD"), ("Ocean Pkwy.", "OCEAN PKWY"),
    ("Avenue of the Americas", "AVENUE OF THE AMERICAS"), ("North Ave", "NORTH AVE"),
    ("Main Street North", "MAIN ST N"), ("Old Mill Lane", "OLD MILL LN"),
    ("Elm Court", "ELM CT"),
    ("Route 66", "ROUTE 66"), ("Broadway", "BROADWAY"), ("", None), ("#", None),
]


@pytest.mark.parametrize(("text", "expected"), STREET_CASES)
def test_clean_street(text: str, expected: str | None) -> None:
    assert clean_street(text) == expected


UNIT_CASES = [
    ("Apt 4", "APT 4"), ("apartment 4b", "APT 4B"), ("#4", "UNIT 4"), ("# 4", "UNIT 4"),
    ("4", "UNIT 4"), ("Suite 200", "STE 200"), ("STE 200", "STE 200"), ("Bsmt", "BSMT"),
    ("APT #12", "APT 12"), ("Floor 3", "FL 3"), ("Unit 4", "UNIT 4"), ("", None),
]


@pytest.mark.parametrize(("text", "expected"), UNIT_CASES)
def test_clean_unit(text: str, expected: str | None) -> None:
    assert clean_unit(text) == expected


def test_clean_unit_invalid() -> None:
    with pytest.raises(InvalidValue, match="without a number"):
        clean_unit("Apartment")


CITY_CASES = [
    ("Springfield", "SPRINGFIELD"), ("St. Louis", "SAINT LOUIS"), ("Ft Worth", "FORT WORTH"),
    ("Mt. Vernon", "MOUNT VERNON"), ("Winston-Salem", "WINSTON-SALEM"),
    ("Coeur d'Alene", "COEUR DALENE"), ("San José", "SAN JOSE"), ("", None),
]


@pytest.mark.parametrize(("text", "expected"), CITY_CASES)
def test_clean_city(text: str, expected: str | None) -> None:
    assert clean_city(text) == expected


STATE_CASES = [
    ("IL", "IL"), ("il", "IL"), ("Illinois", "IL"), ("new york", "NY"),
    ("District of Columbia", "DC"), ("D.C.", "DC"), ("Puerto Rico", "PR"), ("", None),
]


@pytest.mark.parametrize(("text", "expected"), STATE_CASES)
def test_clean_state(text: str, expected: str | None) -> None:
    assert clean_state(text) == expected


@pytest.mark.parametrize("text", ["XX", "Illinoise", "12", "Ontario"])
def test_clean_state_invalid(text: str) -> None:
    with pytest.raises(InvalidValue, match="not a US state"):
        clean_state(text)


ZIP_CASES = [
    ("62704", "62704"), ("62704-1234", "62704"), ("627041234", "62704"),
    ("2134", "02134"), (" 02134 ", "02134"), ("", None),
    # a letter typed for a digit (pseudopeople's OCR noise): read as the digit
    ("0O123", "00123"), ("6270I", "62701"), ("62704-I234", "62704"),
    # five digits no table knows are kept: there is no ZIP table to verify against
    ("99999", "99999"),
]


@pytest.mark.parametrize(("text", "expected"), ZIP_CASES)
def test_clean_zip(text: str, expected: str | None) -> None:
    assert clean_zip(text) == expected


# junk: "00000" (and its look-alike "0O000") is a placeholder, the rest unreadable
@pytest.mark.parametrize("text", ["00000", "0O000", "O0000", "123", "627045", "ABCDE",
                                  "62704-12", "1234-5678", "OOOOO"])
def test_clean_zip_invalid(text: str) -> None:
    with pytest.raises(InvalidValue):
        clean_zip(text)


def _idempotent(func: object, text: str) -> None:
    assert callable(func)
    try:
        once = func(text)
    except InvalidValue:
        return
    assert func(once) == once


@given(st.text(max_size=40))
def test_street_unit_city_idempotent(text: str) -> None:
    for func in (clean_street, clean_unit, clean_city):
        _idempotent(func, text)


@given(st.one_of(st.sampled_from(["Illinois", "ny", "D.C.", "Texas"]), st.text(max_size=12)))
def test_state_idempotent(text: str) -> None:
    _idempotent(clean_state, text)


@given(st.from_regex(r"\d{4,5}(-\d{4})?", fullmatch=True))
def test_zip_idempotent(text: str) -> None:
    _idempotent(clean_zip, text)


# street lines that carry their unit (Illinois writes "8617 FAIRVIEW PL #5")
UNIT_IN_STREET = [
    ("8617 FAIRVIEW PL #5", "FAIRVIEW PL", "UNIT 5"),
    ("7918 W Mission Lane Ste 2A", "W MISSION LN", "STE 2A"),
    ("6210 WILLOW ST UNIT 15", "WILLOW ST", "UNIT 15"),
    ("5166 N RD APT 9C", "N RD", "APT 9C"),
    ("12 FRONT ST", "FRONT ST", None),  # a designator word as the street name
    ("40 LOT RD", "LOT RD", None),
    ("9 MAIN ST", "MAIN ST", None),
]


@pytest.mark.parametrize(("line", "street", "unit"), UNIT_IN_STREET)
def test_from_parts_splits_a_unit_off_the_street(line: str, street: str, unit: str | None) -> None:
    address = from_parts(line, None, "Chicago", "IL", "60601")
    assert (address.street, address.unit) == (street, unit)
    # a unit given in its own column wins
    assert from_parts(line, "Apt 1").unit == "APT 1"
