"""Place newly ingested records into identities at once (``ingest --live``).

Candidates come from the search index beside the store, over every segment (placing a
record is no purpose-scoped read: no record leaves the system), with the input rows the
index keeps; without an index, the exact-key lookup and rows from the store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from idgraph.link import LiveLinker
from idgraph.link.attach import CandidateSource, RowSource
from idgraph.schema import segment_key
from idgraph.search.index import SearchIndex
from idgraph.sources.ingest import IngestSummary
from idgraph.store import Store

# records placed per commit (a commit costs more than a placement; an interruption
# loses at most this many placements, which the next resolve makes)
LIVE_COMMIT_EVERY = 100
PLACING = "placing new records"


def _live_sources(store: Store) -> tuple[CandidateSource | None, RowSource | None]:
    index = SearchIndex.of_store(store)
    if index is None:
        return None, None
    segments = [segment_key(s, o) for s, o in store.fetchall(
        "SELECT DISTINCT source_id, origin_jurisdiction FROM records WHERE is_current")]

    def found(row: dict[str, Any]) -> list[str]:
        return [c.record_id for c in index.candidates(row, segments)]

    return found, index.stored_rows


def batch_record_ids(store: Store, batch_ids: Sequence[str]) -> list[str]:
    """The current records the batches added or changed, by record id."""
    if not batch_ids:
        return []
    return [str(r[0]) for r in store.fetchall(
        "SELECT record_id FROM records WHERE is_current AND batch_id IN "
        f"({', '.join('?' * len(batch_ids))}) ORDER BY record_id", list(batch_ids))]


def place_batches(
    store: Store, summaries: Sequence[IngestSummary],
    on_progress: Callable[[str, int, int | None], None] | None = None,
) -> dict[str, int]:
    """Place every record the batches added or changed into its identity
    (:meth:`LiveLinker.attach_many`, :data:`LIVE_COMMIT_EVERY` per commit: a chunk's
    placements are durable once reported); count the outcomes (``attach``, ``new``)."""
    ids = batch_record_ids(store, [s.batch_id for s in summaries])
    if not summaries:
        return {}
    candidates, rows = _live_sources(store)
    linker = LiveLinker.from_store(store, rows=rows)
    counts: dict[str, int] = {}
    say = on_progress or (lambda label, done, total: None)
    say(PLACING, 0, len(ids))
    for start in range(0, len(ids), LIVE_COMMIT_EVERY):
        chunk = ids[start:start + LIVE_COMMIT_EVERY]
        for result in linker.attach_many(chunk, candidates, chunk=LIVE_COMMIT_EVERY):
            counts[result.event] = counts.get(result.event, 0) + 1
        say(PLACING, start + len(chunk), len(ids))
    return counts

