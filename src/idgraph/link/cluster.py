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

from idgraph.link.constraints import VIA_CONTACT, Facts


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

    def try_union(self, a: int, b: int, force: bool = False, via: int = 0) -> str | None:
        """Merge the clusters of a and b unless a rule forbids; return that rule."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        why = self.facts[ra].conflict(self.facts[rb], via)
        if why is not None and not (force and not why.startswith("j")):
            return why
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        self.facts[ra].absorb(self.facts[rb])
        self.facts[rb] = Facts()
        return None


# A record whose best link into its own cluster beats its link into a rival cluster (one
# its own cluster cannot merge with) by less than this many bits is ambiguous and is
# left on its own.
AMBIGUITY_MARGIN = 8.0


def cluster(
    facts: list[Facts],
    edges: Sequence[tuple[int, int]],
    must_links: Sequence[tuple[int, int]] = (),
    weights: Sequence[float] | None = None,
    margin: float = AMBIGUITY_MARGIN,
    via: Sequence[int] | None = None,
) -> ClusterResult:
    """Cluster ``len(facts)`` records.

    ``edges`` must be sorted by match probability, strongest first, and already cut
    at the threshold; ``via`` says per edge which identifiers the pair agrees on
    (:data:`~idgraph.link.constraints.VIA_ID`, ``VIA_CONTACT``). A must-link overrides
    rule-based cannot-links (a human looked) but never a ``different`` judgement. With
    ``weights``, a second pass leaves alone each record that fits two mutually
    exclusive clusters about equally well (the no-suffix, no-birth-date record at the
    address of both a Jr and a Sr).
    """
    vias = list(via) if via is not None else [0] * len(edges)
    first, uf = _greedy(facts, edges, must_links, vias)
    if weights is None:
        return first
    doubtful = _ambiguous(facts, edges, weights, first.labels, uf, margin)
    if not doubtful:
        return first
    keep = [k for k, (a, b) in enumerate(edges) if a not in doubtful and b not in doubtful]
    second, _ = _greedy(facts, [edges[k] for k in keep], must_links, [vias[k] for k in keep])
    accepted = [second.labels[a] == second.labels[b] for a, b in edges]
    refused = dict(second.refused)
    refused["ambiguous"] = len(doubtful)
    return ClusterResult(second.labels, accepted, refused, second.forced)


def _ambiguous(
    facts: list[Facts],
    edges: Sequence[tuple[int, int]],
    weights: Sequence[float],
    labels: list[int],
    uf: _UnionFind,
    margin: float,
) -> set[int]:
    """Records linked above threshold into a rival cluster their own cannot merge with,
    nearly as strongly as into their own, where they would fit by the rules."""
    best_home: dict[int, float] = {}
    rivals: list[tuple[int, int, float]] = []  # (record, other cluster, weight)
    for (a, b), w in zip(edges, weights, strict=True):
        if labels[a] == labels[b]:
            best_home[a] = max(best_home.get(a, w), w)
            best_home[b] = max(best_home.get(b, w), w)
        else:
            rivals.append((a, labels[b], w))
            rivals.append((b, labels[a], w))
    doubtful = set()
    for rec, other, w in rivals:
        home = best_home.get(rec)
        if home is None or home - w >= margin:
            continue
        own = uf.facts[labels[rec]]
        if own.conflict(uf.facts[other]) is None:
            continue  # the two clusters could merge: not mutually exclusive
        # a generation refusal means "cannot tell which": that is ambiguity too
        if facts[rec].conflict(uf.facts[other], VIA_CONTACT) is None:
            doubtful.add(rec)
    return doubtful


def _greedy(
    facts: list[Facts],
    edges: Sequence[tuple[int, int]],
    must_links: Sequence[tuple[int, int]],
    vias: Sequence[int],
) -> tuple[ClusterResult, _UnionFind]:
    uf = _UnionFind([f.copy() for f in facts])
    refused: Counter[str] = Counter()
    forced = 0
    for a, b in must_links:
        if uf.try_union(a, b, force=True) is None:
            forced += 1
        else:
            refused["judgement"] += 1
    for (a, b), via in zip(edges, vias, strict=True):
        why = uf.try_union(a, b, via=via)
        if why is not None:
            refused["judgement" if why == "j" else why] += 1
    labels = [uf.find(i) for i in range(len(facts))]
    accepted = [labels[a] == labels[b] for a, b in edges]
    return ClusterResult(labels, accepted, dict(refused), forced), uf
