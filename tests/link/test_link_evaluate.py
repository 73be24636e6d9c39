"""Evaluation metrics on a tiny hand-computed example."""

from __future__ import annotations

import pytest

from idgraph.link.evaluate import evaluate
from idgraph.store import Store

# identity -> records; truth: p1 = {a, b, c}, p2 = {d}, p3 = {e, f}
MEMBERS = {"I1": ["a", "b", "d"], "I2": ["c"], "I3": ["e", "f"]}
TRUTH = {"a": "p1", "b": "p1", "c": "p1", "d": "p2", "e": "p3", "f": "p3"}
# predicted pairs: ab, ad, bd, ef = 4; true pairs: ab, ac, bc, ef = 4; tp: ab, ef = 2
# B-cubed precision per record: a 2/3, b 2/3, d 1/3, c 1, e 1, f 1 -> 14/18
# B-cubed recall per record: a 2/3, b 2/3, c 1/3, d 1, e 1, f 1 -> 14/18
CASES = [
    ("pair_precision", 0.5), ("pair_recall", 0.5), ("pair_f1", 0.5),
    ("bcubed_precision", 14 / 18), ("bcubed_recall", 14 / 18),
    ("over_merged", 1), ("split_persons", 1), ("n_records", 6),
]


@pytest.fixture()
def evaluated(store: Store) -> dict[str, object]:
    for ident, records in MEMBERS.items():
        for r in records:
            store.fetchall("INSERT INTO identity_members VALUES (?, ?)", [ident, r])
    hard = [("twins", "p1", "p2"), ("twins", "p1", "p3"), ("jr_sr", "p2", "p3")]
    return evaluate(store, TRUTH, hard).as_dict()


@pytest.mark.parametrize(("metric", "expected"), CASES)
def test_metric(evaluated: dict[str, object], metric: str, expected: float) -> None:
    assert evaluated[metric] == pytest.approx(expected)


def test_hard_cases_and_worst(evaluated: dict[str, object]) -> None:
    assert evaluated["hard_cases"] == {
        "jr_sr": {"pairs": 1, "wrongly_merged": 0},
        "twins": {"pairs": 2, "wrongly_merged": 1},
    }
    assert evaluated["worst_merged"] == [
        {"identity_id": "I1", "count": 2, "person_id": ["p1", "p2"]}]
