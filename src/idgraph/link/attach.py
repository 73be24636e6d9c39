"""Live resolution: one new current record placed into an existing identity, or a new
one, in-process and in milliseconds.

Candidate records come from a ``candidates`` callable (the search index in production,
injected because ``link`` may not import ``search``; by default a small lookup on exact
keys), are scored with the trained model (:class:`~idgraph.link.score.Scorer`) and the
record is placed as batch resolve would place it: by its evidence per candidate
identity under the cannot-link rules, hold rules and judgements, checked against batch's
own clustering of the small graph around it, which may also bridge identities or split
one (:mod:`idgraph.link.decide`, :mod:`idgraph.link.recluster`).

A :class:`LiveLinker` keeps what a stream needs in memory: every record's identity
(read once; it assumes it is the only writer of identities while it lives: build a new
one, or :meth:`LiveLinker.refresh`, after a resolve), the latest judgements, the input
rows and pair scores it has read, and the scorer. Durability: :func:`attach` and
:meth:`LiveLinker.attach` commit the record's membership, kept edges (under the latest
run's id, so the purpose-scoped view sees them) and lineage before they return;
:meth:`LiveLinker.attach_many` commits once per chunk (multi-row inserts, one
transaction) and returns after the last chunk's commit, so no placement is reported
before it is durable. The after-resolve hooks (the search index) run once per commit.
Records of one chunk find each other through a small in-memory index of their keys
(:class:`~idgraph.link.pending.PendingIndex`) besides the injected candidates.

The scorer's term frequencies are the caller's to keep current (:meth:`Scorer.add` the
rows of records that became current since it was built; ``idgraph ingest --live``
builds it after the ingest, when they already count).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from idgraph.link.config import LinkConfig
from idgraph.link.constraints import Constraints
from idgraph.link.decide import (
    RECLUSTER_MAX,
    Bridge,
    Decisions,
    Row,
    _Decision,
    _Identity,
    _via,
    _via_labels,
)
from idgraph.link.ids import ID_KEY, new_id
from idgraph.link.judge import Verdict, latest_verdicts
from idgraph.link.pending import DEFAULT_CANDIDATE_LIMIT, PendingIndex, exact_key_candidates
from idgraph.link.recluster import Pair
from idgraph.link.resolve import after_resolve
from idgraph.link.score import PairScore, Scorer, input_rows, probability
from idgraph.store import Store
from idgraph.store.graph import EdgeRow, IdentityGraph, LineageWrite

__all__ = [
    "DEFAULT_CANDIDATE_LIMIT",
    "AttachError",
    "AttachResult",
    "Bridge",
    "CandidateSource",
    "LiveLinker",
    "RowSource",
    "attach",
    "exact_key_candidates",
    "register_after_attach",
    "unregister_after_attach",
]

CandidateSource = Callable[[Row], Sequence[str]]
# input rows of record ids (the search index keeps them beside its documents; by
# default read from the store): any it does not know are read from the store
RowSource = Callable[[Sequence[str]], Iterable[Mapping[str, Any]]]
AfterAttach = Callable[[Store, "AttachResult"], None]

EDGE_FLOOR: Final = 0.5  # link_edges keeps pairs from here up (as resolve.EDGE_FLOOR)
# input rows a linker keeps in memory (~1.5 KB each)
ROW_CACHE: Final = 200_000
# pair scores a linker keeps in memory
PAIR_CACHE: Final = 500_000
# records placed per commit by :meth:`LiveLinker.attach_many` by default
CHUNK: Final = 100

_after_attach: list[AfterAttach] = []


def register_after_attach(hook: AfterAttach) -> None:
    """Call ``hook(store, result)`` after every committed attach (after the commit of
    the record's chunk)."""
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
    merged: tuple[str, ...] = ()  # identities retired by the placement (bridged, split)
    # records of other identities whose identity the placement changed (a bridge, a split)
    moved: tuple[str, ...] = ()
    local: bool = False  # decided by the local re-cluster


@dataclass
class _Writes:
    """What a chunk writes in its one transaction."""

    members: dict[str, str] = field(default_factory=dict)  # record -> identity
    edges: list[tuple[str, str, float, float, bool, str]] = field(default_factory=list)
    lineage: list[tuple[str, str, list[str]]] = field(default_factory=list)
    results: list[AttachResult] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.members or self.edges or self.lineage)


