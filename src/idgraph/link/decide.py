"""How live attach decides where a record goes (the methods :class:`LiveLinker
<idgraph.link.attach.LiveLinker>` decides with; see :mod:`idgraph.link.attach`).

Candidate records come from a ``candidates`` callable (the search index in production,
injected because ``link`` may not import ``search``; by default a small lookup on exact
keys). Each is scored with the trained model (:class:`~idgraph.link.score.Scorer`), and
the evidence is gathered per candidate identity the way batch resolve gathers it for a
record on its own: the best single pair, the summed weights of pairs from
``LinkConfig.weak_floor`` up (the attach pass) and the best level of every comparison
over the pairs (the fragment pass), whichever is strongest. The decision is batch's
own :func:`~idgraph.link.cluster.attach_best`: the best identity when it reaches the
threshold's match weight, no cannot-link rule (nor a ``different`` judgement) stands
between the record and it, and no rival identity the best one cannot merge with comes
within the ambiguity margin. A ``same`` judgement with a member forces the identity,
as a must-link does in batch, unless a ``different`` judgement forbids it.

With ``bridge`` other than "none" (the default), like batch's greedy pass, a record
that also reaches other candidate identities through a pair at or above the threshold
bridges them into its own where no rule forbids: any identity through a pair agreeing
on an identifier or contact, a small one (at most ``LinkConfig.max_fragment`` records:
often one the record's own earlier arrivals made) through any such pair (see
:data:`Bridge`). The identity with the most records keeps
its id; the others are ``retired``, the keeper ``merged``, as batch records it.

A bare record (no birth date, no suffix) under the name and address of two generations
among its candidates is held as batch's ``homonym`` and ``kin`` rules hold it: only a
pair agreeing on an identifier or contact joins it. The twins and contacts hold rules
are not run by this decision (the local re-cluster below runs them all).

With ``recluster`` the decision is checked against batch's own clustering of the
small graph around the record (:mod:`idgraph.link.recluster`): the record, and the
records of the candidate identities it has a pair with from ``LinkConfig.weak_floor``
up (or a judgement names), every pair scored in-process. Where that graph without the
record clusters into the identities as they are (the local graph tells the whole
story), its clustering with the record is taken instead: a join, a bridge, or a split
of records the batch rules now separate, ids kept as batch keeps them (maximum
overlap: the larger part keeps the id) and lineage as batch writes it (``new``,
``attach``, ``merged``, ``retired``, ``split``, ``kept``). Elsewhere the decision above
stands; where the record has one candidate identity, fits it by every rule and the
decision joins it, batch's clustering of that graph would merge it too, and the
re-cluster is skipped. Batch's fragment pass (whole-identity scores) is not run
locally: where the local graph leaves the record alone, not held, and moves nothing
else, while the decision joins it on the whole identity's evidence, the decision stands.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from idgraph.link.cluster import Candidate, ClusterState, attach_best, state_of, two_people
from idgraph.link.config import LinkConfig, RuleId
from idgraph.link.constraints import (
    VIA_CONTACT,
    VIA_EVIDENCE,
    VIA_ID,
    VIA_NAME_SWAP,
    Constraints,
    Facts,
    record_facts,
)
from idgraph.link.ids import assign_ids
from idgraph.link.judge import Verdict
from idgraph.link.recluster import Pair, local_partition
from idgraph.link.resolve import sound_key
from idgraph.link.score import PairScore, Scorer, match_weight

Row = dict[str, Any]
# pairs through which the decision (where the local re-cluster does not decide) lets a
# record bridge other identities into its own: pairs at or above the threshold that
# agree on an identifier or contact, and for identities of at most
# ``LinkConfig.max_fragment`` records any such pair ("strong": batch's greedy pass);
# only the agreeing ones ("evidence"); or none (the default: the local re-cluster
# bridges as batch does where its graph tells the whole story; elsewhere bridging
# landed 8 more of 9,190 late records at 20k people away from batch than not)
Bridge = Literal["strong", "evidence", "none"]
# most records of a local re-cluster (the record and its candidate identities' records):
# all their pairs are scored, so its cost grows with the square
RECLUSTER_MAX: Final = 40


@dataclass
class _Identity:
    """Evidence for one candidate identity."""

    index: int  # its place in the decision's cluster state
    pairs: list[tuple[str, PairScore]] = field(default_factory=list)
    via: int = 0


def _via(score: PairScore) -> int:
    """VIA_* bits of a pair (as resolve reads them off the levels)."""
    bits = 0
    for hit in score.levels:
        if hit.label == "exact" and hit.comparison in ("ssn", "dl_key"):
            bits |= VIA_ID
        elif hit.label == "exact" and hit.comparison in ("phone", "email"):
            bits |= VIA_CONTACT
        elif hit.comparison == "first_name" and hit.label == "given and surname swapped":
            bits |= VIA_NAME_SWAP
    return bits


def _via_labels(names: Sequence[str], labels: Sequence[str]) -> int:
    """:func:`_via` of a pair's level labels (``names``: the comparisons, in order)."""
    bits = 0
    for comparison, label in zip(names, labels, strict=True):
        if label == "exact" and comparison in ("ssn", "dl_key"):
            bits |= VIA_ID
        elif label == "exact" and comparison in ("phone", "email"):
            bits |= VIA_CONTACT
        elif comparison == "first_name" and label == "given and surname swapped":
            bits |= VIA_NAME_SWAP
    return bits


