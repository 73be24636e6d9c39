"""Property: the scoped view equals components of the graph induced on permitted records."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from idgraph.policy.view import components, cut

NODES = [f"{src}/{i}" for src in ("ok", "canary") for i in range(6)]
edges_st = st.lists(st.tuples(st.sampled_from(NODES), st.sampled_from(NODES)), max_size=20)


def _reachable(start: str, nodes: set[str], edges: list[tuple[str, str]]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        n = todo.pop()
        for a, b in edges:
            for x, y in ((a, b), (b, a)):
                if x == n and y in nodes and y not in seen:
                    seen.add(y)
                    todo.append(y)
    return seen


@settings(max_examples=200, deadline=None)
@given(edges=edges_st, anchor=st.sampled_from([n for n in NODES if n.startswith("ok/")]))
def test_cut_never_uses_withheld_records(edges: list[tuple[str, str]], anchor: str) -> None:
    permitted = [n for n in NODES if n.startswith("ok/")]
    view = cut("I", permitted, edges, anchor)
    assert all(r.startswith("ok/") for r in view.record_ids)
    assert set(view.record_ids) == _reachable(anchor, set(permitted), edges)
    assert all(a in view.record_ids and b in view.record_ids for a, b in view.edges)


@settings(max_examples=200, deadline=None)
@given(edges=edges_st)
def test_components_partition(edges: list[tuple[str, str]]) -> None:
    comps = components(NODES, edges)
    flat = [n for c in comps for n in c]
    assert sorted(flat) == sorted(NODES)
    where = {n: i for i, c in enumerate(comps) for n in c}
    assert all(where[a] == where[b] for a, b in edges)
