"""Live resolution: one new current record placed into an existing identity, or a new
one, in-process and in milliseconds.

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

Like batch's greedy pass, a record that also reaches other candidate identities through
a pair at or above the threshold bridges them into its own where no rule forbids: any
identity through a pair agreeing on an identifier or contact, a small one (at most
``LinkConfig.max_fragment`` records: often one the record's own earlier arrivals made)
through any such pair (see :data:`Bridge`). The identity with the most records keeps
its id; the others are ``retired``, the keeper ``merged``, as batch records it.

A bare record (no birth date, no suffix) under the name and address of two generations
among its candidates is held as batch's ``homonym`` and ``kin`` rules hold it: only a
pair agreeing on an identifier or contact joins it. The twins and contacts hold rules
are not run live, and live attach never splits an identity (batch may re-cluster one
around a new record); a later batch resolve settles what live attach could not see.

The record's membership, its kept edges (under the latest run's id, so the
purpose-scoped view sees them) and lineage events (``attach``, or ``new`` for a new
identity, the event batch gives a new cluster) are written in one transaction.

The scorer's term frequencies are the caller's to keep current (:meth:`Scorer.add` the
rows of records that became current since it was built; ``idgraph ingest --live``
builds it after the ingest, when they already count).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from idgraph.link.cluster import Candidate, ClusterState, _two_people, attach_best, state_of
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
from idgraph.link.ids import new_id
from idgraph.link.judge import Verdict
from idgraph.link.resolve import _sound, after_resolve
from idgraph.link.score import PairScore, Scorer, input_rows, match_weight, probability
from idgraph.link.tables import ensure_tables
from idgraph.store import Store

Row = dict[str, Any]
CandidateSource = Callable[[Row], Sequence[str]]
# pairs through which a record bridges other identities into its own: pairs at or above
# the threshold that agree on an identifier or contact, and for identities of at most
# ``LinkConfig.max_fragment`` records any such pair ("strong": batch's greedy pass, kept
# from merging whole identities, which over-merged 46 of 9,190 late records at 20k
# people); only the agreeing ones ("evidence"); or none
Bridge = Literal["strong", "evidence", "none"]
AfterAttach = Callable[[Store, "AttachResult"], None]

EDGE_FLOOR: Final = 0.5  # link_edges keeps pairs from here up (as resolve.EDGE_FLOOR)
# input rows a linker keeps in memory (~1.5 KB each)
ROW_CACHE: Final = 200_000
# most candidate records the default lookup returns
DEFAULT_CANDIDATE_LIMIT: Final = 500

_after_attach: list[AfterAttach] = []


def register_after_attach(hook: AfterAttach) -> None:
    """Call ``hook(store, result)`` after every committed attach (the search index
    refreshes the record's identity through it)."""
    if hook not in _after_attach:
        _after_attach.append(hook)


def unregister_after_attach(hook: AfterAttach) -> None:
    if hook in _after_attach:
        _after_attach.remove(hook)


class AttachError(RuntimeError):
    """The record cannot be attached (not a current record, or no link run yet)."""


@dataclass(frozen=True)
class AttachResult:
    record_id: str
    identity_id: str
    event: str  # "attach" (joined an identity) or "new" (an identity of its own)
    score: float | None  # bits: evidence for the identity joined (or the best refused)
    probability: float | None  # match probability of that score
    candidates: int  # candidate records scored
    refused: str | None  # rule id that kept it from its best identity, if one did
    run_id: str
    edges: int  # link_edges rows written
    forced: bool = False  # joined by a ``same`` judgement
    merged: tuple[str, ...] = ()  # identities the record bridged into its own (retired)


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


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def exact_key_candidates(store: Store, row: Mapping[str, Any],
                         limit: int = DEFAULT_CANDIDATE_LIMIT) -> list[str]:
    """Current records sharing an exact key with ``row``: SSN, licence, phone, given
    name with surname and birth year, or house, street and ZIP. (A scan of the
    records: for tests and small stores; the search index serves large ones.)"""
    dl_state, _, dl_number = (row.get("dl_key") or "").partition(":")
    rows = store.fetchall(
        """SELECT record_id FROM records WHERE is_current AND record_id <> ? AND (
               ssn = ? OR phone = ?
               OR (dl_number = ? AND coalesce(dl_state, '') = ?)
               OR (first_name_canon = ? AND last_name = ?
                   AND coalesce(birth_year, year(dob)) = ?)
               OR (house_number = ? AND street = ? AND zip = ?))
           ORDER BY record_id LIMIT ?""",
        [row["record_id"], row.get("ssn"), row.get("phone"), dl_number or None, dl_state,
         row.get("first_name_canon"), row.get("last_name"), row.get("birth_year"),
         row.get("house_number"), row.get("street"), row.get("zip"), limit])
    return [str(r[0]) for r in rows]


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
    return _sound(str(first)), str(last)[:2]


def _facts(row: Mapping[str, Any], rules: Constraints, off: frozenset[RuleId]) -> Facts:
    return record_facts(row["ssn"], row["dl_key"], row["suffix"],
                        (row["dob_day"], row["dob_month"], row["birth_year"]), rules,
                        (row["first_name"], row["first_name_canon"],
                         row["first_name_phonetic"], row["middle_name"]), off)


class LiveLinker:
    """Attaches records one at a time with one scorer, run and configuration (build
    once per stream: :meth:`from_store` reads the model and counts term frequencies)."""

    def __init__(self, store: Store, scorer: Scorer, run_id: str, threshold: float,
                 config: LinkConfig | None = None, *, bridge: Bridge = "strong",
                 cache_size: int = ROW_CACHE) -> None:
        self.store = store
        self.scorer = scorer
        self.run_id = run_id
        self.config = config or LinkConfig()
        self.threshold = (threshold if self.config.match_threshold is None
                          else self.config.match_threshold)
        self.rules = Constraints(ssn_typo_tolerance=self.config.ssn_typo_tolerance)
        self._off = self.config.off()
        self.bridge = bridge  # which pairs let a record bridge identities (see _joined)
        self.cache_size = cache_size
        self._rows: dict[str, Row] = {}  # input rows read so far

    @classmethod
    def from_store(cls, store: Store, config: LinkConfig | None = None,
                   scorer: Scorer | None = None) -> LiveLinker:
        """The latest link run's id and threshold, and a scorer of the latest model."""
        ensure_tables(store)
        rows = store.fetchall(
            "SELECT run_id, threshold FROM link_runs ORDER BY started_at DESC LIMIT 1")
        if not rows:
            raise AttachError("no link run yet: run `idgraph link` first")
        return cls(store, scorer or Scorer.from_store(store), str(rows[0][0]),
                   float(rows[0][1]), config)

    def attach(self, record: str | Mapping[str, Any],
               candidates: CandidateSource | None = None) -> AttachResult:
        """Place one current record (its id, or its input row from
        :func:`~idgraph.link.score.input_rows`); see the module doc."""
        row = self._row(record)
        rid = str(row["record_id"])
        self._rows[rid] = row
        found = (candidates or (lambda r: exact_key_candidates(self.store, r)))(row)
        identity_of, verdicts = self._lookup(rid, [rid, *dict.fromkeys(found)])
        was_member = identity_of.pop(rid, None) is not None
        members = self._members(sorted(set(identity_of.values())), rid)
        by_id = {r["record_id"]: r for rows in members.values() for r in rows}
        others = [by_id[c] for c in identity_of if c in by_id]
        scored = [(r, self.scorer.score(row, r)) for r in others]
        floor = min(self.config.predict_floor, EDGE_FLOOR, self.threshold)
        groups: dict[str, _Identity] = {}
        for other, score in scored:
            if score.probability >= floor:
                group = groups.setdefault(identity_of[other["record_id"]],
                                          _Identity(len(groups) + 1))
                group.pairs.append((str(other["record_id"]), score))
                group.via |= _via(score)
        decision = self._decide(row, groups, members, verdicts)
        return self._write(row, scored, identity_of, decision, was_member)

    def _row(self, record: str | Mapping[str, Any]) -> Row:
        if not isinstance(record, str):
            return dict(record)
        rows = self._input_rows([record])
        if not rows:
            raise AttachError(f"not a current record: {record}")
        return rows[0]

    def _input_rows(self, record_ids: list[str]) -> list[Row]:
        """Input rows of current records, read once per linker (a record's values
        change only when an ingest makes a new version current: build a new linker
        after an ingest)."""
        missing = [r for r in record_ids if r not in self._rows]
        if missing:
            if len(self._rows) + len(missing) > self.cache_size:
                self._rows.clear()
            for row in input_rows(self.store, missing):
                self._rows[row["record_id"]] = row
        return [self._rows[r] for r in record_ids if r in self._rows]

    def _identities(self, record_ids: list[str]) -> dict[str, str]:
        """record id -> identity id, for the records that have one."""
        if not record_ids:
            return {}
        rows = self.store.fetchall(
            "SELECT record_id, identity_id FROM identity_members "
            f"WHERE record_id IN ({_marks(len(record_ids))})", record_ids)
        return {str(r): str(i) for r, i in rows}

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

    def _members(self, identities: list[str], rid: str) -> dict[str, list[Row]]:
        """The current member rows of the identities (but the record itself), per
        identity (two point lookups: a join would scan the records)."""
        out: dict[str, list[Row]] = {}
        if not identities:
            return out
        of = {str(r): str(i) for r, i in self.store.fetchall(
            "SELECT record_id, identity_id FROM identity_members "
            f"WHERE identity_id IN ({_marks(len(identities))})", identities)}
        of.pop(rid, None)
        for row in self._input_rows(list(of)):
            out.setdefault(of[row["record_id"]], []).append(row)
        return out

    def _facts_of(self, rows: list[Row]) -> Facts:
        """The facts of one identity's member rows."""
        facts = _facts(rows[0], self.rules, self._off)
        for row in rows[1:]:
            facts.absorb(_facts(row, self.rules, self._off))
        return facts

    def _lookup(self, rid: str, record_ids: list[str]
                ) -> tuple[dict[str, str], list[tuple[str, Verdict]]]:
        """Identities of ``record_ids`` (record id -> identity id, for those that have
        one) and the latest verdict of every judged pair with ``rid`` (other record,
        verdict): one round trip."""
        rows = self.store.fetchall(
            f"""SELECT 'm', record_id, identity_id FROM identity_members
                WHERE record_id IN ({_marks(len(record_ids))})
                UNION ALL
                SELECT 'j', CASE WHEN record_id_l = ? THEN record_id_r ELSE record_id_l END,
                       arg_max(verdict, ("at", judgement_id))
                FROM judgements WHERE record_id_l = ? OR record_id_r = ? GROUP BY 2""",
            [*record_ids, rid, rid, rid])
        identities = {str(r): str(i) for kind, r, i in rows if kind == "m"}
        return identities, [(str(o), Verdict(v)) for kind, o, v in rows if kind == "j"]

    def _decide(self, row: Row, groups: dict[str, _Identity], members: dict[str, list[Row]],
                verdicts: list[tuple[str, Verdict]]) -> _Decision:
        rid = str(row["record_id"])
        judged = self._identities([o for o, _ in verdicts]) if verdicts else {}
        for other, _ in verdicts:  # judged identities take part even without a candidate
            if other in judged and judged[other] not in groups:
                groups[judged[other]] = _Identity(len(groups) + 1)
        if not groups:
            return _Decision(None, None, None)
        names = list(groups)
        missing = [n for n in names if n not in members]
        if missing:
            members = {**members, **self._members(missing, rid)}
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
            if len(idents) < 2 or not _two_people(
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

    def _write(self, row: Row, scored: list[tuple[Row, PairScore]],
               identity_of: dict[str, str], decision: _Decision,
               was_member: bool) -> AttachResult:
        store, rid = self.store, str(row["record_id"])
        identity = decision.identity or self._new_identity(rid)
        event = "attach" if decision.identity else "new"
        if decision.retired:
            identity_of = {r: identity if i in decision.retired else i
                           for r, i in identity_of.items()}
        kept = [(o, s) for o, s in scored if s.probability >= EDGE_FLOOR]
        inside = [s.weight for o, s in kept
                  if identity_of.get(o["record_id"]) == identity
                  and s.probability >= self.threshold]
        # joined on combined evidence alone: its best pair into the identity is accepted,
        # so the purpose-scoped view (components of accepted edges) reaches the record
        best_inside = max((s.weight for o, s in kept
                           if identity_of.get(o["record_id"]) == identity), default=None)
        edges = []
        for other, s in kept:
            accepted = identity_of.get(other["record_id"]) == identity and (
                s.probability >= self.threshold or (not inside and s.weight == best_inside))
            a, b = sorted((rid, str(other["record_id"])))
            edges.append([self.run_id, a, b, s.probability, s.weight, accepted,
                          self._evidence(s)])
        at = datetime.now(UTC).replace(tzinfo=None)
        with store.transaction():
            if was_member:
                store.execute("DELETE FROM identity_members WHERE record_id = ?", [rid])
            store.execute("INSERT INTO identity_members VALUES (?, ?)", [identity, rid])
            if edges:
                store.execute(
                    "INSERT INTO link_edges VALUES "
                    + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(edges)),
                    [v for e in edges for v in e])
            lineage = [[identity, event, [rid] if decision.identity else []]]
            for old in decision.retired:
                store.execute("UPDATE identity_members SET identity_id = ? "
                              "WHERE identity_id = ?", [identity, old])
                lineage.append([old, "retired", [identity]])
            if decision.retired:
                lineage.append([identity, "merged", list(decision.retired)])
            store.execute("INSERT INTO identity_lineage VALUES "
                          + ", ".join(["(?, ?, ?, ?, ?)"] * len(lineage)),
                          [v for ev in lineage for v in (self.run_id, *ev, at)])
        score = decision.score
        result = AttachResult(
            rid, identity, event, score, None if score is None else probability(score),
            len(scored), decision.refused, self.run_id, len(edges), decision.forced,
            decision.retired)
        # the search index re-reads the identity of these records
        after_resolve(store, [rid, *decision.moved])
        for hook in list(_after_attach):
            hook(store, result)
        return result

    def _evidence(self, score: PairScore) -> str:
        """As resolve stores it (``link.evidence.evidence_sql``): gamma and weight per
        comparison, in model order."""
        return json.dumps({
            "gamma": [self.scorer.gamma_of(h) for h in score.levels],
            "weight": [round(h.weight + h.tf_adjustment, 3) for h in score.levels]})

    def _new_identity(self, rid: str) -> str:
        """A fresh id from the record's id (as batch names a new cluster), never one
        in use."""
        taken: set[str] = set()
        while True:
            ident = new_id(rid, taken)
            if not self.store.fetchall(
                    "SELECT 1 FROM identity_members WHERE identity_id = ? LIMIT 1", [ident]):
                return ident
            taken.add(ident)


@dataclass(frozen=True)
class _Decision:
    identity: str | None  # None: an identity of its own
    score: float | None
    refused: str | None
    forced: bool = False
    retired: tuple[str, ...] = ()  # identities bridged into ``identity`` (their ids retire)
    moved: tuple[str, ...] = ()  # their records (now members of ``identity``)


def attach(store: Store, record: str | Mapping[str, Any], *,
           candidates: CandidateSource | None = None, config: LinkConfig | None = None,
           linker: LiveLinker | None = None) -> AttachResult:
    """Place one current record into an existing identity, or a new one (see the
    module doc). Without ``linker`` one is built for this call (it reads the model and
    counts term frequencies: pass one when attaching many)."""
    live = linker or LiveLinker.from_store(store, config)
    return live.attach(record, candidates)
