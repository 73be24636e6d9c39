"""Bulk matching in worker processes (``search.match``'s rows, a chunk at a time).

One row costs ~0.6 ms of CPU (index lookup, stored rows, scoring): one process
cannot match 2,000 rows/s. The CPU-bound parts run in a process pool
(:func:`idgraph.sources.parallel.worker_pool`: forkserver workers that die with the
process that started them), the store stays with the main process:

1. **lookup** (worker): each row's candidate identities from the index
   (:meth:`SearchIndex.candidates`, permitted segments only);
2. **edges** (main process): the accepted edges of the latest run among the members
   of the chunk's candidate identities, one read of the store (DuckDB is one
   writer's: no worker opens it);
3. **score** (worker): each identity's members in permitted segments from the index
   (:meth:`SearchIndex.rows`), split by those edges into fragments as
   ``scope.fragments`` splits them, scored as ``match._match_chunk`` scores them.

Workers open the index read-only and rebuild the scorer from what the main process
wrote once to a private temporary file (the trained model's dict, its per-segment
term counts, the permitted segments, the decision): the same scorer, the same
decision, so the results are the in-process ones (``tests/search/test_match.py``
compares them). The gate decision is the one made before, and the audit is the main
process's one act after the last row. Chunks are pipelined (lookups of later chunks run
while the edges of earlier ones are read) and come back in input order.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from idgraph.link.score import Scorer
from idgraph.policy.engine import AccessDecision
from idgraph.search.criteria import QueryRecord
from idgraph.search.index import SearchIndex, field_scope
from idgraph.search.scope import split_fragments
from idgraph.search.scoring import Hit, at_each_precision, prepare_fragments, score_identities
from idgraph.store import Store
from idgraph.store.graph import graph

CANDIDATES: Final[int] = 5  # records asked of the index per row (at most as many identities)
TASK_ROWS: Final[int] = 1_000  # rows per worker task


@dataclass(frozen=True, slots=True)
class PoolContext:
    """What a worker task is given besides its rows (small: pickled with every task)."""

    index_path: str
    state_path: str  # the pickled _State (written once by the main process)


@dataclass(frozen=True, slots=True)
class _State:
    model: dict[str, Any]
    model_id: str
    segment_counts: dict[str, Any]
    segments: tuple[str, ...]
    decision: AccessDecision


@dataclass(slots=True)
class _Worker:
    index: SearchIndex
    scorer: Scorer
    decision: AccessDecision


_WORKERS: dict[PoolContext, _Worker] = {}  # per worker process: its index and scorer


def _worker(ctx: PoolContext) -> _Worker:
    got = _WORKERS.get(ctx)
    if got is None:
        with open(ctx.state_path, "rb") as fh:
            state: _State = pickle.load(fh)  # our own file, mode 600
        scorer = Scorer.from_model(state.model, state.segment_counts, state.model_id)
        _WORKERS.clear()
        got = _WORKERS[ctx] = _Worker(SearchIndex.at(Path(ctx.index_path)),
                                      scorer.for_segments(state.segments), state.decision)
    return got


@contextmanager
def pool_context(index: SearchIndex, scorer: Scorer, decision: AccessDecision
                 ) -> Iterator[PoolContext]:
    """The workers' context for one list: the scorer's model and term counts and the
    decision in a private file removed afterwards."""
    state = _State(scorer.model, scorer.model_id,
                   scorer.segment_counts,
                   tuple(sorted(decision.permitted)), decision)
    with tempfile.TemporaryDirectory(prefix="idg-match-pool-") as tmp:
        path = Path(tmp) / "state.pickle"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)
        yield PoolContext(str(index.path), str(path))


def lookup(ctx: PoolContext, readings: Sequence[QueryRecord | None]) -> list[list[str]]:
    """Worker: each row's candidate identity ids, best first ([] for no reading)."""
    w = _worker(ctx)
    segments = w.decision.permitted
    scope = field_scope(segments, w.decision.fields_for)
    out: list[list[str]] = []
    for r in readings:
        found = [] if r is None else w.index.candidates(r, segments, CANDIDATES,
                                                         field_segments=scope)
        out.append(list(dict.fromkeys(c.identity_id for c in found if c.identity_id)))
    return out


def score(
    ctx: PoolContext,
    readings: Sequence[QueryRecord | None],
    wanted: Sequence[Sequence[str]],
    edges: Sequence[tuple[str, str]],
) -> list[Hit | None]:
    """Worker: each row's best hit (None for no reading or no hit), scored on the
    fragments ``edges`` split its candidates' permitted members into."""
    w = _worker(ctx)
    segments = w.decision.permitted
    ids = sorted({i for ws in wanted for i in ws})
    members = w.index.rows(ids, set(segments)) if ids else {}
    for recs in members.values():
        recs.sort(key=lambda r: str(r["record_id"]))
    views = prepare_fragments(w.decision, split(members, edges))
    out: list[Hit | None] = []
    for r, cands in zip(readings, wanted, strict=True):
        if r is None:
            out.append(None)
            continue
        hits = score_identities(w.scorer, w.decision, at_each_precision([r]), cands, views,
                                top=1)
        out.append(hits[0] if hits else None)
    return out


def split(
    by_identity: Mapping[str, list[dict[str, Any]]], edges: Iterable[tuple[str, str]]
) -> dict[str, list[list[dict[str, Any]]]]:
    """``scope.fragments`` with the edges given (:func:`scope.split_fragments`)."""
    return split_fragments(by_identity, edges)


def identity_edges(store: Store, identity_ids: Sequence[str]) -> list[tuple[str, str]]:
    """Main process: the accepted edges of the latest run leaving a member of
    ``identity_ids`` (a superset of those among each identity's members: :func:`split`
    keeps those between two permitted members of one identity; one join)."""
    return graph(store).accepted_edges_of_identities(identity_ids)


def match_in_pool(
    pool: Executor,
    ctx: PoolContext,
    chunks: Iterable[Sequence[QueryRecord | None]],
    edges_of: Callable[[Sequence[str]], list[tuple[str, str]]],
    in_flight: int = 3,
) -> Iterator[list[Hit | None]]:
    """Each chunk's best hits, in input order: lookups in the pool, the edges read here
    (``edges_of``) as each lookup comes back in order, then scoring in the pool; at
    most ``in_flight`` chunks waiting at each stage."""
    looking: deque[tuple[Sequence[QueryRecord | None], Future[list[list[str]]]]] = deque()
    scoring: deque[Future[list[Hit | None]]] = deque()

    def to_scoring() -> None:
        readings, fut = looking.popleft()
        wanted = fut.result()
        ids = sorted({i for ws in wanted for i in ws})
        scoring.append(pool.submit(score, ctx, readings, wanted, edges_of(ids)))

    try:
        for chunk in chunks:
            looking.append((chunk, pool.submit(lookup, ctx, chunk)))
            if len(looking) >= in_flight:
                to_scoring()
            while len(scoring) >= in_flight:
                yield scoring.popleft().result()
        while looking:
            to_scoring()
            while len(scoring) >= in_flight:
                yield scoring.popleft().result()
        while scoring:
            yield scoring.popleft().result()
    finally:
        for _, f in looking:
            f.cancel()
        for g in scoring:
            g.cancel()
