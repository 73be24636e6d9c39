"""The fast paths of clustering give what the plain algorithm gives."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from idgraph.link.cluster import (
    ClusterInput,
    ClusterResult,
    NodeKeys,
    WeakEdges,
    _ambiguous,
    _attach,
    _components,
    _greedy,
    _homonyms,
    cluster,
)
from idgraph.link.config import LinkConfig, RuleId
from idgraph.link.constraints import Constraints, Dob, Facts, column_facts, record_facts
from idgraph.link.ids import new_id

FIRST = ["JOHN", "JON", "MARY", "MARIE", "ROBERT", "BOB"]
CANON = {"JON": "JOHN", "MARIE": "MARY", "BOB": "ROBERT"}


def _random_record(rng: random.Random) -> tuple[
    str | None, str | None, str | None, Dob, tuple[str, str | None, str | None, str | None]
]:
    year = rng.choice([None, 1950, 1951, 1975, 1990])
    day = f"{year}0{rng.randint(1, 3)}1{rng.randint(1, 2)}" if year and rng.random() < .6 else None
    dob: Dob = (day, day[:6] if day else None, year)
    first = rng.choice(FIRST)
    return (
        rng.choice([None, None, "123456789", "123456780", "987654321"]),
        rng.choice([None, None, None, "IL:A1", "IL:A2", "WI:A1"]),
        rng.choice([None, None, None, "JR", "SR", "md"]),
        dob,
        (first, CANON.get(first, first), first[:2], rng.choice([None, "JAMES"])),
    )


def _plain_cluster(
    facts: list[Facts],
    edges: list[tuple[int, int]],
    must: list[tuple[int, int]],
    weights: list[float],
    vias: list[int],
    homes: list[int],
    houses: list[int],
    weak: WeakEdges,
) -> ClusterResult:
    """cluster() as first written: the second greedy pass runs over every kept edge."""
    config = LinkConfig()
    first, uf, _ = _greedy(facts, edges, must, vias)
    doubtful = _ambiguous(facts, edges, weights, first.labels, uf, config.ambiguity_margin)
    households = _homonyms(facts, NodeKeys(homes, houses), first.labels, uf, config)
    homonyms = set().union(*households.values())
    before = set(homonyms)
    grown = bool(homonyms)
    while grown:  # bare records tied to a held one by a contact or identifier
        grown = False
        for (a, b), v in zip(edges, vias, strict=True):
            for x, y in ((a, b), (b, a)):
                if v and x in homonyms and y not in homonyms and facts[y].bare():
                    homonyms.add(y)
                    grown = True
    if not doubtful and not homonyms:
        return _attach(replace(first, state=uf), edges, weights, weak, set(), config)
    keep = [k for k, (a, b) in enumerate(edges) if a not in doubtful and b not in doubtful
            and (vias[k] or (a not in homonyms and b not in homonyms))]
    second, uf, _ = _greedy(facts, [edges[k] for k in keep], must, [vias[k] for k in keep])
    accepted = [second.labels[a] == second.labels[b] for a, b in edges]
    refused = dict(second.refused)
    if doubtful:
        refused["ambiguous"] = len(doubtful)
    if homonyms - before:
        households[RuleId.CONTACTS] = homonyms - before
    for rule, records in households.items():
        if records - doubtful:
            refused[rule.value] = len(records - doubtful)
    result = ClusterResult(second.labels, accepted, refused, second.forced, state=uf)
    return _attach(result, edges, weights, weak, doubtful | homonyms, config)


def _partition(labels: list[int]) -> list[tuple[int, ...]]:
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, []).append(i)
    return sorted(tuple(g) for g in groups.values())


@pytest.mark.parametrize("seed", range(40))
def test_second_pass_on_changed_components_only_changes_nothing(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(5, 60)
    rules = Constraints()
    facts = [record_facts(s, d, x, dob, rules, name)
             for s, d, x, dob, name in (_random_record(rng) for _ in range(n))]
    pairs = [(rng.randrange(n), rng.randrange(n)) for _ in range(rng.randint(0, 3 * n))]
    edges = [(a, b) for a, b in pairs if a != b]
    weights = sorted((rng.uniform(3.0, 20.0) for _ in edges), reverse=True)
    vias = [rng.choice([0, 0, 0, 1, 2]) for _ in edges]
    must = [(a, b) for a, b in ((rng.randrange(n), rng.randrange(n)) for _ in range(2))
            if a != b]
    homes = [rng.choice([-1, 1, 2]) for _ in range(n)]
    houses = [rng.choice([-1, 3, 4]) for _ in range(n)]
    weak_edges = [(rng.randrange(n), rng.randrange(n)) for _ in range(n // 2)]
    weak_edges = [(a, b) for a, b in weak_edges if a != b]
    weak = WeakEdges(weak_edges, [rng.uniform(-2, 3) for _ in weak_edges],
                     [rng.choice([0, 2]) for _ in weak_edges], 3.17)
    fast = cluster(ClusterInput(facts, edges, weights, vias, must, NodeKeys(homes, houses), weak))
    plain = _plain_cluster(facts, edges, must, weights, vias, homes, houses, weak)
    assert _partition(fast.labels) == _partition(plain.labels)
    assert fast.accepted == plain.accepted
    assert list(fast.refused.items()) == list(plain.refused.items())
    assert (fast.forced, fast.attached) == (plain.forced, plain.attached)


def test_column_facts_equal_record_facts() -> None:
    rng = random.Random(3)
    rows = [_random_record(rng) for _ in range(300)]
    rows.append((None, None, None, (None, None, None), ("", None, None, None)))
    for rules in (Constraints(), Constraints(given_names=False, suffixes=False),
                  Constraints(strong_identifiers=False, dates_of_birth=False)):
        one_by_one = [record_facts(s, d, x, dob, rules, name if name[0] else None)
                      for s, d, x, dob, name in rows]
        columns = column_facts(
            [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
            ([r[3][0] for r in rows], [r[3][1] for r in rows], [r[3][2] for r in rows]),
            rules,
            ([r[4][0] for r in rows], [r[4][1] for r in rows], [r[4][2] for r in rows],
             [r[4][3] for r in rows]),
        )
        assert columns == one_by_one
        assert [list(f.keys) for f in columns] == [list(f.keys) for f in one_by_one]


def test_components() -> None:
    comp = _components(6, np.array([(4, 1), (1, 3), (5, 5)]))
    assert comp.tolist() == [0, 1, 2, 1, 1, 5]
    assert _components(3, np.zeros((0, 2), dtype=np.int64)).tolist() == [0, 1, 2]
    # a long chain in the worst order still ends in one component
    chain = [(i + 1, i) for i in reversed(range(99))]
    assert set(_components(100, np.array(chain)).tolist()) == {0}


def test_new_id_is_the_documented_keyed_hash() -> None:
    import base64
    import hashlib
    import hmac

    key = bytes(range(32))
    for seed in ["a/1", "b/2", "voter/99"] + [f"src/{i}" for i in range(3000)]:
        digest = hmac.new(key, f"{seed}#0".encode(), hashlib.sha256).digest()
        assert new_id(seed, set(), key) == "P-" + base64.b32encode(digest).decode()[:10]
    taken = {new_id("a/1", set(), key)}
    digest = hmac.new(key, b"a/1#1", hashlib.sha256).digest()
    assert new_id("a/1", taken, key) == "P-" + base64.b32encode(digest).decode()[:10]


def test_groups_in_order_of_first_record() -> None:
    import importlib

    resolve_module = importlib.import_module("idgraph.link.resolve")
    labels = [4, 1, 4, 3, 1, 3, 4]
    result = ClusterResult(labels, [], {}, 0)
    ids = [f"r{i}" for i in range(len(labels))]
    expected: dict[int, list[str]] = {}
    for i, label in enumerate(labels):
        expected.setdefault(label, []).append(ids[i])
    assert resolve_module._groups(ids, result) == list(expected.values())
    assert resolve_module._groups([], ClusterResult([], [], {}, 0)) == []
    assert Counter(len(g) for g in resolve_module._groups(ids, result)) == Counter({3: 1, 2: 2})


def test_key_codes_number_distinct_tuples() -> None:
    import importlib

    import pyarrow as pa

    resolve_module = importlib.import_module("idgraph.link.resolve")
    rows = [("A", "1", None), ("A", "1", None), ("A", "1", "x"), ("B", "1", None),
            ("A", None, None), ("A", None, None), ("B", "1", None)]
    batches = [pa.record_batch([pa.array([r[k] for r in part], pa.string()) for k in range(3)],
                               names=["a", "b", "c"]) for part in (rows[:3], rows[3:])]
    table = pa.Table.from_batches(batches)  # two chunks
    codes = resolve_module._key_codes(table, ["a", "b", "c"]).tolist()
    same = [[codes[i] == codes[j] for j in range(7)] for i in range(7)]
    assert same == [[rows[i] == rows[j] for j in range(7)] for i in range(7)]
    # a key in steps: first two columns, then the third
    ab = resolve_module._key_codes(table, ["a", "b"])
    assert resolve_module._key_codes(table, ["c"], ab).tolist() == codes
