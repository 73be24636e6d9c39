"""One model for two engines: the levels rendered for DuckDB and Spark from Splink's
dialect-neutral creators, models saved before them still read, and ``resolve`` on
Spark (local mode) giving DuckDB's identities, ids, lineage and edges."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from test_link_score import LEVELS, PAIRS, _duckdb_truth

import idgraph.link.model as link_model
from idgraph.link.cluster import ClusterInput, NodeKeys, cluster
from idgraph.link.constraints import Constraints, record_facts
from idgraph.link.ids import ID_KEY
from idgraph.link.model import (
    DIALECTS,
    comparisons,
    for_dialect,
    level_predicate,
    settings_dict,
)
from idgraph.link.resolve import resolve
from idgraph.link.spark import (
    _jw_value,
    blocked_pairs_sql,
    buckets_of,
    closed_components,
    damerau_levenshtein_series,
    jaro_winkler_series,
    valid_master,
)
from idgraph.link.train import train
from idgraph.settings import Settings
from idgraph.sources import ingest_paths
from idgraph.store import Store, open_store
from idgraph.synth import generate

LEGACY = json.loads((Path(link_model.__file__).parent / "levels_v1.json")
                    .read_text(encoding="utf-8"))


# --- the model in two dialects


def test_levels_are_the_same_in_every_dialect() -> None:
    shapes = {d: [(c["output_column_name"], lv["label_for_charts"], bool(lv.get("is_null_level")),
                   lv.get("tf_adjustment_column"))
                  for c in comparisons(d) for lv in c["comparison_levels"]] for d in DIALECTS}
    assert shapes["duckdb"] == shapes["spark"]
    assert [(c, label) for c, label, _, _ in shapes["duckdb"]] == [(c, lb) for c, lb, _ in LEGACY]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_no_duckdb_function_in_another_dialect(dialect: str) -> None:
    text = json.dumps(comparisons(dialect)) + json.dumps(  # type: ignore[arg-type]
        settings_dict(dialect=dialect)["blocking_rules_to_generate_predictions"])  # type: ignore[arg-type]
    duckdb_only = ("jaro_winkler_similarity", "list_has_any", "list_intersect",
                   "array_length", "VARCHAR")
    if dialect == "duckdb":
        assert "jaro_winkler_similarity" in text
    else:
        assert not [f for f in duckdb_only if f in text]
        assert "jaro_winkler(" in text


def test_every_rendering_and_every_saved_level_finds_one_predicate() -> None:
    for (comp, label, sql), (c2, l2, legacy) in zip(LEVELS, LEGACY, strict=True):
        assert (comp, label) == (c2, l2)
        same = {id(level_predicate(sql)), id(level_predicate(legacy))}
        for dialect in DIALECTS:
            rendered = next(lv["sql_condition"] for c in comparisons(dialect)  # type: ignore[arg-type]
                            if c["output_column_name"] == comp
                            for lv in c["comparison_levels"] if lv["label_for_charts"] == label)
            same.add(id(level_predicate(rendered)))
        assert len(same) == 1, (comp, label)


def test_creator_levels_hold_where_the_saved_levels_held() -> None:
    """DuckDB evaluates today's rendering and the text models were saved with on the
    same pairs: every level fires on the same pairs."""
    pairs = [(a, b) for _, a, b in PAIRS] + [(b, a) for _, a, b in PAIRS]
    assert _duckdb_truth(pairs) == _duckdb_truth(pairs, [sql for _, _, sql in LEGACY])


def test_a_model_moves_between_dialects_with_its_parameters() -> None:
    model = settings_dict(prior=1e-4)
    for k, comp in enumerate(model["comparisons"]):
        for j, level in enumerate(comp["comparison_levels"]):
            level["m_probability"], level["u_probability"] = 0.1 + k / 100, 0.01 + j / 1000
    legacy = json.loads(json.dumps(model))
    for comp in legacy["comparisons"]:
        for level in comp["comparison_levels"]:
            level["sql_condition"] = next(sql for c, lb, sql in LEGACY
                                          if (c, lb) == (comp["output_column_name"],
                                                         level["label_for_charts"]))
    for source in (model, legacy):
        spark = for_dialect(source, "spark")
        back = for_dialect(spark, "duckdb")
        assert spark["sql_dialect"] == "spark"
        assert back["comparisons"] == model["comparisons"]
        def ms(m: dict[str, Any]) -> list[Any]:
            return [lv["m_probability"] for c in m["comparisons"] for lv in c["comparison_levels"]]

        assert ms(spark) == ms(model)
    unknown = json.loads(json.dumps(model))
    unknown["comparisons"][0]["comparison_levels"][1]["label_for_charts"] = "another version's"
    with pytest.raises(KeyError, match="retrain"):
        for_dialect(unknown, "spark")


def test_spark_blocking_sql_has_no_duckdb_types() -> None:
    sql = blocked_pairs_sql(("l.ssn = r.ssn", "l.name_key = r.name_key AND "
                             "damerau_levenshtein(CAST(l.birth_year AS VARCHAR), "
                             "CAST(r.birth_year AS VARCHAR)) <= 1"), "t")
    assert "UTINYINT" not in sql and "VARCHAR" not in sql and "AS STRING" in sql
    with pytest.raises(ValueError):
        blocked_pairs_sql((), "t")


def test_spark_jaro_winkler_decides_every_threshold_as_duckdb() -> None:
    rng = random.Random(5)
    alphabet = "ABCDEÉ "
    pairs = [("", ""), ("", "A"), ("MARTHA", "MARHTA"), ("DWAYNE", "DUANE")]
    pairs += [("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))),
               "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))))
              for _ in range(3000)]
    con = duckdb.connect()
    con.register("t", pa.table({"a": [a for a, _ in pairs], "b": [b for _, b in pairs]}))
    for threshold in (0.8, 0.9, 0.92):
        theirs = [r[0] for r in con.execute(
            "SELECT jaro_winkler_similarity(a, b) >= ? FROM t", [threshold]).fetchall()]
        ours = [(v := _jw_value(a, b)) is not None and v >= threshold for a, b in pairs]
        assert ours == theirs, threshold
    assert _jw_value(None, "A") is None
    column = jaro_winkler_series(pd.Series(["A", None, "", "MARTHA"], dtype=object),
                                 pd.Series(["A", "B", "", None], dtype=object))
    assert column.tolist()[:1] == [1.0] and column.tolist()[2] == 0.0
    assert column.isna().tolist() == [False, True, False, True]


@pytest.mark.parametrize(("a", "b"), [
    ("MARTHA", "MARTHA"), ("É", "É"), ("CHRISTOPHERSON", "CHRISTOPHERSON"),  # equal: 1.0
    ("ABC", "XYZ"), ("É", "E"), ("AB", "CDEFGHIJKLMN"),  # nothing in common: 0.0
])
def test_spark_jaro_winkler_takes_equal_and_disjoint_strings_as_duckdb(a: str, b: str) -> None:
    # these two values are not recomputed in Python (the near-threshold check skips them)
    theirs = duckdb.connect().execute("SELECT jaro_winkler_similarity(?, ?)", [a, b]).fetchall()
    ours = jaro_winkler_series(pd.Series([a, b], dtype=object), pd.Series([b, a], dtype=object))
    assert ours.tolist() == [theirs[0][0]] * 2


def test_spark_damerau_levenshtein_is_duckdbs() -> None:
    rng = random.Random(9)
    pairs = [("1984", "1948"), ("", "A"), ("ABC", "CA"), ("123456789", "123456798")]
    pairs += [("".join(rng.choice("0123É") for _ in range(rng.randint(0, 9))),
               "".join(rng.choice("0123É") for _ in range(rng.randint(0, 9))))
              for _ in range(2000)]
    con = duckdb.connect()
    con.register("t", pa.table({"a": [a for a, _ in pairs], "b": [b for _, b in pairs]}))
    theirs = [float(r[0]) for r in con.execute("SELECT damerau_levenshtein(a, b) FROM t")
              .fetchall()]
    ours = damerau_levenshtein_series(pd.Series([a for a, _ in pairs], dtype=object),
                                      pd.Series([b for _, b in pairs], dtype=object))
    assert ours.tolist() == theirs


@pytest.mark.parametrize(("master", "ok"), [
    ("local", True), ("local[2]", True), ("local[*]", True), ("spark://h.example:7077", True),
    ("spark://a:7077,b:7077", True), ("yarn", False), ("local[2] --conf x", False),
    ("spark://", False), ("", False)])
def test_spark_masters(master: str, ok: bool) -> None:
    assert valid_master(master) is ok


# --- components: what one record's clustering can reach


def _facts(n: int, bare: set[int]) -> list[Any]:
    rules = Constraints()
    return [record_facts(None, None, None, (None, None, None) if i in bare
                         else (f"1980010{i % 9 + 1}", "198001", 1980), rules)
            for i in range(n)]


def test_components_hold_what_the_hold_rules_reach() -> None:
    # 0-1 an edge; 2 and 3 share a home key with 0 (no edge); 4 is bare, named like the
    # household, at the address 1 lived at; 5 is bare with that name elsewhere; 6 alone
    n = 7
    keys = NodeKeys(home=[7, -1, 7, 7, -1, -1, -1], house=[-1] * n,
                    name=[1, 2, 1, 1, 1, 1, 3], address=[10, 11, 10, 10, 11, 12, 13],
                    born=[-1] * n)
    graph = ClusterInput(_facts(n, {4, 5}), [(0, 1)], [10.0], [0], keys=keys)
    comp = closed_components(graph)
    assert comp[0] == comp[1] == comp[2] == comp[3] == comp[4]
    assert len({comp[0], comp[5], comp[6]}) == 3
    bucket = buckets_of(comp, 2)
    assert bucket[5] == bucket[6] == -1 and bucket[0] >= 0


def test_clustering_each_component_alone_gives_the_same_labels() -> None:
    rng = random.Random(3)
    n = 60
    facts = _facts(n, set(rng.sample(range(n), 20)))
    edges = sorted({(min(a, b), max(a, b)) for a, b in
                    ((rng.randrange(n), rng.randrange(n)) for _ in range(70)) if a != b})
    weights = [rng.uniform(1, 20) for _ in edges]
    keys = NodeKeys(home=[rng.choice([-1, 1, 2]) for _ in range(n)],
                    house=[rng.choice([-1, 5, 6]) for _ in range(n)],
                    name=[rng.choice([-1, 8, 9]) for _ in range(n)],
                    address=[rng.choice([-1, 20, 21, 22]) for _ in range(n)],
                    born=[rng.choice([-1, 30]) for _ in range(n)])
    whole = cluster(ClusterInput(facts, edges, weights, [0] * len(edges), keys=keys))
    comp = closed_components(ClusterInput(facts, edges, weights, [0] * len(edges), keys=keys))
    labels = list(range(n))
    for c in set(comp.tolist()):
        members = [i for i in range(n) if comp[i] == c]
        local = {g: i for i, g in enumerate(members)}
        part = [(a, b) for a, b in edges if a in local]
        sub_keys = NodeKeys(*[[k[i] for i in members] for k in keys])  # type: ignore[union-attr]
        result = cluster(ClusterInput(
            [facts[i] for i in members], [(local[a], local[b]) for a, b in part],
            [w for (a, _), w in zip(edges, weights, strict=True) if a in local],
            [0] * len(part), keys=sub_keys))
        for i, label in enumerate(result.labels):
            labels[members[i]] = members[label]
    assert labels == whole.labels


# --- resolve on Spark: DuckDB's partition


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("spark")
    generate(root / "src", people=150, seed=11)
    settings = Settings(data_dir=root / "data", ingest_workers=0)
    store = open_store(settings.db_path)
    ingest_paths(store, [root / "src"], settings)
    train(store)
    store.secret(ID_KEY)  # both copies name identities with one key
    store.close()
    return root / "data"


def _resolved(base: Path, into: Path, engine: Any) -> Iterator[Store]:
    shutil.copytree(base, into)
    store = open_store(into / "idgraph.duckdb")
    try:
        resolve(store, Settings(data_dir=into, ingest_workers=0), engine=engine)
        yield store
    finally:
        store.close()


def _outcome(store: Store) -> dict[str, Any]:
    return {
        "members": store.fetchall("SELECT record_id, identity_id FROM identity_members "
                                  "ORDER BY 1"),
        "lineage": store.fetchall("SELECT identity_id, event, related FROM identity_lineage "
                                  "ORDER BY ALL"),
        "edges": store.fetchall("SELECT record_id_l, record_id_r, accepted, evidence, "
                                "round(match_weight, 9) FROM link_edges ORDER BY 1, 2"),
        "run": store.fetchall("SELECT n_records, n_edges, n_identities, model_id, "
                              "detail->'refused', detail->'lineage', detail->'n_accepted' "
                              "FROM link_runs"),
    }


def test_spark_resolves_as_duckdb_does(base: Path, tmp_path: Path) -> None:
    from idgraph.link.spark import SparkEngine

    ours = next(iter([_outcome(s) for s in _resolved(base, tmp_path / "duckdb", None)]))
    engine = SparkEngine(master="local[2]", partitions=2, driver_memory="1g")
    spark = next(iter([_outcome(s) for s in _resolved(base, tmp_path / "spark", engine)]))
    assert len(ours["members"]) > 500
    assert spark["members"] == ours["members"]
    assert spark["lineage"] == ours["lineage"]
    assert spark["run"][0][:4] == ours["run"][0][:4]
    assert ([json.loads(x) for x in spark["run"][0][4:]]
            == [json.loads(x) for x in ours["run"][0][4:]])
    assert spark["edges"] == ours["edges"]
