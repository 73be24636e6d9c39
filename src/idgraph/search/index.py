"""The search index: one tantivy document per current record, on disk in the data dir.

A document holds the record's terms (:mod:`idgraph.search.terms`: names, phonetic keys,
nickname canonicals, birth date parts, address, phone, identifiers, plate), its record
id, source, segment (:func:`idgraph.schema.segment_key`), identity id, model input row
and a digest of its values (:mod:`idgraph.search.documents`).
:meth:`SearchIndex.candidates` finds the records sharing terms with a query, inside the
permitted segments only (:mod:`idgraph.search.retrieval`): the segment filter is part of
the tantivy query, so a withheld segment's documents never come back, and the score (a
sum of static term weights, times a per-record tie-breaker) does not depend on any
other document, so they cannot change a rank either.

Keeping it in step (:func:`idgraph.search.sync.install_hooks`): after every ingest batch
commits its records
are (re)indexed, a new version replacing the old; after a resolve or a live attach the
identity ids are refreshed; a retention run removes its records in the same run.
:meth:`SearchIndex.check` compares the index with the store and names every difference;
:meth:`SearchIndex.rebuild` makes it again from the store, in one commit.

A damaged index (a lost ``meta.json``, a garbage file: tantivy panics) is a
:class:`SearchIndexError` with rebuild advice, never a silently empty index or a Rust
backtrace.

One writer at a time: every change opens a tantivy ``IndexWriter``, commits and closes it
before returning, then reloads this object's reader; readers in other processes see a
commit when they next search (tantivy reloads on commit).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, Final, ParamSpec, TypeVar

import pyarrow as pa
import tantivy

from idgraph.schema import segment_key
from idgraph.search.criteria import Criteria, QueryRecord
from idgraph.search.documents import (
    FIELD_NAMES,
    SCHEMA,
    SORT_FIELD,
    current_rows,
    current_table,
    document,
    identities_of,
    reading,
    stored_digests,
)
from idgraph.search.retrieval import (
    FieldSegments,
    any_of,
    build_query,
    distinct_first,
    field_scope,
    query_rows,
    scope,
)
from idgraph.search.terms import query_terms
from idgraph.settings import Settings
from idgraph.store import Store, records

__all__ = [
    "INDEX_DIRNAME",
    "Candidate",
    "IndexDiff",
    "SearchIndex",
    "SearchIndexError",
    "field_scope",
    "index_dir",
    "store_markers",
]

INDEX_DIRNAME: Final = "index"
# Bumped when the document layout changes: an index of another version must be rebuilt.
LAYOUT_VERSION: Final = 1
_LAYOUT_FILE: Final = "idgraph-index.json"
# The writer's memory: a writer flushes a segment when it is full, and every query
# visits every segment, so a rebuild writes one (1M records: ~4 segments at 128 MB, one
# at 1 GB; tantivy takes the memory as it fills); small writes (one ingest batch, an
# attach) take less.
_HEAP_SMALL: Final = 64_000_000
_HEAP_LARGE: Final = 1_000_000_000
_WRITER_WAIT: Final = 30.0  # seconds to wait for another process's writer
_CHECK_BATCH: Final = 50_000  # documents whose stored rows check() digests at a time

# What the index was last in step with: counts that every change of records or
# identities raises (an ingest batch, a resolve run, a live attach's lineage, a
# retention run's tombstones), kept in the layout file by every index update that
# leaves the index in step (rebuild, a full add, the sync hooks). :meth:`behind`
# compares them, and the number of documents with the number of current records, with
# the store: one small query, no read of records.
_MARKER_TABLES: Final[dict[str, str]] = {
    "batches": "batches", "link_runs": "link_runs", "lineage": "identity_lineage",
    "tombstones": "retention_tombstones",
}

Progress = Callable[[int], None]

# rows() reads at most this many documents per identity asked for (far more records
# than one person leaves in any source collection)
_MEMBERS_PER_IDENTITY: Final = 1000


class SearchIndexError(RuntimeError):
    """The index cannot be used as it is (another layout, a writer that never frees)."""


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _panics_are_errors(
    method: Callable[Concatenate[SearchIndex, _P], _R],
) -> Callable[Concatenate[SearchIndex, _P], _R]:
    """tantivy panics on a damaged index (a garbage document store, a lost file): pyo3
    raises ``PanicException``, a BaseException that ``except Exception`` and the CLI's
    handlers let through (a Rust backtrace on the terminal). It becomes a
    :class:`SearchIndexError` with rebuild advice; an interrupt is left as it is."""

    @functools.wraps(method)
    def guarded(self: SearchIndex, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with _panic_guard(self.path):
            return method(self, *args, **kwargs)

    return guarded


@contextmanager
def _panic_guard(path: Path) -> Iterator[None]:
    try:
        yield
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:
        if type(exc).__name__ != "PanicException":
            raise
        raise SearchIndexError(
            f"the search index in {path} is damaged (tantivy: {exc}): "
            "run `idgraph index rebuild`") from exc


@dataclass(frozen=True, slots=True)
class Candidate:
    """A record sharing terms with a query; ``score`` ranks candidates of one query."""

    record_id: str
    identity_id: str | None
    segment: str
    score: float


@dataclass(frozen=True, slots=True)
class IndexDiff:
    """How the index differs from the store; every tuple holds record ids, sorted."""

    missing: tuple[str, ...] = ()  # current records with no document
    extra: tuple[str, ...] = ()  # documents of no current record
    duplicate: tuple[str, ...] = ()  # records with more than one document
    identity: tuple[str, ...] = ()  # documents whose identity id differs
    segment: tuple[str, ...] = ()  # documents whose segment differs
    values: tuple[str, ...] = ()  # documents made from other values
    layout: str | None = None  # the index's layout is not this version's

    @property
    def empty(self) -> bool:
        return self.layout is None and not any(
            (self.missing, self.extra, self.duplicate, self.identity, self.segment,
             self.values))

    def counts(self) -> dict[str, int]:
        return {k: len(getattr(self, k)) for k in _DIFF_KINDS}

    def lines(self, show: int = 10) -> list[str]:
        """One line per kind of difference, naming up to ``show`` record ids."""
        out = [f"index layout: {self.layout}"] if self.layout else []
        for kind in _DIFF_KINDS:
            ids: tuple[str, ...] = getattr(self, kind)
            if ids:
                more = f" (and {len(ids) - show:,} more)" if len(ids) > show else ""
                out.append(f"{_DIFF_TEXT[kind]}: {len(ids):,}: {', '.join(ids[:show])}{more}")
        return out


_DIFF_KINDS: Final = ("missing", "extra", "duplicate", "identity", "segment", "values")
_DIFF_TEXT: Final = {
    "missing": "records missing from the index",
    "extra": "documents of no current record",
    "duplicate": "records with more than one document",
    "identity": "documents with another identity id",
    "segment": "documents with another segment",
    "values": "documents made from other values",
}


@dataclass(frozen=True, slots=True)
class _DocInfo:
    record_id: str
    identity_id: str | None
    segment: str
    digest: str
    row_digest: str = ""  # the digest of the stored row (check(): a forged row differs)


def index_dir(settings: Settings) -> Path:
    """Where the index lives: ``<data_dir>/index``."""
    return settings.data_dir / INDEX_DIRNAME


class SearchIndex:
    """The tantivy index of one data dir (see the module docstring)."""

    def __init__(self, path: Path, index: tantivy.Index) -> None:
        self.path = path
        self._index = index

    # -- opening -------------------------------------------------------------------
    @classmethod
    def open(cls, settings: Settings) -> SearchIndex:
        """The index of ``settings.data_dir`` (created empty if there is none)."""
        return cls.at(index_dir(settings))

    @classmethod
    def at(cls, path: Path) -> SearchIndex:
        """The index in folder ``path`` (created empty if there is none)."""
        path.mkdir(parents=True, exist_ok=True)
        layout = path / _LAYOUT_FILE
        made = (path / "meta.json").exists()
        if not made and layout.exists():
            # an index was made here and has lost its meta.json: a new empty index over
            # its files would answer every search "no identity found"
            raise SearchIndexError(
                f"the search index in {path} has lost its meta.json (its files are "
                "unreadable without it): run `idgraph index rebuild`")
        if made:
            found = _layout_version(layout)
            if found != LAYOUT_VERSION or not _same_schema(path / "meta.json"):
                what = (f"layout {found}" if found != LAYOUT_VERSION
                        else "other fields (another version of idgraph)")
                raise SearchIndexError(
                    f"the search index in {path} has {what}; this idgraph writes layout "
                    f"{LAYOUT_VERSION}: run `idgraph index rebuild`")
        try:
            with _panic_guard(path):
                index = tantivy.Index(SCHEMA, path=str(path), reuse=True,
                                      sort_by_field=SORT_FIELD)
        except ValueError as exc:
            raise SearchIndexError(f"cannot open the search index in {path}: {exc}; "
                                   "run `idgraph index rebuild`") from exc
        if not made:
            layout.write_text(json.dumps({"layout": LAYOUT_VERSION}))
        return cls(path, index)

    # -- in step with the store -----------------------------------------------------
    def mark_synced(self, store: Store) -> None:
        """Record that the index is in step with ``store`` now (after an update that
        leaves it so: see :data:`_MARKER_TABLES`)."""
        layout = self.path / _LAYOUT_FILE
        tmp = layout.with_name(f".{layout.name}.{os.getpid()}.{uuid.uuid4().hex}")
        tmp.write_text(json.dumps({"layout": LAYOUT_VERSION, "synced": store_markers(store)}))
        tmp.replace(layout)

    @_panics_are_errors
    def behind(self, store: Store, now: Mapping[str, int] | None = None) -> str | None:
        """Why the index is behind ``store`` (None: no sign of it): its documents are
        not one per current record, or the store changed (an ingest, resolve, attach
        or retention run) since the index was last in step, with no index update after
        (a library caller without :func:`idgraph.search.sync.install_hooks`, or an
        update that failed). Its stored rows may then hold records or values the store
        no longer has: read them from the store (search/scope.member_records).
        ``now``: the store's :func:`store_markers`, when the caller has just read them
        (each read costs a few ms at 1M records)."""
        if now is None:
            now = store_markers(store)
        docs = self.count()
        if docs != now["records"]:
            return f"{docs:,} documents for {now['records']:,} current records"
        try:
            synced = json.loads((self.path / _LAYOUT_FILE).read_text()).get("synced")
        except (OSError, ValueError):
            synced = None
        if not isinstance(synced, dict):
            return None  # an index from before the markers: the count only
        changed = [k for k in _MARKER_TABLES if synced.get(k) != now[k]]
        return f"the store's {', '.join(changed)} changed since" if changed else None

    @classmethod
    def create(cls, path: Path) -> SearchIndex:
        """A new empty index in ``path``: an index there (of any layout) is deleted."""
        if (path / "meta.json").exists() or (path / _LAYOUT_FILE).exists():
            shutil.rmtree(path)
        return cls.at(path)

    @classmethod
    def exists(cls, settings: Settings) -> bool:
        return (index_dir(settings) / "meta.json").exists()

    @classmethod
    def of_store(cls, store: Store) -> SearchIndex | None:
        """The index beside a file store (its data dir's ``index``), if it was made;
        None for an in-memory store or a data dir without an index."""
        if store.data_dir is None:
            return None
        path = store.data_dir / INDEX_DIRNAME
        return cls.at(path) if (path / "meta.json").exists() else None

    @_panics_are_errors
    def count(self) -> int:
        """Documents in the index."""
        return int(self._searcher().num_docs)

    # -- writing -------------------------------------------------------------------
    @_panics_are_errors
    def add(self, store: Store, record_ids: Sequence[str] | None = None,
            progress: Progress | None = None, *, clear: bool = False) -> int:
        """(Re)index current records (None: all): each record's old document goes, its
        current one comes; an id with no current record only loses its document.
        ``clear``: every other document goes too, in the same commit (a rebuild: readers
        see the old documents until the new ones are committed). Returns the number of
        documents written."""
        with reading(store, True, record_ids) as rows:
            written = self._write(rows, record_ids or (), progress,
                                  large=record_ids is None, clear=clear)
        if record_ids is None:
            self.mark_synced(store)
        return written

    @_panics_are_errors
    def add_batch(self, store: Store, batch_id: str) -> int:
        """Index the records an ingest batch wrote (new ones and new versions)."""
        # a first version has no document yet: only new versions replace one
        replaced = records.replaced_in_batch(store, batch_id)
        with reading(store, True, batch_id=batch_id) as rows:
            return self._write(rows, replaced)

    def _write(self, batches: Iterable[pa.RecordBatch | list[dict[str, Any]]],
               replaced: Sequence[str], progress: Progress | None = None,
               large: bool = False, clear: bool = False) -> int:
        """Delete the documents of ``replaced`` (``clear``: every document), then add one
        per row (a batch of the store's rows, or a list of rows made ready), in one
        commit."""
        written = 0
        with self._writer(_HEAP_LARGE if large else _HEAP_SMALL) as writer:
            if clear:
                writer.delete_all_documents()
            for rid in dict.fromkeys(replaced):
                writer.delete_documents_by_term("record_id", rid)
            for batch in batches:
                rows = batch if isinstance(batch, list) else current_rows(batch)
                for row in rows:
                    writer.add_document(document(row))
                    written += 1
                if progress:
                    progress(len(rows))
        return written

    @_panics_are_errors
    def remove(self, record_ids: Sequence[str]) -> int:
        """Delete the documents of these records; returns how many records were asked."""
        ids = list(dict.fromkeys(record_ids))
        if not ids:
            return 0
        with self._writer() as writer:
            for rid in ids:
                writer.delete_documents_by_term("record_id", rid)
        return len(ids)

    @_panics_are_errors
    def rebuild(self, store: Store, progress: Progress | None = None) -> int:
        """Every current record indexed again from the store (the old documents gone),
        in one commit: until it, readers in any process see the old documents (a rebuild
        of 1M records takes minutes; an empty index between two commits would answer
        every search "no identity found")."""
        return self.add(store, None, progress, clear=True)

    @_panics_are_errors
    def set_identities(self, store: Store, record_ids: Sequence[str] | None = None) -> int:
        """Refresh identity ids after a resolve or an attach: documents whose identity id
        differs from the store's are written again (``record_ids``: only these records
        may have changed; records not yet indexed are added). Returns documents written."""
        if record_ids is not None:
            return self._reassign(store, list(dict.fromkeys(record_ids)))
        stored = current_table(store)
        want = dict(zip(stored.column("record_id").to_pylist(),
                        stored.column("identity_id").to_pylist(), strict=True))
        changed = [rid for rid, info in self._documents().items()
                   if rid in want and info[0].identity_id != want[rid]]
        if len(changed) > len(want) // 2:
            return self.rebuild(store)
        return self.add(store, changed) if changed else 0

    def _reassign(self, store: Store, ids: list[str]) -> int:
        """Documents of ``ids`` written again with the store's identity ids, made from
        their own stored values (one point read of the memberships, no read of the
        records: what a live attach needs, ~100 records a commit); records with no
        document yet are indexed from the store."""
        docs = self._stored(ids)
        identity = identities_of(store, list(docs))
        rows = [{**row, "identity_id": identity.get(rid)} for rid, row in docs.items()
                if row["identity_id"] != identity.get(rid)]
        missing = [rid for rid in ids if rid not in docs]
        written = self._write([rows], [str(r["record_id"]) for r in rows]) if rows else 0
        return written + (self.add(store, missing) if missing else 0)

    def _stored(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Record id -> the document's stored values, as :func:`document` takes them."""
        if not ids:
            return {}
        searcher = self._searcher()
        hits = searcher.search(any_of("record_id", ids), limit=2 * len(ids), count=False).hits
        out: dict[str, dict[str, Any]] = {}
        for _, addr in hits:
            doc = searcher.doc(addr)
            raw = doc.get_first("row")
            assert isinstance(raw, bytes)
            row = json.loads(raw)
            key = row.get("dl_key")
            row.update(identity_id=doc.get_first("identity_id"), digest=doc.get_first("digest"),
                       segment=doc.get_first("segment"),
                       dl_number=key.split(":", 1)[1] if isinstance(key, str) else None)
            out[str(row["record_id"])] = row
        return out

    # -- reading -------------------------------------------------------------------
    @_panics_are_errors
    def candidates(
        self,
        query: Criteria | QueryRecord | Sequence[QueryRecord],
        segments: Collection[str],
        limit: int = 200,
        *,
        field_segments: FieldSegments | None = None,
    ) -> list[Candidate]:
        """Records of the permitted ``segments`` sharing terms with ``query`` (criteria,
        one model input row, or several readings), best first: the best record of each
        identity first (distinct identities, then further records), at most ``limit``.

        ``field_segments`` (canonical record field -> the permitted segments whose
        decision lets that field leave, as :func:`field_scope` makes it from
        ``AccessDecision.fields_for``): a phone, SSN, licence, plate, birth date, house
        and street, ZIP or city term matches only in its field's segments (a field the
        mapping does not name: in none), so a withheld field neither finds nor ranks a
        record; names match in all ``segments``. None: every field in every segment."""
        if not segments or limit <= 0:
            return []
        terms = query_terms(query_rows(query))
        if terms.empty:
            return []
        tantivy_query = build_query(terms, segments, field_segments)
        if tantivy_query is None:
            return []
        searcher = self._searcher()
        hits = searcher.search(tantivy_query, limit=min(limit * 4, 4000),
                               count=False, weight_by_field="tie").hits
        if not hits:
            return []
        keys = searcher.fast_field_values("ik", [addr for _, addr in hits])
        chosen = distinct_first(
            [(float(score), addr, key) for (score, addr), key in zip(hits, keys, strict=True)],
            limit)
        out = []
        for score, addr in chosen:
            doc = searcher.doc(addr)
            out.append(Candidate(str(doc.get_first("record_id")), doc.get_first("identity_id"),
                                 str(doc.get_first("segment")), score))
        return out

    @_panics_are_errors
    def stored_rows(self, record_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The model input rows kept for these records (those the index holds): a live
        linker's row source (``idgraph.link.attach.RowSource``), no store read."""
        return list(self._stored(list(dict.fromkeys(record_ids))).values())

    @_panics_are_errors
    def rows(self, identity_ids: Sequence[str],
             segments: Collection[str]) -> dict[str, list[dict[str, Any]]]:
        """Identity id -> the model input rows (:data:`ROW_COLUMNS`, plus ``segment``) of
        its documents in the permitted ``segments``, by record id: an identity's members
        as the purpose may see them (``policy.view.member_rows``), read from the index.
        An identity with no such document is left out."""
        ids = sorted(set(identity_ids))
        if not ids or not segments:
            return {}
        searcher = self._searcher()
        query = tantivy.Query.boolean_query([
            (tantivy.Occur.Must, any_of("identity_id", ids)),
            (tantivy.Occur.Must, scope(segments)),
        ])
        out: dict[str, list[dict[str, Any]]] = {}
        limit = _MEMBERS_PER_IDENTITY * len(ids)
        for _, addr in searcher.search(query, limit=limit, count=False).hits:
            doc = searcher.doc(addr)
            raw = doc.get_first("row")
            assert isinstance(raw, bytes)
            row = json.loads(raw)
            row["segment"] = doc.get_first("segment")
            out.setdefault(str(doc.get_first("identity_id")), []).append(row)
        return {iid: sorted(rows, key=lambda r: str(r["record_id"]))
                for iid, rows in sorted(out.items())}

    @_panics_are_errors
    def check(self, store: Store) -> IndexDiff:
        """How the index differs from the store (empty: they agree). ``values`` names
        a document made from other values than the record's, and one whose stored row
        (what a hit shows and is scored on) is not the row its digest was made from:
        each stored row's digest is made again, as the store's is."""
        try:
            found = _layout_version(self.path / _LAYOUT_FILE)
        except SearchIndexError as exc:
            return IndexDiff(layout=str(exc))
        if found != LAYOUT_VERSION:
            return IndexDiff(layout=f"{found}, expected {LAYOUT_VERSION}")
        table = current_table(store)
        want = {
            rid: _DocInfo(rid, iid, segment_key(src, origin), digest)
            for rid, src, origin, iid, digest in zip(
                *(table.column(c).to_pylist() for c in
                  ("record_id", "source_id", "origin_jurisdiction", "identity_id", "digest")),
                strict=True)
        }
        docs = self._documents(with_rows=True)
        have = {rid: infos[0] for rid, infos in docs.items()}
        # a document whose stored row (what a hit shows and is scored on) is not the row
        # its digest was made from: changed after it was written
        forged = {rid for rid, infos in docs.items()
                  if any(i.row_digest != i.digest for i in infos)}
        return IndexDiff(
            missing=tuple(sorted(want.keys() - have.keys())),
            extra=tuple(sorted(have.keys() - want.keys())),
            duplicate=tuple(sorted(rid for rid, infos in docs.items() if len(infos) > 1)),
            identity=_differ(want, have, "identity_id"),
            segment=_differ(want, have, "segment"),
            values=tuple(sorted({*_differ(want, have, "digest"), *forged})),
        )

    # -- internals -----------------------------------------------------------------
    def _searcher(self) -> tantivy.Searcher:
        # the last commit of any writer, this process's or another's (~30 us)
        self._index.reload()
        return self._index.searcher()

    def _documents(self, with_rows: bool = False) -> dict[str, list[_DocInfo]]:
        """Every document's stored fields, by record id (``with_rows``: and the digest
        of its stored row, made as the store's is: :func:`stored_digests`)."""
        searcher = self._searcher()
        total = int(searcher.num_docs)
        out: dict[str, list[_DocInfo]] = {}
        if total == 0:
            return out
        hits = searcher.search(tantivy.Query.all_query(), limit=total, count=False).hits
        for start in range(0, len(hits), _CHECK_BATCH):
            infos, rows = [], []
            for _, addr in hits[start:start + _CHECK_BATCH]:
                doc = searcher.doc(addr)
                rid = str(doc.get_first("record_id"))
                infos.append(_DocInfo(rid, doc.get_first("identity_id"),
                                      str(doc.get_first("segment")),
                                      str(doc.get_first("digest"))))
                if with_rows:
                    raw = doc.get_first("row")
                    rows.append(json.loads(raw) if isinstance(raw, bytes) else {})
            digests = stored_digests(rows) if with_rows else [""] * len(infos)
            for info, row_digest in zip(infos, digests, strict=True):
                out.setdefault(info.record_id, []).append(
                    _DocInfo(info.record_id, info.identity_id, info.segment, info.digest,
                             row_digest))
        return out

    def _writer(self, heap: int = _HEAP_SMALL) -> _Writing:
        return _Writing(self._index, heap)


class _Writing:
    """One writer: opened (waiting for another process's), committed and closed on a
    clean exit, rolled back on an error; the reader reloads after either."""

    def __init__(self, index: tantivy.Index, heap: int) -> None:
        self._index = index
        self._heap = heap
        self._writer: tantivy.IndexWriter | None = None

    def __enter__(self) -> tantivy.IndexWriter:
        deadline = time.monotonic() + _WRITER_WAIT
        while True:
            try:
                self._writer = self._index.writer(self._heap, 1)
                return self._writer
            except ValueError as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise SearchIndexError(f"cannot write the search index: {exc}") from exc
                time.sleep(0.1)

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        writer = self._writer
        assert writer is not None
        try:
            if kind is None:
                writer.commit()
            else:
                writer.rollback()
        finally:
            writer.wait_merging_threads()  # frees the writer's lock
            self._index.reload()


def _same_schema(meta: Path) -> bool:
    """Does the index hold this version's fields, sorted by this version's key?"""
    try:
        data = json.loads(meta.read_text())
        names = [f["name"] for f in data["schema"]]
        sort = data.get("index_settings", {}).get("sort_by_field") or {}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SearchIndexError(f"unreadable {meta}: {exc}") from exc
    return names == FIELD_NAMES and sort.get("field") == SORT_FIELD


def store_markers(store: Store) -> dict[str, int]:
    """The store's current record count and the counts of :data:`_MARKER_TABLES` (every
    one made by the schema's migrations; an index marked by a release that wrote -1 for
    a table the store lacked then is behind once, until its next update)."""
    row = records.change_counts(store, list(_MARKER_TABLES.values()))
    return dict(zip(("records", *_MARKER_TABLES), row, strict=True))


def _layout_version(path: Path) -> int | None:
    if not path.exists():
        return None
    try:
        value = json.loads(path.read_text()).get("layout")
    except (OSError, ValueError) as exc:
        raise SearchIndexError(f"unreadable {path}: {exc}") from exc
    return int(value) if isinstance(value, int) else None


def _differ(want: Mapping[str, _DocInfo], have: Mapping[str, _DocInfo],
            attr: str) -> tuple[str, ...]:
    return tuple(sorted(rid for rid in want.keys() & have.keys()
                        if getattr(want[rid], attr) != getattr(have[rid], attr)))


