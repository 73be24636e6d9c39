"""``resolve --engine spark``: the same resolve with Splink and the clustering on Spark.

What runs where (the DuckDB engine is :mod:`idgraph.link.resolve`'s default):

* **Training** stays on the store's DuckDB: it reads a sample of at most
  :data:`~idgraph.link.train.TRAIN_SAMPLE` records, whatever the population.
* **Candidate pairs** are made on Spark: each blocking rule (written once in DuckDB's
  SQL, rendered for Spark by Splink's ``CustomRule``) a plain self-join, the union
  de-duplicated by one aggregate, each pair tagged with the first rule that makes it,
  exactly as :mod:`idgraph.link.blocking` does on DuckDB.
* **Scoring** is Splink's ``predict`` on Spark (``SparkAPI``), with the trained model
  rendered for Spark (:func:`idgraph.link.model.for_dialect`). Jaro-Winkler and
  Damerau-Levenshtein are registered as Arrow UDFs that compute DuckDB's values
  (:func:`idgraph.link.model.jaro_winkler`), not Splink's Scala jar, whose Jaro-Winkler
  (Apache Commons Text) scales the prefix bonus down for strings longer than ten
  characters: the engines must put every pair in the same level.
* The scored pairs come back to the store as Arrow, and the rest of resolve (the edges'
  evidence, the nodes' facts, the fragment pass, the ids, lineage and writes) is the
  DuckDB engine's code.
* **Clustering** runs on Spark per connected component, in parallel
  (``cogroup(...).applyInPandas``): :func:`closed_components` puts into one component
  everything :func:`idgraph.link.cluster.cluster` lets two records influence each other
  through (edges, weak edges, judgements, and the household keys of the hold rules),
  so clustering each component alone gives the labels of clustering all at once.
  Components are packed into buckets (a disjoint union of whole components clusters
  as its parts do), one ``cluster()`` call per bucket.

pyspark is an optional dependency (``pip install idgraph[spark]``); Java 17 or later must
be on the PATH.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from idgraph.link.cluster import (
    ClusterInput,
    ClusterResult,
    NodeKeys,
    WeakEdges,
    _UnionFind,
    accepted_edges,
    cluster,
    edge_array,
)
from idgraph.link.config import LinkConfig
from idgraph.link.constraints import Facts
from idgraph.link.model import (
    INPUT_TABLE,
    for_dialect,
    jaro_winkler,
    rules_for,
)
from idgraph.link.train import levels_without_values
from idgraph.store import DuckDBStore

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    # pandas ships no type information (pandas-stubs is not a dependency): a Series is
    # Any to mypy, whichever environment checks it
    Series: TypeAlias = Any
else:  # pyspark reads the UDFs' type hints at run time
    Series = pd.Series

Progress = Callable[[str], None]
_Ints = npt.NDArray[np.int64]

# the scored pairs, as Splink's predict names them, brought back into the store
SPARK_PREDICTIONS: Final = "__idg_spark_predictions"
# Jaro-Winkler thresholds are written with at most this many decimals: a value this
# close to such a number is computed bit for bit as DuckDB does (rapidfuzz otherwise)
_JW_DECIMALS: Final = 100
_JW_BAND: Final = 1e-7


def _jw_value(a: str | None, b: str | None) -> float | None:
    """DuckDB's ``jaro_winkler_similarity(a, b)``, as far as any threshold can tell."""
    if a is None or b is None:
        return None
    value = jaro_winkler_series(pd.Series([a], dtype=object), pd.Series([b], dtype=object))
    return float(value.iloc[0])


def _both(a: Series, b: Series) -> tuple[list[Any], list[Any], npt.NDArray[np.int64]]:
    """The two columns as lists, and the rows where neither is NULL."""
    left, right = a.tolist(), b.tolist()
    known = np.flatnonzero(a.notna().to_numpy() & b.notna().to_numpy())
    return left, right, known


