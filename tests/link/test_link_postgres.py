"""The link stage on a PostgreSQL store: training, resolve, judgements, live attach,
evaluation and explanations give what they give on DuckDB (the analytic part runs in
the store's DuckDB workspace; what it writes comes back to PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from idgraph.link._explain import explain
from idgraph.link.attach import LiveLinker
from idgraph.link.evaluate import evaluate_files
from idgraph.link.ids import ID_KEY
from idgraph.link.judge import Verdict, judge, latest_verdicts
from idgraph.link.resolve import resolve
from idgraph.link.score import Scorer, input_rows
from idgraph.link.tables import generation
from idgraph.link.train import latest_model, train
from idgraph.settings import Settings
from idgraph.sources import ingest_paths
from idgraph.store import Store, open_store
from idgraph.store.graph import IdentityGraph, LineageWrite
from idgraph.synth import generate
from pgdb import fresh_database


@dataclass
class Pair:
    """The same population on both backends, trained and resolved on each."""

    duck: Store
    pg: Store
    settings: Settings
    truth: Path


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("pg_link")
    generate(root / "src", people=60, seed=11)
    settings = Settings(data_dir=root / "data", ingest_workers=0)
    duck = open_store(settings.db_path, threads=1, memory_limit="1GB")
    ingest_paths(duck, [root / "src"], settings)
    duck.secret(ID_KEY)  # both stores name identities with one key (the data folder's)
    with fresh_database() as url:
        pg = open_store(url, data_dir=settings.data_dir, threads=1, memory_limit="1GB")
        try:
            # the records as ingest left them (ingest on PostgreSQL is tested in sources/)
            assert pg.append_arrow("records", duck.fetch_arrow("SELECT * FROM records")) > 200
            # no model yet: each resolve trains one (in its workspace on PostgreSQL)
            resolve(duck, settings)
            resolve(pg, settings)
            yield Pair(duck, pg, settings, root / "src" / "truth.csv")
        finally:
            pg.close()
            duck.close()


def outcome(store: Store) -> dict[str, Any]:
    """What a resolve left, in one order on both backends."""
    run = store.fetchall("SELECT n_records, n_edges, n_identities, detail "
                         "FROM link_runs ORDER BY started_at")
    return {
        "members": sorted(store.fetchall("SELECT record_id, identity_id FROM identity_members")),
        "lineage": sorted((str(i), str(e), tuple(r or ())) for i, e, r in store.fetchall(
            "SELECT identity_id, event, related FROM identity_lineage")),
        "edges": sorted((a, b, bool(acc), json.dumps(json.loads(ev)), round(float(w), 6))
                        for a, b, acc, ev, w in store.fetchall(
                            "SELECT record_id_l, record_id_r, accepted, evidence, match_weight "
                            "FROM link_edges")),
        "runs": [(*r[:3], json.loads(r[3])) for r in run],
    }


def same_model(pg: dict[str, Any], duck: dict[str, Any]) -> bool:
    """(Splink names each linker at random: the model's id differs, its parameters not.)"""
    return {**pg, "linker_uid": ""} == {**duck, "linker_uid": ""}


def test_training_gives_one_model(pair: Pair) -> None:
    pg, duck = latest_model(pair.pg), latest_model(pair.duck)
    assert pg is not None and duck is not None
    assert same_model(pg.model, duck.model)
    assert pair.pg.fetchall("SELECT model_id FROM link_runs") == [(pg.model_id,)]
    pg, duck = train(pair.pg, max_pairs=1e5), train(pair.duck, max_pairs=1e5)
    assert same_model(pg.model, duck.model)
    assert latest_model(pair.pg) == pg
    assert pair.pg.scalar("SELECT count(*) FROM link_models") == 2


def test_resolve_gives_the_same_partition(pair: Pair) -> None:
    ours, theirs = outcome(pair.duck), outcome(pair.pg)
    assert len(ours["members"]) > 200
    assert theirs["members"] == ours["members"]
    assert theirs["lineage"] == ours["lineage"]
    assert theirs["edges"] == ours["edges"]
    assert theirs["runs"] == ours["runs"]
    assert generation(pair.pg) == generation(pair.duck) == 1


def test_the_model_input_rows_are_the_same(pair: Pair) -> None:
    ids = [str(r[0]) for r in pair.duck.fetchall(
        "SELECT record_id FROM records WHERE is_current ORDER BY record_id")]
    assert input_rows(pair.pg, ids) == input_rows(pair.duck, ids)
    assert (Scorer.from_store(pair.pg).segment_counts
            == Scorer.from_store(pair.duck).segment_counts)


def test_evaluation_and_explanation_are_the_same(pair: Pair) -> None:
    assert evaluate_files(pair.pg, pair.truth) == evaluate_files(pair.duck, pair.truth)
    pairs = pair.duck.fetchall(
        "(SELECT record_id_l, record_id_r FROM link_edges WHERE accepted "
        " ORDER BY record_id_l, record_id_r LIMIT 3) UNION ALL "
        "(SELECT record_id_l, record_id_r FROM link_edges WHERE NOT accepted "
        " ORDER BY record_id_l, record_id_r LIMIT 2)")
    assert len(pairs) == 5
    for a, b in pairs:
        theirs, ours = explain(pair.pg, a, b), explain(pair.duck, a, b)
        # (term frequencies, which the PostgreSQL path hands Splink itself, count)
        assert any("tf" in f.detail or f.level == "exact" for f in ours.features)
        assert replace(theirs, model_id=ours.model_id) == ours
    with pytest.raises(KeyError, match="non-current"):
        explain(pair.pg, a, "x/' OR 'a' = 'a")


def test_judgements_and_a_second_resolve(pair: Pair) -> None:
    """A ``different`` judgement splits a pair at the next resolve on either backend,
    and identity ids persist across runs."""
    a, b = pair.duck.fetchall(
        "SELECT record_id_l, record_id_r FROM link_edges WHERE accepted "
        "ORDER BY record_id_l, record_id_r LIMIT 1")[0]
    for store in (pair.duck, pair.pg):
        judge(store, a, b, Verdict.DIFFERENT, by="tester", reason="two people")
        assert latest_verdicts(store) == [(a, b, Verdict.DIFFERENT)]
        assert generation(store) == 2
        before = dict(store.fetchall("SELECT record_id, identity_id FROM identity_members"))
        summary = resolve(store, pair.settings)
        assert summary.lineage.get("split", 0) >= 1
        assert generation(store) == 3
        of = dict(store.fetchall("SELECT record_id, identity_id FROM identity_members"))
        assert of[a] != of[b]
        assert sum(of[r] == i for r, i in before.items()) > len(before) - 10
    assert outcome(pair.pg) == outcome(pair.duck)


def test_live_attach_writes_as_on_duckdb(pair: Pair) -> None:
    """A new version of a record, attached live, lands in the same identity with the
    same edges and lineage on both backends."""
    rid = str(pair.duck.scalar(
        "SELECT record_id FROM identity_members ORDER BY record_id LIMIT 1"))
    results = []
    for store in (pair.duck, pair.pg):
        linker = LiveLinker.from_store(store)
        assert not linker.stale()
        before = generation(store)
        results.append(linker.attach(rid))
        assert generation(store) == before + 1
        assert not linker.stale()
        again = linker.attach_many([rid])
        assert [r.identity_id for r in again] == [results[-1].identity_id]
        judge(store, *sorted(pair.duck.fetchall(
            "SELECT record_id_l, record_id_r FROM link_edges ORDER BY 1, 2 LIMIT 1")[0]),
            Verdict.SAME, by="tester")
        assert linker.stale()
    duck, pg = results
    assert replace(pg, run_id=duck.run_id) == duck
    assert duck.identity_id == str(pair.duck.scalar(
        "SELECT identity_id FROM identity_members WHERE record_id = ?", [rid]))
    assert outcome(pair.pg) == outcome(pair.duck)



def test_a_record_placed_live_during_a_resolve_keeps_its_identity(pair: Pair) -> None:
    """On PostgreSQL another process may attach while a resolve runs: the resolve writes
    back the memberships it changed, and leaves those of records it never saw."""
    other = pair.pg.sibling()
    placed: list[int] = []

    def meanwhile(msg: str) -> None:
        if msg == "writing identities" and not placed:
            placed.append(IdentityGraph(other).write_placements(
                "R-live", datetime(2026, 1, 1), [("P-LIVE", "x/1")], [],
                [LineageWrite("P-LIVE", "new", [])]))

    try:
        resolve(pair.pg, pair.settings, meanwhile)
    finally:
        other.close()
    resolve(pair.duck, pair.settings)
    after = dict(pair.pg.fetchall("SELECT record_id, identity_id FROM identity_members"))
    assert placed and after.pop("x/1") == "P-LIVE"
    assert after == dict(pair.duck.fetchall(
        "SELECT record_id, identity_id FROM identity_members"))
    assert generation(pair.pg) == placed[0] + 1
