"""The identity graph repository's contract on every backend (idgraph.store.graph)."""

from __future__ import annotations

import json
from datetime import date, datetime

import pyarrow as pa
import pytest

from idgraph.schema import RECORD_COLUMNS
from idgraph.store import Store
from idgraph.store.graph import (
    INPUT_ROW_COLUMNS,
    EdgeRow,
    IdentityGraph,
    LineageRow,
    LineageWrite,
    Run,
    StoredModel,
    VerdictRow,
)

T0 = datetime(2026, 1, 2, 3, 4, 5)
T1 = datetime(2026, 2, 3, 4, 5, 6)


def add_record(store: Store, record_id: str, *, version: int = 1, current: bool = True,
               **values: object) -> None:
    source, _, local = record_id.partition("/")
    row = {"record_id": record_id, "source_id": source, "source_record_id": local,
           "version": version, "is_current": current, **values}
    cols = [c for c in RECORD_COLUMNS if c in row]
    store.execute(f"INSERT INTO records ({', '.join(cols)}) VALUES "
                  f"({', '.join('?' * len(cols))})", [row[c] for c in cols])


@pytest.fixture()
def graph(any_store: Store) -> IdentityGraph:
    return IdentityGraph(any_store)


def placed(graph: IdentityGraph) -> int:
    """Three records in two identities, one edge each way, under run R-1."""
    graph.store.execute(
        "INSERT INTO link_runs (run_id, started_at, threshold) VALUES (?, ?, ?), (?, ?, ?)",
        ["R-0", T0, 0.8, "R-1", T1, 0.9])
    return graph.write_placements(
        "R-1", T1, [("P-A", "s/1"), ("P-A", "s/2"), ("P-B", "s/3")],
        [EdgeRow("s/1", "s/2", 0.99, 7.5, True, '{"gamma": [1], "weight": [7.5]}'),
         EdgeRow("s/2", "s/3", 0.6, 0.5, False, '{"gamma": [0], "weight": [0.5]}')],
        [LineageWrite("P-A", "new", []), LineageWrite("P-B", "attach", ["s/3"])])


def test_generation_counts_writes(graph: IdentityGraph) -> None:
    assert graph.generation() == 0
    assert graph.bump_generation() == 1
    assert placed(graph) == 2
    assert graph.generation() == 2


def test_memberships_and_members(graph: IdentityGraph) -> None:
    placed(graph)
    assert graph.memberships() == {"s/1": "P-A", "s/2": "P-A", "s/3": "P-B"}
    assert graph.identity_of(["s/3", "s/1", "s/9"]) == {"s/1": "P-A", "s/3": "P-B"}
    assert graph.identity_of([]) == {}
    assert graph.members("P-A") == ["s/1", "s/2"]
    assert graph.members_of(["P-B", "P-A", "P-X"]) == {"P-A": ["s/1", "s/2"], "P-B": ["s/3"]}
    assert graph.count_identities() == 2
    many = [f"x/{i}" for i in range(500)] + ["s/2"]  # past the plain IN list
    assert graph.identity_of(many) == {"s/2": "P-A"}
    # a record placed again moves
    graph.write_placements("R-1", T1, [("P-B", "s/2")], [], [])
    assert graph.members_of(["P-A", "P-B"]) == {"P-A": ["s/1"], "P-B": ["s/2", "s/3"]}


def test_runs_and_edges(graph: IdentityGraph) -> None:
    assert graph.latest_run() is None and not graph.has_run()
    placed(graph)
    assert graph.latest_run() == Run("R-1", 0.9, T1)
    assert graph.accepted_edges(["s/1", "s/2", "s/3"]) == [("s/1", "s/2")]
    assert graph.accepted_edges(["s/1"]) == []
    assert graph.accepted_edges_of_identities(["P-A"]) == [("s/1", "s/2")]
    assert graph.accepted_edges_of_identities(["P-B"]) == []
    edges = graph.edges_of("s/2")
    assert [(a, b, acc) for a, b, _, _, acc, _ in edges] == [("s/1", "s/2", True),
                                                            ("s/2", "s/3", False)]
    assert json.loads(edges[0][5] or "") == {"gamma": [1], "weight": [7.5]}
    assert graph.edges_of("s/2", "R-0") == []
    assert graph.run_edge_count("R-1") == 2


def test_lineage(graph: IdentityGraph) -> None:
    placed(graph)
    graph.write_placements("R-2", T0, [], [], [LineageWrite("P-A", "retired", ["P-C", "P-D"]),
                                               LineageWrite("P-C", "merged", ["P-A"])])
    assert graph.lineage_of("P-B") == [LineageRow(T1, "R-1", "attach", "P-B", ("s/3",))]
    assert [(r.identity_id, r.event) for r in graph.lineage_of("P-A")] == [
        ("P-A", "retired"), ("P-C", "merged"), ("P-A", "new")]
    assert [r.event for r in graph.lineage_events(["merged", "retired"])] == [
        "retired", "merged"]
    assert [r.identity_id for r in graph.lineage_events(["merged"], ["P-A"])] == ["P-C"]
    assert graph.lineage_events(["merged"], []) == []
    assert graph.lineage_events(["new"], ["P-Z"]) == []
    assert sorted(graph.retired_moves()) == [("P-A", "P-C"), ("P-A", "P-D")]


