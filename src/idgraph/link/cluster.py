"""Constrained clustering: greedy union-find over edges, strongest first.

Plain connected components over-merge look-alikes (a Jr reaches his father through a
shared address record). Here two clusters merge only if no cannot-link fact stands
between them. Must-links (``same`` judgements) merge first; ``different`` judgements
are cannot-link facts like any other. Every cannot-link and hold rule is named in
:data:`idgraph.link.config.RULES` and switched in :class:`~idgraph.link.config.LinkConfig`;
refusals are counted by rule id.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from idgraph.link.config import LinkConfig, RuleId
from idgraph.link.constraints import VIA_EVIDENCE, Facts, firsts_fit

_Ints = npt.NDArray[np.int64]


class NodeKeys(NamedTuple):
    """Per record, the household keys of the hold rules (-1 where a part is missing;
    None: that rule has no keys). They only ever compare for equality, so resolve
    numbers them by Arrow dictionary codes rather than ranking them by SQL window sorts
    over a million strings."""

    home: Sequence[int] | None = None  # given-name sound, surname sound, house + street
    house: Sequence[int] | None = None  # surname sound, house + street
    name: Sequence[int] | None = None  # given-name sound, first two surname sounds
    address: Sequence[int] | None = None  # house + street
    born: Sequence[int] | None = None  # surname sound, full date of birth


@dataclass(frozen=True)
class WeakEdges:
    """Edges below the threshold (down to the weak floor) for the attach pass."""

    edges: Sequence[tuple[int, int]]
    weights: Sequence[float]
    via: Sequence[int]
    min_weight: float  # combined evidence needed: the threshold's match weight


@dataclass(frozen=True)
class ClusterInput:
    """Everything :func:`cluster` clusters.

    ``edges`` are sorted by match probability, strongest first, and already cut at the
    threshold; ``weights`` are their match weights (bits) and ``via`` says per edge which
    identifiers the pair agrees on (:data:`~idgraph.link.constraints.VIA_ID`,
    ``VIA_CONTACT``). ``must_links`` are ``same`` judgements (a human looked)."""

    facts: list[Facts]
    edges: Sequence[tuple[int, int]]
    weights: Sequence[float] | None = None
    via: Sequence[int] | None = None
    must_links: Sequence[tuple[int, int]] = ()
    keys: NodeKeys = field(default_factory=NodeKeys)
    weak: WeakEdges | None = None


@dataclass(frozen=True)
class ClusterResult:
    """Cluster label per record (a representative index), accepted edges, why not."""

    labels: list[int]
    accepted: list[bool]  # per edge: merged or already together at the end
    refused: dict[str, int]  # rule id -> number of merges it refused (records it held)
    forced: int  # must-links applied
    attached: int = 0  # small clusters joined by the attach pass
    held: frozenset[int] = frozenset()  # records held back (ambiguous, homonyms)
    # the clusters' union-find (facts per cluster), for a later attach pass
    state: _UnionFind | None = field(default=None, compare=False, repr=False)


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

    def try_union(self, a: int, b: int, force: bool = False, via: int = 0) -> RuleId | None:
        """Merge the clusters of a and b unless a rule forbids; return that rule."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        return self.union_roots(ra, rb, force, via)

    def union_roots(self, ra: int, rb: int, force: bool = False,
                    via: int = 0) -> RuleId | None:
        """``try_union`` of two distinct roots. A forced merge (a must-link) overrides
        every rule but a human ``different`` judgement."""
        why = self.facts[ra].conflict(self.facts[rb], via)
        if why is not None and not (force and why is not RuleId.JUDGEMENT):
            return why
        self.merge(ra, rb)
        return None

    def merge(self, ra: int, rb: int) -> None:
        """Merge two distinct roots (the rules were checked by the caller)."""
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        if not self.owned[ra]:
            self.facts[ra], self.owned[ra] = self.facts[ra].copy(), True
        self.facts[ra].absorb(self.facts[rb])

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


