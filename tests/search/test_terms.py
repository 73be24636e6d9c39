"""Index terms: one function for records and queries; name groups, anchors, boosters."""

from __future__ import annotations

from typing import Any

import pytest

from idgraph.search.criteria import normalised, parse_criteria, readings
from idgraph.search.terms import doc_terms, edit_keys, query_terms

# (a word typed, a word stored): one edit apart, they share an edit key
ONE_EDIT = [
    ("SMITH", "SMYTH"),  # substitution
    ("SIMTH", "SMITH"),  # neighbours swapped
    ("SMIITH", "SMITH"),  # a letter too many
    ("SMTH", "SMITH"),  # a letter missing
    ("GONZALES", "GONZALEZ"),
]


@pytest.mark.parametrize(("typed", "stored"), ONE_EDIT)
def test_one_edit_shares_a_key(typed: str, stored: str) -> None:
    assert set(edit_keys(typed)) & set(edit_keys(stored))


@pytest.mark.parametrize(("a", "b"), [("SMITH", "JONES"), ("MARIA", "MARIO A")])
def test_far_words_share_no_key(a: str, b: str) -> None:
    assert not set(edit_keys(a)) & set(edit_keys(b))


def test_short_words_have_no_edit_keys() -> None:
    assert edit_keys("LEE") == [] and edit_keys("DE LA") == []


def test_record_and_query_terms_agree() -> None:
    """A record and a query of the same values make the same terms."""
    row = normalised(parse_criteria(name="Bill O'Neil", dob="1984-03-07", zip="62704",
                                    phone="217 555 0134", plate="abc 1234",
                                    identifier="CA A1234567"))
    terms = doc_terms(row)
    assert {"WILLIAM", "ONEIL"} <= set(terms["cn"])
    assert set(terms["dob"]) == {"D:19840307", "X:1984:03:07", "M:198403", "Y:1984"}
    assert terms["dl"] == ["K:CA:A1234567", "N:A1234567"]
    q = query_terms([row])
    found = {t for g in q.names for t in g} | set(q.anchors) | set(q.boosters)
    doc = {(f, t) for f, ts in terms.items() if f != "ed" for t in ts}
    assert doc <= found | {("dob", "Y:1983"), ("dob", "Y:1985")}


# (criteria, name words (longest first, then as written), anchor kinds, booster kinds)
QUERIES: list[tuple[dict[str, str], tuple[str, ...], set[str], set[str]]] = [
    ({"name": "Maria Garcia-Lopez", "dob": "1990-11-02"}, ("GARCIA", "MARIA", "LOPEZ"),
     {"dob"}, {"dob", "nm", "cn", "ph"}),
    ({"name": "Juan de la Cruz"}, ("JUAN", "CRUZ", "DE", "LA"), set(), {"nm", "cn", "ph"}),
    ({"dob": "1984", "zip": "62704"}, (), {"dob", "zip"}, set()),  # boosters only: they find
    ({"phone": "217 555 0134", "zip": "62704"}, (), {"tel"}, {"zip"}),
]


@pytest.mark.parametrize(("given", "words", "anchors", "boosters"), QUERIES)
def test_query_terms(given: dict[str, str], words: tuple[str, ...], anchors: set[str],
                     boosters: set[str]) -> None:
    q = query_terms(readings(parse_criteria(**given)))
    assert q.words == words
    assert {f for f, _ in q.anchors} == anchors
    assert {f for f, _ in q.boosters} <= boosters
    assert len(q.edits) == len(q.names) == len(words)


def test_year_only_reaches_the_next_years() -> None:
    q: Any = query_terms(readings(parse_criteria(name="Ada Quist", dob="1980")))
    years = {t for f, t in q.boosters if f == "dob"}
    assert years == {"Y:1979", "Y:1980", "Y:1981"}
