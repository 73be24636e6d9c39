"""Bulk matching: a list of people in, the best identity per row (or none) out.

The list is read as ingest reads a source: a mapping in the manifest format
(``docs/sources.md``: ``fields:`` canonical field -> ``column``/``template``/``value``,
``format:`` for dates, ``order:`` for full names; optional ``input:`` with format,
encoding, delimiter; optional ``record_id:``, the column naming each row in the output),
the same readers (:func:`idgraph.sources.readers.read_chunks`) and the same normalisers
(:func:`idgraph.sources.mapping.normalise_chunk`), so a row meets records in their own
terms. Keys a source manifest needs but a list does not (id, title, kind,
jurisdiction, ...) may be given (a source's own manifest can be reused) or left out.

Every row is reported, never dropped: a row the reader cannot parse, or with no value
to match on, is ``malformed`` with its line and the reason; a value that does not
normalise is left out of the row's criteria and named in its ``problems`` (line,
field, reason), and the rest of the row is matched.

One gate decision for the whole list (the mapped canonical fields are its filters: a
list mapping no protected attribute can be expressed, the canonical fields being an
allow-list), one audited act listing every row's result (line, identity id or none,
score). A row's best identity is reported when its probability reaches ``threshold``
(default 0.5), else none. Rows are matched a chunk at a time: candidates from the
index per row, then the views of every candidate of the chunk in one read. A long
list (:func:`workers_for`) is matched in worker processes (``search.match_pool``:
index lookups and scoring there, the store read here, the same results in the same
order); the decision and the audit stay this process's, one each.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from idgraph.audit import AuditEntry
from idgraph.policy.engine import AccessDecision, audit_decision
from idgraph.policy.registry import Registry
from idgraph.schema import CANONICAL_FIELDS, Query
from idgraph.search.criteria import CriteriaError, QueryRecord
from idgraph.search.find import Engine, notices_for, response_entry
from idgraph.search.find import gate as search_gate
from idgraph.search.index import field_scope
from idgraph.search.match_pool import (
    CANDIDATES,
    TASK_ROWS,
    identity_edges,
    match_in_pool,
    pool_context,
)
from idgraph.search.scope import fragments, member_records, model_input
from idgraph.search.scoring import Hit, at_each_precision, prepare_fragments, score_identities
from idgraph.sources.manifest import Manifest, ManifestError, parse_manifest
from idgraph.sources.mapping import normalise_chunk
from idgraph.sources.parallel import worker_pool
from idgraph.sources.readers import Chunk, read_chunks
from idgraph.store import Store

ACTION: Final[str] = "match"
THRESHOLD: Final[float] = 0.5
CHUNK_ROWS: Final[int] = 2_000
WORKERS: Final[int] = 2  # processes for a long list (search.match_pool)
POOL_BYTES: Final[int] = 256 * 1024  # a list this long (~5,000 rows) is matched in a pool
# canonical fields a match uses (others in a reused manifest are read and ignored)
MATCHED_FIELDS: Final[frozenset[str]] = frozenset({
    "first_name", "middle_name", "last_name", "suffix", "full_name", "dob", "birth_year",
    "sex", "street", "unit", "city", "state", "zip", "address", "phone", "email", "ssn",
    "dl_number", "dl_state", "plate",
})
# what a row needs at least one of to be matched (a sex or a state alone is no one)
_USABLE: Final[tuple[str, ...]] = (
    "first_name", "last_name", "dob_day", "dob_month", "birth_year", "street", "zip",
    "phone", "email", "ssn", "dl_key", "plate",
)
_LIST_DEFAULTS: Final[dict[str, Any]] = {
    "id": "match_list", "title": "match list", "kind": "other", "jurisdiction": "US",
    "collected_for": "match", "retention_days": 1,
}


class MatchError(ValueError):
    """A mapping or list that cannot be matched at all; ``fields``: the mapped names
    that are no canonical field (what :func:`refuse_mapping` puts before the gate)."""

    def __init__(self, message: str, fields: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.fields = tuple(fields)


@dataclass(frozen=True, slots=True)
class RowResult:
    line: int
    row_id: str | None
    status: str  # "matched" | "none" | "malformed"
    hit: Hit | None = None
    problems: tuple[str, ...] = ()

    def explanation_text(self) -> str:
        if self.hit is None:
            return ""
        return "; ".join(f"{e.comparison}: {e.level} ({e.weight:+.2f}, {e.source})"
                         for e in self.hit.explanation)


@dataclass
class MatchResult:
    query: Query
    rows: list[RowResult] = field(default_factory=list)
    unused_fields: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        out = {"matched": 0, "none": 0, "malformed": 0, "with_problems": 0}
        for r in self.rows:
            out[r.status] += 1
            out["with_problems"] += bool(r.problems) and r.status != "malformed"
        return out


def load_mapping(path: Path, list_path: Path | None = None) -> Manifest:
    """The mapping (manifest format) a list is read with; ``list_path`` overrides
    ``input.path`` and, without an ``input:`` section, its suffix gives the format."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise MatchError(f"{path}: cannot read the mapping: {exc}") from None
    if not isinstance(data, dict):
        raise MatchError(f"{path}: a mapping must be a YAML mapping with fields:")
    data = {**_LIST_DEFAULTS, **data}
    spec = dict(data.get("input") or {})
    if list_path is not None:
        spec["path"] = str(list_path.resolve())
        spec.setdefault("format", _format_of(list_path))
    spec["allow_outside"] = True  # the list is named on the command line
    data["input"] = spec
    data.setdefault("record_id", "")  # no row ids: rows are named by their line
    fields = data.get("fields")
    unknown = [str(k) for k in fields if k not in CANONICAL_FIELDS] if isinstance(
        fields, dict) else []
    if unknown:
        raise MatchError(f"{path}: fields: not canonical fields, nothing may be matched on "
                         f"them: {', '.join(unknown)}", unknown)
    try:
        manifest = parse_manifest(data, path.resolve())
    except ManifestError as exc:
        raise MatchError(str(exc)) from None
    return manifest


