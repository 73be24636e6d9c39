"""Constrained clustering: greedy union-find over edges, strongest first.

Plain connected components over-merge look-alikes (a Jr reaches his father through a
shared address record). Here two clusters merge only if no cannot-link fact stands
between them. Must-links (``same`` judgements) merge first; ``different`` judgements
are cannot-link facts like any other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from idgraph.link.constraints import Facts


@dataclass(frozen=True)
class ClusterResult:
    """Cluster label per record (a representative index), accepted edges, why not."""

    labels: list[int]
    accepted: list[bool]  # per edge: merged or already together at the end
    refused: dict[str, int]  # rule name -> number of merges it refused
    forced: int  # must-links applied


class _UnionFind:
    def __init__(self, facts: list[Facts]) -> None:
        self.parent = list(range(len(facts)))
        self.size = [1] * len(facts)
        self.facts = facts

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def try_union(self, a: int, b: int, force: bool = False) -> str | None:
        """Merge the clusters of a and b unless a rule forbids; return that rule."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        why = self.facts[ra].conflict(self.facts[rb])
        if why is not None and not (force and not why.startswith("j")):
            return why
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        self.facts[ra].absorb(self.facts[rb])
        self.facts[rb] = Facts()
        return None


def cluster(
    facts: list[Facts],
    edges: Sequence[tuple[int, int]],
    must_links: Sequence[tuple[int, int]] = (),
) -> ClusterResult:
    """Cluster ``len(facts)`` records.

    ``edges`` must be sorted by match probability, strongest first, and already cut
    at the threshold. A must-link overrides rule-based cannot-links (a human looked)
    but never a ``different`` judgement.
    """
    uf = _UnionFind(facts)
    refused: Counter[str] = Counter()
    forced = 0
    for a, b in must_links:
        if uf.try_union(a, b, force=True) is None:
            forced += 1
        else:
            refused["judgement"] += 1
    for a, b in edges:
        why = uf.try_union(a, b)
        if why is not None:
            refused["judgement" if why == "j" else why] += 1
    labels = [uf.find(i) for i in range(len(facts))]
    accepted = [labels[a] == labels[b] for a, b in edges]
    return ClusterResult(labels, accepted, dict(refused), forced)