def jaro_winkler_series(a: Series, b: Series) -> Series:
    """The Arrow UDF behind Spark's ``jaro_winkler``: DuckDB's values (0.0 when either
    string is empty), from rapidfuzz in one vectorised call, and bit for bit as DuckDB
    computes them (:func:`idgraph.link.model.jaro_winkler`) wherever a value lies within
    a hair of a threshold of at most two decimals."""
    from rapidfuzz.distance import JaroWinkler
    from rapidfuzz.process import cpdist

    left, right, known = _both(a, b)
    out = np.full(len(left), np.nan)
    if len(known):
        xs = [str(left[i]) for i in known.tolist()]
        ys = [str(right[i]) for i in known.tolist()]
        values = np.asarray(cpdist(xs, ys, scorer=JaroWinkler.similarity, workers=1,
                                   dtype=np.float64), dtype=np.float64)
        scaled = values * _JW_DECIMALS
        # equal strings (1.0) and strings with no character in common (0.0) are exact
        # in both; only the others near a threshold are recomputed in Python
        same = np.asarray(xs, dtype=object) == np.asarray(ys, dtype=object)
        near = np.flatnonzero((np.abs(scaled - np.round(scaled)) < _JW_BAND * _JW_DECIMALS)
                              & ~same & (values != 0.0))
        for k in near.tolist():
            values[k] = jaro_winkler(xs[k], ys[k])
        empty = [k for k, (x, y) in enumerate(zip(xs, ys, strict=True)) if not x or not y]
        values[empty] = 0.0
        out[known] = values
    return pd.Series(out, dtype="float64")


def damerau_levenshtein_series(a: Series, b: Series) -> Series:
    """The Arrow UDF behind Spark's ``damerau_levenshtein``: DuckDB's (unrestricted,
    on code points, as rapidfuzz's: see :func:`idgraph.link.model.damerau_within_one`)."""
    from rapidfuzz.distance import DamerauLevenshtein
    from rapidfuzz.process import cpdist

    left, right, known = _both(a, b)
    out = np.full(len(left), np.nan)
    if len(known):
        out[known] = cpdist([str(left[i]) for i in known.tolist()],
                            [str(right[i]) for i in known.tolist()],
                            scorer=DamerauLevenshtein.distance, workers=1)
    return pd.Series(out, dtype="float64")


_MASTER: Final = re.compile(r"^(local(\[(\d+|\*)\])?|spark://[A-Za-z0-9.\-]+(:\d+)?"
                           r"(,[A-Za-z0-9.\-]+(:\d+)?)*)$")


def valid_master(master: str) -> bool:
    """Is ``master`` one idgraph runs on: ``local``, ``local[N]``, ``local[*]`` or a
    standalone cluster's ``spark://host:port`` (several hosts: comma-separated)?"""
    return bool(_MASTER.match(master))


@dataclass(frozen=True)
class SparkEngine:
    """Where and how wide to run: ``master`` is ``local[N]`` or ``spark://host:port``."""

    master: str = "local[2]"
    # shuffle partitions and clustering buckets (None: 2 x the default parallelism)
    partitions: int | None = None
    driver_memory: str = "2g"
    # where Splink breaks long Spark lineages (a shared file system on a cluster);
    # None: it persists them in memory instead
    checkpoint_dir: str | None = None
    conf: dict[str, str] = field(default_factory=dict)

    def session(self) -> SparkSession:
        """The Spark session (made, or the running one), with the UDFs registered."""
        from pyspark.sql import SparkSession

        builder = (SparkSession.builder.master(self.master).appName("idgraph-resolve")
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.driver.memory", self.driver_memory)
                   .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                   .config("spark.sql.adaptive.enabled", "true"))
        if self.partitions:
            builder = builder.config("spark.sql.shuffle.partitions", str(self.partitions))
        if self.master.startswith("local") and not os.environ.get("PYSPARK_PYTHON"):
            # local workers run this interpreter (the one idgraph is installed in), not
            # whatever ``python3`` is first on the PATH; a cluster's executors need
            # idgraph installed in their own Python (docs/deploy.md)
            # (PySpark reads the worker's interpreter from the environment at the
            # context's start; the conf key alone is not enough in local mode)
            os.environ["PYSPARK_PYTHON"] = sys.executable
            builder = builder.config("spark.pyspark.python", sys.executable)
        for key, value in self.conf.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        if not self.partitions:
            spark.conf.set("spark.sql.shuffle.partitions",
                           str(2 * spark.sparkContext.defaultParallelism))
        if self.checkpoint_dir:
            spark.sparkContext.setCheckpointDir(self.checkpoint_dir)
        register_udfs(spark)
        return spark

    def splink_api(self, spark: SparkSession) -> Any:
        """Splink's ``SparkAPI`` over the session (the UDFs are ours: see
        :func:`register_udfs`)."""
        from splink.backends.spark import SparkAPI

        return SparkAPI(spark_session=spark, register_udfs_automatically=False,
                        break_lineage_method="checkpoint" if self.checkpoint_dir else "persist")


