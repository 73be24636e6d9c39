"""``resolve``: predict, cluster under constraints, keep identity ids, record it all.

One dedupe over every current record (all sources together). Pairs scoring at least
:data:`EDGE_FLOOR` are kept in ``link_edges`` with their evidence; those at or above
the threshold feed the constrained clustering (:mod:`idgraph.link.cluster`).
"""

from __future__ import annotations

import functools
import gc
import itertools
import json
import math
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import jellyfish
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from splink import DuckDBAPI

from idgraph.link.blocking import BLOCKED_PAIRS, Blocking
from idgraph.link.cluster import (
    ClusterInput,
    ClusterResult,
    NodeKeys,
    WeakEdges,
    accepted_edges,
    cluster,
    edge_array,
)
from idgraph.link.config import LinkConfig, RuleId
from idgraph.link.constraints import (
    VIA_CONTACT,
    VIA_ID,
    VIA_NAME_SWAP,
    Constraints,
    Facts,
    column_facts,
)
from idgraph.link.evidence import comparison_names, evidence_sql, level_labels, weights_sql
from idgraph.link.fragments import join_fragments, score_fragments
from idgraph.link.ids import ID_KEY, LineageEvent, assign_ids
from idgraph.link.judge import Verdict, latest_verdicts
from idgraph.link.model import INPUT_TABLE, blocking_rules
from idgraph.link.tables import bump_generation, one
from idgraph.link.train import (
    TrainedModel,
    build_linker,
    latest_model,
    levels_without_values,
    prepare_input,
    scratch,
    train,
)
from idgraph.settings import Settings
from idgraph.store import DuckDBStore, Store
from idgraph.store.base import WriteMode
from idgraph.store.graph import IdentityGraph

if TYPE_CHECKING:
    from idgraph.link.spark import SparkEngine

Progress = Callable[[str], None]
# Called after identities change, with the records whose membership may have changed
# (None: any): a resolve passes None, a live attach its records. The search index
# registers one (link must not import search).
AfterResolve = Callable[[Store, Sequence[str] | None], None]
_AFTER_RESOLVE: list[AfterResolve] = []


def register_after_resolve(hook: AfterResolve) -> None:
    if hook not in _AFTER_RESOLVE:
        _AFTER_RESOLVE.append(hook)


def unregister_after_resolve(hook: AfterResolve) -> None:
    if hook in _AFTER_RESOLVE:
        _AFTER_RESOLVE.remove(hook)


def after_resolve(store: Store, record_ids: Sequence[str] | None = None) -> None:
    """Run the registered hooks (resolve does; a live attach calls it too)."""
    for hook in list(_AFTER_RESOLVE):
        hook(store, record_ids)


EDGE_FLOOR = 0.5  # link_edges keeps pairs from here up
# Pairs from LinkConfig.predict_floor up are kept after scoring: weak evidence still
# counts when a fragment is scored against a whole identity
# (:mod:`idgraph.link.fragments`); edges from LinkConfig.weak_floor to the threshold feed
# the pairwise attach pass.


@dataclass(frozen=True)
class ResolveSummary:
    run_id: str
    model_id: str
    threshold: float
    n_records: int
    n_edges: int
    n_accepted: int
    n_identities: int
    refused: dict[str, int] = field(default_factory=dict)
    lineage: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _predict(store: DuckDBStore, model: dict[str, Any], floor: float) -> None:
    """Score the blocked pairs (:data:`BLOCKED_PAIRS`, made by :class:`Blocking`) into
    the temp table ``__idg_edges`` (with evidence)."""
    with scratch(store), levels_without_values() as levels_only:
        linker = build_linker(store, model, keep_values=not levels_only)
        linker.table_management.register_blocked_pairs_for_predict(
            DuckDBAPI(connection=store.con).register(BLOCKED_PAIRS))
        pred = linker.inference.predict(threshold_match_probability=floor,
                                        warning_mode="never")
        _edges_from(store, model, pred.physical_name)
        linker.table_management.delete_tables_created_by_splink_from_db()
        store.execute(f"DROP TABLE IF EXISTS {BLOCKED_PAIRS}")


