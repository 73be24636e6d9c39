"""Place newly ingested records into identities at once (``ingest --live``).

Candidates come from the search index beside the store, over every segment (placing a
record is no purpose-scoped read: no record leaves the system), with the input rows the
index keeps; without an index, the exact-key lookup and rows from the store.

One live linker per store object is kept for the process's life (:func:`placer`) and
built again only when the store's graph generation moved (another writer changed the
identities or judgements: :func:`idgraph.link.tables.generation`) or a new link run
came: a feed pays per record, not per store (docs/feeds.md, "Throughput").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from idgraph.link import LiveLinker
from idgraph.link.attach import CandidateSource, RowSource
from idgraph.link.resolve import after_resolve
from idgraph.schema import segment_key
from idgraph.search.index import SearchIndex
from idgraph.sources.ingest import IngestSummary
from idgraph.store import Store, records
from idgraph.store.graph import graph

# records placed per commit (a commit costs more than a placement; an interruption
# loses at most this many placements, which the next resolve makes)
LIVE_COMMIT_EVERY = 100
# candidate records a placement scores at most (the index ranks the best record of each
# identity first)
LIVE_CANDIDATES = 25
PLACING = "placing new records"


class _Placer:
    """What placing records into a store needs, kept for the process's life (per store
    object): the index, the segments records are in, and one live linker, refreshed
    by its own placements and read again when another writer changed the identities
    (the store's graph generation moved: a resolve, a judgement, retention, another
    process's live attach) or when a link run or model came since."""

    def __init__(self, store: Store) -> None:
        self.lock = threading.Lock()
        self.index = SearchIndex.of_store(store)
        self.segments: list[str] = []
        self.linker: LiveLinker | None = None
        self.limit = LIVE_CANDIDATES
        self.unindexed: list[str] = []  # placed, the index not told yet (index_later)
        self.rows: RowSource | None = None if self.index is None else self.index.stored_rows

    def found(self, row: dict[str, Any]) -> list[str]:
        assert self.index is not None
        return [c.record_id for c in self.index.candidates(row, self.segments, self.limit)]

    def candidates(self) -> CandidateSource | None:
        return None if self.index is None else self.found

    def add_segments(self, segments: Iterable[str]) -> None:
        new = set(segments) - set(self.segments)
        if new:
            self.segments = sorted({*self.segments, *new})

    def linker_for(self, store: Store, ids: Sequence[str]) -> LiveLinker:
        """The linker, current: built anew when there is none or its memory is stale;
        else told that ``ids`` (just ingested) are current with their new values."""
        if self.index is None:  # made since
            self.index = SearchIndex.of_store(store)
            self.rows = None if self.index is None else self.index.stored_rows
            self.linker = None
        linker = self.linker
        if linker is not None and not linker.stale() and _same_run(store, linker):
            linker.forget(ids)  # a new version's values replace the old ones
            rows = linker.input_rows(list(ids))
            linker.scorer.add(rows)  # as a new build would count them
            if all(r.get("segment") for r in rows):  # the index's rows carry it
                self.add_segments(str(r["segment"]) for r in rows)
            else:
                self.add_segments(segment_key(s, o)
                                  for s, o in records.record_segments(store, ids))
            return linker
        self.linker = None
        self.segments = sorted(segment_key(s, o) for s, o in records.record_segments(store))
        linker = LiveLinker.from_store(store, rows=self.rows)  # counts them already
        self.linker = linker
        return linker


def _same_run(store: Store, linker: LiveLinker) -> bool:
    run = graph(store).latest_run()
    return run is not None and run.run_id == linker.run_id


_PLACER_ATTR = "_idgraph_live_placer"


def placer(store: Store) -> _Placer:
    """The store's placer (made on first use; kept on the store object, so it goes
    with it)."""
    found = getattr(store, _PLACER_ATTR, None)
    if isinstance(found, _Placer):
        return found
    made = _Placer(store)
    setattr(store, _PLACER_ATTR, made)
    return made


def forget_placer(store: Store) -> None:
    """Drop the store's placer (the next placement builds everything again)."""
    if hasattr(store, _PLACER_ATTR):
        delattr(store, _PLACER_ATTR)


def batch_record_ids(store: Store, batch_ids: Sequence[str]) -> list[str]:
    """The current records the batches added or changed, by record id."""
    return records.batch_record_ids(store, batch_ids)


def place_batches(
    store: Store, summaries: Sequence[IngestSummary],
    on_progress: Callable[[str, int, int | None], None] | None = None,
    *, index_later: bool = False,
) -> dict[str, int]:
    """Place every record the batches added or changed into its identity
    (:meth:`LiveLinker.attach_many`, :data:`LIVE_COMMIT_EVERY` per commit: a chunk's
    placements are durable once reported); count the outcomes (``attach``, ``new``).

    The search index learns the records' identities in one commit after the last
    chunk; ``index_later``: not before :func:`index_placed` (a feed sends its events
    first: an index commit is the dearest step of a small push)."""
    ids = batch_record_ids(store, [s.batch_id for s in summaries])
    if not summaries:
        return {}
    place = placer(store)
    counts: dict[str, int] = {}
    say = on_progress or (lambda label, done, total: None)
    with place.lock:
        try:
            linker = place.linker_for(store, ids)
            linker.defer_index = place.unindexed.extend
            candidates = place.candidates()
            say(PLACING, 0, len(ids))
            for start in range(0, len(ids), LIVE_COMMIT_EVERY):
                chunk = ids[start:start + LIVE_COMMIT_EVERY]
                for result in linker.attach_many(chunk, candidates, chunk=LIVE_COMMIT_EVERY):
                    counts[result.event] = counts.get(result.event, 0) + 1
                say(PLACING, start + len(chunk), len(ids))
        except BaseException:
            place.linker = None  # built again from the store next time
            raise
        finally:
            if not index_later:
                _index(store, place)
    return counts


def index_placed(store: Store) -> None:
    """Tell the search index the identities of the records placed since (one commit)."""
    place = placer(store)
    with place.lock:
        _index(store, place)


def _index(store: Store, place: _Placer) -> None:
    ids, place.unindexed[:] = list(dict.fromkeys(place.unindexed)), []
    if ids:
        after_resolve(store, ids)
