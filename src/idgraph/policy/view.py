"""The purpose-scoped view: the identity graph cut to the records of permitted sources.

Only records of permitted sources are read, and only accepted edges of the latest
link run whose *both* ends are such records are kept; components are recomputed
with union-find. A record of a non-permitted source therefore neither appears nor
joins two permitted records. When the cut splits an identity, the view is one
component (the largest; ties broken by the smallest record id; or the one holding
``anchor``), and nothing says that other fragments exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from idgraph.store import Store

_LINK_TABLES = ("identity_members", "link_edges", "link_runs")


class GraphMissing(LookupError):
    """The identity graph tables do not exist yet (run linkage first)."""


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


def _require_graph(store: Store) -> None:
    rows = store.fetchall(
        "SELECT table_name FROM information_schema.tables WHERE list_contains(?, table_name)",
        [list(_LINK_TABLES)],
    )
    missing = set(_LINK_TABLES) - {r[0] for r in rows}
    if missing:
        raise GraphMissing(
            f"identity graph tables missing ({', '.join(sorted(missing))}): run linkage first"
        )


def permitted_members(store: Store, identity_id: str, sources: Sequence[str]) -> list[str]:
    """Current member records of ``identity_id`` that belong to ``sources``."""
    _require_graph(store)
    if not sources:
        return []
    rows = store.fetchall(
        "SELECT m.record_id FROM identity_members m "
        "JOIN records r ON r.record_id = m.record_id AND r.is_current "
        "WHERE m.identity_id = ? AND list_contains(?, r.source_id)",
        [identity_id, list(sources)],
    )
    return sorted({r[0] for r in rows})


def accepted_edges(store: Store, record_ids: Sequence[str]) -> list[tuple[str, str]]:
    """Accepted edges of the latest run with both ends in ``record_ids``."""
    if len(record_ids) < 2:
        return []
    rows = store.fetchall(
        "SELECT e.record_id_l, e.record_id_r FROM link_edges e "
        "WHERE e.accepted AND e.run_id = "
        "  (SELECT run_id FROM link_runs ORDER BY started_at DESC LIMIT 1) "
        "AND list_contains(?, e.record_id_l) AND list_contains(?, e.record_id_r)",
        [list(record_ids), list(record_ids)],
    )
    return [(r[0], r[1]) for r in rows]


def scoped_view(
    store: Store, identity_id: str, sources: Sequence[str], *, anchor: str | None = None
) -> ScopedView:
    """The component of ``identity_id`` visible through ``sources`` (see module doc)."""
    members = permitted_members(store, identity_id, sources)
    edges = accepted_edges(store, members)
    comps = components(members, edges)
    if not comps:
        return ScopedView(identity_id, (), ())
    chosen = next((c for c in comps if anchor in c), comps[0])
    keep = set(chosen)
    kept = tuple(sorted((a, b) for a, b in edges if a in keep and b in keep))
    return ScopedView(identity_id, tuple(chosen), kept)