def register_udfs(spark: SparkSession) -> None:
    """Spark's names for the fuzzy functions (as Splink's Spark dialect calls them),
    computing DuckDB's values."""
    from pyspark.sql.pandas import functions

    arrow_udf: Any = functions.pandas_udf  # its overloads do not cover a two-Series UDF
    spark.udf.register("jaro_winkler", arrow_udf(jaro_winkler_series, "double"))
    spark.udf.register("damerau_levenshtein", arrow_udf(damerau_levenshtein_series, "double"))


def blocked_pairs_sql(rules: Sequence[str], table: str) -> str:
    """:func:`idgraph.link.blocking.blocked_pairs_sql` in Spark's SQL."""
    if not rules:
        raise ValueError("no blocking rules")
    joins = "\nUNION ALL\n".join(
        f"SELECT CAST({i} AS SMALLINT) AS rule, l.uid AS uid_l, r.uid AS uid_r "
        f"FROM {table} AS l JOIN {table} AS r ON ({rule}) AND l.uid < r.uid"
        for i, rule in enumerate(rules_for(rules, "spark")))
    return (f"SELECT CAST(min(rule) AS STRING) AS match_key, uid_l AS join_key_l, "
            f"uid_r AS join_key_r FROM ({joins}) GROUP BY uid_l, uid_r")


def _spark_settings(model: dict[str, Any], keep_values: bool) -> dict[str, Any]:
    """The trained model for a Spark linker (as :func:`idgraph.link.train.build_linker`
    prepares it for DuckDB)."""
    from idgraph.link.model import settings_dict

    settings = for_dialect(model, "spark")
    settings["retain_matching_columns"] = keep_values
    settings["retain_intermediate_calculation_columns"] = True
    settings["unique_id_column_name"] = "uid"
    retained = settings.setdefault("additional_columns_to_retain", [])
    if "record_id" not in retained:
        retained.insert(0, "record_id")
    settings["blocking_rules_to_generate_predictions"] = settings_dict(
        dialect="spark")["blocking_rules_to_generate_predictions"]
    return settings


def predict(store: DuckDBStore, spark: SparkSession, model: dict[str, Any], floor: float,
            rules: Sequence[str], say: Progress, api: Any = None) -> int:
    """Make the candidate pairs and score them on Spark; the scored pairs (at least
    ``floor``) land in the store as :data:`SPARK_PREDICTIONS`. Returns the number of
    candidate pairs."""
    from splink import Linker
    from splink.backends.spark import SparkAPI

    table = store.con.sql(f"SELECT * FROM {INPUT_TABLE} ORDER BY uid").to_arrow_table()
    # cached once: a frame made from local data carries all its rows in its plan, and
    # each of the blocking joins would ship them again
    width = int(spark.conf.get("spark.sql.shuffle.partitions") or 2)
    records = spark.createDataFrame(table).repartition(width).persist()
    records.count()
    records.createOrReplaceTempView("idg_input")
    pairs = spark.sql(blocked_pairs_sql(rules, "idg_input")).persist()
    n_pairs = pairs.count()
    say(f"{n_pairs:,} candidate pairs to score (Spark)")
    api = api or SparkAPI(spark_session=spark, register_udfs_automatically=False,
                          break_lineage_method="persist")
    with levels_without_values() as levels_only:
        linker = Linker(api.register(records, table_name="idg_link_input"),
                        _spark_settings(model, keep_values=not levels_only))
        linker.table_management.register_blocked_pairs_for_predict(
            api.register(pairs, table_name="idg_blocked_pairs"))
        pred = linker.inference.predict(threshold_match_probability=floor,
                                        warning_mode="never")
        scored = pred.as_spark_dataframe().toArrow()
        linker.table_management.delete_tables_created_by_splink_from_db()
    pairs.unpersist()
    records.unpersist()
    store.con.register("__idg_spark_arrow", scored)
    try:
        store.execute(f"CREATE OR REPLACE TEMP TABLE {SPARK_PREDICTIONS} AS "
                      "SELECT * FROM __idg_spark_arrow")
    finally:
        store.con.unregister("__idg_spark_arrow")
    return n_pairs


