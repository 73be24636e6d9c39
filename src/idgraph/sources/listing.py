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

from dataclasses import astuple, dataclass, fields
from datetime import datetime
from typing import Any

from idgraph.store import Store

# Counts come from each batch's own tally (what ``balanced`` checked when it was
# ingested): a quarantined row is an input row that became no record (unreadable, no
# record id, a duplicate id, retired under retention, an unknown origin); a bad field is
# a value dropped from a row that was stored. Over all batches of the source:
# rows == rows_recorded + quarantined_rows; and the same for the last_batch_* figures.
SOURCES_SQL = """
    WITH agg AS (
        SELECT source_id, count(*) AS batches, sum(rows) AS rows,
               sum(records_added + records_versioned + records_unchanged) AS recorded,
               sum(rows_quarantined) AS q_rows, sum(fields_quarantined) AS q_fields
        FROM batches GROUP BY source_id),
    last AS (
        SELECT * FROM batches QUALIFY row_number() OVER
            (PARTITION BY source_id ORDER BY finished_at DESC, started_at DESC) = 1)
    SELECT s.source_id, s.kind, s.jurisdiction, array_to_string(s.regimes, ', '),
           s.retention_days,
           (SELECT count(*) FROM records r WHERE r.source_id = s.source_id AND r.is_current),
           (SELECT count(*) FROM records r WHERE r.source_id = s.source_id),
           coalesce(a.q_rows, 0), coalesce(a.q_fields, 0), l.finished_at,
           coalesce(a.batches, 0), coalesce(a.rows, 0), coalesce(a.recorded, 0),
           l.batch_id, l.source_file, l.rows,
           l.records_added + l.records_versioned + l.records_unchanged,
           l.records_added, l.records_versioned, l.records_unchanged,
           l.rows_quarantined, l.fields_quarantined
    FROM sources s
    LEFT JOIN agg a ON a.source_id = s.source_id
    LEFT JOIN last l ON l.source_id = s.source_id
    ORDER BY s.source_id"""


@dataclass(frozen=True, slots=True)
class SourceSummary:
    """One source: its legal regimes, record and quarantine counts over all its batches,
    and its latest batch (the ``last_batch_*`` fields; None before any batch)."""

    source: str
    kind: str | None
    jurisdiction: str | None
    regimes: str | None
    retention_days: int | None
    records: int
    versions: int
    quarantined_rows: int
    bad_fields: int
    last_ingest: datetime | None
    batches: int
    rows: int
    rows_recorded: int
    last_batch: str | None
    last_batch_file: str | None
    last_batch_rows: int | None
    last_batch_records: int | None
    last_batch_added: int | None
    last_batch_versioned: int | None
    last_batch_unchanged: int | None
    last_batch_quarantined_rows: int | None
    last_batch_bad_fields: int | None

    def as_dict(self) -> dict[str, Any]:
        """The fields by name, in order (``sources --json``)."""
        return dict(zip(SOURCE_KEYS, astuple(self), strict=True))


SOURCE_KEYS: tuple[str, ...] = tuple(f.name for f in fields(SourceSummary))


def list_sources(store: Store) -> list[SourceSummary]:
    """Every source, by id (empty before the first ingest)."""
    return [SourceSummary(*row) for row in store.fetchall(SOURCES_SQL)]


def current_record_count(store: Store) -> int:
    """How many current records the store holds."""
    return int(store.scalar("SELECT count(*) FROM records WHERE is_current"))


# Ingest writes each quarantine row's kind; rows from stores made before the column
# existed are told apart by how ingest wrote them: a row-level quarantine either names no
# field (a reader error, a row retired under retention) or says why the row was not stored.
KIND_SQL = """coalesce(kind, CASE WHEN field IS NULL
        OR reason LIKE 'missing record id%'
        OR reason LIKE 'duplicate record id%'
        OR reason LIKE '%row not stored%'
    THEN 'row' ELSE 'field' END)"""
_WHERE = ("WHERE (?::VARCHAR IS NULL OR source_id = ?) "
          "AND (?::VARCHAR IS NULL OR batch_id = ?)")
MAX_LIMIT = 2**62  # a limit beyond any table (DuckDB's LIMIT is a BIGINT)


class QuarantineLookupError(LookupError):
    """No sources yet, or no source or batch of the name asked for."""


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    """One quarantine row (``kind``: ``row`` or ``field``, see the module doc)."""

    source: str
    batch: str | None
    file: str | None
    line: int | None
    record_id: str | None
    field: str | None
    value: str | None
    reason: str | None
    kind: str

    def as_dict(self) -> dict[str, Any]:
        return dict(zip(QUARANTINE_KEYS, astuple(self), strict=True))


QUARANTINE_KEYS: tuple[str, ...] = tuple(f.name for f in fields(QuarantineRow))


@dataclass(frozen=True, slots=True)
class QuarantineListing:
    """The rows shown (at most the limit asked for) of ``total`` matching; ``whole_rows``
    of the total are rows not stored, the rest values dropped from stored rows."""

    rows: list[QuarantineRow]
    total: int
    whole_rows: int

    @property
    def cut(self) -> bool:
        return len(self.rows) < self.total


def list_quarantine(
    store: Store, *, source: str | None = None, batch: str | None = None, limit: int = 100,
) -> QuarantineListing:
    """Quarantine rows by file and line (``limit`` 0: all); raises
    :class:`QuarantineLookupError` before the first ingest or for an unknown source or
    batch."""
    if not store.scalar("SELECT count(*) FROM sources"):
        raise QuarantineLookupError("no sources yet: run `idgraph ingest PATH` first")
    if source is not None and not store.scalar(
            "SELECT count(*) FROM sources WHERE source_id = ?", [source]):
        raise QuarantineLookupError(f"no source {source!r} (see `idgraph sources`)")
    if batch is not None and not store.scalar(
            "SELECT count(*) FROM batches WHERE batch_id = ?", [batch]):
        raise QuarantineLookupError(f"no batch {batch!r} (see `idgraph sources --json`)")
    params = [source, source, batch, batch]
    totals = store.fetchone(
        f"SELECT count(*), count(*) FILTER (WHERE {KIND_SQL} = 'row') FROM quarantine "
        + _WHERE, params)
    assert totals is not None
    cut = f"LIMIT {min(int(limit), MAX_LIMIT)}" if limit else ""
    rows = store.fetchall(
        f"""SELECT source_id, batch_id, source_file, source_line, source_record_id,
            field, value, reason, {KIND_SQL} FROM quarantine {_WHERE}
        ORDER BY source_file, source_line NULLS FIRST, batch_id, field NULLS FIRST, reason
        {cut}""", params)
    return QuarantineListing([QuarantineRow(*r) for r in rows], int(totals[0]), int(totals[1]))
