"""Constrained clustering: greedy union-find over edges, strongest first.

Plain connected components over-merge look-alikes (a Jr reaches his father through a
shared address record). Here two clusters merge only if no cannot-link fact stands
between them. Must-links (``same`` judgements) merge first; ``different`` judgements
are cannot-link facts like any other.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from idgraph.link.constraints import VIA_CONTACT, Facts, firsts_fit

_Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ClusterResult:
    """Cluster label per record (a representative index), accepted edges, why not."""

    labels: list[int]
    accepted: list[bool]  # per edge: merged or already together at the end
    refused: dict[str, int]  # rule name -> number of merges it refused
    forced: int  # must-links applied
    attached: int = 0  # small clusters joined by the attach pass
    held: frozenset[int] = frozenset()  # records held back (ambiguous, homonyms)


class _UnionFind:
    def __init__(self, facts: list[Facts]) -> None:
        self.parent = list(range(len(facts)))
        self.size = [1] * len(facts)
        self.facts = list(facts)  # shared with the caller until a root absorbs (then copied)
        self.owned = [False] * len(facts)

    def reset(self, x: int, facts: Facts) -> None:
        """Make ``x`` a cluster of its own again, with its own record's facts."""
        self.parent[x], self.size[x], self.facts[x], self.owned[x] = x, 1, facts, False

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
        return self.union_roots(ra, rb, force, via)

    def union_roots(self, ra: int, rb: int, force: bool = False, via: int = 0) -> str | None:
        """``try_union`` of two distinct roots."""
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

    def labels(self) -> _Ints:
        """The root of every element (``find`` of each, in one vectorised sweep)."""
        root = np.asarray(self.parent, dtype=np.int64)
        while True:
            up = root[root]
            if np.array_equal(up, root):
                return root
            root = up


def edge_array(edges: Sequence[tuple[int, int]]) -> _Ints:
    """Edges as an (n, 2) array (``fromiter``: ``asarray`` of tuples is far slower)."""
    flat = np.fromiter(itertools.chain.from_iterable(edges), dtype=np.int64,
                       count=2 * len(edges))
    return flat.reshape(-1, 2)


