"""``resolve``: predict, cluster under constraints, keep identity ids, record it all.

One dedupe over every current record (all sources together). Pairs scoring at least
:data:`EDGE_FLOOR` are kept in ``link_edges`` with their evidence; those at or above
the threshold feed the constrained clustering (:mod:`idgraph.link.cluster`).
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from idgraph.link.cluster import ClusterResult, WeakEdges, cluster
from idgraph.link.constraints import VIA_CONTACT, VIA_ID, Constraints, Facts, record_facts
from idgraph.link.evidence import evidence_sql, level_labels
from idgraph.link.ids import LineageEvent, assign_ids
from idgraph.link.judge import Verdict, latest_verdicts
from idgraph.link.model import INPUT_TABLE
from idgraph.link.tables import ensure_tables, one
from idgraph.link.train import (
    TrainedModel,
    build_linker,
    latest_model,
    prepare_input,
    scratch,
    train,
)
from idgraph.settings import Settings
from idgraph.store import Store

Progress = Callable[[str], None]
EDGE_FLOOR = 0.5  # link_edges keeps pairs from here up
PREDICT_FLOOR = 0.5  # pairs from here up are scored; below the threshold they feed attach


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


def _predict(store: Store, model: dict[str, Any], floor: float) -> None:
    """Score blocked pairs into the temp table ``__idg_edges`` (with evidence)."""
    with scratch(store):
        linker = build_linker(store, model)
        pred = linker.inference.predict(threshold_match_probability=floor,
                                        warning_mode="never")
        store.execute(
            f"""CREATE OR REPLACE TEMP TABLE __idg_edges AS
            SELECT row_number() OVER () AS eid,
                   least(p.record_id_l, p.record_id_r) AS record_id_l,
                   greatest(p.record_id_l, p.record_id_r) AS record_id_r,
                   p.match_probability, p.match_weight, {evidence_sql(model)} AS evidence,
                   {_via_sql(model)} AS via
            FROM {pred.physical_name} AS p"""
        )
        linker.table_management.delete_tables_created_by_splink_from_db()


def _via_sql(model: dict[str, Any], alias: str = "p") -> str:
    """Which identifiers a predicted pair agrees on exactly, as VIA_* bits (read off
    the comparison levels, so the compared values need not be kept)."""
    labels = level_labels(model)

    def agree(names: tuple[str, ...]) -> str:
        exact = [f"{alias}.gamma_{n} = {g}" for n in names if n in labels
                 for g, label in labels[n].items() if label == "exact"]
        return " OR ".join(exact) or "false"

    return (f"(CASE WHEN {agree(('ssn', 'dl_key'))} THEN {VIA_ID} ELSE 0 END"
            f" + CASE WHEN {agree(('phone', 'email'))} THEN {VIA_CONTACT} ELSE 0 END)")


def _load_nodes(
    store: Store, rules: Constraints
) -> tuple[list[str], list[Facts], list[list[int]]]:
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE __idg_nodes AS
        SELECT row_number() OVER (ORDER BY record_id) - 1 AS idx, record_id, ssn, dl_key,
               suffix, dob_day, dob_month, birth_year, first_name, first_name_canon,
               first_name_phonetic, middle_name,
               CASE WHEN house_number IS NOT NULL AND street IS NOT NULL
                         AND last_name IS NOT NULL AND first_name IS NOT NULL
                    THEN dense_rank() OVER (ORDER BY coalesce(first_name_canon, first_name),
                         coalesce(last_name_phonetic, last_name), house_number, street, zip)
               END AS home,
               CASE WHEN house_number IS NOT NULL AND street IS NOT NULL
                         AND last_name IS NOT NULL
                    THEN dense_rank() OVER (ORDER BY coalesce(last_name_phonetic, last_name),
                         house_number, street, zip)
               END AS house
        FROM {INPUT_TABLE}"""
    )
    rows = store.fetchall(
        "SELECT record_id, ssn, dl_key, suffix, dob_day, dob_month, birth_year, first_name, "
        "first_name_canon, first_name_phonetic, middle_name, home, house FROM __idg_nodes "
        "ORDER BY idx"
    )
    ids = [str(r[0]) for r in rows]
    facts = [
        record_facts(r[1], r[2], r[3], (r[4], r[5], r[6]), rules,
                     (r[7], r[8], r[9], r[10]) if r[7] else None)
        for r in rows
    ]
    homes = [[-1 if r[k] is None else int(r[k]) for r in rows] for k in (11, 12)]
    return ids, facts, homes