# --- clustering per connected component

def _key_links(key: Sequence[int] | None) -> tuple[_Ints, _Ints]:
    """Chain links between records of one key (>= 0): each to the next in key order."""
    if key is None:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    k = np.asarray(key, dtype=np.int64)
    idx = np.flatnonzero(k >= 0)
    order = idx[np.argsort(k[idx], kind="stable")]
    same = k[order][1:] == k[order][:-1]
    return order[:-1][same], order[1:][same]


def _components(n: int, a: _Ints, b: _Ints) -> _Ints:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)


def closed_components(graph: ClusterInput) -> _Ints:
    """A component number per record such that :func:`cluster` of each component alone
    gives what clustering all records gives.

    Records influence each other only through edges (strong, weak, must-links) and the
    household keys of the hold rules: ``home`` (homonym, kin), ``house`` (twins) and
    ``born`` (middle name) group records by equality, so records of one key share a
    component. The kin rule also reaches a bare record named like a household (``name``)
    at an address (``address``) any member of the household's clusters lived at: such a
    record joins the household's component when some component holds a home key of two
    or more records with its name and a record at its address (a superset of what kin
    can hold), repeated until nothing more joins."""
    n = len(graph.facts)
    parts_a: list[_Ints] = []
    parts_b: list[_Ints] = []
    for extra in (graph.edges, graph.must_links, graph.weak.edges if graph.weak else ()):
        if len(extra):
            ends = edge_array(extra)
            parts_a.append(ends[:, 0])
            parts_b.append(ends[:, 1])
    keys = graph.keys
    for key in (keys.home, keys.house, keys.born):
        a, b = _key_links(key)
        parts_a.append(a)
        parts_b.append(b)
    a = np.concatenate(parts_a) if parts_a else np.empty(0, np.int64)
    b = np.concatenate(parts_b) if parts_b else np.empty(0, np.int64)
    comp = _components(n, a, b)
    if keys.home is None or keys.name is None or keys.address is None:
        return comp
    home = np.asarray(keys.home, dtype=np.int64)
    name = np.asarray(keys.name, dtype=np.int64)
    address = np.asarray(keys.address, dtype=np.int64)
    bare = np.fromiter((f.bare() for f in graph.facts), dtype=bool, count=n)
    homes, counts = np.unique(home[home >= 0], return_counts=True)
    in_household = np.isin(home, homes[counts > 1])
    reach = np.flatnonzero(bare & (name >= 0) & (address >= 0))
    while True:
        named: dict[int, set[int]] = {}
        for i in np.flatnonzero(in_household & (name >= 0)).tolist():
            named.setdefault(int(name[i]), set()).add(int(comp[i]))
        households = set().union(*named.values()) if named else set()
        lived: dict[int, set[int]] = {}
        for i in np.flatnonzero((address >= 0) & np.isin(comp, list(households))).tolist():
            lived.setdefault(int(address[i]), set()).add(int(comp[i]))
        _, first = np.unique(comp, return_index=True)  # a record of each component
        new_a, new_b = [], []
        for i in reach.tolist():
            for c in named.get(int(name[i]), set()) & lived.get(int(address[i]), set()):
                if c != comp[i]:
                    new_a.append(i)
                    new_b.append(int(first[c]))
        if not new_a:
            return comp
        a = np.concatenate([a, np.asarray(new_a, dtype=np.int64)])
        b = np.concatenate([b, np.asarray(new_b, dtype=np.int64)])
        comp = _components(n, a, b)