def _edges_from(store: DuckDBStore, model: dict[str, Any], predictions: str) -> None:
    """The temp table ``__idg_edges`` (with evidence) from a table of Splink's scored
    pairs (either engine's)."""
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE __idg_edges AS
        SELECT row_number() OVER () AS eid,
               least(p.record_id_l, p.record_id_r) AS record_id_l,
               greatest(p.record_id_l, p.record_id_r) AS record_id_r,
               CASE WHEN p.record_id_l <= p.record_id_r THEN p.uid_l ELSE p.uid_r END
                   AS uid_l,
               CASE WHEN p.record_id_l <= p.record_id_r THEN p.uid_r ELSE p.uid_l END
                   AS uid_r,
               p.match_probability, p.match_weight,
               -- only the kept edges need their evidence written out
               CASE WHEN p.match_probability >= {EDGE_FLOOR}
                    THEN {evidence_sql(model)} END AS evidence,
               {weights_sql(model)} AS cw, {_via_sql(model)} AS via
        FROM {predictions} AS p"""
    )


def _predict_on_spark(store: DuckDBStore, model: dict[str, Any], floor: float,
                      rules: tuple[str, ...], engine: SparkEngine, spark: Any,
                      say: Progress) -> int:
    """Candidate pairs and their scores on Spark (:mod:`idgraph.link.spark`), into
    ``__idg_edges``; returns the number of candidate pairs."""
    from idgraph.link.spark import SPARK_PREDICTIONS, predict

    n_pairs = predict(store, spark, model, floor, rules, say, engine.splink_api(spark))
    _edges_from(store, model, SPARK_PREDICTIONS)
    store.execute(f"DROP TABLE IF EXISTS {SPARK_PREDICTIONS}")
    return n_pairs


def _via_sql(model: dict[str, Any], alias: str = "p") -> str:
    """Which identifiers a predicted pair agrees on exactly, as VIA_* bits (read off
    the comparison levels, so the compared values need not be kept)."""
    labels = level_labels(model)

    def agree(names: tuple[str, ...]) -> str:
        exact = [f"{alias}.gamma_{n} = {g}" for n in names if n in labels
                 for g, label in labels[n].items() if label == "exact"]
        return " OR ".join(exact) or "false"

    swapped = [f"{alias}.gamma_first_name = {g}"
               for g, label in labels.get("first_name", {}).items()
               if label == "given and surname swapped"]
    return (f"(CASE WHEN {agree(('ssn', 'dl_key'))} THEN {VIA_ID} ELSE 0 END"
            f" + CASE WHEN {agree(('phone', 'email'))} THEN {VIA_CONTACT} ELSE 0 END"
            f" + CASE WHEN {' OR '.join(swapped) or 'false'} THEN {VIA_NAME_SWAP} ELSE 0 END)")


def _load_nodes(
    store: DuckDBStore, rules: Constraints, off: frozenset[RuleId] = frozenset()
) -> tuple[list[str], list[Facts], NodeKeys]:
    """Record ids (in index order), their facts, and their household keys."""
    nodes = f"""SELECT record_id, ssn, dl_key,
               suffix, dob_day, dob_month, birth_year, first_name, first_name_canon,
               first_name_phonetic, middle_name,
               coalesce(first_name_canon, first_name) AS home_first,
               coalesce(last_name_phonetic, last_name) AS home_last,
               left(coalesce(last_name_phonetic, last_name), 2) AS kin_last, house_number,
               street,
               house_number IS NOT NULL AND street IS NOT NULL AS has_address,
               last_name IS NOT NULL AS has_last, first_name IS NOT NULL AS has_first,
               dob_day IS NOT NULL AS has_day
        FROM {INPUT_TABLE} ORDER BY uid"""
    # the edges' ends as indexes (the integer key numbers records in record id order
    # from 1, so a record's index is its key less one: no join on record id strings)
    store.execute(
        """CREATE OR REPLACE TEMP TABLE __idg_ends AS
        SELECT eid, uid_l - 1 AS idx_l, uid_r - 1 AS idx_r FROM __idg_edges"""
    )
    # con.sql, not execute: DuckDB's DB-API Arrow export may reorder result chunks
    table = store.con.sql(nodes).to_arrow_table()
    col = {name: table.column(name).to_pylist() for name in (
        "record_id", "ssn", "dl_key", "suffix", "dob_day", "dob_month", "birth_year",
        "first_name", "first_name_canon", "first_name_phonetic", "middle_name")}
    facts = column_facts(
        col["ssn"], col["dl_key"], col["suffix"],
        (col["dob_day"], col["dob_month"], col["birth_year"]), rules,
        (col["first_name"], col["first_name_canon"], col["first_name_phonetic"],
         col["middle_name"]), off)
    has_address = table.column("has_address").to_numpy()
    has_last = table.column("has_last").to_numpy()
    has_first = table.column("has_first").to_numpy()
    # the given name by the sound of its canonical form: JOE, JOSEPH and the typo JOSEFH
    # are one key (a namesake's stray record must not slip past under a misspelling)
    sound = pa.array([None if n is None else sound_key(n) for n in
                      table.column("home_first").to_pylist()], pa.string())
    table = table.append_column("home_sound", sound)
    address = _key_codes(table, ["house_number", "street"])  # ZIPs go missing
    house = _key_codes(table, ["home_last"], address)
    home = _key_codes(table, ["home_sound"], house)
    # a household's name reaches misspelt surnames too (COLLINS, COLILNS: KL)
    name = _key_codes(table, ["home_sound", "kin_last"])
    born = _key_codes(table, ["home_last", "dob_day"])
    has_day = table.column("has_day").to_numpy()
    return col["record_id"], facts, NodeKeys(
        home=np.where(has_address & has_last & has_first, home, -1).tolist(),
        house=np.where(has_address & has_last, house, -1).tolist(),
        name=np.where(has_last & has_first, name, -1).tolist(),
        address=np.where(has_address, address, -1).tolist(),
        born=np.where(has_last & has_day, born, -1).tolist())


@functools.lru_cache(maxsize=1 << 16)
def sound_key(name: str) -> str:
    """The first three sounds of a given name (JOSEPH and the slip JOSEFH: JSF)."""
    return (jellyfish.metaphone(name) or name)[:3]


def _key_codes(
    table: pa.Table, names: list[str], key: npt.NDArray[np.int64] | None = None
) -> npt.NDArray[np.int64]:
    """One number per distinct tuple of ``key`` (if given) and the named columns (nulls
    equal to each other): equal numbers, equal tuples."""
    key = np.zeros(table.num_rows, dtype=np.int64) if key is None else key
    for name in names:
        coded = pc.dictionary_encode(table.column(name).combine_chunks(),
                                     null_encoding="encode")
        codes = coded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        _, key = np.unique(key * (len(coded.dictionary) + 1) + codes, return_inverse=True)
    return key.reshape(-1)


def _edges(
    store: DuckDBStore, low: float, high: float = 1.1
) -> tuple[list[int], list[tuple[int, int]], list[float], list[int]]:
    """Edges with ``low <= p < high``, strongest first: eids, index pairs, weights, via."""
    cols = store.con.sql(
        """SELECT e.eid, x.idx_l AS a, x.idx_r AS b, e.match_weight, e.via FROM __idg_edges e
           JOIN __idg_ends x USING (eid)
           WHERE e.match_probability >= $1 AND e.match_probability < $2
           ORDER BY e.match_probability DESC, e.record_id_l, e.record_id_r""",
        params=[low, high],
    ).to_arrow_table()
    col = {name: cols.column(name).to_pylist() for name in cols.column_names}
    return col["eid"], list(zip(col["a"], col["b"], strict=True)), col["match_weight"], col["via"]


def _apply_judgements(
    store: Store, ids: list[str], facts: list[Facts]
) -> list[tuple[int, int]]:
    """Add ``different`` judgements as facts; return ``same`` pairs as index pairs."""
    index = {rid: i for i, rid in enumerate(ids)}
    must: list[tuple[int, int]] = []
    for k, (a, b, verdict) in enumerate(latest_verdicts(store)):
        if a not in index or b not in index:
            continue
        if verdict is Verdict.SAME:
            must.append((index[a], index[b]))
        elif verdict is Verdict.DIFFERENT:
            facts[index[a]].keys[(RuleId.JUDGEMENT, str(k))] = "l"
            facts[index[b]].keys[(RuleId.JUDGEMENT, str(k))] = "r"
    return must


def _ensure_model(store: Store, say: Progress) -> TrainedModel:
    model = latest_model(store)
    if model is None:
        say("no saved model: training one")
        model = train(store, progress=say, prepared=True)
    return model


def resolve(
    store: Store,
    settings: Settings,
    progress: Progress | None = None,
    config: LinkConfig | None = None,
    *,
    constraints: Constraints | None = None,
    retrain: bool = False,
    engine: SparkEngine | None = None,
) -> ResolveSummary:
    """Link all current records into identities; return what happened.

    ``engine``: predict the pairs and cluster on Spark (:mod:`idgraph.link.spark`)
    instead of the store's DuckDB; the result is the same.

    Runs in the store's DuckDB workspace (:meth:`Store.workspace`): on DuckDB the store
    itself; on PostgreSQL a copy of the current records, judgements, identities and
    models (:data:`RESOLVE_READS`). There the edges, lineage, run and model it adds come
    back (:data:`RESOLVE_WRITES`) with the memberships that changed, all in one
    transaction: memberships of records the resolve never saw (placed live meanwhile)
    stay as they are."""
    if store.dialect == "duckdb":
        with store.workspace(RESOLVE_READS, RESOLVE_WRITES) as ws:  # the store itself
            summary = _resolve(ws, settings, progress, config, constraints=constraints,
                               retrain=retrain, engine=engine)
    else:
        graph = IdentityGraph(store)
        with store.transaction(), store.workspace(RESOLVE_READS, RESOLVE_WRITES) as ws:
            before = ws.fetch_arrow("SELECT record_id, identity_id FROM identity_members")
            summary = _resolve(ws, settings, progress, config, constraints=constraints,
                               retrain=retrain, engine=engine)
            changed, gone = _membership_changes(ws, before)
            # (the workspace's own writes, joining this transaction, follow this block)
            graph.apply_memberships(changed, gone)
            graph.bump_generation()  # live linkers read the identities again
    after_resolve(store)
    return summary


# what resolve reads, and adds (PostgreSQL's workspace copies; the memberships come back
# as changes: :func:`_membership_changes`)
RESOLVE_READS: Final[dict[str, str | None]] = {
    "records": "is_current", "judgements": None, "identity_members": None,
    "link_models": None}
RESOLVE_WRITES: Final[dict[str, WriteMode]] = {
    "link_edges": "append", "identity_lineage": "append", "link_runs": "append",
    "link_models": "append"}


def _membership_changes(ws: DuckDBStore, before: pa.Table) -> tuple[pa.Table, list[str]]:
    """The memberships a resolve in ``ws`` changed from ``before`` (record_id,
    identity_id): the new or moved ones, and the records that left every identity."""
    ws.con.register("__idg_before", before)
    try:
        changed = ws.con.sql(
            "SELECT n.identity_id, n.record_id FROM identity_members n "
            "ANTI JOIN __idg_before b ON b.record_id = n.record_id "
            "AND b.identity_id = n.identity_id ORDER BY n.record_id").to_arrow_table()
        gone = [str(r[0]) for r in ws.fetchall(
            "SELECT b.record_id FROM __idg_before b ANTI JOIN identity_members n "
            "ON n.record_id = b.record_id ORDER BY 1")]
    finally:
        ws.con.unregister("__idg_before")
    return changed, gone


def _resolve(
    store: DuckDBStore,
    settings: Settings,
    progress: Progress | None,
    config: LinkConfig | None,
    *,
    constraints: Constraints | None,
    retrain: bool,
    engine: SparkEngine | None,
) -> ResolveSummary:
    say = progress or (lambda _msg: None)
    started, t0 = _now(), time.perf_counter()
    config = config or LinkConfig()
    threshold = (settings.match_threshold if config.match_threshold is None
                 else config.match_threshold)
    n = prepare_input(store)
    rules = constraints or Constraints(ssn_typo_tolerance=config.ssn_typo_tolerance)
    block_rules = blocking_rules(rules.dates_of_birth)
    floor = min(config.predict_floor, EDGE_FLOOR, threshold)
    spark = engine.session() if engine is not None else None
    if engine is not None and spark is not None:
        model = (train(store, progress=say, prepared=True) if retrain
                 else _ensure_model(store, say))
        times = {"train": time.perf_counter() - t0}
        say("making candidate pairs and predicting on Spark")
        _predict_on_spark(store, model.model, floor, block_rules, engine, spark, say)
    else:
        # candidate pairs, made while the model trains
        blocking = Blocking(store, rules=block_rules)
        try:
            model = (train(store, progress=say, prepared=True) if retrain
                     else _ensure_model(store, say))
        except BaseException:
            blocking.abandon()
            raise
        say("making candidate pairs")
        say(f"{blocking.result():,} candidate pairs to score")
        times = {"train": time.perf_counter() - t0}
        say("predicting pairwise match probabilities")
        _predict(store, model.model, floor)
    times["predict"] = time.perf_counter() - t0 - sum(times.values())
    say("clustering under cannot-link constraints")
    with _gc_paused():
        ids, facts, keys = _load_nodes(store, rules, config.off())
        must = _apply_judgements(store, ids, facts)
        eids, edges, weights, via = _edges(store, threshold)
        _, low_edges, low_weights, low_via = _edges(store, config.weak_floor, threshold)
        weak = WeakEdges(low_edges, low_weights, low_via, _weight(threshold))
        graph = ClusterInput(facts, edges, weights, via, must, keys, weak)
        if spark is not None:
            from idgraph.link.spark import cluster_on_spark

            result = cluster_on_spark(spark, graph, config, say)
        else:
            result = cluster(graph, config)
        if rules.dates_of_birth and rules.strong_identifiers and config.join_fragments:
            # best levels across an identity are only safe with the rules that tell
            # namesakes apart (off on FEBRL, whose generator garbles those fields)
            result = _join_fragments(store, model.model, facts, edges, result, threshold,
                                     config)
        result = replace(result, state=None)  # the clusters' facts are no longer needed
        clusters = _groups(ids, result)
        members = store.con.sql(
            "SELECT record_id, identity_id FROM identity_members").to_arrow_table()
        old = dict(zip(members.column(0).to_pylist(), members.column(1).to_pylist(),
                       strict=True))
        identity_ids, events = assign_ids(clusters, old, store.secret(ID_KEY))
        times["cluster"] = time.perf_counter() - t0 - sum(times.values())
        # still paused: the write builds a million small objects while the facts live
        say("writing identities")
        run_id = "R-" + started.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        summary = _write(store, run_id, started, threshold, model.model_id, n,
                         (eids, result), (clusters, identity_ids, events), config)
    times["write"] = time.perf_counter() - t0 - sum(times.values())
    return ResolveSummary(**{**summary.__dict__, "seconds": times})


def _join_fragments(
    store: DuckDBStore,
    model: dict[str, Any],
    facts: list[Facts],
    edges: list[tuple[int, int]],
    result: ClusterResult,
    threshold: float,
    config: LinkConfig,
) -> ClusterResult:
    """Score small clusters against whole identities and join them where it is clear."""
    candidates = score_fragments(store, result.labels, set(result.held),
                                 len(comparison_names(model)),
                                 _weight(float(model["probability_two_random_records_match"])),
                                 floor=_weight(threshold) - config.ambiguity_margin,
                                 max_fragment=config.max_fragment)
    labels, moved = join_fragments(result.labels, facts, candidates, _weight(threshold),
                                   config, result.state)
    if not moved:
        return result
    accepted = accepted_edges(np.asarray(labels, dtype=np.int64), edge_array(edges))
    return replace(result, labels=labels, accepted=accepted, attached=result.attached + moved)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection for a while.

    Clustering builds millions of small containers (per-record facts) and no cycles;
    each collection would walk them all again (about half the phase's time at 1M
    records).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _weight(probability: float) -> float:
    """The match weight (bits) of a match probability, kept finite."""
    p = min(max(probability, 1e-9), 1 - 1e-9)
    return math.log2(p / (1 - p))


def _groups(ids: list[str], result: ClusterResult) -> list[list[str]]:
    """Record ids per cluster; clusters in order of their first record, records in order."""
    labels = np.asarray(result.labels, dtype=np.int64)
    order = np.argsort(labels, kind="stable")  # by cluster, records in order within
    starts = np.flatnonzero(np.diff(labels[order], prepend=-1))
    sorted_ids = [ids[i] for i in order.tolist()]
    bounds = np.append(starts, len(order)).tolist()
    groups = [sorted_ids[s:e] for s, e in itertools.pairwise(bounds)]
    first = order[starts]  # each cluster's first record: the order clusters appear in
    return [groups[k] for k in np.argsort(first, kind="stable").tolist()]


def _write(
    store: DuckDBStore,
    run_id: str,
    started: datetime,
    threshold: float,
    model_id: str,
    n: int,
    clustered: tuple[list[int], ClusterResult],
    identities: tuple[list[list[str]], list[str], list[LineageEvent]],
    config: LinkConfig,
) -> ResolveSummary:
    eids, result = clustered
    clusters, identity_ids, events = identities
    accepted = pa.table({"eid": pa.array(eids, pa.int64()),
                         "accepted": pa.array(result.accepted, pa.bool_())})
    members = pa.table({
        "identity_id": [identity_ids[c] for c, m in enumerate(clusters) for _ in m],
        "record_id": [r for m in clusters for r in m],
    })
    lineage_counts: dict[str, int] = {}
    for ev in events:
        lineage_counts[ev.event] = lineage_counts.get(ev.event, 0) + 1
    n_edges = int(one(store, "SELECT count(*) FROM __idg_edges WHERE match_probability >= ?",
                      [EDGE_FLOOR]))
    summary = ResolveSummary(run_id, model_id, threshold, n, n_edges, sum(result.accepted),
                             len(clusters), result.refused, lineage_counts)
    detail = {"refused": result.refused, "forced": result.forced, "attached": result.attached,
              "lineage": lineage_counts,
              "n_accepted": summary.n_accepted, "config": config.to_dict()}
    lineage = pa.table({
        "identity_id": pa.array([e.identity_id for e in events], pa.string()),
        "event": pa.array([e.event for e in events], pa.string()),
        "related": pa.array([list(e.related) for e in events], pa.list_(pa.string())),
    })
    store.con.register("__idg_lineage", lineage)
    store.con.register("__idg_accepted", accepted)
    store.con.register("__idg_members", members)
    try:
        with store.transaction():
            store.execute(
                """INSERT INTO link_edges SELECT ?, e.record_id_l, e.record_id_r,
                   e.match_probability, e.match_weight, coalesce(a.accepted, false), e.evidence
                   FROM __idg_edges e LEFT JOIN __idg_accepted a USING (eid)
                   WHERE e.match_probability >= ?""", [run_id, EDGE_FLOOR])
            # rewrite only the memberships that changed (re-runs mostly change few)
            store.execute("""DELETE FROM identity_members AS m WHERE NOT EXISTS (
                SELECT 1 FROM __idg_members n
                WHERE n.record_id = m.record_id AND n.identity_id = m.identity_id)""")
            store.execute("""INSERT INTO identity_members SELECT n.identity_id, n.record_id
                FROM __idg_members n ANTI JOIN identity_members m USING (record_id)""")
            at = _now()
            store.execute("INSERT INTO identity_lineage SELECT ?, identity_id, event, "
                          "related, ? FROM __idg_lineage", [run_id, at])
            store.execute(
                "INSERT INTO link_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, started, _now(), threshold, n, n_edges, len(clusters), model_id,
                 json.dumps(detail)])
            bump_generation(store)  # live linkers read the identities again
    finally:
        store.con.unregister("__idg_accepted")
        store.con.unregister("__idg_members")
        store.con.unregister("__idg_lineage")
    return summary
