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
    attached: int = 0  # small clusters joined by the attach pass


class _UnionFind:
    def __init__(self, facts: list[Facts]) -> None:
        self.parent = list(range(len(facts)))
        self.size = [1] * len(facts)
        self.facts = list(facts)  # shared with the caller until a root absorbs (then copied)
        self.owned = [False] * len(facts)

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
        if not self.owned[ra]:
            self.facts[ra], self.owned[ra] = self.facts[ra].copy(), True
        self.facts[ra].absorb(self.facts[rb])
        return None


# A record whose best link into its own cluster beats its link into a rival cluster (one
# its own cluster cannot merge with) by less than this many bits is ambiguous and is
# left on its own.
AMBIGUITY_MARGIN = 8.0


@dataclass(frozen=True)
class WeakEdges:
    """Edges below the threshold (down to the predict floor) for the attach pass."""

    edges: Sequence[tuple[int, int]]
    weights: Sequence[float]
    via: Sequence[int]
    min_weight: float  # combined evidence needed: the threshold's match weight
    max_size: int = 1  # clusters up to this size are attached (1: single records)
    margin: float = AMBIGUITY_MARGIN


# Two clusters with one given name and surname at one address whose birth years lie
# this far apart are two people (a parent and a child named alike).
HOMONYM_YEARS = 15


def cluster(
    facts: list[Facts],
    edges: Sequence[tuple[int, int]],
    must_links: Sequence[tuple[int, int]] = (),
    weights: Sequence[float] | None = None,
    margin: float = AMBIGUITY_MARGIN,
    via: Sequence[int] | None = None,
    homes: Sequence[int] | None = None,
    weak: WeakEdges | None = None,
    houses: Sequence[int] | None = None,
) -> ClusterResult:
    """Cluster ``len(facts)`` records.

    ``edges`` must be sorted by match probability, strongest first, and already cut
    at the threshold; ``via`` says per edge which identifiers the pair agrees on
    (:data:`~idgraph.link.constraints.VIA_ID`, ``VIA_CONTACT``). A must-link overrides
    rule-based cannot-links (a human looked) but never a ``different`` judgement. With
    ``weights``, a second pass leaves alone each record that fits two mutually
    exclusive clusters about equally well (the no-suffix, no-birth-date record at the
    address of both a Jr and a Sr). ``homes`` gives per record a key of given name,
    surname and address (-1: none): where the first pass shows two people under one
    key (birth years :data:`HOMONYM_YEARS` apart, or two suffixes), that key's bare
    records (no birth date, suffix or strong identifier) join only through an edge
    that agrees on an identifier or contact; ``houses`` (surname and address) does the
    same for twins (one birth year, given names that cannot be one). With ``weak``
    (edges below the threshold), a last pass attaches small clusters by their combined
    evidence (:func:`_attach`).
    """
    vias = list(via) if via is not None else [0] * len(edges)
    first, uf = _greedy(facts, edges, must_links, vias)
    doubtful = (_ambiguous(facts, edges, weights, first.labels, uf, margin)
                if weights is not None else set())
    homonyms = (_homonyms(facts, homes, first.labels, uf, houses)
                if homes is not None else set())
    if not doubtful and not homonyms:
        return _attach(first, uf, edges, weights, weak, set()) if weak else first
    keep = [
        k for k, (a, b) in enumerate(edges)
        if a not in doubtful and b not in doubtful
        and (vias[k] or (a not in homonyms and b not in homonyms))
    ]
    second, uf = _greedy(facts, [edges[k] for k in keep], must_links, [vias[k] for k in keep])
    accepted = [second.labels[a] == second.labels[b] for a, b in edges]
    refused = dict(second.refused)
    if doubtful:
        refused["ambiguous"] = len(doubtful)
    if homonyms - doubtful:
        refused["homonym"] = len(homonyms - doubtful)
    result = ClusterResult(second.labels, accepted, refused, second.forced)
    return _attach(result, uf, edges, weights, weak, doubtful | homonyms) if weak else result


