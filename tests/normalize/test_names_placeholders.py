"""Placeholder given names (BABY GIRL, FNU, MRS, ...) are no given name, not a name."""

from __future__ import annotations

import pytest

from idgraph.normalize.names import from_parts, parse_full

# source first-name column -> the given name left after normalising (None: none)
GIVEN_PLACEHOLDERS = [
    "BABY", "Baby Boy", "BABY GIRL", "BABYGIRL", "BOY", "GIRL", "INFANT", "CHILD",
    "DAUGHTER", "MR", "Mrs.", "MS", "MISS", "LADY", "GENTLEMAN", "GENTELMAN", "UNKNOWN",
    "UNK", "NONE", "NFN", "FNU", "NO NAME", "TEST",
]


@pytest.mark.parametrize("first", GIVEN_PLACEHOLDERS)
def test_placeholder_first_name_column_is_no_given_name(first: str) -> None:
    name = from_parts(first, None, "MACLEOD")
    assert name is not None
    assert (name.first, name.first_canon, name.first_phonetic) == (None, None, None)
    assert name.last == "MACLEOD"


@pytest.mark.parametrize("first", GIVEN_PLACEHOLDERS)
def test_placeholder_in_a_full_name_is_no_given_name(first: str) -> None:
    name = parse_full(f"MACLEOD, {first}")
    assert name is not None
    assert (name.first, name.last) == (None, "MACLEOD")


@pytest.mark.parametrize(("first", "middle", "expected"), [
    ("GIRL", "R", (None, "R")),  # the initial after a placeholder stays the middle name
    ("BABY", "BOY", (None, None)),  # BABY + BOY is one placeholder
    ("BABY BOY", "J", (None, "J")),
    ("R", None, ("R", None)),  # a single letter is an initial, not a placeholder
    ("B", "G", ("B", "G")),
    ("SON", None, ("SON", None)),  # a listed given name (Vietnamese SON)
    ("BOYD", None, ("BOYD", None)),  # a name that starts like a placeholder
    ("LADYBIRD", None, ("LADYBIRD", None)),
])
def test_placeholder_keeps_what_is_a_name(
    first: str, middle: str | None, expected: tuple[str | None, str | None]
) -> None:
    name = from_parts(first, middle, "MACLEOD")
    assert name is not None
    assert (name.first, name.middle) == expected


@pytest.mark.parametrize("last", ["LNU", "UNKNOWN", "UNK", "NONE"])
def test_placeholder_surname_is_no_surname(last: str) -> None:
    name = from_parts("WILLIAM", "R", last)
    assert name is not None
    assert (name.first, name.middle, name.last, name.last_parts) == ("WILLIAM", "R", None, ())


@pytest.mark.parametrize(("first", "middle", "last"), [
    ("FNU", None, "LNU"), ("BABY", "GIRL", "UNKNOWN"), ("FNU", "R", "LNU"),
])
def test_nothing_but_placeholders_is_no_name(first: str, middle: str | None, last: str) -> None:
    assert from_parts(first, middle, last) is None
