"""The records repository: ``records``, ``quarantine``, ``batches`` and ``sources``.

Every statement on these tables that business modules need is here, written once for
DuckDB and PostgreSQL (:mod:`idgraph.store.base`). Ingest's bulk merge runs on a
DuckDB workspace (:func:`ingest_workspace`); on PostgreSQL the workspace is given the
current versions of the staged record ids (:func:`load_current`) and the result comes back
with :func:`apply_batch` inside the batch's transaction: the supersede of the old
versions, the new versions, the quarantine rows.

Reads of records here ignore retention and policy: callers decide what may leave.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass, fields
from datetime import datetime
from typing import Any, NamedTuple

from idgraph.schema import RECORD_COLUMNS
from idgraph.store.base import Store
from idgraph.store.duckdb_store import DuckDBStore

__all__ = [
    "KIND_SQL",
    "MAX_LIMIT",
    "QUARANTINE_COLUMNS",
    "QUARANTINE_KEYS",
    "SOURCE_KEYS",
    "BatchQuarantine",
    "BatchRecord",
    "BatchRow",
    "QuarantineListing",
    "QuarantineRow",
    "SourceRow",
    "SourceSummary",
    "apply_batch",
    "batch_exists",
    "batch_quarantine",
    "batch_record_ids",
    "batch_records",
    "change_counts",
    "current_record_count",
    "example_person",
    "ingest_workspace",
    "insert_batch",
    "list_quarantine_rows",
    "list_sources",
    "literal",
    "load_current",
    "member_records",
    "quarantine_totals",
    "record_segments",
    "records_sharing_values",
    "register_source",
    "replaced_in_batch",
    "source_count",
    "source_exists",
    "source_manifest",
    "source_manifest_paths",
]

QUARANTINE_COLUMNS: tuple[str, ...] = (
    "source_id", "source_file", "source_line", "source_record_id", "field", "value",
    "reason", "batch_id", "kind")


def literal(value: str) -> str:
    """``value`` as an SQL string literal (both dialects: quotes doubled; backslashes are
    plain characters on both). For a workspace's ``reads`` conditions, which take no
    parameters."""
    if "\x00" in value:
        raise ValueError("a NUL character in an SQL literal")
    return "'" + value.replace("'", "''") + "'"


def _ids_param(store: Store) -> str:
    """A condition ``x IN <this>`` on one list parameter, as both dialects read it."""
    return "(SELECT unnest(CAST(? AS VARCHAR[])))"


def _ingest_lock(source_id: str) -> str:
    return f"ingest:{source_id}"


# -- sources -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SourceRow:
    """A source's registration (its manifest's legal regime travels with it)."""

    source_id: str
    title: str | None
    kind: str | None
    jurisdiction: str | None
    regimes: list[str]
    collected_for: str | None
    retention_days: int | None
    manifest_path: str
    manifest_json: str
    registered_at: datetime


def register_source(store: Store, row: SourceRow) -> None:
    """Insert or refresh the source's row (one transaction, under the source's ingest
    lock: two processes registering one source at once queue)."""
    with store.transaction():
        store.lock(_ingest_lock(row.source_id))
        store.execute("DELETE FROM sources WHERE source_id = ?", [row.source_id])
        store.execute(
            "INSERT INTO sources (source_id, title, kind, jurisdiction, regimes, collected_for,"
            " retention_days, manifest_path, manifest, registered_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [row.source_id, row.title, row.kind, row.jurisdiction, list(row.regimes),
             row.collected_for, row.retention_days, row.manifest_path, row.manifest_json,
             row.registered_at])


def source_exists(store: Store, source_id: str) -> bool:
    return bool(store.fetchall("SELECT 1 FROM sources WHERE source_id = ?", [source_id]))


def source_count(store: Store) -> int:
    return int(store.scalar("SELECT count(*) FROM sources"))


def source_manifest(store: Store, source_id: str) -> str | None:
    """The public manifest (JSON text) the source was registered with."""
    row = store.fetchone("SELECT manifest FROM sources WHERE source_id = ?", [source_id])
    return None if row is None or row[0] is None else str(row[0])


def source_manifest_paths(store: Store, source_ids: Sequence[str]) -> dict[str, str | None]:
    """Source id -> the manifest folder it was registered from."""
    return {str(s): p for s, p in store.fetchall(
        f"SELECT source_id, manifest_path FROM sources WHERE source_id IN {_ids_param(store)}",
        [list(source_ids)])}


# Counts come from each batch's own tally (what ``balanced`` checked when it was
# ingested): a quarantined row is an input row that became no record (unreadable, no
# record id, a duplicate id, retired under retention, an unknown origin); a bad field is
# a value dropped from a row that was stored. Over all batches of the source:
# rows == rows_recorded + quarantined_rows; and the same for the last_batch_* figures.
_SOURCES_SQL = """
    WITH agg AS (
        SELECT source_id, count(*) AS batches, sum(rows) AS rows,
               sum(records_added + records_versioned + records_unchanged) AS recorded,
               sum(rows_quarantined) AS q_rows, sum(fields_quarantined) AS q_fields
        FROM batches GROUP BY source_id),
    last AS (
        SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY source_id
            ORDER BY finished_at DESC, started_at DESC) AS rn_ FROM batches) b
        WHERE rn_ = 1),
    recs AS (
        SELECT source_id, count(*) FILTER (WHERE is_current) AS current_n,
               count(*) AS versions_n
        FROM records GROUP BY source_id)
    SELECT s.source_id, s.kind, s.jurisdiction, array_to_string(s.regimes, ', '),
           s.retention_days, coalesce(r.current_n, 0), coalesce(r.versions_n, 0),
           coalesce(a.q_rows, 0), coalesce(a.q_fields, 0), l.finished_at,
           coalesce(a.batches, 0), coalesce(a.rows, 0), coalesce(a.recorded, 0),
           l.batch_id, l.source_file, l.rows,
           l.records_added + l.records_versioned + l.records_unchanged,
           l.records_added, l.records_versioned, l.records_unchanged,
           l.rows_quarantined, l.fields_quarantined
    FROM sources s
    LEFT JOIN agg a ON a.source_id = s.source_id
    LEFT JOIN last l ON l.source_id = s.source_id
    LEFT JOIN recs r ON r.source_id = s.source_id
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