def _edges(
    store: Store, low: float, high: float = 1.1
) -> tuple[list[int], list[tuple[int, int]], list[float], list[int]]:
    """Edges with ``low <= p < high``, strongest first: eids, index pairs, weights, via."""
    rows = store.fetchall(
        """SELECT e.eid, l.idx, r.idx, e.match_weight, e.via FROM __idg_edges e
           JOIN __idg_nodes l ON l.record_id = e.record_id_l
           JOIN __idg_nodes r ON r.record_id = e.record_id_r
           WHERE e.match_probability >= ? AND e.match_probability < ?
           ORDER BY e.match_probability DESC, e.record_id_l, e.record_id_r""",
        [low, high],
    )
    return ([int(r[0]) for r in rows], [(int(r[1]), int(r[2])) for r in rows],
            [float(r[3]) for r in rows], [int(r[4]) for r in rows])


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
            facts[index[a]].keys[f"j:{k}"] = "l"
            facts[index[b]].keys[f"j:{k}"] = "r"
    return must


def _ensure_model(store: Store, say: Progress) -> TrainedModel:
    model = latest_model(store)
    if model is None:
        say("no saved model: training one")
        model = train(store, progress=say)
        prepare_input(store)
    return model


def resolve(
    store: Store,
    settings: Settings,
    progress: Progress | None = None,
    *,
    constraints: Constraints | None = None,
    retrain: bool = False,
) -> ResolveSummary:
    """Link all current records into identities; return what happened."""
    say = progress or (lambda _msg: None)
    ensure_tables(store)
    started, t0 = _now(), time.perf_counter()
    threshold = settings.match_threshold
    n = prepare_input(store)
    model = train(store, progress=say) if retrain else _ensure_model(store, say)
    if retrain:
        prepare_input(store)
    times = {"train": time.perf_counter() - t0}
    say("predicting pairwise match probabilities")
    _predict(store, model.model, min(PREDICT_FLOOR, EDGE_FLOOR, threshold))
    times["predict"] = time.perf_counter() - t0 - sum(times.values())
    say("clustering under cannot-link constraints")
    ids, facts, homes = _load_nodes(store, constraints or Constraints())
    must = _apply_judgements(store, ids, facts)
    eids, edges, weights, via = _edges(store, threshold)
    _, low_edges, low_weights, low_via = _edges(store, 0.0, threshold)
    weak = WeakEdges(low_edges, low_weights, low_via, _weight(threshold))
    result = cluster(facts, edges, must, weights, via=via, homes=homes[0], weak=weak,
                     houses=homes[1])
    clusters = _groups(ids, result)
    old = dict(store.fetchall("SELECT record_id, identity_id FROM identity_members"))
    identity_ids, events = assign_ids(clusters, old)
    times["cluster"] = time.perf_counter() - t0 - sum(times.values())
    say("writing identities")
    run_id = "R-" + started.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    summary = _write(store, run_id, started, threshold, model.model_id, n,
                     (eids, result), (clusters, identity_ids, events))
    times["write"] = time.perf_counter() - t0 - sum(times.values())
    return ResolveSummary(**{**summary.__dict__, "seconds": times})


def _weight(probability: float) -> float:
    """The match weight (bits) of a match probability, kept finite."""
    p = min(max(probability, 1e-9), 1 - 1e-9)
    return math.log2(p / (1 - p))


def _groups(ids: list[str], result: ClusterResult) -> list[list[str]]:
    groups: dict[int, list[str]] = {}
    for i, label in enumerate(result.labels):
        groups.setdefault(label, []).append(ids[i])
    return list(groups.values())


def _write(
    store: Store,
    run_id: str,
    started: datetime,
    threshold: float,
    model_id: str,
    n: int,
    clustered: tuple[list[int], ClusterResult],
    identities: tuple[list[list[str]], list[str], list[LineageEvent]],
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
              "n_accepted": summary.n_accepted}
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
    finally:
        store.con.unregister("__idg_accepted")
        store.con.unregister("__idg_members")
        store.con.unregister("__idg_lineage")
    return summary
