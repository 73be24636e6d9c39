"""Batch's clustering on a small graph: how live attach re-clusters around a record.

A live record's candidate identities, their member records and the record itself are
a graph of a few dozen records at most. Every pair of them is scored in-process and
:func:`idgraph.link.cluster.cluster` runs on it under the same
:class:`~idgraph.link.config.LinkConfig`, cannot-link facts, hold rules (their household
keys made here the way resolve makes them), judgements and weak-edge attach pass as a
batch resolve. Only batch's fragment pass (whole-identity scores read from the store)
is not run: :func:`local_partition` is trusted only where, without the new record, it
gives back the identities as they are (see :mod:`idgraph.link.attach`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from idgraph.link.cluster import ClusterInput, NodeKeys, WeakEdges, cluster
from idgraph.link.config import LinkConfig, RuleId
from idgraph.link.constraints import Facts
from idgraph.link.judge import Verdict
from idgraph.link.resolve import sound_key

Row = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Pair:
    """A scored pair of two records (record ids, ``a < b``)."""

    a: str
    b: str
    probability: float
    weight: float
    via: int


def _weight(probability: float) -> float:
    """The match weight (bits) of a probability, kept finite (as resolve's)."""
    p = min(max(probability, 1e-9), 1 - 1e-9)
    return math.log2(p / (1 - p))


def _codes(values: Sequence[Hashable | None]) -> list[int]:
    """One number per distinct value (None: -1)."""
    seen: dict[Hashable, int] = {}
    return [-1 if v is None else seen.setdefault(v, len(seen)) for v in values]


def node_keys(rows: Sequence[Row]) -> NodeKeys:
    """The household keys of the hold rules, as resolve's ``_load_nodes`` makes them."""
    home, house, name, address, born = [], [], [], [], []
    for r in rows:
        first = r["first_name_canon"] or r["first_name"]
        last = r["last_name_phonetic"] or r["last_name"]
        has_address = r["house_number"] is not None and r["street"] is not None
        has_last, has_first = r["last_name"] is not None, r["first_name"] is not None
        sound = None if first is None else sound_key(str(first))
        addr = (r["house_number"], r["street"])
        address.append(addr if has_address else None)
        house.append((last, addr) if has_address and has_last else None)
        home.append((sound, last, addr) if has_address and has_last and has_first else None)
        name.append((sound, None if last is None else str(last)[:2])
                    if has_last and has_first else None)
        born.append((last, r["dob_day"]) if has_last and r["dob_day"] is not None else None)
    return NodeKeys(home=_codes(home), house=_codes(house), name=_codes(name),
                    address=_codes(address), born=_codes(born))


def local_partition(
    rows: Sequence[Row],
    pairs: Sequence[Pair],
    facts_of: Callable[[Row], Facts],
    verdicts: Sequence[tuple[str, str, Verdict]],
    threshold: float,
    config: LinkConfig,
) -> tuple[list[list[str]], set[str]]:
    """Batch's clusters of ``rows`` (record ids per cluster, each sorted; clusters in
    order of their first record) and the records its hold rules held: ``pairs`` are
    their scored pairs (any not given scored below every floor), ``verdicts`` the
    latest judgements among them."""
    rows = sorted(rows, key=lambda r: str(r["record_id"]))  # batch numbers by record id
    ids = [str(r["record_id"]) for r in rows]
    index = {rid: k for k, rid in enumerate(ids)}
    facts = [facts_of(r) for r in rows]
    must: list[tuple[int, int]] = []
    for k, (a, b, verdict) in enumerate(verdicts):
        if a not in index or b not in index:
            continue
        if verdict is Verdict.SAME:
            must.append((index[a], index[b]))
        elif verdict is Verdict.DIFFERENT:
            facts[index[a]] = facts[index[a]].copy()
            facts[index[b]] = facts[index[b]].copy()
            facts[index[a]].keys[(RuleId.JUDGEMENT, str(k))] = "l"
            facts[index[b]].keys[(RuleId.JUDGEMENT, str(k))] = "r"
    inside = [p for p in pairs if p.a in index and p.b in index]
    # batch's order: strongest first, then by the pair's record ids
    inside.sort(key=lambda p: (-p.probability, p.a, p.b))
    strong = [p for p in inside if p.probability >= threshold]
    weak = [p for p in inside if config.weak_floor <= p.probability < threshold]
    graph = ClusterInput(
        facts, [(index[p.a], index[p.b]) for p in strong], [p.weight for p in strong],
        [p.via for p in strong], must, node_keys(rows),
        WeakEdges([(index[p.a], index[p.b]) for p in weak], [p.weight for p in weak],
                  [p.via for p in weak], _weight(threshold)))
    result = cluster(graph, config)
    groups: dict[int, list[str]] = {}
    for k, label in enumerate(result.labels):
        groups.setdefault(label, []).append(ids[k])
    return sorted(groups.values(), key=lambda g: g[0]), {ids[k] for k in result.held}