def _int(v: Any) -> int | None:
    return None if v is None else int(v)


def list_sources(store: Store) -> list[SourceSummary]:
    """Every source, by id (empty before the first ingest)."""
    return [SourceSummary(
        str(r[0]), r[1], r[2], r[3], _int(r[4]), int(r[5]), int(r[6]), int(r[7]), int(r[8]),
        r[9], int(r[10]), int(r[11]), int(r[12]), r[13], r[14], _int(r[15]), _int(r[16]),
        _int(r[17]), _int(r[18]), _int(r[19]), _int(r[20]), _int(r[21]))
        for r in store.fetchall(_SOURCES_SQL)]


# -- batches ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BatchRow:
    """One ingest batch's ``batches`` row."""

    batch_id: str
    source_id: str
    source_file: str
    file_sha256: str
    started_at: datetime
    finished_at: datetime
    rows: int
    records_added: int
    records_unchanged: int
    records_versioned: int
    rows_quarantined: int
    fields_quarantined: int
    lines: int
    lines_blank: int
    lines_in_rows: int


_BATCH_COLUMNS = tuple(f.name for f in fields(BatchRow))


def insert_batch(store: Store, row: BatchRow) -> None:
    store.execute(
        f"INSERT INTO batches ({', '.join(_BATCH_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(_BATCH_COLUMNS))})", list(astuple(row)))


def batch_exists(store: Store, batch_id: str) -> bool:
    return bool(store.fetchall("SELECT 1 FROM batches WHERE batch_id = ?", [batch_id]))


# -- records ---------------------------------------------------------------------------

def current_record_count(store: Store) -> int:
    """How many current records the store holds."""
    return int(store.scalar("SELECT count(*) FROM records WHERE is_current"))