def accepted_edges(labels: _Ints, ends: _Ints) -> list[bool]:
    """Per edge: are its two ends in one cluster?"""
    same: list[bool] = (labels[ends[:, 0]] == labels[ends[:, 1]]).tolist()
    return same


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
    kin: tuple[Sequence[int], Sequence[int]] | None = None,
    born: Sequence[int] | None = None,
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
    evidence (:func:`_attach`). ``born`` (surname and full birth date per record) finds
    twins, and the records that joined one twin only by the other's first name
    (:func:`_middle_named`) are left alone too.
    """
    vias = list(via) if via is not None else [0] * len(edges)
    first, uf, whys = _greedy(facts, edges, must_links, vias)
    doubtful = (_ambiguous(facts, edges, weights, first.labels, uf, margin)
                if weights is not None else set())
    middle_named = (_middle_named(facts, born, first.labels, uf) - doubtful
                    if born is not None else set())
    doubtful |= middle_named
    homonyms = (_homonyms(facts, homes, first.labels, uf, houses, kin)
                if homes is not None else set())
    if homonyms and via is not None:
        homonyms = _through_contacts(facts, edges, vias, homonyms)
    if not doubtful and not homonyms:
        return _attach(first, uf, edges, weights, weak, set()) if weak else first
    held = frozenset(doubtful | homonyms)
    ends = edge_array(edges)
    held_doubtful, held_homonym = _mask(len(facts), doubtful), _mask(len(facts), homonyms)
    # edges kept: neither end doubtful, and an identifier or contact agrees or neither
    # end is a homonym
    keep = np.flatnonzero(
        ~held_doubtful[ends[:, 0]] & ~held_doubtful[ends[:, 1]]
        & ((np.asarray(vias, dtype=np.int64) != 0)
           | (~held_homonym[ends[:, 0]] & ~held_homonym[ends[:, 1]]))
    ).tolist()
    second, uf = _regreedy(facts, edges, must_links, vias, keep, (uf, whys))
    accepted = accepted_edges(np.asarray(second.labels, dtype=np.int64), edge_array(edges))
    refused = dict(second.refused)
    if doubtful - middle_named:
        refused["ambiguous"] = len(doubtful - middle_named)
    if middle_named:
        refused["middle_name"] = len(middle_named)
    if homonyms - doubtful:
        refused["homonym"] = len(homonyms - doubtful)
    result = ClusterResult(second.labels, accepted, refused, second.forced, held=held)
    return replace(_attach(result, uf, edges, weights, weak, set(held)) if weak else result,
                   held=held)


def _through_contacts(
    facts: list[Facts],
    edges: Sequence[tuple[int, int]],
    vias: Sequence[int],
    held: set[int],
) -> set[int]:
    """The held household records, and every bare record tied to one by an edge that
    agrees on a phone, email or identifier, transitively.

    Held records may still join through such edges, and that is right for them. But a
    son's utility bill with his given name misspelt (DAVI MARTINEZ) escapes the
    household keys; tied by his phone number to his held phone record, it let that
    record into his father's identity through its own name-and-address link. At ~1M
    records most wrongly merged Jr/Sr pairs went that way."""
    ends = edge_array(edges)
    tied = ends[np.asarray(vias, dtype=np.int64) != 0]
    if not len(tied):
        return held
    mask = _mask(len(facts), held)
    ends_of_tied = np.unique(tied)
    bare = np.zeros(len(facts), dtype=bool)
    bare[ends_of_tied] = [facts[i].bare() for i in ends_of_tied.tolist()]
    a, b = tied[:, 0], tied[:, 1]
    while True:
        reached = np.concatenate([b[mask[a] & ~mask[b] & bare[b]],
                                  a[mask[b] & ~mask[a] & bare[a]]])
        if not len(reached):
            return set(np.flatnonzero(mask).tolist())
        mask[reached] = True


def _mask(n: int, members: set[int]) -> npt.NDArray[np.bool_]:
    """``members`` as a boolean mask over ``n`` records."""
    mask = np.zeros(n, dtype=bool)
    mask[np.fromiter(members, dtype=np.int64, count=len(members))] = True
    return mask


def _components(n: int, ends: _Ints) -> _Ints:
    """Connected component (its smallest record) of each of ``n`` records."""
    label = np.arange(n, dtype=np.int64)
    a, b = ends[:, 0], ends[:, 1]
    while True:
        low = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        new = new[new]  # pointer jumping: labels stay members of the component
        if np.array_equal(new, label):
            return label
        label = new


def _regreedy(
    facts: list[Facts],
    edges: Sequence[tuple[int, int]],
    must_links: Sequence[tuple[int, int]],
    vias: Sequence[int],
    keep: list[int],
    first: tuple[_UnionFind, _Whys],
) -> tuple[ClusterResult, _UnionFind]:
    """``_greedy`` over the kept edges, reusing the first pass where nothing changed.

    Greedy union-find decides each edge from the two clusters of its ends only, and
    those are built by earlier edges (and must-links) of the same connected component
    of the graph of all edges and must-links. A component none of whose edges was
    dropped therefore sees the very same steps in both passes and ends the same (same
    roots, same facts, same refusals): only the components that lost an edge are run
    again, from scratch, with their must-links and kept edges in the original order.
    """
    uf, (must_whys, edge_whys) = first
    ends = edge_array(edges)
    kept = np.zeros(len(edges), dtype=bool)
    kept[keep] = True
    # components of the graph of all edges and must-links: the first pass's clusters
    # (each grown along such edges) joined by the must-links and edges it refused
    first_labels = uf.labels()
    refused = ([pair for pair, why in zip(must_links, must_whys, strict=True) if why is not None]
               + [pair for pair, why in zip(edges, edge_whys, strict=True) if why is not None])
    comp = _components(len(facts), first_labels[edge_array(refused)])[first_labels]
    changed = np.zeros(len(facts), dtype=bool)
    changed[comp[ends[~kept, 0]]] = True
    redo = changed[comp]  # records of components that lost an edge
    for i in np.flatnonzero(redo).tolist():
        uf.reset(i, facts[i])
    must_redo = [k for k, (a, _) in enumerate(must_links) if redo[a]]
    edge_redo = np.flatnonzero(kept & redo[ends[:, 0]]).tolist()
    new_must, new_edge = _run(uf, [must_links[k] for k in must_redo],
                              [edges[k] for k in edge_redo], [vias[k] for k in edge_redo])
    must_whys, edge_whys = list(must_whys), list(edge_whys)
    for k, why in zip(must_redo, new_must, strict=True):
        must_whys[k] = why
    for k, why in zip(edge_redo, new_edge, strict=True):
        edge_whys[k] = why
    result = _result(uf, ends, must_whys, [edge_whys[k] for k in keep])
    return result, uf


def _homonyms(
    facts: list[Facts],
    homes: Sequence[int],
    labels: list[int],
    uf: _UnionFind,
    houses: Sequence[int] | None = None,
    kin: tuple[Sequence[int], Sequence[int]] | None = None,
) -> set[int]:
    """Bare records under a name-and-address key the first pass shows two generations
    share, or under a surname-and-address key it shows twins share.

    With ``kin`` (a name key and an address key per record), a household of two
    generations under one name reaches further: a bare record with that name at any
    address either of them has lived at is held too (a son's old phone line billed to
    the family home his father left)."""
    held: set[int] = set()
    lab = np.asarray(labels, dtype=np.int64)
    generations: list[tuple[int, list[int]]] = []  # (home key, roots) of two generations
    for keys, two in ((homes, _two_people), (houses, _twins)):
        if keys is None:
            continue
        key = np.asarray(keys, dtype=np.int64)
        groups = _clusters_under_keys(key, lab)
        shared = {k for k, roots in groups if two(uf, roots)}
        if two is _two_people:
            generations = [(k, roots) for k, roots in groups if k in shared]
        if shared:
            under = np.flatnonzero(np.isin(key, np.fromiter(shared, dtype=np.int64)))
            held |= {i for i in under.tolist() if facts[i].bare()}
    if kin is not None and generations:
        held |= _kin_households(facts, lab, np.asarray(homes, dtype=np.int64), generations,
                                *kin)
    return held


def _clusters_under_keys(
    key: npt.NDArray[np.int64], lab: npt.NDArray[np.int64]
) -> list[tuple[int, list[int]]]:
    """(key, cluster roots) for every key (>= 0) whose records lie in two clusters or
    more."""
    has = key >= 0
    span = len(lab) + 1
    pairs = np.unique(key[has] * span + lab[has])  # (key, root), sorted
    ks, starts, counts = np.unique(pairs // span, return_index=True, return_counts=True)
    roots = pairs % span
    many = counts > 1
    return [(k, roots[s:s + c].tolist()) for k, s, c in
            zip(ks[many].tolist(), starts[many].tolist(), counts[many].tolist(), strict=True)]


def _kin_households(
    facts: list[Facts],
    lab: npt.NDArray[np.int64],
    homes: npt.NDArray[np.int64],
    generations: list[tuple[int, list[int]]],
    names: Sequence[int],
    addresses: Sequence[int],
) -> set[int]:
    """Bare records named like a two-generation household (the name under its shared
    home key) at any address either generation has lived at."""
    name = np.asarray(names, dtype=np.int64)
    address = np.asarray(addresses, dtype=np.int64)
    by_label, by_name, by_home = _groups_of(lab), _groups_of(name), _groups_of(homes)
    held: set[int] = set()
    for home, roots in generations:
        members = np.concatenate([by_label(r) for r in roots])
        lived = np.unique(address[members])
        lived = lived[lived >= 0]
        for key in np.unique(name[by_home(home)]).tolist():
            if key < 0:
                continue
            named = by_name(key)
            held |= {i for i in named[np.isin(address[named], lived)].tolist()
                     if facts[i].bare()}
    return held


def _groups_of(values: npt.NDArray[np.int64]) -> Callable[[int], npt.NDArray[np.int64]]:
    """value -> the indices holding it (one sort, then binary searches)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]

    def indices(value: int) -> npt.NDArray[np.int64]:
        lo, hi = np.searchsorted(ordered, [value, value + 1])
        return order[lo:hi]

    return indices