def _home_key(row: Mapping[str, Any]) -> tuple[str, str, str, str] | None:
    """Given-name sound, surname sound, house and street (batch's ``home`` key)."""
    name = _name_key(row)
    if name is None or row["house_number"] is None or row["street"] is None:
        return None
    return name[0], str(row["last_name_phonetic"] or row["last_name"]), \
        str(row["house_number"]), str(row["street"])


def _name_key(row: Mapping[str, Any]) -> tuple[str, str] | None:
    """Given-name sound and the surname sound's first two letters (batch's ``name``
    key: a household's name reaches misspelt surnames)."""
    first = row["first_name_canon"] or row["first_name"]
    last = row["last_name_phonetic"] or row["last_name"]
    if not first or not last or not row["first_name"]:
        return None
    return sound_key(str(first)), str(last)[:2]


def _facts(row: Mapping[str, Any], rules: Constraints, off: frozenset[RuleId]) -> Facts:
    return record_facts(row["ssn"], row["dl_key"], row["suffix"],
                        (row["dob_day"], row["dob_month"], row["birth_year"]), rules,
                        (row["first_name"], row["first_name_canon"],
                         row["first_name_phonetic"], row["middle_name"]), off)


@dataclass(frozen=True)
class _Decision:
    identity: str | None  # None: an identity of its own
    score: float | None
    refused: str | None
    forced: bool = False
    retired: tuple[str, ...] = ()  # identities bridged into ``identity`` (their ids retire)
    moved: tuple[str, ...] = ()  # their records (now members of ``identity``)
    # a local re-cluster's placement: the new identity of every other record it moves,
    # and its lineage events (identity, event, related)
    moves: tuple[tuple[str, str], ...] | None = None
    events: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    fresh: bool = False  # (local) ``identity`` is a new identity of the record alone