def cluster(graph: ClusterInput, config: LinkConfig | None = None) -> ClusterResult:
    """Cluster ``len(graph.facts)`` records under the rules ``config`` leaves on.

    Edges merge greedily, strongest first, unless a cannot-link rule stands between the
    two clusters (:meth:`Facts.conflict`). A must-link overrides the rule-based
    cannot-links but never a ``different`` judgement. Then the hold rules look at the
    result and leave records alone, and the edges are run again without them:

    - ``ambiguous`` (with ``weights``): a record that fits two mutually exclusive
      clusters about equally well (the no-suffix, no-birth-date record at the address
      of both a Jr and a Sr);
    - ``middle_name`` (``keys.born``: surname and full birth date): records that joined
      one twin only by the other's first name (:func:`_middle_named`);
    - ``homonym`` (``keys.home``: given name, surname and address): where the first
      pass shows two generations under one key (birth years ``homonym_years`` apart,
      or two suffixes, or a suffix no birth date arbitrates), that key's bare records
      (no birth date or suffix) join only through an edge that agrees on an identifier
      or contact; ``twins``
      (``keys.house``: surname and address) does the same for the records whose given
      name fits both of two twins (one birth year, given names that cannot be one);
      ``kin`` (``keys.name``, ``keys.address``) reaches the addresses either
      generation lived at; ``contacts`` holds the bare records
      tied to a held one by a phone, email or identifier.

    With ``graph.weak`` (edges below the threshold), a last pass attaches small
    clusters by their combined evidence (:func:`attach_best`).
    """
    config = config or LinkConfig()
    facts, edges, keys = graph.facts, graph.edges, graph.keys
    weights, must_links, weak = graph.weights, graph.must_links, graph.weak
    on = config.rules
    vias = list(graph.via) if graph.via is not None else [0] * len(edges)
    first, uf, whys = _greedy(facts, edges, must_links, vias)
    doubtful = (_ambiguous(facts, edges, weights, first.labels, uf, config.ambiguity_margin)
                if weights is not None and on[RuleId.AMBIGUOUS] else set())
    middle_named = (_middle_named(facts, keys.born, first.labels, uf) - doubtful
                    if keys.born is not None and on[RuleId.MIDDLE_NAME] else set())
    doubtful |= middle_named
    households = _homonyms(facts, keys, first.labels, uf, config)
    homonyms = set().union(*households.values())
    if homonyms and graph.via is not None and on[RuleId.CONTACTS]:
        tied = _through_contacts(facts, edges, vias, homonyms) - homonyms
        if tied:
            households[RuleId.CONTACTS] = tied
            homonyms |= tied
    if not doubtful and not homonyms:
        result = replace(first, state=uf)
        return _attach(result, edges, weights, weak, set(), config) if weak else result
    held = frozenset(doubtful | homonyms)
    ends = edge_array(edges)
    held_doubtful, held_homonym = _mask(len(facts), doubtful), _mask(len(facts), homonyms)
    # edges kept: neither end doubtful, and an identifier or contact agrees or neither
    # end is a homonym
    keep = np.flatnonzero(
        ~held_doubtful[ends[:, 0]] & ~held_doubtful[ends[:, 1]]
        & (((np.asarray(vias, dtype=np.int64) & VIA_EVIDENCE) != 0)
           | (~held_homonym[ends[:, 0]] & ~held_homonym[ends[:, 1]]))
    ).tolist()
    second, uf = _regreedy(facts, edges, must_links, vias, keep, (uf, whys))
    accepted = accepted_edges(np.asarray(second.labels, dtype=np.int64), edge_array(edges))
    refused = dict(second.refused)
    if doubtful - middle_named:
        refused[RuleId.AMBIGUOUS.value] = len(doubtful - middle_named)
    if middle_named:
        refused[RuleId.MIDDLE_NAME.value] = len(middle_named)
    for rule, records in households.items():
        if records - doubtful:
            refused[rule.value] = len(records - doubtful)
    result = ClusterResult(second.labels, accepted, refused, second.forced, held=held,
                           state=uf)
    return _attach(result, edges, weights, weak, set(held), config) if weak else result


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
    tied = ends[(np.asarray(vias, dtype=np.int64) & VIA_EVIDENCE) != 0]
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
    keys: NodeKeys,
    labels: list[int],
    uf: _UnionFind,
    config: LinkConfig,
) -> dict[RuleId, set[int]]:
    """The records each household rule holds (a record counts under the first):

    - ``homonym``: bare records under a name-and-address key the first pass shows two
      generations share;
    - ``twins``: bare records under a surname-and-address key the first pass shows
      twins share, whose given name fits both twins (:func:`_twin_doubts`);
    - ``kin``: where two generations share a name, a bare record with that name at any
      address either of them has lived at (a son's old phone line billed to the family
      home his father left)."""
    lab = np.asarray(labels, dtype=np.int64)
    on = config.rules
    held: dict[RuleId, set[int]] = {}
    generations: list[tuple[int, list[int]]] = []  # (home key, roots) of two generations
    if keys.home is not None and on[RuleId.HOMONYM]:
        key = np.asarray(keys.home, dtype=np.int64)
        groups = _clusters_under_keys(key, lab)
        generations = [(k, roots) for k, roots in groups
                       if two_people(uf, roots, config.homonym_years)]
        if generations:
            shared = np.fromiter((k for k, _ in generations), dtype=np.int64)
            under = np.flatnonzero(np.isin(key, shared))
            held[RuleId.HOMONYM] = {i for i in under.tolist() if facts[i].bare()}
    if keys.house is not None and on[RuleId.TWINS]:
        twins = _twin_doubts(facts, np.asarray(keys.house, dtype=np.int64), lab, uf)
        held[RuleId.TWINS] = twins - held.get(RuleId.HOMONYM, set())
    if (on[RuleId.KIN] and keys.home is not None and keys.name is not None
            and keys.address is not None and generations):
        kin = _kin_households(facts, lab, np.asarray(keys.home, dtype=np.int64),
                              generations, keys.name, keys.address)
        held[RuleId.KIN] = kin.difference(*held.values())
    return {rule: records for rule, records in held.items() if records}