def _middle_named(
    facts: list[Facts], born: Sequence[int], labels: list[int], uf: _UnionFind
) -> set[int]:
    """Records that joined a cluster only as its middle name, while a cluster born the
    same day under the same surname, which theirs cannot merge with, bears that name
    as a first name.

    Twins STEPHANIE MARY and MARY R: a record of MARY without a middle name fits
    STEPHANIE's cluster (someone may go by a middle name) as well as her sister's. Such
    records are held unless their first name also fits a first name of their own
    cluster that the rival does not share."""
    lab = np.asarray(labels, dtype=np.int64)
    members = _groups_of(lab)
    held: set[int] = set()
    for _, group in _clusters_under_keys(np.asarray(born, dtype=np.int64), lab):
        for host, rival in itertools.permutations(group, 2):
            mine, theirs = uf.facts[host].names, uf.facts[rival].names
            middles = {x[3] for x in mine if x[3] is not None and len(x[3]) > 1}
            if (not theirs or not any(n[0] in middles for n in mine)
                    or uf.facts[host].conflict(uf.facts[rival]) is None):
                continue
            unlike = [x for x in mine if not any(firsts_fit(x, y) for y in theirs)]
            names = {n for n in mine
                     if n not in unlike and any(n[0] == x[3] for x in unlike)
                     and not any(firsts_fit(n, x) for x in unlike)}
            if names:
                held |= {i for i in members(host).tolist() if facts[i].names & names}
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
    lab = np.asarray(labels, dtype=np.int64)
    ends = edge_array(edges)
    w = np.asarray(weights, dtype=np.float64)
    a, b = ends[:, 0], ends[:, 1]
    inside = lab[a] == lab[b]
    best_home = np.full(len(labels), -np.inf)  # best weight of a link into its own cluster
    np.maximum.at(best_home, a[inside], w[inside])
    np.maximum.at(best_home, b[inside], w[inside])
    out = ~inside
    rec = np.concatenate([a[out], b[out]])  # (record, other cluster, weight) per rival
    other = np.concatenate([lab[b[out]], lab[a[out]]])
    rival_w = np.concatenate([w[out], w[out]])
    near = (best_home[rec] > -np.inf) & (best_home[rec] - rival_w < margin)
    doubtful = set()
    for r, o in zip(rec[near].tolist(), other[near].tolist(), strict=True):
        own = uf.facts[labels[r]]
        if own.conflict(uf.facts[o]) is None:
            continue  # the two clusters could merge: not mutually exclusive
        # a generation refusal means "cannot tell which": that is ambiguity too
        if facts[r].conflict(uf.facts[o], VIA_CONTACT) is None:
            doubtful.add(r)
    return doubtful


