"""Ingest a source file into the store: one transaction per batch, every row accounted.

Each input row ends as a record (added, a new version, or unchanged) or as a
quarantine row naming the file, line, field and reason. A file that cannot be read at
all raises :class:`FileRejected` and leaves the store exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from idgraph import clock
from idgraph.schema import LATE_NORMALISED_COLUMNS, NORMALISED_COLUMNS, RECORD_COLUMNS
from idgraph.settings import Settings
from idgraph.sources.manifest import Manifest, load_manifest, load_manifests
from idgraph.sources.mapping import ORIGIN, FieldIssue, normalise_chunk
from idgraph.sources.parallel import ordered_map, worker_pool
from idgraph.sources.readers import Chunk, FileRejected, header_columns, read_chunks
from idgraph.store import DuckDBStore, Store, records

_ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(), "INTEGER": pa.int32(), "BIGINT": pa.int64(),
    "BOOLEAN": pa.bool_(), "DATE": pa.date32(), "TIMESTAMP": pa.timestamp("us"),
    "JSON": pa.string(), "VARCHAR[]": pa.list_(pa.string()),
}
_STAGE_SCHEMA = pa.schema(
    [(name, _ARROW_TYPES[typ]) for name, typ in RECORD_COLUMNS.items()]
)
_QUARANTINE_SCHEMA = pa.schema([
    ("source_id", pa.string()), ("source_file", pa.string()), ("source_line", pa.int64()),
    ("source_record_id", pa.string()), ("field", pa.string()), ("value", pa.string()),
    ("reason", pa.string()), ("batch_id", pa.string()), ("kind", pa.string()),
])
_Q_COLUMNS = ", ".join(_QUARANTINE_SCHEMA.names)
assert tuple(_QUARANTINE_SCHEMA.names) == records.QUARANTINE_COLUMNS
# kind: ROW, the input row became no record; FIELD, one value was dropped from a record.
ROW, FIELD = "row", "field"

Progress = Callable[[int], None]
# Called after each batch commits, with its batch id (the search index registers one:
# idgraph.search.index.install_hooks; sources must not import search).
AfterIngest = Callable[[Store, str], None]
_AFTER_INGEST: list[AfterIngest] = []


def register_after_ingest(hook: AfterIngest) -> None:
    if hook not in _AFTER_INGEST:
        _AFTER_INGEST.append(hook)


def unregister_after_ingest(hook: AfterIngest) -> None:
    if hook in _AFTER_INGEST:
        _AFTER_INGEST.remove(hook)


class AfterIngestError(Exception):
    """The batch is stored (committed), but a hook run after the commit (the search
    index's update) failed or was interrupted: ``summary`` is the stored batch's,
    ``cause`` what stopped the hook. Nothing of the batch is lost; the hook's own data
    may lag (``idgraph index check`` names the difference)."""

    def __init__(self, summary: IngestSummary, cause: BaseException) -> None:
        super().__init__(f"{summary.source_id} is stored, but what follows an ingest failed: "
                         f"{type(cause).__name__}: {cause}")
        self.summary, self.cause = summary, cause


@dataclass
class IngestSummary:
    """What one batch did; ``balanced`` must hold.

    Rows: ``rows == records + rows_quarantined``. Lines, counted from the file's bytes
    independently of the parser (parquet: rows): every data line read is blank or part
    of a row (``lines == lines_in_rows + lines_blank``), so rows a parser swallowed
    cannot go unnoticed.
    """

    source_id: str
    source_file: str
    batch_id: str
    rows: int = 0
    records_added: int = 0
    records_versioned: int = 0
    records_unchanged: int = 0
    rows_quarantined: int = 0
    fields_quarantined: int = 0
    seconds: float = 0.0
    lines: int = 0
    lines_blank: int = 0
    lines_in_rows: int = 0

    @property
    def records(self) -> int:
        return self.records_added + self.records_versioned + self.records_unchanged

    @property
    def balanced(self) -> bool:
        return (self.rows == self.records + self.rows_quarantined
                and self.lines == self.lines_in_rows + self.lines_blank)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "records": self.records, "balanced": self.balanced}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def register_source(store: Store, m: Manifest, manifest_path: Path,
                    at: datetime | None = None) -> None:
    """Insert or refresh the source's row (its legal regime travels with it), registered
    ``at`` (default: now)."""
    records.register_source(store, records.SourceRow(
        m.id, m.title, m.kind.value, m.jurisdiction, list(m.regimes), m.collected_for,
        m.retention_days, str(manifest_path), json.dumps(m.public_dict()),
        at or clock.now_naive()))


def _check_columns(m: Manifest) -> None:
    cols = header_columns(m.input_path, m.input.format, m.input.encoding, m.input.delimiter)
    if cols is None:
        return
    missing = [c for c in m.required_columns() if c not in cols]
    if missing:
        raise FileRejected(m.input_path, f"mapped column(s) {missing} not in the file")


@dataclass
class Prepared:
    """One chunk made ready for the store: staged rows, quarantine rows and counts.

    Built by :func:`prepare_chunk`, a pure function, so worker processes can do it.
    """

    table: pa.Table | None
    quarantine: list[tuple[Any, ...]]
    rows: int
    rows_quarantined: int
    fields_quarantined: int
    columns: frozenset[str]
    # Per judged field (see judged_fields): non-null values seen, and (failures, examples)
    field_values: dict[str, int] = field(default_factory=dict)
    field_failures: dict[str, tuple[int, list[str]]] = field(default_factory=dict)
    lines_read: int = 0  # the chunk's line counts (see readers.Chunk)
    lines_blank: int = 0
    lines_in_rows: int = 0


@dataclass(frozen=True)
class ChunkContext:
    manifest: Manifest
    batch_id: str
    file: str
    now: datetime
    region: str
    mapping_hash: str = ""  # Manifest.mapping_digest(), computed once per batch


def prepare_chunk(ctx: ChunkContext, chunk: Chunk) -> Prepared:
    """Validate record ids, normalise values, build raw rows and hashes for one chunk."""
    m = ctx.manifest
    q: list[tuple[Any, ...]] = [
        (m.id, ctx.file, line, None, None, None, reason, ctx.batch_id, ROW)
        for line, reason in chunk.errors
    ]
    n = len(chunk)
    ids = chunk.columns.get(m.record_id) or [None] * n
    bad_ids = {i: why for i, col, why in chunk.bad_cells if col == m.record_id}
    keep: list[int] = []
    for i, v in enumerate(ids):
        if i in bad_ids:
            q.append((m.id, ctx.file, chunk.lines[i], None, m.record_id, _shown(v),
                      f"{bad_ids[i]} in record id column {m.record_id!r}", ctx.batch_id, ROW))
        elif v is None or not v.strip():
            q.append((m.id, ctx.file, chunk.lines[i], None, m.record_id, None,
                      f"missing record id in column {m.record_id!r}", ctx.batch_id, ROW))
        else:
            keep.append(i)
    out = Prepared(None, q, n + len(chunk.errors), len(chunk.errors) + n - len(keep), 0,
                   frozenset(chunk.columns), lines_read=chunk.lines_read,
                   lines_blank=chunk.lines_blank, lines_in_rows=chunk.lines_in_rows)
    if len(keep) < n:
        chunk = _rows(chunk, keep)
        n = len(keep)
    if n == 0:
        return out
    usable, unusable = _unusable_values(m, chunk)
    norm, issues = normalise_chunk(m, usable, n, ctx.region)
    issues = unusable + issues
    out.field_values, out.field_failures = _field_counts(m, chunk, n, issues)
    src_ids = [str(v).strip() for v in chunk.columns[m.record_id]]
    # A row whose origin jurisdiction is unknown is not stored: which law governs it
    # (and so which rules decide its reads) cannot be told.
    unknown_origin = {iss.row for iss in issues if iss.field == ORIGIN}
    for iss in issues:
        if iss.row in unknown_origin and iss.field != ORIGIN:
            continue
        reason = iss.reason
        if iss.field == ORIGIN:
            reason += "; row not stored: the law that governs it is unknown"
        q.append((m.id, ctx.file, chunk.lines[iss.row], src_ids[iss.row], iss.field,
                  iss.value, reason, ctx.batch_id, ROW if iss.field == ORIGIN else FIELD))
    out.fields_quarantined = sum(
        1 for iss in issues if iss.row not in unknown_origin and iss.field != ORIGIN)
    if unknown_origin:
        out.rows_quarantined += len(unknown_origin)
        keep = [i for i in range(n) if i not in unknown_origin]
        chunk = Chunk({k: [v[i] for i in keep] for k, v in chunk.columns.items()},
                      [chunk.lines[i] for i in keep], [])
        norm = {k: [v[i] for i in keep] for k, v in norm.items()}
        src_ids = [src_ids[i] for i in keep]
        n = len(keep)
        if n == 0:
            return out
    out.table = _stage_table(ctx, chunk, norm, src_ids, n)
    return out


def _rows(chunk: Chunk, keep: list[int]) -> Chunk:
    """The chunk's rows ``keep`` (bad cells renumbered); no errors or line counts."""
    at = {old: new for new, old in enumerate(keep)}
    return Chunk({k: [v[i] for i in keep] for k, v in chunk.columns.items()},
                 [chunk.lines[i] for i in keep], [],
                 [(at[i], col, why) for i, col, why in chunk.bad_cells if i in at])


def _shown(value: str | None, limit: int = 200) -> str | None:
    """A value as a quarantine row shows it: NUL visible, long text cut."""
    if value is None:
        return None
    text = value.replace("\x00", "\\x00")
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def _unusable_values(
    m: Manifest, chunk: Chunk
) -> tuple[dict[str, list[str | None]], list[FieldIssue]]:
    """The columns with every bad cell (NUL, nested JSON) nulled, and one issue for each
    canonical field that reads such a cell. The chunk itself keeps the value for the raw
    row; a bad cell of an unmapped column is no issue."""
    if not chunk.bad_cells:
        return chunk.columns, []
    readers: dict[str, list[str]] = {}
    for name, spec in m.fields.items():
        for col in spec.columns():
            readers.setdefault(col, []).append(name)
    usable = dict(chunk.columns)
    issues: list[FieldIssue] = []
    for i, col, why in chunk.bad_cells:
        if col not in readers:
            continue
        if usable[col] is chunk.columns[col]:
            usable[col] = list(chunk.columns[col])
        shown = _shown(usable[col][i])
        usable[col][i] = None
        issues.extend(FieldIssue(i, name, shown, why) for name in readers[col])
    return usable, issues


# Fields whose failures stop the batch unless the manifest says otherwise: a date column
# that does not parse is almost always a wrong format, not bad data.
STOP_BY_DEFAULT: frozenset[str] = frozenset(
    {"dob", "birth_year", "observed_at", "booked_at", "released_at"})
_EXAMPLES = 3


def judged_fields(m: Manifest) -> list[str]:
    """Mapped fields whose share of invalid values may stop a batch."""
    return [f for f, spec in m.fields.items()
            if spec.max_invalid_share is not None or f in STOP_BY_DEFAULT]


def _field_counts(
    m: Manifest, chunk: Chunk, n: int, issues: list[FieldIssue]
) -> tuple[dict[str, int], dict[str, tuple[int, list[str]]]]:
    """Non-null values and failures (with a few examples) of each judged field."""
    values: dict[str, int] = {}
    failures: dict[str, tuple[int, list[str]]] = {}
    for name in judged_fields(m):
        spec = m.fields[name]
        cols = [chunk.columns.get(c) or [None] * n for c in spec.columns()]
        if spec.value is not None:
            values[name] = n
        else:
            values[name] = sum(1 for row in zip(*cols, strict=True)
                               if any(v is not None and v.strip() for v in row))
        rows = {iss.row: iss for iss in issues if iss.field == name}
        if rows:
            examples: list[str] = []
            for iss in rows.values():
                ex = f"{iss.value!r} ({iss.reason})"
                if ex not in examples:
                    examples.append(ex)
                if len(examples) == _EXAMPLES:
                    break
            failures[name] = (len(rows), examples)
    return values, failures


def _stage_table(
    ctx: ChunkContext, chunk: Chunk, norm: dict[str, list[Any]], src_ids: list[str], n: int
) -> pa.Table:
    """The chunk's rows as the stage table; ``row_hash`` is left null: the store computes
    it from ``raw`` as the rows are staged (:meth:`_Batch.add`)."""
    source = ctx.manifest.id
    ids = pa.array(src_ids, pa.string())
    data: dict[str, Any] = {
        "record_id": pc.binary_join_element_wise(pa.scalar(f"{source}/"), ids, ""),
        "source_id": pa.repeat(pa.scalar(source), n),
        "source_record_id": ids,
        "version": pa.repeat(pa.scalar(0, pa.int32()), n),
        "is_current": pa.repeat(pa.scalar(True), n),
        "row_hash": pa.nulls(n, pa.string()),
        "batch_id": pa.repeat(pa.scalar(ctx.batch_id), n),
        "ingested_at": pa.repeat(pa.scalar(ctx.now, pa.timestamp("us")), n),
        "source_file": pa.repeat(pa.scalar(ctx.file), n),
        "source_line": pa.array(chunk.lines, pa.int64()),
        "raw": raw_json(chunk.columns),
    }
    for name in NORMALISED_COLUMNS:
        data[name] = norm.get(name) or [None] * n
    digest = ctx.mapping_hash or ctx.manifest.mapping_digest(ctx.region)
    data["mapping_hash"] = pa.repeat(pa.scalar(digest), n)
    for name in LATE_NORMALISED_COLUMNS:
        data[name] = norm.get(name) or [None] * n
    return pa.table(data, schema=_STAGE_SCHEMA)


# what json.dumps(ensure_ascii=False) escapes in a string: ", \ and C0 controls
_JSON_ESCAPED = r'[\x00-\x1f"\\]'


def raw_json(columns: dict[str, list[str | None]]) -> pa.Array:
    """Each row as the JSON object ``json.dumps(row, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` writes (the text ``row_hash`` is taken of), built column-wise:
    a column without a character JSON escapes is quoted by Arrow, others by the json
    module's own string encoder."""
    parts: list[Any] = []
    for j, key in enumerate(sorted(columns)):
        parts.append(pa.scalar(("{" if j == 0 else ",") + encode_basestring(key) + ":"))
        parts.append(_json_strings(columns[key]))
    if not parts:
        raise ValueError("a row without columns")
    parts.append(pa.scalar("}"))
    return pc.binary_join_element_wise(*parts, "")


def _json_strings(values: list[str | None]) -> pa.Array:
    """JSON text of each value: a string literal, or null."""
    arr = pa.array(values, pa.string())
    if pc.any(pc.match_substring_regex(arr, _JSON_ESCAPED)).as_py():
        arr = pa.array([None if v is None else encode_basestring(v) for v in values],
                       pa.string())
    else:
        arr = pc.binary_join_element_wise(pa.scalar('"'), arr, pa.scalar('"'), "")
    return pc.fill_null(arr, "null")


class _Batch:
    """Accumulates one file's rows in a staging table inside the open transaction."""

    def __init__(
        self, store: DuckDBStore, ctx: ChunkContext, summary: IngestSummary,
        settings: Settings | None = None,
    ) -> None:
        self.store, self.m, self.s, self.file = store, ctx.manifest, summary, ctx.file
        self.settings = settings or Settings()
        self.seen_columns: set[str] = set()
        self.field_values: dict[str, int] = {}
        self.field_failures: dict[str, tuple[int, list[str]]] = {}
        cols = ", ".join(f"{n} {t}" for n, t in RECORD_COLUMNS.items())
        store.execute("DROP TABLE IF EXISTS temp.ingest_stage")
        store.execute(f"CREATE TEMP TABLE ingest_stage ({cols})")

    def add(self, p: Prepared) -> None:
        s = self.s
        self.seen_columns.update(p.columns)
        for name, count in p.field_values.items():
            self.field_values[name] = self.field_values.get(name, 0) + count
        for name, (bad, examples) in p.field_failures.items():
            had, shown = self.field_failures.get(name, (0, []))
            shown = shown + [e for e in examples if e not in shown]
            self.field_failures[name] = (had + bad, shown[:_EXAMPLES])
        s.rows += p.rows
        s.rows_quarantined += p.rows_quarantined
        s.fields_quarantined += p.fields_quarantined
        s.lines += p.lines_read
        s.lines_blank += p.lines_blank
        s.lines_in_rows += p.lines_in_rows
        if p.table is not None:
            self.store.con.register("ingest_chunk", p.table)
            try:
                self.store.execute("INSERT INTO temp.ingest_stage SELECT * REPLACE "
                                   "(sha256(raw) AS row_hash) FROM ingest_chunk")
            finally:
                self.store.con.unregister("ingest_chunk")
        self._quarantine(p.quarantine)

    def _quarantine(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        tbl = pa.Table.from_pylist(
            [dict(zip(_QUARANTINE_SCHEMA.names, r, strict=True)) for r in rows],
            schema=_QUARANTINE_SCHEMA,
        )
        self.store.con.register("ingest_q", tbl)
        try:
            self.store.execute(f"INSERT INTO quarantine ({_Q_COLUMNS}) SELECT * FROM ingest_q")
        finally:
            self.store.con.unregister("ingest_q")

    def check_invalid_shares(self) -> None:
        """Stop the batch (FileRejected) when too many of a field's values failed.

        A date field (see STOP_BY_DEFAULT) may have at most
        ``settings.ingest_max_invalid_share`` of its non-null values fail; any field may
        set its own ``max_invalid_share`` (1 never stops), judged exactly. The default
        share is judged against at least ``settings.ingest_min_values_for_share`` values
        (so one bad date of three does not stop a batch), and every value failing stops it.
        """
        for name, values in self.field_values.items():
            spec = self.m.fields[name]
            limit = spec.max_invalid_share
            explicit = limit is not None
            if limit is None:
                limit = self.settings.ingest_max_invalid_share
            bad, examples = self.field_failures.get(name, (0, []))
            if limit >= 1 or values == 0 or bad == 0:
                continue
            # the manifest's own share is exact; the default is judged as if the field
            # held at least ingest_min_values_for_share values (a few bad values in a
            # small file are data, 10 of 19 is a wrong format), or when every value failed
            floor = values if explicit else max(values, self.settings.ingest_min_values_for_share)
            if bad < values and bad <= limit * floor:
                continue
            how = f"with format {spec.format!r}" if spec.format else "as a valid value"
            raise FileRejected(
                self.file,
                f"field {name!r}: {bad} of {values} values ({bad / values:.0%}) could not be "
                f"read {how} (more than the {limit:.0%} allowed), e.g. {', '.join(examples)}; "
                f"the manifest's mapping of {name} is likely wrong: fix fields.{name}"
                f"{'.format' if spec.format else ''}, or set fields.{name}.max_invalid_share "
                "to accept such a file; nothing was stored",
            )

    def finish(self, *, whole_file: bool = True) -> None:
        """Merge the staged rows into ``records``: new, new version, or unchanged.

        ``whole_file``: judge the batch as a file (the share of a field's invalid values,
        a mapped column in no row may stop it); a feed's push is judged line by line."""
        m, s = self.m, self.s
        if whole_file:
            self.check_invalid_shares()
        if whole_file and self.m.input.format == "jsonl" and s.rows:
            missing = [c for c in m.required_columns() if c not in self.seen_columns]
            if missing:
                raise FileRejected(self.file, f"mapped column(s) {missing} in no row")
        st = self.store
        # Ranked and classified on the narrow key columns only (the staged rows, raw
        # JSON and all, are copied once: into records); sid is the staged row's rowid.
        st.execute("""CREATE OR REPLACE TEMP TABLE ingest_ranked AS
            SELECT rowid AS sid, record_id, source_id, source_file, source_line,
              source_record_id, batch_id, row_hash, mapping_hash,
              row_number() OVER w AS rn, first_value(source_line) OVER w AS first_line
            FROM temp.ingest_stage
            WINDOW w AS (PARTITION BY record_id ORDER BY source_line, rowid)""")
        dup = st.scalar("SELECT count(*) FROM temp.ingest_ranked WHERE rn > 1")
        st.execute(f"""INSERT INTO quarantine ({_Q_COLUMNS}) SELECT source_id, source_file,
            source_line, source_record_id, ?, source_record_id,
            'duplicate record id in file (first at line ' || first_line || ')', batch_id, ?
            FROM temp.ingest_ranked WHERE rn > 1""", [m.record_id, ROW])
        s.rows_quarantined += int(dup)
        tomb = ("AND NOT EXISTS (SELECT 1 FROM retention_tombstones t"
                " WHERE t.record_id = s.record_id AND t.row_hash = s.row_hash)")
        has_tomb = st.has_table("retention_tombstones")
        if has_tomb:
            retired = st.scalar(f"""SELECT count(*) FROM temp.ingest_ranked s
                WHERE rn = 1 AND NOT (TRUE {tomb})""")
            st.execute(f"""INSERT INTO quarantine ({_Q_COLUMNS}) SELECT source_id,
                source_file, source_line, source_record_id, NULL, NULL,
                'record removed under the retention policy; not ingested again', batch_id, ?
                FROM temp.ingest_ranked s WHERE rn = 1 AND NOT (TRUE {tomb})""", [ROW])
            s.rows_quarantined += int(retired)
        st.execute(f"""CREATE OR REPLACE TEMP TABLE ingest_cls AS
            SELECT s.sid, s.record_id, c.version AS cur_version, c.row_hash AS cur_hash,
              c.row_hash IS NOT NULL AND (c.row_hash <> s.row_hash
                OR c.mapping_hash IS DISTINCT FROM s.mapping_hash) AS changed
            FROM temp.ingest_ranked s LEFT JOIN records c
              ON c.record_id = s.record_id AND c.is_current
            WHERE s.rn = 1 {tomb if has_tomb else ''}""")
        counts = st.fetchone("""SELECT
            count(*) FILTER (WHERE cur_hash IS NULL),
            count(*) FILTER (WHERE changed),
            count(*) FILTER (WHERE cur_hash IS NOT NULL AND NOT changed)
            FROM temp.ingest_cls""")
        assert counts is not None
        s.records_added, s.records_versioned, s.records_unchanged = (int(c) for c in counts)
        if s.records_versioned:  # a first load changes nothing: no scan of records
            st.execute("""UPDATE records SET is_current = false WHERE is_current
                AND record_id IN (SELECT record_id FROM temp.ingest_cls WHERE changed)""")
        cols = [f"s.{c}" if c != "version" else "coalesce(c.cur_version, 0) + 1"
                for c in RECORD_COLUMNS]
        # By name: a migrated store's columns may be in another order than RECORD_COLUMNS.
        st.execute(f"""INSERT INTO records ({', '.join(RECORD_COLUMNS)})
            SELECT {', '.join(cols)} FROM temp.ingest_stage s JOIN temp.ingest_cls c
              ON s.rowid = c.sid
            WHERE c.cur_hash IS NULL OR c.changed""")
        for t in ("ingest_stage", "ingest_ranked", "ingest_cls"):
            st.execute(f"DROP TABLE IF EXISTS temp.{t}")


@dataclass
class OpenedFile:
    """A source file opened for its batch: checked, hashed, and its chunks being read
    and normalised (in the workers, when there is a pool). :func:`open_file` makes one
    ahead of time so that the workers start on the next file while this one is merged
    and committed; ``error`` holds what opening it raised, raised again when its turn
    comes. :meth:`close` stops the reading of a file that will not be ingested."""

    manifest: Manifest
    path: Path
    before: tuple[int, int]  # size and modification time when it was opened
    sha: str
    ctx: ChunkContext
    prepared: Iterator[Prepared]
    t0: float

    def unchanged(self) -> None:
        after = self.path.stat()
        if (after.st_size, after.st_mtime_ns) != self.before:
            # rows added or rewritten while it was read would be stored under the hash of
            # another file: the whole batch rolls back
            raise FileRejected(self.path, "the file changed while it was being read (size "
                               "or modification time); nothing was stored, retry when it "
                               "is complete")

    def close(self) -> None:
        close = getattr(self.prepared, "close", None)
        if close is not None:
            close()


def open_file(m: Manifest, settings: Settings, pool: Executor | None = None) -> OpenedFile:
    """Check, hash and start reading ``m``'s file (see :class:`OpenedFile`)."""
    t0 = time.perf_counter()
    path = m.check_input_path(settings.allow_outside_paths)
    if not path.exists():
        raise FileRejected(path, "file not found")
    _check_columns(m)
    stat = path.stat()
    sha = file_sha256(path)
    started = clock.now_naive()
    batch_id = f"{m.id}-{started:%Y%m%dT%H%M%S%f}-{sha[:8]}"
    ctx = ChunkContext(m, batch_id, str(path), started, settings.default_region,
                       m.mapping_digest(settings.default_region))
    chunks = read_chunks(path, m.input.format, chunk_rows=settings.ingest_chunk_rows,
                         encoding=m.input.encoding, delimiter=m.input.delimiter,
                         max_field_bytes=settings.ingest_max_field_bytes,
                         max_record_lines=settings.csv_max_record_lines)
    return OpenedFile(m, path, (stat.st_size, stat.st_mtime_ns), sha, ctx,
                      ordered_map(prepare_chunk, ctx, chunks, pool), t0)


class FilesAhead:
    """The files of a run of manifests, each opened while the one before it is merged
    (:func:`ingest_manifest`'s ``after_read``): with a pool, the workers normalise the
    next file's first chunks while this one's rows are merged and committed. A file
    that cannot be opened is told when its turn comes (:meth:`take` raises what opening
    it raised). Use as a context manager: what was opened and not taken is closed."""

    def __init__(self, manifests: Sequence[Manifest], settings: Settings,
                 pool: Executor | None) -> None:
        self.manifests, self.settings, self.pool = list(manifests), settings, pool
        self.ahead: dict[int, OpenedFile | Exception] = {}

    def opener(self, i: int) -> Callable[[], None] | None:
        """What opens file ``i + 1`` when file ``i``'s rows are read (None: nothing to
        gain without workers, or no next file)."""
        if self.pool is None or i + 1 >= len(self.manifests):
            return None

        def open_next() -> None:
            if i + 1 in self.ahead:
                return
            try:
                self.ahead[i + 1] = open_file(self.manifests[i + 1], self.settings, self.pool)
            except Exception as exc:  # told when its turn comes, as if opened then
                self.ahead[i + 1] = exc

        return open_next

    def take(self, i: int) -> OpenedFile | None:
        """File ``i`` if it was opened ahead (raising what opening it raised)."""
        got = self.ahead.pop(i, None)
        if isinstance(got, Exception):
            raise got
        return got

    def __enter__(self) -> FilesAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        for got in self.ahead.values():
            if isinstance(got, OpenedFile):
                got.close()
        self.ahead.clear()


def ingest_manifest(
    store: Store, manifest: Manifest | Path, settings: Settings,
    progress: Progress | None = None, pool: Executor | None = None, *,
    opened: OpenedFile | None = None, after_read: Callable[[], None] | None = None,
) -> IngestSummary:
    """Ingest one source file as one batch (one transaction).

    ``pool`` (see :func:`idgraph.sources.parallel.worker_pool`) normalises chunks in
    worker processes; without one, everything runs in this process. ``opened``: the
    file, opened ahead of time (:class:`FilesAhead`); ``after_read`` is called once
    every row of the file is read, before they are merged (it opens the next file).
    """
    m = manifest if isinstance(manifest, Manifest) else load_manifest(manifest)
    f = opened if opened is not None else open_file(m, settings, pool)
    s = IngestSummary(m.id, str(f.path), f.ctx.batch_id)
    try:
        try:
            with store.transaction():
                _store_batch(store, f.ctx, s, settings, f.prepared, f.sha,
                             progress=progress, before_commit=f.unchanged, t0=f.t0,
                             after_read=after_read)
                # last: on PostgreSQL a change of ``sources`` bumps the registry's
                # generation row (a trigger), whose lock is then held only until this
                # commit, not while the file is read (other writers of the registry
                # would wait for the whole batch)
                register_source(store, m, m.base_dir, at=f.ctx.now)
        finally:
            f.close()
        _after_ingest(store, s)
        return s
    except AfterIngestError:
        raise
    except BaseException as exc:
        # a signal is raised wherever the main thread is: it may land as the COMMIT
        # returns, or just after it; a batch that did commit is said to be stored
        # (as an interrupted after-ingest step), never "nothing of it was stored"
        if _committed(store, f.ctx.batch_id):
            raise AfterIngestError(s, exc) from exc
        raise


def _committed(store: Store, batch_id: str) -> bool:
    """Did the batch commit (its ``batches`` row is written inside its transaction)?"""
    try:
        return records.batch_exists(store, batch_id)
    except Exception:  # the store cannot tell now: the batch is taken as not stored
        return False


def _store_batch(
    store: Store, ctx: ChunkContext, s: IngestSummary, settings: Settings,
    prepared: Iterable[Prepared], sha: str, *, progress: Progress | None = None,
    before_commit: Callable[[], None] | None = None, whole_file: bool = True,
    t0: float | None = None, after_read: Callable[[], None] | None = None,
) -> None:
    """Stage, merge and count one batch and write its ``batches`` row (inside the
    caller's transaction)."""
    started = t0 if t0 is not None else time.perf_counter()
    # DuckDB: the store itself, in the caller's transaction; PostgreSQL: a DuckDB
    # workspace given the current versions of the staged ids, whose result apply_batch
    # writes back
    with records.ingest_workspace(store, ctx.manifest.id) as ws:
        batch = _Batch(ws, ctx, s, settings)
        for p in prepared:
            batch.add(p)
            if progress:
                progress(p.rows)
        if after_read is not None:
            after_read()
        if ws is not store:
            records.load_current(store, ws, [str(r[0]) for r in ws.fetchall(
                "SELECT DISTINCT record_id FROM temp.ingest_stage")])
        batch.finish(whole_file=whole_file)
        if before_commit is not None:
            before_commit()
        records.apply_batch(store, ws, ctx.batch_id)
    s.seconds = time.perf_counter() - started
    records.insert_batch(store, records.BatchRow(
        ctx.batch_id, ctx.manifest.id, ctx.file, sha, ctx.now, clock.now_naive(),
        s.rows, s.records_added, s.records_unchanged, s.records_versioned,
        s.rows_quarantined, s.fields_quarantined, s.lines, s.lines_blank,
        s.lines_in_rows))


def _after_ingest(store: Store, s: IngestSummary) -> None:
    try:
        for hook in list(_AFTER_INGEST):
            hook(store, s.batch_id)
    except BaseException as exc:  # an interrupt here must not be read as "not stored"
        raise AfterIngestError(s, exc) from exc


def ingest_chunks(
    store: Store, m: Manifest, chunks: Iterable[Chunk], settings: Settings, *,
    source_file: str, sha: str, batch_id: str,
    in_transaction: Callable[[IngestSummary], None] | None = None,
) -> IngestSummary:
    """Ingest rows that did not come from the manifest's own file (a feed's push) as one
    batch, one transaction, judged line by line (no whole-file share or column checks):
    the source must be registered already. ``in_transaction(summary)`` runs inside the
    batch's transaction after the merge (a feed's receipt commits with its records).
    The after-ingest hooks (the search index) run after the commit."""
    t0 = time.perf_counter()
    s = IngestSummary(m.id, source_file, batch_id)
    ctx = ChunkContext(m, batch_id, source_file, clock.now_naive(), settings.default_region,
                       m.mapping_digest(settings.default_region))
    with store.transaction():
        _store_batch(store, ctx, s, settings, (prepare_chunk(ctx, c) for c in chunks), sha,
                     whole_file=False, t0=t0)
        if in_transaction is not None:
            in_transaction(s)
    _after_ingest(store, s)
    return s


def ingest_paths(
    store: Store, paths: Iterable[Path], settings: Settings,
    progress: Progress | None = None,
) -> list[IngestSummary]:
    """Ingest every manifest found under ``paths``; stops at the first manifest that
    cannot be used (two manifests of one source id included) or rejected file."""
    manifests, errors = load_manifests([Path(p) for p in paths])
    if errors:
        raise errors[0]
    with worker_pool(settings.ingest_workers) as pool, \
            FilesAhead(manifests, settings, pool) as files:
        return [ingest_manifest(store, m, settings, progress, pool, opened=files.take(i),
                                after_read=files.opener(i))
                for i, m in enumerate(manifests)]