def _twin_doubts(
    facts: list[Facts], key: npt.NDArray[np.int64], lab: npt.NDArray[np.int64],
    uf: _UnionFind,
) -> set[int]:
    """Bare records under a surname-and-address key where the first pass shows twins
    (:func:`_twins`), whose given name fits two twins' clusters.

    A bare MARY at the house of twins MARY and ANNA can only be MARY (the given-name
    rule keeps her from ANNA); MARY's parents' bare records are none of the twins'
    business. Only a record that could be either twin (an initial, a shared nickname)
    is held."""
    held: set[int] = set()
    members = _groups_of(key)
    for k, roots in _clusters_under_keys(key, lab):
        pairs = [(a, b) for i, a in enumerate(roots) for b in roots[i + 1:]
                 if _is_twin_pair(uf, a, b)]
        if not pairs:
            continue
        for i in members(k).tolist():
            if not facts[i].bare():
                continue
            fits = {r for r in {x for pair in pairs for x in pair}
                    if facts[i].conflict(uf.facts[r], generation=False) is None}
            if any(a in fits and b in fits for a, b in pairs):
                held.add(i)
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
            middles = {x.middle for x in mine if x.middle is not None and len(x.middle) > 1}
            if (not theirs or not any(n.first in middles for n in mine)
                    or uf.facts[host].conflict(uf.facts[rival]) is None):
                continue
            unlike = [x for x in mine if not any(firsts_fit(x, y) for y in theirs)]
            names = {n for n in mine
                     if n not in unlike and any(n.first == x.middle for x in unlike)
                     and not any(firsts_fit(n, x) for x in unlike)}
            if names:
                held |= {i for i in members(host).tolist() if facts[i].names & names}
    return held


def _years(facts: Facts) -> set[int]:
    return {d.year for d in facts.dobs if d.year is not None}


def _is_twin_pair(uf: _UnionFind, a: int, b: int) -> bool:
    """Are two clusters born in one year with given names that cannot be one?"""
    return bool(_years(uf.facts[a]) & _years(uf.facts[b])
                and uf.facts[a].conflict(uf.facts[b]) is RuleId.GIVEN_NAME)


# Refusals that show two people of one household. ``generation`` among them: a
# suffixed cluster beside an unsuffixed one that no birth date arbitrates is the
# father-and-son case itself (without it, 1 -> 2 Jr/Sr pairs merged on the foreign
# population; the bare records are held, not refused: an identifier or contact still
# joins them). Not ``dob``: two birth dates no typo explains, less than the homonym
# years apart, are a noisy date more often than a second generation (pseudopeople).
_KIN_RULES = frozenset({RuleId.SUFFIX, RuleId.GENERATION})


def two_people(uf: _UnionFind, roots: list[int], years_apart: int) -> bool:
    """Do two of these clusters belong to two generations (birth years ``years_apart``
    apart, or a suffix or generation rule between them)?"""
    years = [min(d.year for d in uf.facts[r].dobs if d.year is not None)
             for r in roots if any(d.year is not None for d in uf.facts[r].dobs)]
    if years and max(years) - min(years) >= years_apart:
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
        why = own.conflict(uf.facts[o])
        if why is None:
            continue  # the two clusters could merge: not mutually exclusive
        if why is RuleId.GENERATION and not facts[r].bare():
            # the clusters are kept apart only by what the rival lacks (a suffix or a
            # birth date); the record has it, like its own cluster: nothing to doubt
            continue
        # a generation refusal means "cannot tell which": that is ambiguity too
        if facts[r].conflict(uf.facts[o], generation=False) is None:
            doubtful.add(r)
    return doubtful


# why each must-link and each edge was refused (None: merged or already together)
_Whys = tuple[list[RuleId | None], list[RuleId | None]]


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
    edge_whys: list[RuleId | None] = []
    add = edge_whys.append
    for (a, b), via in zip(edges, vias, strict=True):
        ra = a if parent[a] == a else find(a)
        rb = b if parent[b] == b else find(b)
        add(None if ra == rb else union(ra, rb, False, via))
    return must_whys, edge_whys


