"""Names: parsing, tokens, suffixes, nicknames, phonetic keys."""

from __future__ import annotations

from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idgraph.normalize.base import InvalidValue
from idgraph.normalize.names import (
    Name,
    canonical_given,
    clean_name_token,
    clean_suffix,
    from_parts,
    given_name_sex,
    is_nickname_of,
    parse_full,
    phonetic,
)

# text, order, (first, middle, last, suffix)
PARSE_CASES = [
    ("SMITH, JOHN A JR", "first_last", ("JOHN", "A", "SMITH", "JR")),
    ("John A. Smith Jr.", "first_last", ("JOHN", "A", "SMITH", "JR")),
    ("JOHN SMITH III", "first_last", ("JOHN", None, "SMITH", "III")),
    ("JOHN SMITH 2ND", "first_last", ("JOHN", None, "SMITH", "II")),
    ("SMITH JR, JOHN", "first_last", ("JOHN", None, "SMITH", "JR")),
    ("SMITH, JOHN JUNIOR", "first_last", ("JOHN", None, "SMITH", "JR")),
    ("MARIA GARCIA LOPEZ", "first_last", ("MARIA", None, "GARCIA LOPEZ", None)),
    ("MARY ELIZABETH SMITH", "first_last", ("MARY", "ELIZABETH", "SMITH", None)),
    ("O'BRIEN, PATRICK", "first_last", ("PATRICK", None, "OBRIEN", None)),
    ("Jean-Luc Picard", "first_last", ("JEAN-LUC", None, "PICARD", None)),
    ("DR JOHN SMITH", "first_last", ("JOHN", None, "SMITH", None)),
    ("Mr. Juan de la Cruz", "first_last", ("JUAN", None, "DE LA CRUZ", None)),
    ("DEAN SMITH", "first_last", ("DEAN", None, "SMITH", None)),
    ("José Núñez", "first_last", ("JOSE", None, "NUNEZ", None)),
    ("SMITH, JOHN ESQ", "first_last", ("JOHN", None, "SMITH", None)),
    ("KING, MARTIN LUTHER JR", "first_last", ("MARTIN", "LUTHER", "KING", "JR")),
    ("SMITH JOHN A", "last_first", ("JOHN", "A", "SMITH", None)),
    ("DE LA CRUZ JUAN", "last_first", ("JUAN", None, "DE LA CRUZ", None)),
    ("MADONNA", "first_last", ("MADONNA", None, None, None)),
]


@pytest.mark.parametrize(("text", "order", "expected"), PARSE_CASES)
def test_parse_full(
    text: str, order: Literal["first_last", "last_first"], expected: tuple[str | None, ...]
) -> None:
    name = parse_full(text, order=order)
    assert name is not None
    assert (name.first, name.middle, name.last, name.suffix) == expected


@pytest.mark.parametrize("text", ["", "   ", None])
def test_parse_full_blank(text: str | None) -> None:
    assert parse_full(text) is None


@pytest.mark.parametrize("text", ["123", "--", "4567 !!"])
def test_parse_full_invalid(text: str) -> None:
    with pytest.raises(InvalidValue):
        parse_full(text)


# first, middle, last, suffix -> (first, middle, last, suffix)
PARTS_CASES = [
    (("JOHN A", None, "SMITH JR", None), ("JOHN", "A", "SMITH", "JR")),
    (("john", "a.", "smith", "Jr."), ("JOHN", "A", "SMITH", "JR")),
    (("JOHN", None, "SMITH III", "JR"), ("JOHN", None, "SMITH", "JR")),
    (("MARY ANN", "B", "JONES", None), ("MARY", "ANN B", "JONES", None)),
    ((None, None, "GARCIA-LOPEZ", None), (None, None, "GARCIA-LOPEZ", None)),
    (("ANNE", None, "O'NEIL", "SENIOR"), ("ANNE", None, "ONEIL", "SR")),
    (("JOHN", None, "SMITH", "MD"), ("JOHN", None, "SMITH", None)),
    (("JOHN", None, "JR", None), ("JOHN", None, "JR", None)),
]


@pytest.mark.parametrize(("parts", "expected"), PARTS_CASES)
def test_from_parts(
    parts: tuple[str | None, ...], expected: tuple[str | None, ...]
) -> None:
    name = from_parts(*parts)
    assert name is not None
    assert (name.first, name.middle, name.last, name.suffix) == expected


def test_from_parts_empty_and_invalid() -> None:
    assert from_parts(None, None, None, None) is None
    assert from_parts(" ", "", None) is None
    with pytest.raises(InvalidValue):
        from_parts(None, "A", None)
    with pytest.raises(InvalidValue):
        from_parts("JOHN", None, "SMITH", "THE GREAT")


SURNAME_CASES = [
    ("GARCIA-LOPEZ", ("GARCIA", "LOPEZ")),
    ("GARCIA LOPEZ", ("GARCIA", "LOPEZ")),
    ("DE LA CRUZ", ("DE LA CRUZ", "CRUZ")),
    ("GARCIA DE LA CRUZ", ("GARCIA", "DE LA CRUZ", "CRUZ")),
    ("VAN DER BERG", ("VAN DER BERG", "BERG")),
    ("SMITH", ("SMITH",)),
    ("SMITH-SMITH", ("SMITH",)),
]


@pytest.mark.parametrize(("last", "parts"), SURNAME_CASES)
def test_last_parts(last: str, parts: tuple[str, ...]) -> None:
    name = from_parts("ANA", None, last)
    assert name is not None
    assert name.last == last
    assert name.last_parts == parts