@pytest.mark.parametrize("many", [False, True])
def test_apply_memberships(graph: IdentityGraph, many: bool) -> None:
    placed(graph)
    graph.write_placements("R-1", T1, [("P-C", "s/4")], [], [])  # placed live meanwhile
    extra = [(f"P-{i}", f"x/{i:04d}") for i in range(600 if many else 0)]
    changed = pa.table({"identity_id": ["P-B", "P-D", *(i for i, _ in extra)],
                        "record_id": ["s/2", "s/5", *(r for _, r in extra)]})
    with graph.store.transaction():
        graph.apply_memberships(changed, ["s/1"])
    assert graph.memberships() == {"s/2": "P-B", "s/3": "P-B", "s/4": "P-C", "s/5": "P-D",
                                   **{r: i for i, r in extra}}
    graph.apply_memberships(pa.table({"identity_id": pa.array([], pa.string()),
                                      "record_id": pa.array([], pa.string())}), [])
    assert len(graph.memberships()) == 4 + len(extra)


def test_forget_records(graph: IdentityGraph) -> None:
    placed(graph)
    graph.forget_records(["s/3"])
    assert graph.memberships() == {"s/1": "P-A", "s/2": "P-A"}
    assert graph.edges_of("s/2") == [("s/1", "s/2", 0.99, 7.5, True,
                                       graph.edges_of("s/1")[0][5])]
    assert graph.generation() == 2
    graph.forget_records([])
    assert graph.generation() == 2


def test_judgements_latest_wins(graph: IdentityGraph) -> None:
    assert graph.latest_verdicts() == []
    graph.add_judgement("J-1", "s/1", "s/2", "same", "ann", "", T0)
    graph.add_judgement("J-2", "s/1", "s/2", "different", "bob", "twins", T1)
    graph.add_judgement("J-3", "s/2", "s/3", "unsure", "ann", "", T0)
    graph.add_judgement("J-5", "s/0", "s/9", "same", "ann", "", T0)
    graph.add_judgement("J-4", "s/0", "s/9", "different", "ann", "", T0)  # tie: higher id
    assert graph.latest_verdicts() == [VerdictRow("s/0", "s/9", "same"),
                                       VerdictRow("s/1", "s/2", "different"),
                                       VerdictRow("s/2", "s/3", "unsure")]
    assert [j[0] for j in graph.judgements_of("s/2")] == ["J-1", "J-3", "J-2"]
    assert graph.generation() == 5


def test_a_judgement_rolls_back_with_its_transaction(graph: IdentityGraph) -> None:
    with pytest.raises(RuntimeError), graph.store.transaction():
        graph.add_judgement("J-1", "s/1", "s/2", "same", "ann", "", T0)
        raise RuntimeError("audit failed")
    assert graph.latest_verdicts() == [] and graph.generation() == 0


def test_models(graph: IdentityGraph) -> None:
    assert graph.latest_model() is None
    graph.save_model("M-1", T0, '{"a": 1}', "{}")
    graph.save_model("M-2", T1, '{"b": 2}', "{}")
    graph.save_model("M-1", T1, '{"changed": true}', "{}")  # same id: kept as it was
    assert graph.latest_model() == StoredModel("M-2", '{"b": 2}')
    assert graph.store.scalar("SELECT count(*) FROM link_models") == 2


def test_model_input_rows(graph: IdentityGraph) -> None:
    add_record(graph.store, "s/1", first_name="JOHN", last_name="MILLER",
               last_name_parts=["MILLER"], dob=date(1980, 3, 4), dob_precision="day",
               dl_number="M12", dl_state="IL", zip="12345")
    add_record(graph.store, "s/2", first_name="MARY", dob=date(1982, 7, 9),
               dob_precision="month", last_name_parts=[], dl_number="9", birth_year=1981)
    add_record(graph.store, "s/3", first_name="OLD", current=False)
    rows = graph.input_rows(["s/2", "s/3", "s/1", "s/2"])
    assert [r["record_id"] for r in rows] == ["s/2", "s/1"]
    assert all(tuple(r) == INPUT_ROW_COLUMNS for r in rows)
    mary, john = rows
    assert (john["dob_day"], john["dob_month"], john["birth_year"]) == ("19800304", "198003",
                                                                        1980)
    assert john["last_name_parts"] == ["MILLER"] and john["dl_key"] == "IL:M12"
    assert (mary["dob_day"], mary["dob_month"], mary["birth_year"]) == (None, "198207", 1981)
    assert mary["last_name_parts"] is None and mary["dl_key"] == ":9"
    assert graph.record_exists("s/3") and not graph.record_exists("s/4")


def test_exact_key_candidates_and_value_counts(graph: IdentityGraph) -> None:
    add_record(graph.store, "a/1", first_name_canon="JOHN", last_name="MILLER",
               dob=date(1980, 3, 4), ssn="1", zip="1")
    add_record(graph.store, "a/2", first_name_canon="JOHN", last_name="MILLER", birth_year=1980)
    add_record(graph.store, "b/3", ssn="1", origin_jurisdiction="US-CA")
    add_record(graph.store, "b/4", ssn="1", current=False)
    add_record(graph.store, "b/5", dl_number="D", zip="1")
    keys = {"ssn": "1", "first_name_canon": "JOHN", "last_name": "MILLER", "birth_year": 1980}
    assert graph.exact_key_candidates("a/1", keys, 10) == ["a/2", "b/3"]
    assert graph.exact_key_candidates("a/1", keys, 1) == ["a/2"]
    assert graph.exact_key_candidates("x/1", {"dl_number": "D", "dl_state": ""}, 5) == ["b/5"]
    assert sorted(graph.value_counts("ssn"), key=str) == sorted(
        [("a", None, "1", 1), ("b", "US-CA", "1", 1)], key=str)
    with pytest.raises(ValueError, match="not a record column"):
        graph.value_counts("ssn; DROP TABLE records")
