"""A manifest's name order is a hint: the given-name and surname tables may overrule it
when a row is plainly written the other way; a comma always decides."""

from __future__ import annotations

from typing import Literal

import pytest

from idgraph.normalize.names import parse_full, surname_words_first

Order = Literal["first_last", "last_first"]

# text, declared order, (first, middle, last, suffix)
CASES: list[tuple[str, Order, tuple[str | None, ...]]] = [
    # written as declared
    ("RAMON NAVARRETE", "first_last", ("RAMON", None, "NAVARRETE", None)),
    ("NAVARRETE RAMON", "last_first", ("RAMON", None, "NAVARRETE", None)),
    # written against the declared order, no comma: the tables decide
    ("NAVARRETE RAMON", "first_last", ("RAMON", None, "NAVARRETE", None)),
    ("RAMON NAVARRETE", "last_first", ("RAMON", None, "NAVARRETE", None)),
    ("SMITH JOHN A", "first_last", ("JOHN", "A", "SMITH", None)),
    ("JOHN A SMITH", "last_first", ("JOHN", "A", "SMITH", None)),
    ("ZAVALA GUADALUPE JR", "first_last", ("GUADALUPE", None, "ZAVALA", "JR")),
    # both words are common given names and surnames: the declared order stands
    ("THOMAS JAMES", "first_last", ("THOMAS", None, "JAMES", None)),
    ("JAMES THOMAS", "last_first", ("THOMAS", None, "JAMES", None)),
    ("LEE YOUNG", "first_last", ("LEE", None, "YOUNG", None)),
    # a given name the tables do not know keeps the declared order
    ("XIOMARA GARCIA", "first_last", ("XIOMARA", None, "GARCIA", None)),
    # a comma decides, whatever the declared order and the tables
    ("SMITH, JOHN", "first_last", ("JOHN", None, "SMITH", None)),
    ("JOHN, SMITH", "last_first", ("SMITH", None, "JOHN", None)),
    # a two-word surname in front (three words)
    ("NAVARRETE VILLASENOR SOFIA", "first_last", ("SOFIA", None, "NAVARRETE VILLASENOR", None)),
    ("GARCIA LOPEZ MARIA", "last_first", ("MARIA", None, "GARCIA LOPEZ", None)),
    ("MARIA GARCIA LOPEZ", "first_last", ("MARIA", None, "GARCIA LOPEZ", None)),
    ("MARY ELIZABETH SMITH", "first_last", ("MARY", "ELIZABETH", "SMITH", None)),
    ("SMITH MARY ELIZABETH", "last_first", ("MARY", "ELIZABETH", "SMITH", None)),
    ("LUIS O'BRIEN", "last_first", ("LUIS", None, "OBRIEN", None)),
    # a particle: not guessed
    ("MARIA DE LA CRUZ", "first_last", ("MARIA", None, "DE LA CRUZ", None)),
]


@pytest.mark.parametrize(("text", "order", "expected"), CASES)
def test_reading(text: str, order: Order, expected: tuple[str | None, ...]) -> None:
    name = parse_full(text, order=order)
    assert name is not None
    assert (name.first, name.middle, name.last, name.suffix) == expected


@pytest.mark.parametrize(("words", "declared", "expected"), [
    (["NAVARRETE", "RAMON"], "first_last", 1),
    (["RAMON", "NAVARRETE"], "first_last", 0),
    (["SMITH", "JOHN"], "last_first", 1),
    (["JOHN", "SMITH"], "last_first", 0),
    (["THOMAS", "JAMES"], "first_last", 0),
    (["THOMAS", "JAMES"], "last_first", 1),
    (["GARCIA", "LOPEZ", "MARIA"], "last_first", 2),  # two-word surname first
    (["GARCIA", "LOPEZ", "MARIA"], "first_last", 2),
    (["SMITH", "JOHN", "A"], "last_first", 1),
    (["JIRI", "PAUL"], "first_last", 0),  # JIRI is in no table: no evidence to overrule
    (["MADONNA"], "first_last", 0),
    (["LUIS", "O'BRIEN"], "last_first", 0),  # apostrophes are folded before weighing
    (["DE", "LA", "CRUZ", "JUAN"], "first_last", 0),  # a particle: as declared
])
def test_surname_words_first(words: list[str], declared: Order, expected: int) -> None:
    assert surname_words_first(words, declared) == expected


def test_both_readings_give_one_name() -> None:
    a = parse_full("RAMON NAVARRETE", order="first_last")
    b = parse_full("NAVARRETE RAMON", order="first_last")
    assert a == b
