"""Levels training never observed get explicit, bounded parameters (train.fill_unobserved)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from idgraph.link.train import (
    CONTACT_DIFFERENT_M_FLOOR,
    DIFFERENT_M_FLOOR,
    IDENTIFIER_DIFFERENT_M_FLOOR,
    UNOBSERVED_M,
    fill_unobserved,
    floor_agreement_m,
    floor_contact_m,
)


def _comparison(*levels: tuple[str, Any, Any]) -> dict[str, Any]:
    out: list[dict[str, Any]] = [{"sql_condition": "x_l IS NULL", "label_for_charts": "missing",
                                  "is_null_level": True}]
    for label, m, u in levels:
        level: dict[str, Any] = {"sql_condition": "...", "label_for_charts": label}
        if m is not None:
            level["m_probability"] = m
        if u is not None:
            level["u_probability"] = u
        out.append(level)
    return {"output_column_name": "x", "comparison_levels": out}


def _weight(level: dict[str, Any]) -> float:
    return math.log2(level["m_probability"] / level["u_probability"])


CASES: list[tuple[str, tuple[str, Any, Any], tuple[float, float]]] = [
    # (case, the second level as trained, its expected (m, u) after filling)
    ("observed level untouched", ("one digit off", 0.02, 0.001), (0.02, 0.001)),
    ("u never sampled: floor", ("one digit off", 0.0001, None), (0.0001, 1e-6)),
    ("u and m unseen: no evidence", ("similar", None, None), (1e-6, 1e-6)),
    ("label not observed text", ("similar", "level not observed", None), (1e-6, 1e-6)),
]


@pytest.mark.parametrize(("case", "level", "expected"), CASES, ids=[c[0] for c in CASES])
def test_fill_unobserved(case: str, level: tuple[str, Any, Any],
                         expected: tuple[float, float]) -> None:
    model = {"comparisons": [_comparison(("exact", 0.9, 1e-4), level, ("different", 0.1, 0.99))]}
    fill_unobserved(model, max_pairs=1e6)
    got = model["comparisons"][0]["comparison_levels"][2]
    assert (got["m_probability"], got["u_probability"]) == pytest.approx(expected)


def test_unseen_exact_level_gets_the_modest_prior() -> None:
    model = {"comparisons": [_comparison(("exact", None, None), ("different", 1.0, 1.0))]}
    filled = fill_unobserved(model, max_pairs=1e6)
    exact = model["comparisons"][0]["comparison_levels"][1]
    assert exact["m_probability"] == UNOBSERVED_M and exact["u_probability"] == 1e-6
    assert filled == ["x: exact (u)", "x: exact (m)"]


def test_a_looser_level_never_outweighs_the_strictest() -> None:
    # SSN one digit off: u never sampled, so the floor would make it weigh more than exact
    model = {"comparisons": [_comparison(("exact", 0.96, 7e-5), ("one digit off", 0.02, None),
                                         ("different", 0.02, 0.99))]}
    fill_unobserved(model, max_pairs=1e6)
    levels = model["comparisons"][0]["comparison_levels"]
    assert _weight(levels[2]) == pytest.approx(_weight(levels[1]))
    assert _weight(levels[3]) < 0


@pytest.mark.parametrize(("name", "m", "expected"), [
    ("phone", 1e-21, CONTACT_DIFFERENT_M_FLOOR),  # EM collapsed: a second number was a veto
    ("email", 0.0, CONTACT_DIFFERENT_M_FLOOR),
    ("phone", 0.14, 0.14),  # a good fit stays
    # identifiers are not contacts: a different SSN stays a veto, the same one every time
    ("ssn", 1e-21, IDENTIFIER_DIFFERENT_M_FLOOR),
    ("ssn", 1e-3, 1e-3),
    # EM collapsed on a sample without a disagreeing match: -10 bits, not -40..-80
    ("middle_name", 1e-21, DIFFERENT_M_FLOOR),
])
def test_contacts_different_m_floor(name: str, m: float, expected: float) -> None:
    comp = _comparison(("exact", 0.99, 1e-6), ("different", m, 0.999))
    comp["output_column_name"] = name
    raised = floor_contact_m({"comparisons": [comp]})
    assert comp["comparison_levels"][2]["m_probability"] == pytest.approx(expected)
    assert comp["comparison_levels"][1]["m_probability"] == 0.99
    assert raised == ([f"{name}: different (m floor)"] if expected != m else [])


def test_unobserved_different_level_is_no_evidence() -> None:
    """A population without plates: training meets neither level, and a different plate
    must not become evidence for a match (it weighed +10 bits before the floor was capped)."""
    comp = _comparison(("exact", None, None), ("different", None, None))
    comp["output_column_name"] = "plate"
    model = {"comparisons": [comp]}
    fill_unobserved(model, max_pairs=1e6)
    floor_contact_m(model)
    floor_agreement_m(model)
    assert _weight(comp["comparison_levels"][2]) <= 0.0
    assert _weight(comp["comparison_levels"][1]) > 0.0


AGREEMENT_CASES: list[tuple[str, tuple[float, float], float | None]] = [
    # (case, (m, u) of a partial-agreement level, its weight after the floor or None: kept)
    ("above different: kept", (0.01, 0.004), None),
    ("below different: raised to it", (0.0002, 0.004), math.log2(0.1 / 0.8)),
    ("equal to different: kept", (0.0005, 0.004), None),
]


@pytest.mark.parametrize(("case", "level", "expected"), AGREEMENT_CASES,
                         ids=[c[0] for c in AGREEMENT_CASES])
def test_partial_agreement_never_weighs_less_than_different(
        case: str, level: tuple[float, float], expected: float | None) -> None:
    model = {"comparisons": [_comparison(("exact", 0.8, 1e-4), ("same ZIP", *level),
                                         ("different", 0.1, 0.8))]}
    raised = floor_agreement_m(model)
    got = model["comparisons"][0]["comparison_levels"][2]
    if expected is None:
        assert raised == [] and got["m_probability"] == level[0]
    else:
        assert raised == ["x: same ZIP (m floor: not below different)"]
        assert _weight(got) == pytest.approx(expected)
    # the strictest level and the different level are never moved
    assert model["comparisons"][0]["comparison_levels"][1]["m_probability"] == 0.8
    assert model["comparisons"][0]["comparison_levels"][3]["m_probability"] == 0.1


BORROW_CASES: list[tuple[str, tuple[Any, Any], tuple[float, float], float]] = [
    # (case, (m, u) of "same month" as trained, (m, u) of the looser "same year",
    #  expected weight of "same month" after filling)
    ("unseen month borrows the year's weight", (None, None), (0.08, 0.001), math.log2(80)),
    ("a seen month keeps its own", (0.05, 0.002), (0.08, 0.001), math.log2(25)),
    ("a looser level against a match lends nothing", (None, None), (0.001, 0.01), 0.0),
]


@pytest.mark.parametrize(("case", "month", "year", "expected"), BORROW_CASES,
                         ids=[c[0] for c in BORROW_CASES])
def test_unseen_closer_agreement_weighs_at_least_the_looser(
        case: str, month: tuple[Any, Any], year: tuple[float, float], expected: float) -> None:
    model = {"comparisons": [_comparison(("exact", 0.8, 1e-4), ("same month", *month),
                                         ("same year", *year), ("different", 0.1, 0.9))]}
    fill_unobserved(model, max_pairs=1e6)
    levels = model["comparisons"][0]["comparison_levels"]
    assert _weight(levels[2]) == pytest.approx(expected)
    assert _weight(levels[3]) == pytest.approx(math.log2(year[0] / year[1]))