def _result(
    uf: _UnionFind,
    ends: _Ints,
    must_whys: list[RuleId | None],
    edge_whys: list[RuleId | None],
) -> ClusterResult:
    refused: Counter[str] = Counter()
    forced = 0
    for why in must_whys:
        if why is None:
            forced += 1
        else:
            refused[RuleId.JUDGEMENT.value] += 1  # only a judgement refuses a must-link
    for why in edge_whys:
        if why is not None:
            refused[why.value] += 1
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
    max_size: int,
) -> dict[int, list[Candidate]]:
    """small cluster -> the other clusters its edges reach, with the summed match weight
    and the via bits of those edges."""
    lab = np.asarray(labels, dtype=np.int64)
    roots, counts = np.unique(lab, return_counts=True)
    small = np.zeros(len(labels), dtype=bool)
    small[roots[counts <= max_size]] = True
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
    return {s: [Candidate(t, total, via) for t, (total, via) in targets.items()]
            for s, targets in score.items()}


def _attach(
    result: ClusterResult,
    edges: Sequence[tuple[int, int]],
    weights: Sequence[float] | None,
    weak: WeakEdges,
    excluded: set[int],
    config: LinkConfig,
) -> ClusterResult:
    """Attach each small cluster to the cluster its edges (strong and weak) point at.

    The match weights of all edges between the two are summed, and
    :func:`attach_best` decides. Records held back as ambiguous or homonyms are never
    attached.
    """
    if not config.attach or result.state is None:
        return result
    candidates = _tally(result.labels, edges, weights, weak, excluded, config.attach_max_size)
    attached = attach_best(result.state, candidates, weak.min_weight, config)
    if not attached:
        return result
    final = result.state.labels()
    return replace(result, labels=final.tolist(),
                   accepted=accepted_edges(final, edge_array(edges)), attached=attached)


def _rival(mine: Facts, best: Facts, other: Facts, via: int) -> bool:
    """Is ``other`` a rival to ``best`` for ``mine``: a cluster ``best`` cannot merge
    with, that ``mine`` could join?

    Missing is not different: where only a suffix or birth date that ``other`` lacks
    keeps it from ``best`` (the generation rule), and ``mine`` has one, ``other`` is no
    rival."""
    why = best.conflict(other)
    if why is None or (why is RuleId.GENERATION and not mine.bare()):
        return False
    return mine.conflict(other, via, generation=False) is None


class Candidate(NamedTuple):
    """A cluster a small cluster could join, and how well it fits."""

    target: int  # a record of that cluster (its label)
    score: float  # combined evidence, bits
    via: int  # VIA_* bits the evidence agrees on


# the clusters' state: a union-find whose roots carry each cluster's facts
ClusterState = _UnionFind


def state_of(facts: list[Facts], labels: Sequence[int]) -> ClusterState:
    """The union-find of clusters given by ``labels`` (each label a member index)."""
    uf = _UnionFind(facts)
    for i, label in enumerate(labels):
        if i != label:
            ra, rb = uf.find(label), uf.find(i)
            if ra != rb:
                uf.merge(ra, rb)
    return uf


def attach_best(
    uf: ClusterState,
    candidates: Mapping[int, Sequence[Candidate]],
    min_weight: float,
    config: LinkConfig,
) -> int:
    """Join small clusters to the cluster that fits them best; return how many joined.

    The one "best unless a rival is close" decision of both attach passes (summed
    pairwise weights, :func:`_attach`; whole-identity scores,
    :func:`idgraph.link.fragments.join_fragments`). Strongest small clusters first,
    each joins its best candidate when that scores ``min_weight`` or more, no rule
    forbids the merge, and (rule ``rival``) no rival cluster that the best one cannot
    merge with scores within ``config.ambiguity_margin`` bits.
    """
    margin = config.ambiguity_margin
    rival_on = config.rules[RuleId.RIVAL]
    moved = 0
    order = sorted(candidates, key=lambda s: (-max(c.score for c in candidates[s]), s))
    for small in order:
        rs = uf.find(small)
        ranked = sorted(((c.score, uf.find(c.target), c.via) for c in candidates[small]),
                        key=lambda c: (-c[0], c[1]))
        ranked = [c for c in ranked if c[1] != rs]
        if not ranked:
            continue
        total, rb, via = ranked[0]
        if total < min_weight:
            continue
        mine, theirs = uf.facts[rs], uf.facts[rb]
        if mine.conflict(theirs, via) is not None:
            continue
        if rival_on and any(t >= total - margin and ro != rb
                            and _rival(mine, theirs, uf.facts[ro], v)
                            for t, ro, v in ranked[1:]):
            continue  # a rival the best one cannot merge with: cannot tell which
        uf.merge(rs, rb)
        moved += 1
    return moved