def _homonyms(
    facts: list[Facts],
    homes: Sequence[int],
    labels: list[int],
    uf: _UnionFind,
    houses: Sequence[int] | None = None,
) -> set[int]:
    """Bare records under a name-and-address key the first pass shows two generations
    share, or under a surname-and-address key it shows twins share."""
    held: set[int] = set()
    for keys, two in ((homes, _two_people), (houses, _twins)):
        if keys is None:
            continue
        by_key: dict[int, set[int]] = {}
        for i, key in enumerate(keys):
            if key >= 0:
                by_key.setdefault(key, set()).add(labels[i])
        shared = {key for key, roots in by_key.items()
                  if len(roots) > 1 and two(uf, sorted(roots))}
        held |= {i for i, key in enumerate(keys) if key in shared and facts[i].bare()}
    return held


def _years(facts: Facts) -> set[int]:
    return {d[2] for d in facts.dobs if d[2] is not None}


def _twins(uf: _UnionFind, roots: list[int]) -> bool:
    """Are two of these clusters born in one year with given names that cannot be one?"""
    return any(
        _years(uf.facts[a]) & _years(uf.facts[b])
        and uf.facts[a].conflict(uf.facts[b]) == "given_name"
        for i, a in enumerate(roots) for b in roots[i + 1:]
    )


_KIN_RULES = frozenset({"dob", "suffix", "generation"})


def _two_people(uf: _UnionFind, roots: list[int]) -> bool:
    """Do two of these clusters belong to two generations (birth years
    :data:`HOMONYM_YEARS` apart, or a suffix rule between them)?"""
    years = [min(d[2] for d in uf.facts[r].dobs if d[2] is not None)
             for r in roots if any(d[2] is not None for d in uf.facts[r].dobs)]
    if years and max(years) - min(years) >= HOMONYM_YEARS:
        return True
    return any(uf.facts[a].conflict(uf.facts[b]) in _KIN_RULES
               for i, a in enumerate(roots) for b in roots[i + 1:])


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
    uf = _UnionFind(facts)
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


def _tally(
    labels: list[int],
    edges: Sequence[tuple[int, int]],
    weights: Sequence[float] | None,
    weak: WeakEdges,
    excluded: set[int],
) -> dict[int, dict[int, tuple[float, int]]]:
    """small cluster -> other cluster -> (summed match weight, via bits of its edges)."""
    small_roots = {r for r, n in Counter(labels).items() if n <= weak.max_size}
    score: dict[int, dict[int, tuple[float, int]]] = {}
    strong = zip(edges, weights or [0.0] * len(edges), [0] * len(edges), strict=True)
    weak_ = zip(weak.edges, weak.weights, weak.via, strict=True)
    for pairs in (strong, weak_):
        for (a, b), w, via in pairs:
            la, lb = labels[a], labels[b]
            if la == lb or (la not in small_roots and lb not in small_roots):
                continue
            if a in excluded or b in excluded:
                continue
            for small, big in ((la, lb), (lb, la)):
                if small in small_roots:
                    total, bits = score.setdefault(small, {}).get(big, (0.0, 0))
                    score[small][big] = (total + w, bits | via)
    return score


def _attach(
    result: ClusterResult,
    uf: _UnionFind,
    edges: Sequence[tuple[int, int]],
    weights: Sequence[float] | None,
    weak: WeakEdges,
    excluded: set[int],
) -> ClusterResult:
    """Attach each small cluster to the cluster its edges (strong and weak) point at.

    The match weights of all edges between the two are summed; the small cluster joins
    the best cluster when that sum reaches ``weak.min_weight``, no rule forbids it,
    and no rival cluster the best one cannot merge with comes within ``weak.margin``.
    Records held back as ambiguous or homonyms are never attached.
    """
    score = _tally(result.labels, edges, weights, weak, excluded)
    attached = 0
    for small in sorted(score, key=lambda r: -max(t for t, _ in score[r].values())):
        ranked = sorted(score[small].items(), key=lambda kv: -kv[1][0])
        best, (total, via) = ranked[0]
        if total < weak.min_weight:
            continue
        rs, rb = uf.find(small), uf.find(best)
        if rs == rb or uf.facts[rs].conflict(uf.facts[rb], via) is not None:
            continue
        if any(t >= total - weak.margin and uf.facts[rb].conflict(uf.facts[uf.find(o)])
               is not None for o, (t, _) in ranked[1:]):
            continue
        if uf.try_union(rs, rb, via=via) is None:
            attached += 1
    if not attached:
        return result
    final = [uf.find(i) for i in range(len(result.labels))]
    accepted = [final[a] == final[b] for a, b in edges]
    return ClusterResult(final, accepted, result.refused, result.forced, attached)