def refuse_mapping(
    store: Store, query: Query, error: MatchError, *, registry: Registry | None = None
) -> None:
    """A mapping naming fields that are not canonical (``error.fields``: race,
    religion, ...) is decided and audited as a bulk match by them: the gate refuses a
    protected attribute (AccessDenied, audited ``deny``); anything else is refused
    after it (``error``, audited ``refused``). An attempt leaves a trace either way."""
    reg = registry or Registry(store)
    detail = {"fields": list(error.fields), "error": "mapping names no canonical field"}
    try:
        search_gate(store, reg, query, list(error.fields), detail, action=ACTION,
                    unusable=list(error.fields), reason="not a canonical field")
    except CriteriaError:
        raise error from None


def _format_of(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    for fmt in ("csv", "jsonl", "parquet"):
        if name.endswith("." + fmt):
            return fmt
    return "csv"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    row_id: str | None
    reading: QueryRecord | None
    problems: tuple[str, ...]


def _rows(manifest: Manifest, chunk: Chunk, region: str) -> Iterator[_Row]:
    """The chunk's rows (parsed and not) in line order, each as a model input row."""
    n = len(chunk)
    cols, issues = normalise_chunk(manifest, chunk.columns, n, region) if n else ({}, [])
    problems: dict[int, list[str]] = {}
    for i, col, reason in chunk.bad_cells:
        problems.setdefault(i, []).append(f"{col}: {reason}")
    for issue in issues:
        problems.setdefault(issue.row, []).append(f"{issue.field}: {issue.reason}")
    ids = chunk.columns.get(manifest.record_id) if manifest.record_id else None
    out = [_Row(line, None, None, (reason.removeprefix(f"line {line}: "),))
           for line, reason in chunk.errors]
    for i in range(n):
        row = {c: v[i] for c, v in cols.items()}
        reading: QueryRecord | None = model_input(row)
        if reading is not None and not any(reading.get(c) not in (None, "", []) for c in _USABLE):
            reading = None
            problems.setdefault(i, []).append("no value to match on")
        out.append(_Row(chunk.lines[i], ids[i] if ids else None, reading,
                        tuple(problems.get(i, ()))))
    yield from sorted(out, key=lambda r: r.line)


def _match_chunk(
    engine: Engine, decision: AccessDecision, rows: Sequence[_Row], threshold: float
) -> list[RowResult]:
    segments = decision.permitted
    scope = field_scope(segments, decision.fields_for)
    wanted: list[list[str]] = []
    for r in rows:
        found = [] if r.reading is None else engine.index.candidates(
            r.reading, segments, CANDIDATES, field_segments=scope)
        wanted.append(list(dict.fromkeys(c.identity_id for c in found if c.identity_id)))
    ids = sorted({i for w in wanted for i in w})
    views = prepare_fragments(decision, fragments(engine.store, member_records(
        engine.store, ids, segments, engine.index)))
    scorer = engine.scorer(segments)
    hits: list[Hit | None] = []
    for r, ids in zip(rows, wanted, strict=True):
        found_hits = [] if r.reading is None else score_identities(
            scorer, decision, at_each_precision([r.reading]), ids, views, top=1)
        hits.append(found_hits[0] if found_hits else None)
    return _results(rows, hits, threshold)


def _results(rows: Sequence[_Row], hits: Sequence[Hit | None], threshold: float
             ) -> list[RowResult]:
    """Each row's result: malformed (no reading), its best hit when it reaches
    ``threshold``, else none."""
    out = []
    for r, hit in zip(rows, hits, strict=True):
        if r.reading is None:
            out.append(RowResult(r.line, r.row_id, "malformed", None, r.problems))
            continue
        best = hit if hit is not None and hit.score >= threshold else None
        out.append(RowResult(r.line, r.row_id, "matched" if best else "none", best,
                             r.problems))
    return out


def workers_for(list_path: Path, workers: int | None) -> int:
    """Processes to match with: ``workers`` if given, else :data:`WORKERS` (at most the
    CPUs) for a list of :data:`POOL_BYTES` or more (a pool costs ~1 s to start)."""
    if workers is not None:
        return max(1, workers)
    try:
        size = list_path.stat().st_size
    except OSError:
        size = 0
    return min(WORKERS, os.cpu_count() or 1) if size >= POOL_BYTES else 1


def match_list(
    store: Store,
    query: Query,
    list_path: Path,
    mapping: Manifest,
    *,
    registry: Registry | None = None,
    engine: Engine | None = None,
    threshold: float = THRESHOLD,
    region: str = "US",
    on_rows: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> MatchResult:
    """Match every row of ``list_path`` (see module doc); one gate decision, one audited
    act; raises AccessDenied when no source may be used. ``workers``: processes to
    match with (:func:`workers_for`; 2 or more: ``search.match_pool``); ``on_rows`` is
    called after each chunk with its number of rows."""
    if query.case_id is None:
        raise MatchError("a bulk match needs a case (--case)")
    reg = registry or Registry(store)
    used = [f for f in mapping.fields if f in MATCHED_FIELDS]
    detail = {"fields": used, "list_sha256": file_sha256(list_path)}
    decision = search_gate(store, reg, query, used, detail, action=ACTION)
    engine = engine or Engine.open(store)
    result = MatchResult(query, unused_fields=tuple(f for f in mapping.fields if f not in used))
    inp = mapping.input
    with _decodable(list_path, inp.format, inp.encoding) as (readable, undecodable):

        def batches(size: int) -> Iterator[list[_Row]]:
            batch: list[_Row] = []
            for chunk in read_chunks(readable, inp.format, chunk_rows=CHUNK_ROWS,
                                     encoding=inp.encoding, delimiter=inp.delimiter):
                batch.extend(r for r in _rows(mapping, chunk, region)
                             if r.line not in undecodable)
                while len(batch) >= size:
                    yield batch[:size]
                    batch = batch[size:]
            if batch:
                yield batch

        n_workers = workers_for(list_path, workers)
        if n_workers < 2:
            for rows in batches(CHUNK_ROWS):
                result.rows += _match_chunk(engine, decision, rows, threshold)
                if on_rows:
                    on_rows(len(rows))
        else:
            result.rows += _match_pooled(engine, decision, batches(TASK_ROWS), threshold,
                                         n_workers, on_rows)
    if undecodable:
        result.rows += [RowResult(line, None, "malformed", None, (reason,))
                        for line, reason in undecodable.items()]
        result.rows.sort(key=lambda r: r.line)
    _audit(store, reg, decision, result, list_path, used, threshold)
    return result


def _match_pooled(
    engine: Engine,
    decision: AccessDecision,
    batches: Iterator[list[_Row]],
    threshold: float,
    workers: int,
    on_rows: Callable[[int], None] | None,
) -> list[RowResult]:
    """The rows matched in a pool of ``workers`` (``search.match_pool``), in order."""
    out: list[RowResult] = []
    waiting: deque[list[_Row]] = deque()

    def readings() -> Iterator[list[QueryRecord | None]]:
        for rows in batches:
            waiting.append(rows)
            yield [r.reading for r in rows]

    scorer = engine.scorer(decision.permitted)
    with worker_pool(workers) as pool, pool_context(engine.index, scorer, decision) as ctx:
        assert pool is not None
        for hits in match_in_pool(pool, ctx, readings(),
                                  lambda ids: identity_edges(engine.store, ids),
                                  in_flight=workers + 1):
            rows = waiting.popleft()
            out += _results(rows, hits, threshold)
            if on_rows:
                on_rows(len(rows))
    return out


@contextmanager
def _decodable(path: Path, fmt: str, encoding: str) -> Iterator[tuple[Path, dict[int, str]]]:
    """The list as the reader may read it, and its lines that are not valid text in
    ``encoding`` (line -> reason). The reader rejects a whole file for one bad byte;
    a list is matched row by row, so such a line is reported malformed and the others
    are matched: they are read from a copy in which each bad line is blank (the line
    numbers stay). Text formats in an ASCII-compatible encoding only."""
    bad: dict[int, str] = {}
    if fmt in ("csv", "jsonl") and _ascii_compatible(encoding):
        opener: Callable[..., Any] = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rb") as f:
            for n, raw in enumerate(f, 1):
                try:
                    raw.decode(encoding)
                except UnicodeDecodeError as exc:
                    bad[n] = f"not valid {encoding} text (byte {exc.start + 1} of the line)"
    if not bad:
        yield path, bad
        return
    with tempfile.TemporaryDirectory(prefix="idg-match-") as tmp:
        copy = Path(tmp) / path.name.removesuffix(".gz").removesuffix(".GZ")
        with opener(path, "rb") as src, copy.open("wb") as out:
            for n, raw in enumerate(src, 1):
                out.write(b"\n" if n in bad else raw)
        yield copy, bad


def _ascii_compatible(encoding: str) -> bool:
    try:
        return "a,\n".encode(encoding) == b"a,\n" and codecs.lookup(encoding) is not None
    except LookupError:
        return False


def _audit(
    store: Store,
    reg: Registry,
    decision: AccessDecision,
    result: MatchResult,
    list_path: Path,
    used: Sequence[str],
    threshold: float,
) -> None:
    hits = [r.hit for r in result.rows if r.hit is not None]
    disclosed: dict[str, set[str]] = {}
    for h in hits:
        disclosed.setdefault(h.identity_id, set()).update(h.segments)
    detail: dict[str, Any] = {
        "fields": list(used),
        "list_sha256": file_sha256(list_path),
        "threshold": threshold,
        "counts": result.counts(),
        "rows": [
            [r.line, r.hit.identity_id if r.hit else None, r.hit.score if r.hit else None]
            for r in result.rows
        ],
        "malformed": [[r.line, "; ".join(r.problems)] for r in result.rows
                      if r.status == "malformed"],
        "withheld": list(decision.denied),
    }
    unique = {h.identity_id: h for h in hits}
    with store.transaction():
        notices = notices_for(store, reg, decision, disclosed)
        detail["notices"] = notices
        audit_decision(store, decision,
                       response_entry(decision, "ok", list(unique.values()), detail, ACTION))
    result.notices = tuple(notices)


# A cell a spreadsheet would run as a formula (CSV injection): shown with a leading quote.
_FORMULA_START: Final[tuple[str, ...]] = ("=", "+", "-", "@", "\t", "\r")


def inert(value: Any) -> Any:
    """``value`` as a spreadsheet shows it without running it: a text starting with
    ``= + - @``, a tab or a carriage return gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def row_dicts(result: MatchResult) -> Iterator[dict[str, Any]]:
    """The rows as the output CSV writes them (formula cells made inert: a row id or a
    problem quoting the list's own ``=HYPERLINK(...)`` is text in a spreadsheet)."""
    for r in result.rows:
        row = {
            "line": r.line,
            "row_id": r.row_id or "",
            "status": r.status,
            "identity_id": r.hit.identity_id if r.hit else "",
            "score": f"{r.hit.score:.6f}" if r.hit else "",
            "explanation": r.explanation_text(),
            "problems": "; ".join(r.problems),
        }
        yield {k: inert(v) for k, v in row.items()}


DOWNLOAD: Final[str] = "match.download"


def download_entry(
    reg: Registry, result: MatchResult, principal: str, outcome: str = "ok",
    *, rules: Sequence[str] = (), detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """The audit entry of a download of a match's results by ``principal``: the
    identities and records the results disclose, under the match's purpose and case."""
    q, user = result.query, reg.users.get(principal)
    hits = [r.hit for r in result.rows if r.hit is not None] if outcome == "ok" else []
    return AuditEntry(
        principal=principal,
        organisation=user.org if user else None,
        role=user.role if user else None,
        action=DOWNLOAD,
        outcome=outcome,
        purpose=q.purpose,
        claims=q.claims,
        basis=q.basis,
        case_id=q.case_id,
        sources=tuple(sorted({g for h in hits for g in h.segments})),
        rules=tuple(rules),
        identity_ids=tuple(dict.fromkeys(h.identity_id for h in hits)),
        record_ids=tuple(dict.fromkeys(x for h in hits for x in h.record_ids or (h.record_id,))),
        detail={"rows": len(result.rows), **(detail or {})},
    )


OUTPUT_COLUMNS: Final[tuple[str, ...]] = (
    "line", "row_id", "status", "identity_id", "score", "explanation", "problems",
)

