"""The purpose-scoped view: the identity graph cut to the records of permitted segments.

A segment is a source's records of one origin jurisdiction (``schema.segment_key``);
the decision point permits segments. Only records of permitted segments are read,
and only accepted edges of the latest link run whose *both* ends are such records
are kept; components are recomputed with union-find. A record of a non-permitted
segment therefore neither appears nor joins two permitted records. When the cut
splits an identity, the view is one component (the largest; ties broken by the
smallest record id; or the one holding ``anchor``), and nothing says that other
fragments exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from idgraph.schema import segment_key, segment_source
from idgraph.store import Store
from idgraph.store.graph import graph
from idgraph.store.registry import RegistryRepo


class GraphMissing(LookupError):
    """The identity graph was never built (run linkage first)."""


@dataclass(frozen=True, slots=True)
class ScopedView:
    identity_id: str
    record_ids: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]


def components(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Connected components (union-find with path halving); each sorted, largest first."""
    parent = {n: n for n in nodes}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        if a in parent and b in parent:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for n in parent:
        groups.setdefault(find(n), []).append(n)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: (-len(g), g[0]))


def record_segment(row: Mapping[str, Any]) -> str:
    """The segment key of a record row (needs ``source_id`` and ``origin_jurisdiction``)."""
    return segment_key(row["source_id"], row.get("origin_jurisdiction"))


def member_rows(
    store: Store, identity_id: str, sources: Sequence[str], columns: Sequence[str] = ("record_id",)
) -> list[dict[str, Any]]:
    """Current member records of ``identity_id`` in the segments ``sources`` only.

    ``sources`` are segment keys (``src``: the source's own jurisdiction; ``src@US-CA``:
    its records from California; see ``schema.segment_key``). Members are cut to the
    segments' sources by their id (``<source_id>/<source_record_id>``) before any value
    is read, and to the segments on ``source_id`` and ``origin_jurisdiction`` after.
    Point lookups with plain IN lists, so ART indexes on ``identity_members(identity_id)``
    and ``records(record_id)`` are used when present (any extra predicate makes DuckDB
    scan instead).
    """
    allowed = set(sources)
    if not allowed:
        return []
    allowed_sources = {segment_source(s) for s in allowed}
    members = graph(store).members(identity_id)
    if not members and not graph(store).has_run():
        raise GraphMissing("identity graph missing (no link run yet): run linkage first")
    ids = sorted(r for r in members if r.split("/", 1)[0] in allowed_sources)
    if not ids:
        return []
    cols = list(dict.fromkeys(
        ["record_id", "source_id", "is_current", "origin_jurisdiction", *columns]))
    rows = RegistryRepo(store).record_columns(ids, cols)
    out = [dict(zip(cols, r, strict=True)) for r in rows]
    out = [r for r in out if r["is_current"] and record_segment(r) in allowed]
    out.sort(key=lambda r: str(r["record_id"]))
    return [{c: r[c] for c in columns} for r in out]


def accepted_edges(store: Store, record_ids: Sequence[str]) -> list[tuple[str, str]]:
    """Accepted edges of the latest run with both ends in ``record_ids``."""
    if len(record_ids) < 2:
        return []
    return graph(store).accepted_edges(record_ids)


def cut(
    identity_id: str,
    record_ids: Sequence[str],
    edges: Sequence[tuple[str, str]],
    anchor: str | None = None,
) -> ScopedView:
    """Choose the visible component of ``record_ids`` under ``edges`` (see module doc)."""
    comps = components(record_ids, edges)
    if not comps:
        return ScopedView(identity_id, (), ())
    chosen = next((c for c in comps if anchor in c), comps[0])
    keep = set(chosen)
    kept = tuple(sorted((a, b) for a, b in edges if a in keep and b in keep))
    return ScopedView(identity_id, tuple(chosen), kept)


def scoped_view(
    store: Store, identity_id: str, sources: Sequence[str], *, anchor: str | None = None
) -> ScopedView:
    """The component of ``identity_id`` visible through ``sources``."""
    ids = [r["record_id"] for r in member_rows(store, identity_id, sources)]
    return cut(identity_id, ids, accepted_edges(store, ids), anchor)
