"""Search on a PostgreSQL store: the same index documents, scoped views and hits as on
DuckDB (records ingested through manifests, identities as in find_fixtures)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from find_fixtures import build_population, fixed_model, query

from idgraph.link.train import save_model
from idgraph.policy.engine import allowed
from idgraph.policy.registry import Registry
from idgraph.search.criteria import parse_criteria
from idgraph.search.documents import current_table, select
from idgraph.search.find import Engine, find
from idgraph.search.index import SearchIndex
from idgraph.search.scope import visible_records
from idgraph.store import Store
from pgdb import fresh_database


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Store]]:
    folder = tmp_path_factory.mktemp("backends")
    duck = build_population(folder / "duck", canary=True, db=folder / "duck" / "d.duckdb")
    with fresh_database() as url:
        pg = build_population(folder / "pg", canary=True, db=url)
        try:
            yield {"duckdb": duck, "postgres": pg}
        finally:
            pg.close()
            duck.close()


@pytest.mark.parametrize("point", [1000, 1, 0], ids=["point", "join", "all current"])
def test_documents_are_made_alike(stores: dict[str, Store], point: int,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # point: ids read by key; join: more ids than a point read (a join with the list);
    # all current: more than a workspace copies by id (PostgreSQL copies every current one)
    from idgraph.search import documents
    monkeypatch.setattr(documents, "_POINT_IDS", min(point, 1000))
    monkeypatch.setattr(documents, "_LITERAL_IDS", 50_000 if point else 1)
    duck, pg = stores["duckdb"], stores["postgres"]
    assert pg.dialect == "postgres"
    assert current_table(pg).sort_by("record_id").to_pylist() == \
        current_table(duck).sort_by("record_id").to_pylist()
    ids = ["tx_dmv/1", "court/1", "canary/2", "nobody/1"]
    assert select(pg, True, ids) == select(duck, True, ids)
    for st in (duck, pg):  # a versioned read: old versions are not current rows
        st.execute("UPDATE records SET is_current = false WHERE record_id = 'court/2'")
    assert select(pg, True, ["court/2", "court/1"]) == select(duck, True, ["court/2", "court/1"])
    for st in (duck, pg):
        st.execute("UPDATE records SET is_current = true WHERE record_id = 'court/2'")
    (batch,) = {str(r[0]) for r in pg.fetchall(
        "SELECT batch_id FROM records WHERE source_id = 'jail'")}
    (dbatch,) = {str(r[0]) for r in duck.fetchall(
        "SELECT batch_id FROM records WHERE source_id = 'jail'")}
    assert [r["record_id"] for r in select(pg, False, batch_id=batch)] == ["jail/4"]
    assert select(pg, True, batch_id=batch) == select(duck, True, batch_id=dbatch)


@pytest.mark.parametrize("claims", [("DPPA-b1",), ("DPPA-b1", "GLBA-e8")])
def test_scoped_views_are_alike(stores: dict[str, Store], tmp_path: Path,
                                claims: tuple[str, ...]) -> None:
    # the permitted segments (strings) as the DuckDB registry decides them: the policy
    # registry is not this test's subject
    segments = allowed(Registry(stores["duckdb"]), query(claims=claims)).permitted
    views = {}
    for name, st in stores.items():
        index = SearchIndex.at(tmp_path / name)
        index.add(st)
        assert index.check(st).empty
        ids = ["P1", "P2", "P6", "Q1", "P8"]
        from_store = visible_records(st, ids, segments)
        from_index = visible_records(st, ids, segments, index)
        for iid, rows in from_index.items():
            keys = set(rows[0]) if rows else set()
            assert [{k: r[k] for k in keys} for r in rows] == [
                {k: r[k] for k in keys} for r in from_store[iid]], iid
        views[name] = from_store
    assert views["postgres"] == views["duckdb"]


def test_find_gives_the_same_hits(stores: dict[str, Store], tmp_path: Path) -> None:
    tops = {}
    for name, st in stores.items():
        if not st.fetchall("SELECT 1 FROM link_models"):
            save_model(st, fixed_model(), {"fixed": True})
        index = SearchIndex.at(tmp_path / name)
        index.add(st)
        engine = Engine(st, index)
        got = []
        for given in ({"name": "william oneil", "dob": "1984-03-07"},
                      {"name": "liz taylor", "zip": "77002"}, {"plate": "xyz 9876"}):
            result = find(st, query(), parse_criteria(**given), registry=Registry(st),
                          engine=engine)
            got.append([(h.identity_id, round(h.weight, 6), h.fields) for h in result.hits])
        tops[name] = got
    assert tops["postgres"] == tops["duckdb"]
    assert [hits[0][0] for hits in tops["duckdb"]] == ["P1", "P6", "P4"]


def test_live_placement_is_alike(tmp_path: Path) -> None:
    """``ingest --live`` on each backend: a resolved population, then a new record of a
    known person placed into that person's identity, and the index told."""
    from idgraph.link.resolve import resolve
    from idgraph.search.live import forget_placer, place_batches
    from idgraph.search.sync import install_hooks, uninstall_hooks
    from idgraph.settings import Settings
    from idgraph.sources.ingest import ingest_paths

    extra = ("jail", "9", "P9", "WILLIAM", "J", "ONEIL", "1984-03-07", "12 MAIN ST",
             "NEW YORK", "NY", "10027", "", "ABC1234", "2024-02-02")
    placed = {}
    install_hooks()
    try:
        with fresh_database() as url:
            for name, db in (("duckdb", tmp_path / "duck" / "d.duckdb"), ("postgres", url)):
                folder = tmp_path / name
                st = build_population(folder / "data", canary=False, db=db)
                try:
                    save_model(st, fixed_model(), {"fixed": True})
                    settings = Settings(data_dir=st.data_dir, match_threshold=0.9,
                                        ingest_workers=1)
                    resolve(st, settings)
                    assert st.data_dir is not None
                    SearchIndex.at(st.data_dir / "index").rebuild(st)
                    before = dict(st.fetchall("SELECT record_id, identity_id "
                                              "FROM identity_members"))
                    new = folder / "new"
                    new.mkdir()
                    (new / "jail.yaml").write_text(
                        (folder / "data" / "jail.yaml").read_text())
                    import csv
                    with (new / "jail.csv").open("w", newline="") as f:
                        w = csv.writer(f)
                        w.writerow(("id", "first", "middle", "last", "dob", "street", "city",
                                    "state", "zip", "phone", "plate", "observed"))
                        w.writerow([extra[1], *extra[3:]])
                    summaries = ingest_paths(st, [new], settings)
                    counts = place_batches(st, summaries)
                    after = dict(st.fetchall("SELECT record_id, identity_id "
                                             "FROM identity_members"))
                    index = SearchIndex.of_store(st)
                    assert index is not None and index.check(st).empty
                    placed[name] = (counts, after["jail/9"] == before["tx_dmv/1"])
                finally:
                    forget_placer(st)
                    st.close()
    finally:
        uninstall_hooks()
    assert placed["postgres"] == placed["duckdb"] == ({"attach": 1}, True)


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_an_error_while_reading_documents_leaves_the_store_usable(
        stores: dict[str, Store], backend: str) -> None:
    # the reader's result is closed when the block ends, not when garbage collected:
    # DuckDB refuses the store's next query while a result is open
    from idgraph.search.documents import BATCH, reading
    store = stores[backend]
    with pytest.raises(RuntimeError) as caught, reading(store, True) as rows:
        assert next(rows).num_rows <= BATCH
        raise RuntimeError("stopped while reading")
    assert caught.value.__traceback__ is not None  # the generator's frame still referenced
    assert store.scalar("SELECT count(*) FROM records") > 0
