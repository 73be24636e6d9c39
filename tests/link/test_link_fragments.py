"""Fragments joined to whole identities: thresholds, rules, rivals (link.fragments)."""

from __future__ import annotations

import pytest

from idgraph.link.constraints import Constraints, Dob, Facts, record_facts
from idgraph.link.fragments import FragmentScore, join_fragments

RULES = Constraints()
D80: Dob = ("19800304", "198003", 1980)
D55: Dob = ("19550304", "195503", 1955)
NONE: Dob = (None, None, None)


def _facts(*dobs: Dob) -> list[Facts]:
    return [record_facts(None, None, None, d, RULES) for d in dobs]


# (case, record facts, labels, candidates of fragment 0: (target, score), moved?)
CASES: list[tuple[str, list[Dob], list[int], list[tuple[int, float]], bool]] = [
    ("clear best joins", [NONE, D80, D80], [0, 1, 1], [(1, 9.0)], True),
    ("below the threshold stays", [NONE, D80, D80], [0, 1, 1], [(1, 2.0)], False),
    ("a cannot-link rule forbids", [D55, D80, D80], [0, 1, 1], [(1, 9.0)], False),
    ("a rival of another generation within the margin: cannot tell",
     [NONE, D80, D55], [0, 1, 2], [(1, 9.0), (2, 5.0)], False),
    ("a rival far behind does not matter",
     [NONE, D80, D55], [0, 1, 2], [(1, 20.0), (2, 5.0)], True),
    ("a rival the best could merge with is no rival",
     [NONE, D80, D80], [0, 1, 2], [(1, 9.0), (2, 8.5)], True),
]


@pytest.mark.parametrize(("case", "dobs", "labels", "cands", "moved"), CASES,
                         ids=[c[0] for c in CASES])
def test_join_fragments(case: str, dobs: list[Dob], labels: list[int],
                        cands: list[tuple[int, float]], moved: bool) -> None:
    candidates = {0: [FragmentScore(0, t, s, 0) for t, s in cands]}
    new, n = join_fragments(labels, _facts(*dobs), candidates, min_weight=3.17)
    assert (n == 1) is moved
    assert (new[0] == new[1]) is moved
