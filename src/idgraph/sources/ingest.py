"""Ingest a source file into the store: one transaction per batch, every row accounted.

Each input row ends as a record (added, a new version, or unchanged) or as a
quarantine row naming the file, line, field and reason. A file that cannot be read at
all raises :class:`FileRejected` and leaves the store exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from idgraph import clock
from idgraph.schema import NORMALISED_COLUMNS, RECORD_COLUMNS
from idgraph.settings import Settings
from idgraph.sources.manifest import Manifest, find_manifests, load_manifest
from idgraph.sources.mapping import ORIGIN, normalise_chunk
from idgraph.sources.parallel import ordered_map, worker_pool
from idgraph.sources.readers import Chunk, FileRejected, header_columns, read_chunks
from idgraph.store import Store

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
    ("reason", pa.string()), ("batch_id", pa.string()),
])

Progress = Callable[[int], None]


@dataclass
class IngestSummary:
    """What one batch did. ``rows == records + rows_quarantined`` must hold."""

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

    @property
    def records(self) -> int:
        return self.records_added + self.records_versioned + self.records_unchanged

    @property
    def balanced(self) -> bool:
        return self.rows == self.records + self.rows_quarantined

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "records": self.records, "balanced": self.balanced}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def register_source(store: Store, m: Manifest, manifest_path: Path) -> None:
    """Insert or refresh the source's row (its legal regime travels with it)."""
    store.execute("DELETE FROM sources WHERE source_id = ?", [m.id])
    store.execute(
        "INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [m.id, m.title, m.kind.value, m.jurisdiction, list(m.regimes), m.collected_for,
         m.retention_days, str(manifest_path), json.dumps(m.public_dict()),
         clock.now_naive()],
    )


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


@dataclass(frozen=True)
class ChunkContext:
    manifest: Manifest
    batch_id: str
    file: str
    now: datetime
    region: str


def prepare_chunk(ctx: ChunkContext, chunk: Chunk) -> Prepared:
    """Validate record ids, normalise values, build raw rows and hashes for one chunk."""
    m = ctx.manifest
    q: list[tuple[Any, ...]] = [
        (m.id, ctx.file, line, None, None, None, reason, ctx.batch_id)
        for line, reason in chunk.errors
    ]
    n = len(chunk)
    ids = chunk.columns.get(m.record_id) or [None] * n
    keep = [i for i, v in enumerate(ids) if v is not None and v.strip()]
    for i in sorted(set(range(n)) - set(keep)):
        q.append((m.id, ctx.file, chunk.lines[i], None, m.record_id, None,
                  f"missing record id in column {m.record_id!r}", ctx.batch_id))
    out = Prepared(None, q, n + len(chunk.errors), len(chunk.errors) + n - len(keep), 0,
                   frozenset(chunk.columns))
    if len(keep) < n:
        chunk = Chunk({k: [v[i] for i in keep] for k, v in chunk.columns.items()},
                      [chunk.lines[i] for i in keep], [])
        n = len(keep)
    if n == 0:
        return out
    norm, issues = normalise_chunk(m, chunk.columns, n, ctx.region)
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
                  iss.value, reason, ctx.batch_id))
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


def _stage_table(
    ctx: ChunkContext, chunk: Chunk, norm: dict[str, list[Any]], src_ids: list[str], n: int
) -> pa.Table:
    keys = sorted(chunk.columns)
    raws = [json.dumps({k: chunk.columns[k][i] for k in keys}, separators=(",", ":"),
                       ensure_ascii=False) for i in range(n)]
    data: dict[str, list[Any]] = {
        "record_id": [f"{ctx.manifest.id}/{r}" for r in src_ids],
        "source_id": [ctx.manifest.id] * n,
        "source_record_id": src_ids,
        "version": [0] * n,
        "is_current": [True] * n,
        "row_hash": [hashlib.sha256(r.encode()).hexdigest() for r in raws],
        "batch_id": [ctx.batch_id] * n,
        "ingested_at": [ctx.now] * n,
        "source_file": [ctx.file] * n,
        "source_line": chunk.lines,
        "raw": raws,
    }
    for name in NORMALISED_COLUMNS:
        data[name] = norm.get(name) or [None] * n
    return pa.table(data, schema=_STAGE_SCHEMA)