def change_counts(store: Store, tables: Sequence[str]) -> tuple[int, ...]:
    """The current record count, then the row count of each of ``tables`` (tables of
    the schema, counts that every change of them raises), in one statement."""
    for t in tables:
        if not t.replace("_", "").isalnum():
            raise ValueError(f"bad table name {t!r}")
    if store.dialect == "postgres":
        # kept by statement triggers (migration 2): a count of a large table per search
        # would be a scan there
        names = ["records_current", *tables]
        got = dict(store.fetchall(
            "SELECT name, n FROM row_counts WHERE name IN ("
            + ", ".join("?" * len(names)) + ")", names))
        missing = [n for n in names if n not in got]
        if missing:
            raise ValueError(f"no kept row count for {missing}")
        return tuple(int(got[n]) for n in names)
    counts = "".join(f", (SELECT count(*) FROM {t})" for t in tables)
    row = store.fetchone(f"SELECT (SELECT count(*) FROM records WHERE is_current){counts}")
    assert row is not None
    return tuple(int(v) for v in row)


def batch_record_ids(store: Store, batch_ids: Sequence[str]) -> list[str]:
    """The current records the batches added or changed, by record id."""
    if not batch_ids:
        return []
    return [str(r[0]) for r in store.fetchall(
        f"SELECT record_id FROM records WHERE is_current AND batch_id IN {_ids_param(store)} "
        "ORDER BY record_id", [list(batch_ids)])]


def replaced_in_batch(store: Store, batch_id: str) -> list[str]:
    """Records the batch wrote a new version of (a version > 1 that is current)."""
    return [str(r[0]) for r in store.fetchall(
        "SELECT record_id FROM records WHERE batch_id = ? AND is_current AND version > 1",
        [batch_id])]


class BatchRecord(NamedTuple):
    """What a feed's push reports of a record its batch stored."""

    source_line: int | None
    source_record_id: str
    record_id: str
    version: int


def batch_records(store: Store, batch_id: str) -> list[BatchRecord]:
    """The records (new ones and new versions) a batch wrote, by source line."""
    return [BatchRecord(_int(a), str(b), str(c), int(d)) for a, b, c, d in store.fetchall(
        "SELECT source_line, source_record_id, record_id, version FROM records "
        "WHERE batch_id = ? ORDER BY source_line", [batch_id])]


def record_segments(store: Store, record_ids: Sequence[str] | None = None
                    ) -> list[tuple[str, str | None]]:
    """Distinct (source id, origin jurisdiction) of current records (``record_ids``:
    of these only)."""
    if record_ids is None:
        rows = store.fetchall(
            "SELECT DISTINCT source_id, origin_jurisdiction FROM records WHERE is_current")
    else:
        rows = store.fetchall(
            "SELECT DISTINCT source_id, origin_jurisdiction FROM records "
            f"WHERE is_current AND record_id IN {_ids_param(store)}", [list(record_ids)])
    return [(str(s), None if o is None else str(o)) for s, o in rows]


def example_person(store: Store, source_id: str) -> tuple[str, str, int] | None:
    """(last name, first name, birth year) of the first current record of ``source_id``
    (by record id) with a name and a birth date."""
    row = store.fetchone(
        """SELECT last_name, first_name, CAST(extract(year FROM dob) AS INTEGER) FROM records
           WHERE is_current AND source_id = ? AND dob IS NOT NULL
             AND first_name IS NOT NULL AND last_name IS NOT NULL
           ORDER BY record_id LIMIT 1""", [source_id])
    if row is None:
        return None
    return str(row[0]), str(row[1]), int(row[2])


def _columns(columns: Sequence[str]) -> str:
    bad = [c for c in columns if c not in RECORD_COLUMNS]
    if bad:
        raise ValueError(f"not record columns: {bad}")
    return ", ".join(f"r.{c}" for c in columns)


