"""What a search index document is, and how records are read from the store to make it.

A document per current record: its terms (:mod:`idgraph.search.terms`), its ids
(record, source, segment, identity), the model input row it was made from (stored:
:meth:`idgraph.search.index.SearchIndex.rows` gives it back) and a digest of its values
(:meth:`~idgraph.search.index.SearchIndex.check` compares it with the store's).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

import duckdb
import pyarrow as pa
import tantivy

from idgraph.link.model import INPUT_COLUMNS
from idgraph.link.score import INPUT_ROW_COLUMNS
from idgraph.schema import segment_key
from idgraph.search.terms import FIELDS, doc_terms
from idgraph.store import DuckDBStore, Store
from idgraph.store.graph import graph
from idgraph.store.records import literal

__all__ = [
    "BATCH",
    "FIELD_NAMES",
    "ROW_COLUMNS",
    "SCHEMA",
    "SORT_FIELD",
    "batches",
    "current_rows",
    "current_table",
    "document",
    "identities_of",
    "identity_key",
    "reading",
    "relation",
    "select",
    "stored_digests",
]

BATCH: Final = 20_000  # records read from the store and written at a time

# What a document is made from: the model's input row (the columns and expressions
# the model reads, link.model.INPUT_COLUMNS: the stored ``row`` is what the scorer
# compares), the display name and the licence number alone. The digest (md5 of every
# value but the ids, in this order) is stored with the document, so check() can tell a
# document made from other values.
ROW_COLUMNS: Final[tuple[str, ...]] = (*INPUT_ROW_COLUMNS, "full_name")
_VALUE_COLUMNS: Final[tuple[str, ...]] = (
    *(c for c in ROW_COLUMNS if c not in ("record_id", "source_id")), "dl_number")


def _digest_sql(alias: str) -> str:
    return "md5(concat_ws('|', {}))".format(
        ", ".join(f"coalesce(CAST({alias}.{c} AS VARCHAR), '')" for c in _VALUE_COLUMNS))


_DIGEST_SQL: Final = _digest_sql("cur")
# at most this many record ids as a plain IN list (point lookups on the primary keys);
# more: one join with the list
_POINT_IDS: Final = 1000
# a workspace on PostgreSQL copies at most this many records asked for by id (an SQL
# list of them); more: every current record, relation choosing them
_LITERAL_IDS: Final = 50_000


def _rows_sql(with_values: bool, chosen: str, members: str | None, point: bool) -> str:
    """Records of ``chosen`` (a condition on ``records``) with their segment inputs,
    identity id (``members``: the condition cutting ``identity_members`` to them, None:
    no memberships yet), digest and (``with_values``) the values: the current ones, or
    (``point``) every version with its ``is_current``, for the reader to keep the
    current ones.

    A point read is a plain ``record_id IN (...)`` and nothing else: with another
    predicate DuckDB scans the table instead of using its key (5 records of 1M: 3 ms
    against 50-130 ms). The memberships are cut to the records asked for before the
    join, for the same reason."""
    values = "".join(f", cur.{c}" for c in _VALUE_COLUMNS) if with_values else ""
    identity = "m.identity_id" if members is not None else "CAST(NULL AS VARCHAR)"
    join = (f"LEFT JOIN (SELECT record_id, identity_id FROM identity_members "
            f"WHERE {members}) m USING (record_id)") if members is not None else ""
    current = ", cur.is_current" if point else ""
    where = "" if point else " AND is_current"
    return (f"WITH cur AS (SELECT {INPUT_COLUMNS}, full_name, dl_number, origin_jurisdiction,"
            f" is_current FROM records WHERE {chosen}{where}) "
            f"SELECT cur.record_id, cur.source_id, cur.origin_jurisdiction, {identity} AS "
            f"identity_id, {_DIGEST_SQL} AS digest{values}{current} FROM cur {join} "
            "ORDER BY cur.record_id")


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    for name in ("record_id", "source_id", "segment", "identity_id", "digest"):
        sb.add_text_field(name, stored=True, tokenizer_name="raw", index_option="basic")
    # the model input row (ROW_COLUMNS) as JSON: what rows() gives back
    sb.add_bytes_field("row", stored=True, indexed=False, fast=False)
    for name in FIELDS:
        sb.add_text_field(name, stored=False, tokenizer_name="raw", index_option="basic")
    # a per-record factor in [1, 1 + 7e-5): equal scores rank by record id hash, the
    # same in every index holding the record (never by where a document lies)
    sb.add_float_field("tie", stored=False, indexed=False, fast=True)
    # the identity id's hash (0: none), read without the stored document to keep each
    # identity's best record before reading any document
    sb.add_unsigned_field("ik", stored=False, indexed=False, fast=True)
    # documents lie in the order of this key (surname sound, then given name): the
    # candidates of a name lie together, so reading their stored fields decompresses
    # few blocks of the document store
    sb.add_unsigned_field("sk", stored=False, indexed=False, fast=True)
    return sb.build()


SCHEMA: Final = _schema()
SORT_FIELD: Final = "sk"
FIELD_NAMES: Final = [
    "record_id", "source_id", "segment", "identity_id", "digest", "row", *FIELDS, "tie", "ik",
    "sk"]


def _hash64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _tie(record_id: str) -> float:
    return _hash64(record_id) / 2**64 * 1e-4


def _sort_key(row: Mapping[str, Any]) -> int:
    surname = row.get("last_name_phonetic") or row.get("first_name_phonetic") or ""
    given = row.get("first_name") or ""
    return (_hash64(surname) & ~0xFFFFFF) | (_hash64(given) & 0xFFFFFF)


def identity_key(identity_id: str | None) -> int:
    return 0 if identity_id is None else max(_hash64(identity_id), 1)


def document(row: Mapping[str, Any]) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_text("record_id", row["record_id"])
    doc.add_text("source_id", row["source_id"])
    segment = row.get("segment") or segment_key(row["source_id"], row["origin_jurisdiction"])
    doc.add_text("segment", segment)
    if row["identity_id"] is not None:
        doc.add_text("identity_id", row["identity_id"])
    doc.add_text("digest", row["digest"])
    doc.add_bytes("row", json.dumps({c: row[c] for c in ROW_COLUMNS},
                                    separators=(",", ":")).encode())
    for name, terms in doc_terms(row).items():
        for term in terms:
            doc.add_text(name, term)
    doc.add_float("tie", _tie(row["record_id"]))
    doc.add_unsigned("ik", identity_key(row["identity_id"]))
    doc.add_unsigned("sk", _sort_key(row))
    return doc


def _reads(ids: Sequence[str] | None, batch_id: str | None) -> dict[str, str | None]:
    """What a workspace copies for :func:`relation` (on PostgreSQL; on DuckDB the
    workspace is the store): the records asked for and their memberships."""
    if ids is not None and len(ids) <= _LITERAL_IDS:
        chosen = f"record_id IN ({', '.join(literal(i) for i in ids) or 'NULL'})"
        return {"records": chosen, "identity_members": chosen}
    if ids is not None:  # the current records (relation picks the ids): one scan
        return {"records": "is_current", "identity_members": None}
    if batch_id is not None:
        chosen = f"batch_id = {literal(batch_id)}"
        return {"records": chosen, "identity_members":
                f"record_id IN (SELECT record_id FROM records WHERE {chosen})"}
    return {"records": "is_current", "identity_members": None}


@contextmanager
def reading(store: Store, with_values: bool, ids: Sequence[str] | None = None,
            batch_id: str | None = None) -> Iterator[Iterator[pa.RecordBatch]]:
    """:func:`relation`'s rows, :data:`BATCH` at a time, read on a workspace of the
    store (on DuckDB the store itself): use them inside the block."""
    with store.workspace(reads=_reads(ids, batch_id), writes={}) as ws:
        rows = batches(relation(ws, with_values, ids, batch_id))
        try:
            yield rows
        finally:
            # closed here, not when garbage collected: an error or a signal in the block
            # would otherwise leave the result open on the connection, and DuckDB
            # refuses the store's next query until it is closed
            rows.close()


def relation(store: DuckDBStore, with_values: bool, ids: Sequence[str] | None = None,
             batch_id: str | None = None) -> duckdb.DuckDBPyRelation:
    """Records: all current ones, those ingest batch ``batch_id`` wrote, or those of
    ``ids`` (at most :data:`_POINT_IDS`: every version, with ``is_current``; keep the
    current rows with :func:`current_rows`). ``store``: a DuckDB store (a workspace:
    :func:`reading`)."""
    point = ids is not None and len(ids) <= _POINT_IDS
    params: list[Any] = []
    members: str | None = "TRUE"
    if ids is not None and point:
        marks = ", ".join("?" for _ in ids) or "NULL"
        chosen = members = f"record_id IN ({marks})"
        params = [*ids, *ids]
    elif ids is not None:
        chosen, params = "record_id IN (SELECT unnest(?))", [list(ids)]
        members = "record_id IN (SELECT record_id FROM cur)"
    elif batch_id is not None:
        chosen, params = "batch_id = ?", [batch_id]
        members = "record_id IN (SELECT record_id FROM cur)"
    else:
        chosen = "TRUE"
    sql = _rows_sql(with_values, chosen, members, point)
    # con.sql, not execute: DuckDB's DB-API Arrow export may reorder result chunks
    return store.con.sql(sql, params=params)


def current_rows(batch: pa.RecordBatch | pa.Table) -> list[dict[str, Any]]:
    """The rows of a :func:`relation` batch that are current records."""
    return [r for r in batch.to_pylist() if r.pop("is_current", True)]


def identities_of(store: Store, ids: Sequence[str]) -> dict[str, str]:
    """Record id -> identity id, for those of ``ids`` that belong to an identity (a plain
    point read on the memberships' key)."""
    out: dict[str, str] = {}
    for k in range(0, len(ids), _POINT_IDS):
        out.update(graph(store).identity_of(ids[k:k + _POINT_IDS]))
    return out


def current_table(store: Store) -> pa.Table:
    """Every current record's ids, segment inputs, identity id and digest (no values)."""
    with store.workspace(reads=_reads(None, None), writes={}) as ws:
        return relation(ws, False).to_arrow_table()


def select(store: Store, with_values: bool, ids: Sequence[str] | None = None,
           batch_id: str | None = None) -> list[dict[str, Any]]:
    """:func:`relation`'s current rows, as dicts."""
    with store.workspace(reads=_reads(ids, batch_id), writes={}) as ws:
        return current_rows(relation(ws, with_values, ids, batch_id).to_arrow_table())


def stored_digests(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The digest of each stored row (a document's ``row``: :data:`ROW_COLUMNS`), made
    by the SQL that makes the store's digest of the record, so a row changed after its
    document was written no longer matches the document's digest. The licence number
    is the part of ``dl_key`` after its first colon (``link.model.INPUT_COLUMNS`` makes
    ``dl_key`` as ``state:number``)."""
    if not rows:
        return []
    columns: dict[str, list[Any]] = {c: [] for c in _VALUE_COLUMNS}
    for row in rows:
        key = row.get("dl_key")
        for c in _VALUE_COLUMNS:
            if c == "dl_number":
                columns[c].append(key.partition(":")[2] if isinstance(key, str) else None)
            else:
                columns[c].append(row.get(c))
    stored = pa.table({"i": pa.array(range(len(rows)), pa.int64()),
                       **{c: pa.array(v) for c, v in columns.items()}})
    con = duckdb.connect()
    try:
        con.register("stored", stored)
        out = con.sql(f"SELECT {_digest_sql('stored')} FROM stored ORDER BY i").fetchall()
    finally:
        con.close()
    return [str(d) for (d,) in out]


def batches(relation: duckdb.DuckDBPyRelation) -> Generator[pa.RecordBatch, None, None]:
    """The relation's rows, :data:`BATCH` at a time (1M records never all in memory)."""
    reader = relation.to_arrow_reader(BATCH)
    try:
        yield from reader
    finally:
        reader.close()


