"""The purpose-scoped view of candidate identities, read for many identities at once.

What :func:`policy.view.member_rows` and :func:`policy.view.cut` give one profile,
:func:`visible_records` gives a search's candidates: each identity's current records
in permitted segments, cut to the component its profile shows. Rows are the trained
model's input rows (``link.score.INPUT_ROW_COLUMNS``) with ``full_name`` and
``segment``, so the scorer compares them as they are.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date
from typing import Any, Final

from idgraph.link.score import INPUT_ROW_COLUMNS
from idgraph.policy.view import accepted_edges, components, record_segment
from idgraph.schema import segment_source
from idgraph.search.criteria import QueryRecord
from idgraph.search.index import SearchIndex
from idgraph.store import Store, records
from idgraph.store.graph import graph

# record columns read besides the model's input columns (the segment, the summary)
_EXTRA_COLUMNS: Final[tuple[str, ...]] = (
    "is_current", "origin_jurisdiction", "source_record_id", "full_name",
)

def visible_records(
    store: Store,
    identity_ids: Sequence[str],
    segments: Collection[str],
    index: SearchIndex | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Each identity's records in its purpose-scoped view (``policy.view`` for many
    identities at once), as model input rows (``link.score.INPUT_ROW_COLUMNS``) with
    ``full_name`` and ``segment``.

    The members in permitted segments come from ``index`` when given
    (:meth:`SearchIndex.rows`: the rows stored with each document, no read of the store;
    they are the store's while ``idgraph index check`` finds no difference), else from
    the store as ``view.member_rows`` reads them: cut to the segments' sources in the
    statement that reads them (no value of another source leaves the store), to the
    segments after (one join: ``records`` has no index on ``record_id``, and an IN list
    over it is a scan, 28 ms at 90k records against 10 ms for the join). Then
    ``view.cut`` over the accepted edges keeps the component a profile of the identity
    shows."""
    return cut_views(store, member_records(store, identity_ids, segments, index))


