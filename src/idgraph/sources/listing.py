"""What the store holds per source, and its quarantine rows, as typed rows.

:func:`list_sources` is what ``idgraph sources`` prints; :func:`list_quarantine` what
``idgraph quarantine`` prints, so a data steward never needs SQL. Every input row that
did not become a record, and every value dropped from a row that did, is a quarantine
row naming the file, the line, the record id, the field, the value and the reason. Two
kinds (see :data:`KIND_SQL`):

- ``row``: the whole row was not stored (unreadable, no record id, a duplicate record id,
  retired under the retention policy, an unknown origin jurisdiction);
- ``field``: one value was dropped (it did not normalise); the row is a record.
"""

from __future__ import annotations

from idgraph.store import Store, records
from idgraph.store.records import (
    KIND_SQL,
    MAX_LIMIT,
    QUARANTINE_KEYS,
    SOURCE_KEYS,
    QuarantineListing,
    QuarantineRow,
    SourceSummary,
    current_record_count,
    list_sources,
)

__all__ = [
    "KIND_SQL",
    "MAX_LIMIT",
    "QUARANTINE_KEYS",
    "SOURCE_KEYS",
    "QuarantineListing",
    "QuarantineLookupError",
    "QuarantineRow",
    "SourceSummary",
    "current_record_count",
    "list_quarantine",
    "list_sources",
]


class QuarantineLookupError(LookupError):
    """No sources yet, or no source or batch of the name asked for."""


def list_quarantine(
    store: Store, *, source: str | None = None, batch: str | None = None, limit: int = 100,
) -> QuarantineListing:
    """Quarantine rows by file and line (``limit`` 0: all); raises
    :class:`QuarantineLookupError` before the first ingest or for an unknown source or
    batch."""
    if not records.source_count(store):
        raise QuarantineLookupError("no sources yet: run `idgraph ingest PATH` first")
    if source is not None and not records.source_exists(store, source):
        raise QuarantineLookupError(f"no source {source!r} (see `idgraph sources`)")
    if batch is not None and not records.batch_exists(store, batch):
        raise QuarantineLookupError(f"no batch {batch!r} (see `idgraph sources --json`)")
    total, whole = records.quarantine_totals(store, source, batch)
    rows = records.list_quarantine_rows(store, source, batch, limit)
    return QuarantineListing(rows, total, whole)