class Decisions(ABC):
    """The decision and the local re-cluster, over the state a live linker keeps."""

    scorer: Scorer
    config: LinkConfig
    threshold: float
    rules: Constraints
    _off: frozenset[RuleId]
    bridge: Bridge
    recluster_max: int
    stats: Counter[str]
    _of: dict[str, str]  # record -> identity
    _members_of: dict[str, set[str]]  # identity -> records
    _judged: dict[str, dict[str, Verdict]]  # record -> other -> verdict
    _id_key: bytes  # the deployment's key of identity ids (``link.ids.ID_KEY``)

    @abstractmethod
    def _members(self, identities: Iterable[str], rid: str) -> dict[str, list[Row]]:
        """The current members of ``identities`` (the live linker reads and caches them)."""

    @abstractmethod
    def _pair(self, a: Row, b: Row) -> Pair:
        """The scored pair of two input rows (the live linker caches scores)."""

    def _score(self, group: _Identity) -> float:
        """The identity's evidence, bits: the strongest of the best pair, the summed
        pairs from the weak floor up, and the best level per comparison (see the
        module doc)."""
        weights = [s.weight for _, s in group.pairs]
        summed = sum(s.weight for _, s in group.pairs
                     if s.probability >= self.config.weak_floor)
        best_levels: dict[str, float] = {}
        for _, s in group.pairs:
            for hit in s.levels:
                if self.scorer.is_missing(hit):
                    continue
                w = hit.weight + hit.tf_adjustment
                if hit.comparison not in best_levels or w > best_levels[hit.comparison]:
                    best_levels[hit.comparison] = w
        fragment = self.scorer.prior_weight + sum(best_levels.values())
        return max(max(weights), summed if summed else -1e9, fragment)

    def _facts_of(self, rows: list[Row]) -> Facts:
        """The facts of one identity's member rows."""
        facts = _facts(rows[0], self.rules, self._off)
        for row in rows[1:]:
            facts.absorb(_facts(row, self.rules, self._off))
        return facts

    def _decide(self, row: Row, groups: dict[str, _Identity], members: dict[str, list[Row]],
                verdicts: list[tuple[str, Verdict]]) -> _Decision:
        rid = str(row["record_id"])
        judged = {o: self._of[o] for o, _ in verdicts if o in self._of}
        for other, _ in verdicts:  # judged identities take part even without a candidate
            if other in judged and judged[other] not in groups:
                groups[judged[other]] = _Identity(len(groups) + 1)
        if not groups:
            return _Decision(None, None, None)
        names = list(groups)
        missing = [n for n in names if n not in members]
        if missing:  # judged identities (the caller sees them too)
            members.update(self._members(missing, rid))
        facts = {n: self._facts_of(members[n]) for n in names if members.get(n)}
        mine = _facts(row, self.rules, self._off)
        for k, (other, verdict) in enumerate(verdicts):
            ident = judged.get(other)
            if verdict is Verdict.DIFFERENT and ident in facts:
                mine.keys[(RuleId.JUDGEMENT, str(k))] = "l"
                facts[ident].keys[(RuleId.JUDGEMENT, str(k))] = "r"
        state = state_of([mine, *(facts.get(n, mine.empty()) for n in names)],
                         list(range(len(names) + 1)))
        scores = {n: self._score(g) for n, g in groups.items() if g.pairs}
        forced = [judged[o] for o, v in verdicts if v is Verdict.SAME and o in judged]
        for ident in forced:
            if state.facts[0].conflict(state.facts[groups[ident].index]) is not RuleId.JUDGEMENT:
                state.merge(state.find(0), state.find(groups[ident].index))
                return self._joined(ident, scores.get(ident), state, groups, members,
                                    forced=True)
        if scores and mine.bare() and self._household(row, members, state, groups):
            # held like batch's homonym and kin rules: only an agreeing identifier or
            # contact in a pair at or above the threshold joins it
            scores = {n: max(s.weight for _, s in g.pairs
                             if s.probability >= self.threshold and _via(s) & VIA_EVIDENCE)
                      for n, g in groups.items()
                      if any(s.probability >= self.threshold and _via(s) & VIA_EVIDENCE
                             for _, s in g.pairs)}
            held = True
        else:
            held = False
        if not scores:
            return _Decision(None, None, RuleId.HOMONYM.value if held else None)
        best = max(scores, key=lambda n: (scores[n], n))
        threshold_weight = match_weight(self.threshold)
        moved = attach_best(state, {0: [Candidate(groups[n].index, s, groups[n].via)
                                        for n, s in scores.items()]},
                            threshold_weight, self.config)
        if moved:
            root = state.find(0)
            joined = next(n for n in names if state.find(groups[n].index) == root)
            return self._joined(joined, scores[joined], state, groups, members, held=held)
        refused = None
        if scores[best] >= threshold_weight:
            why = mine.conflict(state.facts[groups[best].index], groups[best].via)
            refused = why.value if why is not None else RuleId.RIVAL.value
        return _Decision(None, scores[best], refused)

    def _household(self, row: Row, members: dict[str, list[Row]], state: ClusterState,
                   groups: dict[str, _Identity]) -> bool:
        """Would batch hold this bare record (no birth date, no suffix) by its household
        rules? Among the candidate identities, two generations (birth years
        ``homonym_years`` apart, or a suffix between them) share a home: a given name,
        surname and address. ``homonym``: the record bears that name at that address;
        ``kin``: it bears that name at an address either generation has lived at."""
        homonym_on = self.config.on(RuleId.HOMONYM.value)
        kin_on = self.config.on(RuleId.KIN.value)
        name = _name_key(row)
        if name is None or not (homonym_on or kin_on):
            return False
        homes: dict[tuple[str, str, str, str], set[str]] = {}
        for ident, rows in members.items():
            if ident in groups and any(_name_key(r) == name for r in rows):
                for r in rows:
                    key = _home_key(r)
                    if key is not None and _name_key(r) == name:
                        homes.setdefault(key, set()).add(ident)
        mine, address = _home_key(row), (row["house_number"], row["street"])
        years = self.config.homonym_years
        for key, idents in homes.items():
            if len(idents) < 2 or not two_people(
                    state, [groups[i].index for i in sorted(idents)], years):
                continue
            if homonym_on and key == mine:
                return True
            if kin_on and address in {(r["house_number"], r["street"])
                                      for i in idents for r in members[i]}:
                return True
        return False

    def _joined(self, joined: str, score: float | None, state: ClusterState,
                groups: dict[str, _Identity], members: dict[str, list[Row]],
                forced: bool = False, held: bool = False) -> _Decision:
        """The decision to join ``joined`` (already merged in ``state``), and the other
        candidate identities the record bridges to it: as batch's greedy pass merges
        them, each through a pair at or above the threshold, strongest first, unless a
        rule stands between the clusters (a ``held`` record only through pairs agreeing
        on an identifier or contact). The identity with the most records keeps its id
        (as batch's maximum overlap does); the others retire into it."""
        bridged = [joined]
        if self.bridge != "none":
            evidence = held or self.bridge == "evidence"
            small = self.config.max_fragment
            strong = sorted(
                ((s.weight, n, _via(s)) for n, g in groups.items() if n != joined
                 for _, s in g.pairs if s.probability >= self.threshold
                 and (_via(s) & VIA_EVIDENCE
                      or (not evidence and len(members.get(n, ())) <= small))),
                key=lambda t: (-t[0], t[1]))
            for _, n, via in strong:
                root, other = state.find(0), state.find(groups[n].index)
                if root != other and state.facts[root].conflict(state.facts[other], via) is None:
                    state.merge(root, other)
                    bridged.append(n)
        if len(bridged) == 1:
            return _Decision(joined, score, None, forced=forced)
        survivor = min(bridged, key=lambda n: (-len(members.get(n, ())), n))
        retired = tuple(sorted(n for n in bridged if n != survivor))
        moved = tuple(str(r["record_id"]) for n in retired for r in members.get(n, ()))
        return _Decision(survivor, score, None, forced=forced, retired=retired, moved=moved)

    def _recluster(self, row: Row, groups: dict[str, _Identity],
                   members: dict[str, list[Row]], decision: _Decision) -> _Decision | None:
        """Batch's clustering of the record with its candidate identities' records (see
        the module doc); None where the local graph does not give back the identities
        as they are (or is too large, or would need an id in use)."""
        rid = str(row["record_id"])
        # identities it has a pair with from the weak floor up (what batch's edges and
        # attach pass can join it to), and those a judgement names
        judged = {self._of.get(o) for o in self._judged.get(rid, {})}
        idents = [i for i, g in groups.items() if members.get(i) and (
            i in judged or any(s.probability >= self.config.weak_floor for _, s in g.pairs))]
        base = [r for i in idents for r in members[i]]
        if not base:
            return None
        if (len(idents) == 1 and decision.identity == idents[0] and not decision.retired
                and _facts(row, self.rules, self._off).conflict(
                    self._facts_of(members[idents[0]])) is None):
            # one identity the record fits by every rule, and joins: batch's clustering
            # of this graph merges it (nothing in it refuses), so skip the work
            self.stats["one fitting identity"] += 1
            return None
        if len(base) + 1 > self.recluster_max:
            self.stats["local too large"] += 1
            return None
        nodes = [row, *base]
        pairs = [self._pair(a, b) for k, a in enumerate(nodes) for b in nodes[k + 1:]]
        pairs = [p for p in pairs if p.probability >= self.config.weak_floor]
        ids = {str(r["record_id"]) for r in nodes}
        verdicts = sorted({(min(a, b), max(a, b), v) for a in ids
                           for b, v in self._judged.get(a, {}).items() if b in ids})

        def facts_of(r: Mapping[str, Any]) -> Facts:
            return _facts(r, self.rules, self._off)

        old = {str(r["record_id"]): i for i in idents for r in members[i]}
        before, _ = local_partition(base, pairs, facts_of, verdicts, self.threshold,
                                    self.config)
        if {frozenset(g) for g in before} != {frozenset(str(r["record_id"]) for r in members[i])
                                              for i in idents}:
            self.stats["local differs"] += 1
            return None
        after, held = local_partition(nodes, pairs, facts_of, verdicts, self.threshold,
                                      self.config)
        mine = next(k for k, g in enumerate(after) if rid in g)
        if (len(after[mine]) == 1 and rid not in held and decision.identity is not None
                and len(after) == len(before) + 1):
            # alone, not held, and nothing else moved, where the decision joins it on
            # the whole identity's evidence: batch's fragment pass joins it so
            self.stats["local alone: fragment"] += 1
            return None
        assigned, lineage = assign_ids(after, old, self._id_key)
        identity = assigned[mine]
        olds = set(old.values())
        if any(i not in olds and i in self._members_of for i in assigned):
            return None  # a fresh id already in use elsewhere (assign_ids sees these only)
        moves = tuple((r, assigned[k]) for k, g in enumerate(after) for r in g
                      if r != rid and old[r] != assigned[k])
        events: list[tuple[str, str, tuple[str, ...]]] = []
        for ev in lineage:
            if ev.identity_id == identity and ev.event == "kept":
                continue  # the record joined it: "attach" below
            events.append((ev.identity_id, ev.event, ev.related))
        if identity in olds or any(e[1] != "new" for e in events if e[0] == identity):
            events.append((identity, "attach", (rid,)))
        retired = tuple(sorted(e[0] for e in events if e[1] == "retired"))
        joined = identity in olds or len(after[mine]) > 1
        self.stats["local"] += 1
        if (identity == decision.identity or (decision.identity is None and not joined)) \
                and not moves and not retired:
            self.stats["local agrees"] += 1
        score = (self._score(groups[identity]) if identity in groups and groups[identity].pairs
                 else decision.score)
        forced = any(v is Verdict.SAME and o in after[mine]
                     for o, v in self._judged.get(rid, {}).items())
        return _Decision(identity, score, None if joined else decision.refused, forced,
                         retired, tuple(r for r, _ in moves), moves, tuple(events),
                         fresh=not joined)