def member_records(store: Store, identity_ids: Sequence[str], source_ids: Sequence[str],
                   columns: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """(identity id, the record's ``columns``) of every current record of ``source_ids``
    that is a member of one of ``identity_ids`` (cut to the sources in the statement:
    no value of another source leaves the store)."""
    if not identity_ids or not source_ids:
        return []
    ids = _ids_param(store)
    rows = store.fetchall(
        f"SELECT m.identity_id, {_columns(columns)} FROM identity_members m "
        f"JOIN records r ON r.record_id = m.record_id "
        f"WHERE r.is_current AND r.source_id IN {ids} AND m.identity_id IN {ids}",
        [list(source_ids), list(identity_ids)])
    return [(str(r[0]), dict(zip(columns, r[1:], strict=True))) for r in rows]


def records_sharing_values(
    store: Store, *, exclude_identity: str, source_ids: Sequence[str],
    addresses: Sequence[str], phones: Sequence[str], plates: Sequence[str],
    columns: Sequence[str],
) -> list[tuple[str, dict[str, Any]]]:
    """(identity id, the record's ``columns``) of current records of ``source_ids`` in an
    identity other than ``exclude_identity`` carrying one of the values: an address
    (house number, street and ZIP joined by U+001F), a phone, a plate."""
    if not source_ids:
        return []
    ids = _ids_param(store)
    addr = "r.house_number || chr(31) || r.street || chr(31) || r.zip"
    rows = store.fetchall(
        f"SELECT m.identity_id, {_columns(columns)} FROM records r "
        "JOIN identity_members m ON m.record_id = r.record_id "
        f"WHERE r.is_current AND m.identity_id <> ? AND r.source_id IN {ids} "
        f"AND ({addr} IN {ids} OR r.phone IN {ids} OR r.plate IN {ids})",
        [exclude_identity, list(source_ids), list(addresses), list(phones), list(plates)])
    return [(str(r[0]), dict(zip(columns, r[1:], strict=True))) for r in rows]


# -- quarantine -------------------------------------------------------------------------

# Ingest writes each quarantine row's kind; rows from stores made before the column
# existed are told apart by how ingest wrote them: a row-level quarantine either names no
# field (a reader error, a row retired under retention) or says why the row was not stored.
KIND_SQL = """coalesce(kind, CASE WHEN field IS NULL
        OR reason LIKE 'missing record id%'
        OR reason LIKE 'duplicate record id%'
        OR reason LIKE '%row not stored%'
    THEN 'row' ELSE 'field' END)"""
_WHERE = ("WHERE (CAST(? AS VARCHAR) IS NULL OR source_id = ?) "
          "AND (CAST(? AS VARCHAR) IS NULL OR batch_id = ?)")
MAX_LIMIT = 2**62  # a limit beyond any table (LIMIT is a BIGINT)


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    """One quarantine row (``kind``: ``row`` or ``field``)."""

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


def quarantine_totals(store: Store, source: str | None, batch: str | None) -> tuple[int, int]:
    """(rows, whole rows) of the quarantine of ``source`` / ``batch`` (None: any)."""
    totals = store.fetchone(
        f"SELECT count(*), count(*) FILTER (WHERE {KIND_SQL} = 'row') FROM quarantine "
        + _WHERE, [source, source, batch, batch])
    assert totals is not None
    return int(totals[0]), int(totals[1])


def list_quarantine_rows(store: Store, source: str | None, batch: str | None,
                         limit: int) -> list[QuarantineRow]:
    """Quarantine rows by file and line (``limit`` 0: all)."""
    cut = f"LIMIT {min(int(limit), MAX_LIMIT)}" if limit else ""
    rows = store.fetchall(
        f"""SELECT source_id, batch_id, source_file, source_line, source_record_id,
            field, value, reason, {KIND_SQL} FROM quarantine {_WHERE}
        ORDER BY source_file, source_line NULLS FIRST, batch_id, field NULLS FIRST, reason
        {cut}""", [source, source, batch, batch])
    return [QuarantineRow(str(r[0]), r[1], r[2], _int(r[3]), *r[4:]) for r in rows]


class BatchQuarantine(NamedTuple):
    source_line: int | None
    source_record_id: str | None
    field: str | None
    reason: str | None
    kind: str | None


def batch_quarantine(store: Store, batch_id: str) -> list[BatchQuarantine]:
    """A batch's quarantine rows, by source line."""
    return [BatchQuarantine(_int(a), b, c, d, e) for a, b, c, d, e in store.fetchall(
        "SELECT source_line, source_record_id, field, reason, kind FROM quarantine "
        "WHERE batch_id = ? ORDER BY source_line", [batch_id])]


# -- ingest's merge ---------------------------------------------------------------------

@contextmanager
def ingest_workspace(store: Store, source_id: str) -> Iterator[DuckDBStore]:
    """Where one batch of ``source_id`` is staged and merged (inside the caller's open
    transaction). On DuckDB: the store itself. On PostgreSQL: an empty DuckDB workspace
    (:func:`load_current` brings the current versions of the staged record ids before
    the merge); the source's ingest lock is held until the transaction ends (two
    batches of one source merge one after the other), and nothing comes back by itself:
    :func:`apply_batch` writes the batch's result."""
    if store.dialect == "postgres":
        if not store.in_transaction:
            raise RuntimeError("ingest_workspace outside a transaction")
        store.lock(_ingest_lock(source_id))
    with store.workspace(reads={}, writes={}) as ws:
        yield ws


_LOAD_AT_ONCE = 50_000


def load_current(store: Store, ws: DuckDBStore, record_ids: Sequence[str]) -> None:
    """Copy the current versions and the retention tombstones of ``record_ids`` from the
    store into its ingest workspace (what the merge compares the staged rows with; a
    point read on the key, so a small push into a large store reads a few rows).
    Nothing to do when the workspace is the store itself."""
    if ws is store:
        return
    cols = ", ".join(RECORD_COLUMNS)
    ids = sorted(set(record_ids))
    cond = ("record_id = ANY(?)" if store.dialect == "postgres"
            else f"record_id IN {_ids_param(store)}")
    for k in range(0, len(ids), _LOAD_AT_ONCE):
        part = [ids[k:k + _LOAD_AT_ONCE]]
        ws.append_arrow("records", store.fetch_arrow(
            f"SELECT {cols} FROM records WHERE is_current AND {cond}", part))
        ws.append_arrow("retention_tombstones", store.fetch_arrow(
            f"SELECT record_id, row_hash, source_id, removed_at, run_id "
            f"FROM retention_tombstones WHERE {cond}", part))


def apply_batch(store: Store, ws: DuckDBStore, batch_id: str) -> None:
    """Bring a merged batch back from its workspace (:func:`ingest_workspace`): the
    superseded versions stop being current, the batch's records and quarantine rows are
    added (inside the caller's transaction). Nothing to do when the workspace is the
    store itself (DuckDB)."""
    if ws is store:
        return
    cols = ", ".join(RECORD_COLUMNS)
    new = ws.fetch_arrow(f"SELECT {cols} FROM records WHERE batch_id = ?", [batch_id])
    versioned = sorted({str(r) for r, v in zip(new.column("record_id").to_pylist(),
                                                  new.column("version").to_pylist(),
                                                  strict=True) if v > 1})
    quarantine = ws.fetch_arrow(
        f"SELECT {', '.join(QUARANTINE_COLUMNS)} FROM quarantine WHERE batch_id = ?", [batch_id])
    with store.transaction():
        if versioned:
            store.execute(
                "UPDATE records SET is_current = false WHERE is_current AND record_id "
                f"IN {_ids_param(store)}", [versioned])
        store.append_arrow("records", new)
        store.append_arrow("quarantine", quarantine)


def held_records(store: Store, identity_id: str,
                 columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """The current member records of ``identity_id`` with their source's facts, by source
    and record id (what a subject-access report lists): record_id, source_id,
    source_record_id, version, the record's version count, batch_id, ingested_at,
    source_file, source_line, the source's title, kind, jurisdiction and retention_days,
    then ``columns`` (record columns of :data:`idgraph.schema.RECORD_COLUMNS`)."""
    bad = [c for c in columns if c not in RECORD_COLUMNS]
    if bad:
        raise ValueError(f"not record columns: {bad}")
    cols = "".join(f", r.{c}" for c in columns)
    return store.fetchall(
        "SELECT r.record_id, r.source_id, r.source_record_id, r.version, "
        "(SELECT count(*) FROM records v WHERE v.record_id = r.record_id), r.batch_id, "
        "r.ingested_at, r.source_file, r.source_line, s.title, s.kind, s.jurisdiction, "
        f"s.retention_days{cols} FROM identity_members m "
        "JOIN records r ON r.record_id = m.record_id AND r.is_current "
        "LEFT JOIN sources s ON s.source_id = r.source_id "
        "WHERE m.identity_id = ? ORDER BY r.source_id, r.record_id",
        [identity_id],
    )