def buckets_of(comp: _Ints, n_buckets: int) -> _Ints:
    """A bucket per record: whole components packed into ``n_buckets`` by size (largest
    first, each into the lightest bucket); singleton components get -1 (nothing to do)."""
    sizes = np.bincount(comp)
    bucket_of_comp = np.full(len(sizes), -1, dtype=np.int64)
    load = np.zeros(max(n_buckets, 1), dtype=np.int64)
    for c in np.argsort(-sizes, kind="stable").tolist():
        if sizes[c] < 2:
            break
        k = int(np.argmin(load))
        bucket_of_comp[c] = k
        load[k] += int(sizes[c])
    return bucket_of_comp[comp]


_OUT_SCHEMA: Final = "idx long, label long, held boolean, stats string"


def _cluster_bucket(nodes: pd.DataFrame, links: pd.DataFrame, config: LinkConfig,
                    min_weight: float | None) -> pd.DataFrame:
    """``cluster()`` of one bucket of whole components (runs on an executor)."""
    nodes = nodes.sort_values("idx", kind="stable")
    idx = nodes["idx"].to_numpy(dtype=np.int64)
    local = {int(g): i for i, g in enumerate(idx.tolist())}
    facts: list[Facts] = [pickle.loads(b) for b in nodes["facts"].tolist()]

    def key(col: str) -> list[int] | None:
        return None if col not in nodes or nodes[col].isna().all() else (
            nodes[col].fillna(-1).astype(np.int64).tolist())

    links = links.sort_values("pos", kind="stable")

    def of_kind(kind: int) -> pd.DataFrame:
        return links[links["kind"] == kind]

    def pairs(frame: pd.DataFrame) -> list[tuple[int, int]]:
        return [(local[int(x)], local[int(y)]) for x, y in
                zip(frame["a"].tolist(), frame["b"].tolist(), strict=True)]

    strong, weak, must = of_kind(0), of_kind(1), of_kind(2)
    result = cluster(ClusterInput(
        facts, pairs(strong), strong["weight"].tolist(), strong["via"].astype(int).tolist(),
        pairs(must), NodeKeys(home=key("home"), house=key("house"), name=key("name"),
                              address=key("address"), born=key("born")),
        WeakEdges(pairs(weak), weak["weight"].tolist(), weak["via"].astype(int).tolist(),
                  min_weight) if min_weight is not None else None), config)
    stats = json.dumps({"refused": result.refused, "forced": result.forced,
                        "attached": result.attached})
    return pd.DataFrame({
        "idx": idx, "label": idx[np.asarray(result.labels, dtype=np.int64)],
        "held": [i in result.held for i in range(len(idx))],
        "stats": [stats] + [None] * (len(idx) - 1)})


def state_from(facts: list[Facts], labels: Sequence[int]) -> _UnionFind:
    """The union-find of clusters whose roots are ``labels`` (each cluster's facts
    absorbed in record order), as :func:`cluster` leaves it."""
    uf = _UnionFind(facts)
    lab = np.asarray(labels, dtype=np.int64)
    uf.parent = lab.tolist()
    uf.size = np.bincount(lab, minlength=len(lab)).tolist()
    for i, root in enumerate(uf.parent):
        if i != root:
            if not uf.owned[root]:
                uf.facts[root], uf.owned[root] = uf.facts[root].copy(), True
            uf.facts[root].absorb(facts[i])
    return uf


