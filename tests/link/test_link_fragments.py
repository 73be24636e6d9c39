"""Fragments joined to whole identities: thresholds, rules, rivals (link.fragments)."""

from __future__ import annotations

import pytest

from idgraph.link.constraints import Constraints, Dob, Facts, record_facts
from idgraph.link.fragments import FragmentScore, join_fragments, score_fragments
from idgraph.store import Store

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


def _edges(store: Store, rows: list[tuple[int, int, list[float | None], int]]) -> None:
    """__idg_edges / __idg_ends by hand: (index l, index r, per-comparison weights, via)."""
    store.execute("CREATE OR REPLACE TEMP TABLE __idg_edges (eid BIGINT, cw FLOAT[], via INT)")
    store.execute("CREATE OR REPLACE TEMP TABLE __idg_ends (eid BIGINT, idx_l BIGINT, "
                  "idx_r BIGINT)")
    for eid, (a, b, cw, via) in enumerate(rows):
        store.execute("INSERT INTO __idg_edges VALUES (?, ?, ?)", [eid, cw, via])
        store.execute("INSERT INTO __idg_ends VALUES (?, ?, ?)", [eid, a, b])


def test_score_fragments_best_level_per_comparison(store: Store) -> None:
    # records 0 (fragment, label 0) and 1, 2 (identity, label 1), 3 (identity, label 3)
    _edges(store, [(0, 1, [4.0, None, -1.5], 0), (0, 2, [1.0, 6.0, -3.0], 2),
                   (0, 3, [2.0, 1.0, None], 0)])
    labels = [0, 1, 1, 3]
    cands = score_fragments(store, labels, set(), 3, prior_weight=-10.0)
    # best of each comparison over the two edges into label 1: 4 + 6 - 1.5, plus prior
    assert cands[0] == [FragmentScore(0, 1, -1.5, 2), FragmentScore(0, 3, -7.0, 0)]
    # label 1 (two records) and 3 are fragments too, scored against 0
    assert [f.target for f in cands[1]] == [0] and [f.target for f in cands[3]] == [0]
    # the floor leaves out what join_fragments would never look at, nothing else
    floored = score_fragments(store, labels, set(), 3, prior_weight=-10.0, floor=-5.0)
    assert floored == {0: [FragmentScore(0, 1, -1.5, 2)], 1: [FragmentScore(1, 0, -1.5, 2)]}
    # nothing joins a cluster through a held record (2 is in label 1)
    held = score_fragments(store, labels, {2}, 3, prior_weight=-10.0)
    assert held[0] == [FragmentScore(0, 3, -7.0, 0)] and 1 not in held