SUFFIX_CASES = [
    ("JR", "JR"), ("Jr.", "JR"), ("junior", "JR"), ("Sr", "SR"), ("SENIOR", "SR"),
    ("2ND", "II"), ("ii", "II"), ("3rd", "III"), ("III", "III"), ("IV", "IV"),
    ("4th", "IV"), ("V", "V"), ("ESQ", None), ("Ph.D.", None), ("", None), (None, None),
]


@pytest.mark.parametrize(("text", "expected"), SUFFIX_CASES)
def test_clean_suffix(text: str | None, expected: str | None) -> None:
    assert clean_suffix(text) == expected


@pytest.mark.parametrize("text", ["THE GREAT", "6TH", "XYZ"])
def test_clean_suffix_invalid(text: str) -> None:
    with pytest.raises(InvalidValue, match="not a generational suffix"):
        clean_suffix(text)


CANON_CASES = [
    ("BILL", "WILLIAM"), ("billy", "WILLIAM"), ("PEGGY", "MARGARET"), ("LIZ", "ELIZABETH"),
    ("BOB", "ROBERT"), ("JACK", "JOHN"), ("JIM", "JAMES"), ("MOLLY", "MARY"),
    ("DICK", "RICHARD"), ("MIKE", "MICHAEL"), ("WILLIAM", "WILLIAM"), ("JOHN", "JOHN"),
    ("MARY", "MARY"), ("MARGARET", "MARGARET"), ("ROBERT", "ROBERT"), ("ZYXWV", "ZYXWV"),
    ("TESS", "THERESA"), ("TERRY", "THERESA"), ("TERESA", "THERESA"), ("THERESA", "THERESA"),
    ("LUPE", "GUADALUPE"), ("GUADALUPE", "GUADALUPE"),
    ("PEPE", "JOSE"), ("PACO", "FRANCISCO"), ("PANCHO", "FRANCISCO"), ("BARB", "BARBARA"),
    ("SASHA", "ALEXANDRA"), ("NACHO", "IGNACIO"),
    ("", None),
]


@pytest.mark.parametrize(("first", "canon"), CANON_CASES)
def test_canonical_given(first: str, canon: str | None) -> None:
    assert canonical_given(first) == canon


def test_canonical_given_is_a_fixed_point_for_every_known_name() -> None:
    from nicknames import NickNamer

    known = set(NickNamer().canonical_lookup) | set(NickNamer().nickname_lookup)
    for name in known:
        canon = canonical_given(name)
        assert canon is not None
        assert canonical_given(canon) == canon, name


# given name, sex the Census lists almost only give it (None: both, rare, unlisted)
SEX_CASES = [
    ("PATRICK", "M"), ("PATRICIA", "F"), ("MICHAEL", "M"), ("MICHELLE", "F"),
    ("JOSE", "M"), ("JOSEPHINE", "F"), ("CHRIS", None), ("JEAN", None), ("JORDAN", None),
    ("WILLIA", None), ("JAMEE", None), ("ZYXWV", None), ("", None), (None, None),
]


@pytest.mark.parametrize(("name", "sex"), SEX_CASES)
def test_given_name_sex(name: str | None, sex: str | None) -> None:
    assert given_name_sex(name) == sex


@pytest.mark.parametrize(("short", "name", "expected"), [
    ("SAM", "SAMANTHA", True), ("SAM", "SAMUEL", True), ("ALEX", "ALEXANDRA", True),
    ("SAMANTHA", "SAM", False), ("JOSE", "JOSEPHINE", False), ("PATRICK", "PATRICIA", False),
])
def test_is_nickname_of(short: str, name: str, expected: bool) -> None:
    assert is_nickname_of(short, name) is expected


PHONETIC_CASES = [
    ("SMITH", "SM0"), ("SMYTH", "SM0"), ("CATHERINE", "K0RN"), ("KATHRYN", "K0RN"),
    ("STEPHEN", "STFN"), ("STEVEN", "STFN"), ("GEOFFREY", "JFR"), ("JEFFREY", "JFR"),
    ("DE LA CRUZ", "TLKRS"), ("O'BRIEN", "OBRN"), ("", None), ("123", None),
]


@pytest.mark.parametrize(("text", "key"), PHONETIC_CASES)
def test_phonetic(text: str, key: str | None) -> None:
    assert phonetic(text) == key


TOKEN_CASES = [
    ("O'Brien", "OBRIEN"), ("  mary   ann ", "MARY ANN"), ("Jean - Luc", "JEAN-LUC"),
    ("-SMITH-", "SMITH"), ("A.", "A"), ("Núñez", "NUNEZ"), ("SMITH2", "SMITH"),
    ("St.John", "STJOHN"), ("SMITH/JONES", "SMITH JONES"), ("''", None), ("", None),
]


@pytest.mark.parametrize(("text", "expected"), TOKEN_CASES)
def test_clean_name_token(text: str, expected: str | None) -> None:
    assert clean_name_token(text) == expected


@given(st.text())
def test_clean_name_token_idempotent(text: str) -> None:
    once = clean_name_token(text)
    assert clean_name_token(once) == once
    if once is not None:
        assert once.isascii()


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ '-.,", max_size=40))
def test_parse_full_never_crashes_and_full_is_stable(text: str) -> None:
    try:
        name = parse_full(text)
    except InvalidValue:
        return
    if name is not None:
        assert isinstance(name, Name)
        assert name.full == " ".join(name.full.split())


def test_full() -> None:
    name = parse_full("Smith, John A Jr")
    assert name is not None
    assert name.full == "JOHN A SMITH JR"
    assert name.first_canon == "JOHN"
    assert name.first_phonetic == phonetic("JOHN")