def cluster_on_spark(spark: SparkSession, graph: ClusterInput, config: LinkConfig,
                     say: Progress, buckets: int | None = None) -> ClusterResult:
    """:func:`idgraph.link.cluster.cluster` of ``graph``, per connected component in
    parallel on Spark (same labels, refusals and holds as one call over everything)."""
    t0 = time.perf_counter()
    n = len(graph.facts)
    comp = closed_components(graph)
    n_buckets = buckets or 4 * spark.sparkContext.defaultParallelism
    bucket = buckets_of(comp, n_buckets)
    sizes = np.bincount(comp)
    say(f"clustering {int((sizes > 1).sum()):,} components on Spark "
        f"(largest {int(sizes.max()) if n else 0:,} records; "
        f"{time.perf_counter() - t0:.1f} s to find them)")
    busy = np.flatnonzero(bucket >= 0)
    keys = graph.keys

    def column(values: Sequence[int] | None) -> pa.Array:
        if values is None:
            return pa.nulls(len(busy), pa.int64())
        return pa.array(np.asarray(values, dtype=np.int64)[busy])

    nodes = pa.table({
        "bucket": pa.array(bucket[busy]), "idx": pa.array(busy),
        "facts": pa.array([pickle.dumps(graph.facts[i]) for i in busy.tolist()], pa.binary()),
        "home": column(keys.home), "house": column(keys.house), "name": column(keys.name),
        "address": column(keys.address), "born": column(keys.born)})
    frames = []
    for kind, (pairs, weights, via) in enumerate((
            (graph.edges, graph.weights, graph.via),
            (graph.weak.edges, graph.weak.weights, graph.weak.via) if graph.weak else ((), (), ()),
            (graph.must_links, None, None))):
        if not len(pairs):
            continue
        ends = edge_array(pairs)
        frames.append(pa.table({
            "bucket": pa.array(bucket[ends[:, 0]]), "kind": pa.array(
                np.full(len(ends), kind, dtype=np.int64)),
            "pos": pa.array(np.arange(len(ends), dtype=np.int64)),
            "a": pa.array(ends[:, 0]), "b": pa.array(ends[:, 1]),
            "weight": pa.array(np.asarray(weights if weights is not None
                                          else np.zeros(len(ends)), dtype=np.float64)),
            "via": pa.array(np.asarray(via if via is not None
                                       else np.zeros(len(ends)), dtype=np.int64))}))
    links = (pa.concat_tables(frames) if frames else pa.table({
        "bucket": pa.array([], pa.int64()), "kind": pa.array([], pa.int64()),
        "pos": pa.array([], pa.int64()), "a": pa.array([], pa.int64()),
        "b": pa.array([], pa.int64()), "weight": pa.array([], pa.float64()),
        "via": pa.array([], pa.int64())}))
    min_weight = graph.weak.min_weight if graph.weak else None

    def run(node_frame: pd.DataFrame, link_frame: pd.DataFrame) -> pd.DataFrame:
        return _cluster_bucket(node_frame, link_frame, config, min_weight)

    labels = np.arange(n, dtype=np.int64)
    held: set[int] = set()
    refused: dict[str, int] = {}
    forced = attached = 0
    if len(busy):
        node_df: DataFrame = spark.createDataFrame(nodes).repartition(n_buckets, "bucket")
        link_df: DataFrame = spark.createDataFrame(links).repartition(n_buckets, "bucket")
        out = (node_df.groupBy("bucket").cogroup(link_df.groupBy("bucket"))
               .applyInPandas(run, schema=_OUT_SCHEMA).toArrow())
        labels[out.column("idx").to_numpy()] = out.column("label").to_numpy()
        held = set(np.asarray(out.column("idx"))[
            np.asarray(out.column("held"), dtype=bool)].tolist())
        for text in out.column("stats").drop_null().to_pylist():
            stats = json.loads(text)
            forced += int(stats["forced"])
            attached += int(stats["attached"])
            for rule, count in stats["refused"].items():
                refused[rule] = refused.get(rule, 0) + int(count)
    say(f"clustered on Spark in {time.perf_counter() - t0:.1f} s")
    final = labels.tolist()
    return ClusterResult(final, accepted_edges(labels, edge_array(graph.edges)),
                         dict(sorted(refused.items())), forced, attached, frozenset(held),
                         state=state_from(graph.facts, final))