class _Batch:
    """Accumulates one file's rows in a staging table inside the open transaction."""

    def __init__(self, store: Store, ctx: ChunkContext, summary: IngestSummary) -> None:
        self.store, self.m, self.s, self.file = store, ctx.manifest, summary, ctx.file
        self.seen_columns: set[str] = set()
        cols = ", ".join(f"{n} {t}" for n, t in RECORD_COLUMNS.items())
        store.execute("DROP TABLE IF EXISTS temp.ingest_stage")
        store.execute(f"CREATE TEMP TABLE ingest_stage ({cols})")

    def add(self, p: Prepared) -> None:
        s = self.s
        self.seen_columns.update(p.columns)
        s.rows += p.rows
        s.rows_quarantined += p.rows_quarantined
        s.fields_quarantined += p.fields_quarantined
        if p.table is not None:
            self.store.con.register("ingest_chunk", p.table)
            try:
                self.store.execute("INSERT INTO temp.ingest_stage SELECT * FROM ingest_chunk")
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
            self.store.execute("INSERT INTO quarantine SELECT * FROM ingest_q")
        finally:
            self.store.con.unregister("ingest_q")

    def finish(self) -> None:
        """Merge the staged rows into ``records``: new, new version, or unchanged."""
        m, s = self.m, self.s
        if self.m.input.format == "jsonl" and s.rows:
            missing = [c for c in m.required_columns() if c not in self.seen_columns]
            if missing:
                raise FileRejected(self.file, f"mapped column(s) {missing} in no row")
        st = self.store
        st.execute("""CREATE OR REPLACE TEMP TABLE ingest_ranked AS
            SELECT *, row_number() OVER w AS rn, first_value(source_line) OVER w AS first_line
            FROM temp.ingest_stage WINDOW w AS (PARTITION BY record_id ORDER BY source_line)""")
        dup = st.scalar("SELECT count(*) FROM temp.ingest_ranked WHERE rn > 1")
        st.execute("""INSERT INTO quarantine SELECT source_id, source_file, source_line,
            source_record_id, ?, source_record_id,
            'duplicate record id in file (first at line ' || first_line || ')', batch_id
            FROM temp.ingest_ranked WHERE rn > 1""", [m.record_id])
        s.rows_quarantined += int(dup)
        tomb = ("AND NOT EXISTS (SELECT 1 FROM retention_tombstones t"
                " WHERE t.record_id = s.record_id AND t.row_hash = s.row_hash)")
        has_tomb = bool(st.scalar(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'retention_tombstones'"))
        if has_tomb:
            retired = st.scalar(f"""SELECT count(*) FROM temp.ingest_ranked s
                WHERE rn = 1 AND NOT (TRUE {tomb})""")
            st.execute(f"""INSERT INTO quarantine SELECT source_id, source_file, source_line,
                source_record_id, NULL, NULL,
                'record removed under the retention policy; not ingested again', batch_id
                FROM temp.ingest_ranked s WHERE rn = 1 AND NOT (TRUE {tomb})""")
            s.rows_quarantined += int(retired)
        st.execute(f"""CREATE OR REPLACE TEMP TABLE ingest_cls AS
            SELECT s.*, c.version AS cur_version, c.row_hash AS cur_hash
            FROM temp.ingest_ranked s LEFT JOIN records c
              ON c.record_id = s.record_id AND c.is_current
            WHERE s.rn = 1 {tomb if has_tomb else ''}""")
        counts = st.fetchone("""SELECT
            count(*) FILTER (WHERE cur_hash IS NULL),
            count(*) FILTER (WHERE cur_hash IS NOT NULL AND cur_hash <> row_hash),
            count(*) FILTER (WHERE cur_hash = row_hash) FROM temp.ingest_cls""")
        assert counts is not None
        s.records_added, s.records_versioned, s.records_unchanged = (int(c) for c in counts)
        st.execute("""UPDATE records SET is_current = false WHERE is_current AND record_id IN
            (SELECT record_id FROM temp.ingest_cls
             WHERE cur_hash IS NOT NULL AND cur_hash <> row_hash)""")
        cols = [c if c != "version" else "coalesce(cur_version, 0) + 1" for c in RECORD_COLUMNS]
        st.execute(f"""INSERT INTO records SELECT {', '.join(cols)} FROM temp.ingest_cls
            WHERE cur_hash IS NULL OR cur_hash <> row_hash""")
        for t in ("ingest_stage", "ingest_ranked", "ingest_cls"):
            st.execute(f"DROP TABLE IF EXISTS temp.{t}")


def ingest_manifest(
    store: Store, manifest: Manifest | Path, settings: Settings,
    progress: Progress | None = None, pool: Executor | None = None,
) -> IngestSummary:
    """Ingest one source file as one batch (one transaction).

    ``pool`` (see :func:`idgraph.sources.parallel.worker_pool`) normalises chunks in
    worker processes; without one, everything runs in this process.
    """
    t0 = time.perf_counter()
    m = manifest if isinstance(manifest, Manifest) else load_manifest(manifest)
    path = m.input_path
    if not path.exists():
        raise FileRejected(path, "file not found")
    _check_columns(m)
    sha = file_sha256(path)
    started = clock.now_naive()
    batch_id = f"{m.id}-{started:%Y%m%dT%H%M%S%f}-{sha[:8]}"
    s = IngestSummary(m.id, str(path), batch_id)
    ctx = ChunkContext(m, batch_id, str(path), started, settings.default_region)
    chunks = read_chunks(path, m.input.format, chunk_rows=settings.ingest_chunk_rows,
                         encoding=m.input.encoding, delimiter=m.input.delimiter)
    with store.transaction():
        register_source(store, m, m.base_dir)
        batch = _Batch(store, ctx, s)
        for prepared in ordered_map(prepare_chunk, ctx, chunks, pool):
            batch.add(prepared)
            if progress:
                progress(prepared.rows)
        batch.finish()
        s.seconds = time.perf_counter() - t0
        store.execute(
            "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [batch_id, m.id, str(path), sha, started, clock.now_naive(),
             s.rows, s.records_added, s.records_unchanged, s.records_versioned,
             s.rows_quarantined, s.fields_quarantined],
        )
    return s


def ingest_paths(
    store: Store, paths: Iterable[Path], settings: Settings,
    progress: Progress | None = None,
) -> list[IngestSummary]:
    """Ingest every manifest found under ``paths``; stops at the first rejected file."""
    manifests = find_manifests([Path(p) for p in paths])
    with worker_pool(settings.ingest_workers) as pool:
        return [ingest_manifest(store, p, settings, progress, pool) for p in manifests]
