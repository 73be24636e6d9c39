"""The given-name rule: a name no table lists is a different name only when it is no cut
of the other side's name (QUINO of JOAQUIN); placeholders (GIRL, FNU) are no name."""

from __future__ import annotations

import pytest

from idgraph.link.constraints import Constraints, Dob, Facts, GivenName, record_facts
from idgraph.normalize.names import canonical_given, from_parts, phonetic

Y1960 = Dob(None, None, 1960)


def _given(first: str, middle: str | None = None) -> GivenName:
    return GivenName(first, canonical_given(first), phonetic(first), middle)


def _facts(*names: GivenName) -> Facts:
    facts = record_facts(None, None, None, Y1960, Constraints())
    facts.names = set(names)
    return facts


# first names of two records -> the rule that parts them (None: the model decides)
PAIR_CASES: list[tuple[str, str, str | None]] = [
    # diminutives no table lists, cut from the full name: not two people by the tables
    ("MONCHO", "RAMON", None),
    ("QUINO", "JOAQUIN", None),
    ("NANDO", "FERNANDO", None),
    # names from elsewhere the US tables lack are real names: household members, twins
    ("QUANG", "FRANCISCO", "given_name"),
    ("JIRI", "JAMES", "given_name"),
    ("MALGORZATA", "LUCIA", "given_name"),
    # two listed names stay two people, however close (twins)
    ("MARGARET", "MARIA", "given_name"),
    ("RAMON", "JOAQUIN", "given_name"),
    # an initial is listed: M is not JOHN
    ("M", "JOHN", "given_name"),
]


@pytest.mark.parametrize(("a", "b", "expected"), PAIR_CASES)
def test_given_name_rule_between_records(a: str, b: str, expected: str | None) -> None:
    fa, fb = _facts(_given(a)), _facts(_given(b))
    assert fa.conflict(fb) == expected
    assert fb.conflict(fa) == expected


def test_a_listed_name_on_the_side_judges_it() -> None:
    # RAMON's cluster holds MONCHO as well: JOAQUIN is still not RAMON, and MONCHO does
    # not let him in (a QUI... cut would be his, but MONCHO is no cut of JOAQUIN)
    ramon = _facts(_given("RAMON"), _given("MONCHO"))
    assert ramon.conflict(_facts(_given("JOAQUIN"))) == "given_name"
    assert _facts(_given("MONCHO")).conflict(_facts(_given("JOAQUIN"))) == "given_name"


def test_a_placeholder_given_name_is_no_conflict() -> None:
    # pseudopeople / census: GIRL R MACLEOD and WILLIAM ROBERT MACLEOD, same birth date
    girl = from_parts("GIRL", "R", "MACLEOD")
    assert girl is not None and girl.first is None
    rules = Constraints()
    placeholder = record_facts(None, None, None, Y1960, rules,
                               (girl.first or "", girl.first_canon, girl.first_phonetic,
                                girl.middle))
    william = record_facts(None, None, None, Y1960, rules, _given("WILLIAM", "ROBERT"))
    assert not placeholder.names
    assert placeholder.conflict(william) is None
