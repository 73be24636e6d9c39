"""Search criteria: read by the ingest normalisers, refused with the field and reason."""

from __future__ import annotations

from typing import Any

import pytest

from idgraph.link.model import INPUT_SQL, INPUT_TABLE
from idgraph.search.criteria import (
    QUERY_COLUMNS,
    Criteria,
    CriteriaError,
    normalised,
    parse_criteria,
    readings,
)
from idgraph.store import open_store

# (criteria, expected values of the first reading)
PARSED: list[tuple[dict[str, str], dict[str, Any]]] = [
    ({"name": "Bill O'Neil"}, {"first_name": "BILL", "first_name_canon": "WILLIAM",
                               "last_name": "ONEIL", "last_name_phonetic": "ONL"}),
    ({"name": "GARCIA, MARIA"}, {"first_name": "MARIA", "last_name": "GARCIA"}),
    ({"name": "maria garcia-lopez"}, {"last_name": "GARCIA-LOPEZ",
                                      "last_name_parts": ["GARCIA", "LOPEZ"]}),
    ({"name": "José  Núñez"}, {"first_name": "JOSE", "last_name": "NUNEZ"}),
    ({"dob": "1984"}, {"birth_year": 1984, "dob_month": None, "dob_day": None}),
    ({"dob": "1984-03"}, {"birth_year": 1984, "dob_month": "198403", "dob_day": None}),
    ({"dob": "03/1984"}, {"birth_year": 1984, "dob_month": "198403", "dob_day": None}),
    ({"dob": "1984-03-07"}, {"dob_day": "19840307", "dob_month": "198403"}),
    ({"dob": "03/07/1984"}, {"dob_day": "19840307"}),
    ({"dob": "3/7/84"}, {"dob_day": "19840307"}),
    ({"dob": "13/07/1984"}, {"dob_day": "19840713"}),  # only the day-first reading exists
    ({"address": "12 North Main Street Apt 4, Springfield IL 62704-1234"},
     {"house_number": "12", "street": "N MAIN ST", "city": "SPRINGFIELD", "state": "IL",
      "zip": "62704"}),
    ({"address": "12 Main St 62704", "zip": "10027"}, {"zip": "10027"}),  # ZIP wins
    ({"zip": "2134"}, {"zip": "02134"}),
    ({"phone": "(217) 555-0134"}, {"phone": "+12175550134"}),
    ({"phone": "217 155 1234"}, {"phone": "+12171551234"}),  # unverified: kept as ingest does
    ({"identifier": "212-45-6781"}, {"ssn": "212456781", "dl_number": "212456781",
                                     "dl_key": None}),
    ({"identifier": "CA:A1234567"}, {"ssn": None, "dl_key": "CA:A1234567",
                                     "dl_number": "A1234567"}),
    ({"identifier": "ny 123 456 789"}, {"dl_key": "NY:123456789"}),
    ({"identifier": "123-45-6789"}, {"ssn": None, "dl_number": "123456789"}),  # placeholder
    ({"plate": "abc-123"}, {"plate": "ABC123"}),
]


@pytest.mark.parametrize(("given", "expected"), PARSED)
def test_parsed(given: dict[str, str], expected: dict[str, Any]) -> None:
    row = normalised(parse_criteria(**given))
    assert {k: row[k] for k in expected} == expected
    assert set(row) == set(QUERY_COLUMNS)


# (criteria, field named, words of the reason)
BAD: list[tuple[dict[str, Any], str, str]] = [
    ({}, "criteria", "no criterion"),
    ({"name": "   ", "dob": ""}, "criteria", "no criterion"),
    ({"race": "X"}, "race", "not a search criterion"),
    ({"name": "FNU LNU"}, "name", "no usable name"),
    ({"name": "12345"}, "name", "no letters"),
    ({"dob": "2090"}, "dob", "in the future"),
    ({"dob": "1984-13-45"}, "dob", "month 13"),
    ({"dob": "last spring"}, "dob", "not a recognised date"),
    ({"dob": "1850-01-01"}, "dob", "before 1900"),
    ({"zip": "00000"}, "zip", "placeholder"),
    ({"zip": "ABCDE"}, "zip", "not a ZIP"),
    ({"address": "12 Main St, Springfield ZZ 62704"}, "address", "state"),
    ({"phone": "555-0100"}, "phone", "not a possible"),
    ({"phone": "000-000-0000"}, "phone", "placeholder"),
    ({"identifier": "*"}, "identifier", ""),
    ({"identifier": "12"}, "identifier", "2 characters"),
    ({"identifier": "CA 12"}, "identifier", "2 characters"),
    ({"plate": "A"}, "plate", "1 characters"),
    ({"name": 42}, "name", "must be text"),
]


@pytest.mark.parametrize(("given", "field", "reason"), BAD)
def test_bad_input_names_field_and_reason(given: dict[str, Any], field: str,
                                          reason: str) -> None:
    with pytest.raises(CriteriaError) as err:
        parse_criteria(**given)
    assert err.value.field == field
    assert reason in err.value.reason
    assert str(err.value).startswith(f"{field}: ")


# (name, readings as (first, last) pairs)
READINGS: list[tuple[str, list[tuple[str | None, str | None]]]] = [
    ("Bill O'Neil", [("BILL", "ONEIL"), ("ONEIL", "BILL")]),
    ("O'Neil, Bill", [("BILL", "ONEIL")]),  # a comma: surname first, one reading
    ("Juan de la Cruz", [("JUAN", "DE LA CRUZ"), ("DE LA CRUZ", "JUAN")]),
    ("de la Cruz Juan", [("JUAN", "DE LA CRUZ"), (None, "DE LA CRUZ JUAN")]),
    ("Garcia", [("GARCIA", None), (None, "GARCIA")]),  # one word: given, or surname
]


@pytest.mark.parametrize(("name", "expected"), READINGS)
def test_name_readings(name: str, expected: list[tuple[str | None, str | None]]) -> None:
    rows = readings(parse_criteria(name=name, dob="1984"))
    assert [(r["first_name"], r["last_name"]) for r in rows] == expected
    assert all(r["birth_year"] == 1984 for r in rows)


def test_fields_and_missing_criteria_are_none() -> None:
    c = parse_criteria(name="maria garcia", zip="10027", phone=None)
    assert c == Criteria(name="maria garcia", zip="10027")
    assert c.fields() == ("name", "zip")
    row = normalised(c)
    assert row["dob_day"] is None and row["phone"] is None and row["record_id"] is None


def test_readings_are_copies() -> None:
    c = parse_criteria(name="maria garcia-lopez")
    readings(c)[0]["last_name_parts"].append("X")
    assert readings(c)[0]["last_name_parts"] == ["GARCIA", "LOPEZ"]


def test_query_columns_are_the_model_input_columns() -> None:
    store = open_store(None)
    store.execute(INPUT_SQL)
    cols = {r[0] for r in store.fetchall(f"DESCRIBE {INPUT_TABLE}")}
    assert cols - {"uid", "name_key"} <= set(QUERY_COLUMNS)
    assert set(QUERY_COLUMNS) - cols == {"dl_number"}