class LiveLinker(Decisions):
    """Attaches records with one scorer, run and configuration, and the identities in
    memory (build once per stream: :meth:`from_store` reads the model, counts term
    frequencies and reads every record's identity and the judgements)."""

    def __init__(self, store: Store, scorer: Scorer, run_id: str, threshold: float,
                 config: LinkConfig | None = None, *, bridge: Bridge = "none",
                 cache_size: int = ROW_CACHE, recluster: bool = True,
                 recluster_max: int = RECLUSTER_MAX, rows: RowSource | None = None) -> None:
        self.store = store
        self.graph = IdentityGraph(store)
        self.scorer = scorer
        self.run_id = run_id
        self.config = config or LinkConfig()
        self.threshold = (threshold if self.config.match_threshold is None
                          else self.config.match_threshold)
        self.rules = Constraints(ssn_typo_tolerance=self.config.ssn_typo_tolerance)
        self._off = self.config.off()
        self.bridge = bridge  # which pairs let a record bridge identities (see _joined)
        self.recluster = recluster
        self.recluster_max = recluster_max
        self.cache_size = cache_size
        self.rows = rows  # where input rows come from before the store
        self._id_key = store.secret(ID_KEY)  # new identity ids are keyed as batch keys them
        self.stats: Counter[str] = Counter()  # how decisions were made
        self._rows: dict[str, Row] = {}  # input rows read so far
        self._pairs: dict[tuple[str, str], Pair] = {}  # pair scores (ids in order)
        self._paired: set[str] = set()  # records with a pair score kept
        self._names = scorer.comparison_names()
        self._of: dict[str, str] = {}  # record -> identity
        self._members_of: dict[str, set[str]] = {}  # identity -> records
        self._judged: dict[str, dict[str, Verdict]] = {}  # record -> other -> verdict
        # the graph generation the memory holds (None: unknown, read again before use)
        self.generation: int | None = None
        # set: called with the records a commit placed instead of the after-resolve hooks
        # (the search index), which the caller then runs itself, later (once per push)
        self.defer_index: Callable[[list[str]], None] | None = None
        self._writes = _Writes()
        self._pending = PendingIndex()
        self.refresh()

    @classmethod
    def from_store(cls, store: Store, config: LinkConfig | None = None,
                   scorer: Scorer | None = None, *, rows: RowSource | None = None,
                   **options: Any) -> LiveLinker:
        """The latest link run's id and threshold, and a scorer of the latest model
        (``options``: the constructor's keywords)."""
        run = IdentityGraph(store).latest_run()
        if run is None:
            raise AttachError("no link run yet: run `idgraph link` first")
        return cls(store, scorer or Scorer.from_store(store), run.run_id, run.threshold,
                   config, rows=rows, **options)

    def refresh(self) -> None:
        """Read the identities and judgements again (after a resolve, a judgement, or
        another writer)."""
        self.flush()
        # read first: a change committed while the memory is read makes it stale at once
        self.generation = self.graph.generation()
        self._of = self.graph.memberships()
        self._members_of = {}
        for rid, ident in self._of.items():
            self._members_of.setdefault(ident, set()).add(rid)
        self._judged = {}
        for a, b, verdict in latest_verdicts(self.store):
            self._judged.setdefault(a, {})[b] = verdict
            self._judged.setdefault(b, {})[a] = verdict

    # -- the public calls -------------------------------------------------------------
    def attach(self, record: str | Mapping[str, Any],
               candidates: CandidateSource | None = None) -> AttachResult:
        """Place one current record (its id, or its input row from
        :func:`~idgraph.link.score.input_rows`) and commit it; see the module doc."""
        result = self._place(self._row(record), candidates)
        self.flush()
        return result

    def attach_many(self, records: Iterable[str | Mapping[str, Any]],
                    candidates: CandidateSource | None = None,
                    chunk: int = CHUNK) -> list[AttachResult]:
        """Place records in order, ``chunk`` per commit; returns after the last commit
        (every result returned is durable). Records of one chunk find each other."""
        results: list[AttachResult] = []
        batch: list[str | Mapping[str, Any]] = []
        for record in records:
            batch.append(record)
            if len(batch) >= chunk:
                results += self._chunk(batch, candidates)
                batch = []
        if batch:
            results += self._chunk(batch, candidates)
        return results

    def _chunk(self, records: list[str | Mapping[str, Any]],
               candidates: CandidateSource | None) -> list[AttachResult]:
        self._input_rows([r for r in records if isinstance(r, str)])  # one read
        try:
            rows = [self._row(r) for r in records]
            # the injected candidates do not depend on the chunk's own placements (those
            # are found through the pending index): ask for them all first, and read
            # their rows in one go
            found: dict[str, Sequence[str]] = {}
            if candidates is not None:
                found = {str(row["record_id"]): candidates(row) for row in rows}
                self._input_rows(sorted({c for f in found.values() for c in f
                                         if c in self._of}))
            out = [self._place(row, candidates, found.get(str(row["record_id"])))
                   for row in rows]
        except BaseException:
            self._abandon()
            raise
        self.flush()
        return out

    def flush(self) -> None:
        """Commit the placements made so far (one transaction), then run the hooks."""
        writes = self._writes
        if not writes:
            return
        self._writes, store = _Writes(), self.store
        at = datetime.now(UTC).replace(tzinfo=None)
        records = list(writes.members)
        try:
            bumped = self.graph.write_placements(
                self.run_id, at, [(writes.members[r], r) for r in records],
                [EdgeRow(*e) for e in writes.edges],
                [LineageWrite(*e) for e in writes.lineage])
        except BaseException:
            self.refresh_memory()
            raise
        self._pending.clear()
        # this linker's own change; any other writer's in between makes the memory stale
        known = self.generation
        self.generation = bumped if known is not None and bumped == known + 1 else None
        # the search index re-reads the identity of these records
        if self.defer_index is not None:
            self.defer_index(records)
        else:
            after_resolve(store, records)
        for result in writes.results:
            for hook in list(_after_attach):
                hook(store, result)

    def _abandon(self) -> None:
        """Forget placements not committed (the memory is read again)."""
        self._writes = _Writes()
        self._pending.clear()
        self.refresh_memory()

    def stale(self) -> bool:
        """Whether another writer changed the identities or judgements since the memory
        was read (the store's graph generation moved): :meth:`refresh` then."""
        return self.generation is None or self.graph.generation() != self.generation

    def forget(self, record_ids: Iterable[str]) -> None:
        """Drop the input rows (and pair scores) of records whose values changed (a new
        version became current): they are read again when next needed."""
        ids = set(record_ids)
        for rid in ids & self._rows.keys():
            del self._rows[rid]
        drop = ids & self._paired
        if drop:
            self._pairs = {k: p for k, p in self._pairs.items()
                           if k[0] not in drop and k[1] not in drop}
            self._paired -= drop

    def refresh_memory(self) -> None:
        """The identities and judgements as the store has them (no flush)."""
        self._writes = _Writes()
        self.refresh()

    # -- reading ----------------------------------------------------------------------
    def _row(self, record: str | Mapping[str, Any]) -> Row:
        if not isinstance(record, str):
            row = dict(record)
            self._rows[str(row["record_id"])] = row
            return row
        rows = self._input_rows([record])
        if not rows:
            raise AttachError(f"not a current record: {record}")
        return rows[0]

    def input_rows(self, record_ids: list[str]) -> list[Row]:
        """The input rows of current records (kept once read; see :meth:`forget`)."""
        return self._input_rows(record_ids)

    def _input_rows(self, record_ids: list[str]) -> list[Row]:
        """Input rows of current records, read once per linker (a record's values
        change only when an ingest makes a new version current: :meth:`forget` it
        then, or build a new linker)."""
        missing = [r for r in record_ids if r not in self._rows]
        if missing:
            if len(self._rows) + len(missing) > self.cache_size:
                self._rows.clear()
            if self.rows is not None:
                for found in self.rows(missing):
                    self._rows[str(found["record_id"])] = dict(found)
                missing = [r for r in missing if r not in self._rows]
            for row in input_rows(self.store, missing) if missing else ():
                self._rows[row["record_id"]] = row
        return [self._rows[r] for r in record_ids if r in self._rows]

    def _members(self, identities: Iterable[str], rid: str) -> dict[str, list[Row]]:
        """The current member rows of the identities (but the record itself)."""
        of = {r: i for i in identities for r in self._members_of.get(i, ()) if r != rid}
        out: dict[str, list[Row]] = {}
        for row in self._input_rows(sorted(of)):
            out.setdefault(of[row["record_id"]], []).append(row)
        return out

    def _pair(self, a: Row, b: Row) -> Pair:
        ia, ib = str(a["record_id"]), str(b["record_id"])
        key = (ia, ib) if ia < ib else (ib, ia)
        pair = self._pairs.get(key)
        if pair is None:
            weight, labels = self.scorer.weight_labels(a, b)
            pair = Pair(key[0], key[1], probability(weight), weight,
                        _via_labels(self._names, labels))
            if len(self._pairs) >= PAIR_CACHE:
                self._pairs.clear()
                self._paired.clear()
            self._pairs[key] = pair
            self._paired.update(key)
        return pair

    # -- placing ----------------------------------------------------------------------
    def _place(self, row: Row, candidates: CandidateSource | None,
               known: Sequence[str] | None = None) -> AttachResult:
        rid = str(row["record_id"])
        found = known if known is not None else (
            candidates or (lambda r: exact_key_candidates(self.store, r)))(row)
        # a record placed again (a new version) meets its identity's other members
        # whatever the candidates' ranking: the index ranks one record per identity
        # first, and for its own identity that is the record itself
        mates = self._members_of.get(self._of.get(rid, ""), ())
        found = list(dict.fromkeys([*found, *self._pending.find(row), *sorted(mates)]))
        self._pending.add(row)
        self._leave(rid)
        identity_of = {c: self._of[c] for c in found if c != rid and c in self._of}
        # the candidates' own rows first: only the identities a candidate scores into
        # (a group) take part in the decision, so only their other members are read
        by_id = {r["record_id"]: r for r in self._input_rows(list(identity_of))}
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
        members = self._members(sorted(groups), rid)
        verdicts = sorted(self._judged.get(rid, {}).items())
        decision = self._decide(row, groups, members, verdicts)
        if self.recluster and groups:
            local = self._recluster(row, groups, members, decision)
            if local is not None:
                decision = local
        return self._apply(row, scored, decision)

    def _leave(self, rid: str) -> None:
        """Take the record out of its identity in memory (it is placed again)."""
        old = self._of.pop(rid, None)
        if old is not None:
            left = self._members_of[old]
            left.discard(rid)
            if not left:
                del self._members_of[old]

    def _apply(self, row: Row, scored: list[tuple[Row, PairScore]],
               decision: _Decision) -> AttachResult:
        """Place the record in memory and queue its writes."""
        rid = str(row["record_id"])
        if decision.moves is not None:  # a local re-cluster's placement
            assert decision.identity is not None
            identity = decision.identity
            moves = dict(decision.moves)
            events = [(i, e, list(r)) for i, e, r in decision.events]
            event = "new" if decision.fresh else "attach"
        else:
            identity = decision.identity or self._new_identity(rid)
            event = "attach" if decision.identity else "new"
            moves = dict.fromkeys(decision.moved, identity)
            events = [(identity, event, [rid] if decision.identity else [])]
            events += [(old, "retired", [identity]) for old in decision.retired]
            if decision.retired:
                events.append((identity, "merged", list(decision.retired)))
        for r, ident in [(rid, identity), *moves.items()]:
            self._leave(r)
            self._of[r] = ident
            self._members_of.setdefault(ident, set()).add(r)
            self._writes.members[r] = ident
        kept = [(o, s) for o, s in scored if s.probability >= EDGE_FLOOR]
        inside = [s.weight for o, s in kept
                  if self._of.get(o["record_id"]) == identity
                  and s.probability >= self.threshold]
        # joined on combined evidence alone: its best pair into the identity is accepted,
        # so the purpose-scoped view (components of accepted edges) reaches the record
        best_inside = max((s.weight for o, s in kept
                           if self._of.get(o["record_id"]) == identity), default=None)
        for other, s in kept:
            accepted = self._of.get(other["record_id"]) == identity and (
                s.probability >= self.threshold or (not inside and s.weight == best_inside))
            a, b = sorted((rid, str(other["record_id"])))
            self._writes.edges.append((a, b, s.probability, s.weight, accepted,
                                       self._evidence(s)))
        self._writes.lineage.extend(events)
        score = decision.score
        result = AttachResult(
            rid, identity, event, score, None if score is None else probability(score),
            len(scored), decision.refused, self.run_id, len(kept), decision.forced,
            decision.retired, tuple(moves), decision.moves is not None)
        self._writes.results.append(result)
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
            ident = new_id(rid, taken, self._id_key)
            if ident not in self._members_of:
                return ident
            taken.add(ident)


def attach(store: Store, record: str | Mapping[str, Any], *,
           candidates: CandidateSource | None = None, config: LinkConfig | None = None,
           linker: LiveLinker | None = None) -> AttachResult:
    """Place one current record into an existing identity, or a new one, and commit it
    (see the module doc). Without ``linker`` one is built for this call (it reads the
    model, counts term frequencies and reads the identities: pass one when attaching
    many, or use :meth:`LiveLinker.attach_many`)."""
    live = linker or LiveLinker.from_store(store, config)
    return live.attach(record, candidates)