def member_records(
    store: Store,
    identity_ids: Sequence[str],
    segments: Collection[str],
    index: SearchIndex | None = None,
    markers: Mapping[str, int] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Each identity's current records in permitted ``segments`` (not yet cut: see
    :func:`visible_records`), sorted by record id. ``markers``: the store's
    ``store_markers`` just read by the caller (else read here)."""
    allowed_segments = set(segments)
    if not identity_ids or not allowed_segments:
        return {}
    if index is not None and index.behind(store, markers) is not None:
        index = None  # its stored rows may hold records the store no longer has
    if index is not None:
        by_identity = index.rows(identity_ids, allowed_segments)
    else:
        by_identity = _store_rows(store, identity_ids, allowed_segments)
    for recs in by_identity.values():
        recs.sort(key=lambda r: str(r["record_id"]))
    return by_identity


def fragments(
    store: Store, by_identity: Mapping[str, list[dict[str, Any]]]
) -> dict[str, list[list[dict[str, Any]]]]:
    """Each identity's members (:func:`member_records`) cut to the one component of the
    accepted edges between them (one read of the edges for all) that a profile of the
    identity shows (``policy.view.cut``'s choice: the largest, ties by smallest record
    id), as a list of one fragment.

    Only that one: a hit on another fragment (one joined to it only through a withheld
    record) would carry the identity's id while its profile showed the other records,
    and the reader would learn that a withheld record joins the two. Showing the other
    fragments needs a per-fragment handle the profile accepts (docs/search.md,
    "Fragments"); until then a person reachable only through such a fragment is not
    found, which loses a hit but tells nothing."""
    # a view of one record needs no cut: read the edges of the others only
    multi = sorted(str(r["record_id"]) for recs in by_identity.values() if len(recs) > 1
                   for r in recs)
    return split_fragments(by_identity, _accepted_edges(store, multi))


def split_fragments(
    by_identity: Mapping[str, list[dict[str, Any]]], edges: Iterable[tuple[str, str]]
) -> dict[str, list[list[dict[str, Any]]]]:
    """:func:`fragments` with the edges given (any superset of the accepted edges among
    each identity's members: an edge counts only between two members of one identity)."""
    owner = {str(r["record_id"]): iid for iid, recs in by_identity.items() if len(recs) > 1
             for r in recs}
    own: dict[str, list[tuple[str, str]]] = {}
    for a, b in edges:  # each identity's cut sees its own edges only
        if owner.get(a) is not None and owner.get(a) == owner.get(b):
            own.setdefault(owner[a], []).append((a, b))
    out: dict[str, list[list[dict[str, Any]]]] = {}
    for iid, recs in by_identity.items():
        if len(recs) < 2:
            out[iid] = [list(recs)] if recs else []
            continue
        by_id = {str(r["record_id"]): r for r in recs}
        first = components(list(by_id), own.get(iid, ()))[0]
        out[iid] = [[by_id[i] for i in first]]
    return out


def cut_views(
    store: Store, by_identity: Mapping[str, list[dict[str, Any]]]
) -> dict[str, list[dict[str, Any]]]:
    """Each identity's members cut to the component a profile of it shows
    (``policy.view.cut``: the first of :func:`fragments`)."""
    return {iid: frags[0] if frags else [] for iid, frags in fragments(store, by_identity).items()}


# above this many records, the edges are read by a join on the list (one scan of
# link_edges: ~45 ms at 160k edges whatever the list) rather than by index point reads
# (~0.1 ms a record: 0.7 s for a bulk match chunk's 20k records)
_JOIN_ABOVE: Final[int] = 400


def _accepted_edges(store: Store, record_ids: Sequence[str]) -> list[tuple[str, str]]:
    """``policy.view.accepted_edges`` (accepted edges of the latest run with both ends in
    ``record_ids``), read by a join for long lists."""
    if len(record_ids) <= _JOIN_ABOVE:
        return accepted_edges(store, record_ids)
    return graph(store).accepted_edges(record_ids)


# record columns :func:`model_input` reads, besides those it passes on
_MODEL_COLUMNS: Final[tuple[str, ...]] = (
    "record_id", "source_id", "first_name", "middle_name", "last_name", "suffix",
    "first_name_canon", "first_name_phonetic", "last_name_phonetic", "last_name_parts",
    "dob", "dob_precision", "birth_year", "sex", "house_number", "street", "city",
    "state", "zip", "phone", "email", "ssn", "dl_number", "dl_state", "plate")
_READ: Final[tuple[str, ...]] = (
    *_EXTRA_COLUMNS, *(c for c in _MODEL_COLUMNS if c not in _EXTRA_COLUMNS))


def _store_rows(
    store: Store, identity_ids: Sequence[str], segments: set[str]
) -> dict[str, list[dict[str, Any]]]:
    sources = sorted({segment_source(s) for s in segments})
    by_identity: dict[str, list[dict[str, Any]]] = {}
    for identity_id, raw in records.member_records(store, identity_ids, sources, _READ):
        model = model_input(raw)
        row = {**{c: raw[c] for c in _EXTRA_COLUMNS},
               **{c: model[c] for c in INPUT_ROW_COLUMNS}}
        row["segment"] = record_segment(row)
        if row["segment"] in segments:
            by_identity.setdefault(identity_id, []).append(row)
    return by_identity


def model_input(row: Mapping[str, Any]) -> QueryRecord:
    """A normalised row (``sources.mapping.normalise_chunk``: a list being matched, not
    yet stored) as the model's input row: ``link.model.INPUT_COLUMNS`` in Python."""
    dob, precision = row.get("dob"), row.get("dob_precision")
    day = dob is not None and precision in ("day", None)
    month = dob is not None and precision in ("day", "month", None)
    parts = row.get("last_name_parts")
    dl = row.get("dl_number")
    return {
        **{c: row.get(c) for c in (
            "record_id", "source_id", "first_name", "middle_name", "last_name", "suffix",
            "first_name_canon", "first_name_phonetic", "last_name_phonetic", "sex",
            "house_number", "street", "city", "state", "zip", "phone", "email", "ssn",
            "plate")},
        "last_name_parts": list(parts) if parts else None,
        "dob_day": dob.strftime("%Y%m%d") if day and isinstance(dob, date) else None,
        "dob_month": dob.strftime("%Y%m") if month and isinstance(dob, date) else None,
        "birth_year": row.get("birth_year") or (dob.year if isinstance(dob, date) else None),
        "dl_key": f"{row.get('dl_state') or ''}:{dl}" if dl is not None else None,
    }