# why each must-link and each edge was refused (None: merged or already together)
_Whys = tuple[list[str | None], list[str | None]]


def _run(
    uf: _UnionFind,
    must_links: Sequence[tuple[int, int]],
    edges: Sequence[tuple[int, int]],
    vias: Sequence[int],
) -> _Whys:
    """Apply must-links (forced), then edges in order; return the refusals."""
    must_whys = [uf.try_union(a, b, force=True) for a, b in must_links]
    # try_union inlined: most ends are roots or already in one cluster
    parent, find, union = uf.parent, uf.find, uf.union_roots
    edge_whys: list[str | None] = []
    add = edge_whys.append
    for (a, b), via in zip(edges, vias, strict=True):
        ra = a if parent[a] == a else find(a)
        rb = b if parent[b] == b else find(b)
        add(None if ra == rb else union(ra, rb, False, via))
    return must_whys, edge_whys


def _result(
    uf: _UnionFind,
    ends: _Ints,
    must_whys: list[str | None],
    edge_whys: list[str | None],
) -> ClusterResult:
    refused: Counter[str] = Counter()
    forced = 0
    for why in must_whys:
        if why is None:
            forced += 1
        else:
            refused["judgement"] += 1
    for why in edge_whys:
        if why is not None:
            refused["judgement" if why == "j" else why] += 1
    labels = uf.labels()
    return ClusterResult(labels.tolist(), accepted_edges(labels, ends), dict(refused), forced)


def _greedy(
    facts: list[Facts],
    edges: Sequence[tuple[int, int]],
    must_links: Sequence[tuple[int, int]],
    vias: Sequence[int],
) -> tuple[ClusterResult, _UnionFind, _Whys]:
    uf = _UnionFind(facts)
    whys = _run(uf, must_links, edges, vias)
    return _result(uf, edge_array(edges), *whys), uf, whys


def _tally(
    labels: list[int],
    edges: Sequence[tuple[int, int]],
    weights: Sequence[float] | None,
    weak: WeakEdges,
    excluded: set[int],
) -> dict[int, dict[int, tuple[float, int]]]:
    """small cluster -> other cluster -> (summed match weight, via bits of its edges)."""
    lab = np.asarray(labels, dtype=np.int64)
    roots, counts = np.unique(lab, return_counts=True)
    small = np.zeros(len(labels), dtype=bool)
    small[roots[counts <= weak.max_size]] = True
    out = np.zeros(len(labels), dtype=bool)
    out[list(excluded)] = True
    score: dict[int, dict[int, tuple[float, int]]] = {}
    strong = (edges, weights or [0.0] * len(edges), [0] * len(edges))
    for pair_list, ws, vs in (strong, (weak.edges, weak.weights, weak.via)):
        ends = edge_array(pair_list)
        la, lb = lab[ends[:, 0]], lab[ends[:, 1]]
        useful = ((la != lb) & (small[la] | small[lb])
                  & ~out[ends[:, 0]] & ~out[ends[:, 1]])
        for k in np.flatnonzero(useful).tolist():
            w, via = ws[k], vs[k]
            for s, big in ((int(la[k]), int(lb[k])), (int(lb[k]), int(la[k]))):
                if small[s]:
                    total, bits = score.setdefault(s, {}).get(big, (0.0, 0))
                    score[s][big] = (total + w, bits | via)
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
    final = uf.labels()
    return ClusterResult(final.tolist(), accepted_edges(final, edge_array(edges)), result.refused,
                         result.forced, attached)
