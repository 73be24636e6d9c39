"""Ingest on both backends: the same file, the same records, versions, quarantine,
listings, feed pushes and search index, whether the store is DuckDB or PostgreSQL
(where the merge runs on a DuckDB workspace and comes back with ``apply_batch``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_ingest import ROWS, write_csv, write_manifest

from idgraph.search.index import INDEX_DIRNAME, SearchIndex
from idgraph.search.sync import install_hooks, uninstall_hooks
from idgraph.settings import Settings
from idgraph.sources import ingest_manifest, load_manifest
from idgraph.sources.ingest import ingest_chunks, ingest_paths
from idgraph.sources.listing import list_quarantine, list_sources
from idgraph.sources.readers import read_chunks
from idgraph.store import Store, open_store
from idgraph.synth import generate
from pgdb import fresh_database

# what differs between two ingests of one file: when (and so under which batch id)
_VOLATILE = {"batch_id", "ingested_at", "started_at", "finished_at", "registered_at",
             "manifest_path", "source_file"}


def _settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(data_dir=tmp_path / "db", ingest_chunk_rows=2, **kw)


def table(store: Store, name: str, order: str) -> list[tuple[Any, ...]]:
    """A table's rows without the columns that name when it was written."""
    cols = [r[0] for r in store.fetchall(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
        "AND table_schema = current_schema() ORDER BY ordinal_position", [name])]
    keep = [c for c in cols if c not in _VOLATILE]
    return store.fetchall(f"SELECT {', '.join(keep)} FROM {name} ORDER BY {order}")


def test_ingest_versions_and_quarantine_on_each_backend(tmp_path: Path, any_store: Store) -> None:
    store = any_store
    write_csv(tmp_path / "dmv.csv", ROWS)
    mp = write_manifest(tmp_path, "dmv.csv")
    s = ingest_manifest(store, mp, _settings(tmp_path))
    assert (s.rows, s.records_added, s.rows_quarantined, s.fields_quarantined) == (4, 3, 1, 2)
    assert s.balanced
    again = ingest_manifest(store, mp, _settings(tmp_path))
    assert (again.records_added, again.records_versioned, again.records_unchanged) == (0, 0, 3)
    changed = [r[:] for r in ROWS]
    changed[0][5] = "99 River Road"
    changed.append(["1", "Smyth", "Jon", "03/15/1980", "", "", "", "", "", "dup"])
    write_csv(tmp_path / "dmv.csv", changed)
    third = ingest_manifest(store, mp, _settings(tmp_path))
    assert (third.records_added, third.records_versioned, third.records_unchanged) == (0, 1, 2)
    assert third.balanced
    assert store.fetchall("SELECT version, is_current, street FROM records "
                          "WHERE record_id = 'test_dmv/1' ORDER BY version") == [
        (1, False, "MAIN ST"), (2, True, "RIVER RD")]
    assert store.scalar("SELECT count(*) FROM records WHERE is_current") == 3
    (src,) = list_sources(store)
    assert (src.source, src.records, src.versions, src.batches, src.regimes) == (
        "test_dmv", 3, 4, 3, "DPPA")
    assert src.rows == src.rows_recorded + src.quarantined_rows
    assert src.last_batch == third.batch_id and src.last_batch_versioned == 1
    listing = list_quarantine(store, source="test_dmv", batch=third.batch_id, limit=0)
    assert [r.reason for r in listing.rows if r.kind == "row"] == [
        "missing record id in column 'ID'", "duplicate record id in file (first at line 2)"]
    assert listing.total == 4 and listing.whole_rows == 2


def test_a_rejected_file_leaves_the_store_unchanged(tmp_path: Path, any_store: Store) -> None:
    write_csv(tmp_path / "dmv.csv", ROWS)
    ingest_manifest(any_store, write_manifest(tmp_path, "dmv.csv"), _settings(tmp_path))
    before = {t: table(any_store, t, "1, 2, 3") for t in ("records", "quarantine", "batches")}
    bad = [[*r[:3], "31/31/1999", *r[4:]] for r in ROWS[:3]]
    write_csv(tmp_path / "dmv.csv", bad)
    from idgraph.sources import FileRejected
    with pytest.raises(FileRejected):
        ingest_manifest(any_store, write_manifest(tmp_path, "dmv.csv"), _settings(tmp_path))
    assert {t: table(any_store, t, "1, 2, 3") for t in before} == before


def test_a_feed_push_is_one_batch_on_each_backend(tmp_path: Path, any_store: Store) -> None:
    store = any_store
    write_csv(tmp_path / "dmv.csv", ROWS[:2])
    mp = write_manifest(tmp_path, "dmv.csv")
    ingest_manifest(store, mp, _settings(tmp_path))
    m = load_manifest(mp)
    write_csv(tmp_path / "push.csv", [ROWS[1], ROWS[2]])
    seen: list[int] = []
    s = ingest_chunks(store, m, read_chunks(tmp_path / "push.csv", "csv", chunk_rows=10),
                      _settings(tmp_path), source_file="feed:p1", sha="0" * 64,
                      batch_id="test_dmv-feed-p1",
                      in_transaction=lambda summary: seen.append(summary.records_added))
    assert (s.records_added, s.records_unchanged) == (1, 1) and seen == [1]
    assert store.fetchall("SELECT record_id, version FROM records WHERE batch_id = ?",
                          ["test_dmv-feed-p1"]) == [("test_dmv/3", 1)]
    assert store.scalar("SELECT rows FROM batches WHERE batch_id = ?", ["test_dmv-feed-p1"]) == 2


@pytest.fixture
def hooks() -> Iterator[None]:
    install_hooks()
    try:
        yield
    finally:
        uninstall_hooks()


def test_the_search_index_follows_ingest_on_each_backend(
        tmp_path: Path, any_store: Store, hooks: None) -> None:
    store = any_store
    assert store.data_dir is not None
    SearchIndex.at(store.data_dir / INDEX_DIRNAME).rebuild(store)
    write_csv(tmp_path / "dmv.csv", ROWS)
    mp = write_manifest(tmp_path, "dmv.csv")
    ingest_manifest(store, mp, _settings(tmp_path))
    changed = [r[:] for r in ROWS]
    changed[0][5] = "99 River Road"
    write_csv(tmp_path / "dmv.csv", changed)
    ingest_manifest(store, mp, _settings(tmp_path))
    index = SearchIndex.of_store(store)
    assert index is not None and index.count() == 3
    assert index.check(store).empty
    assert index.behind(store) is None
    assert index.rebuild(store) == 3 and index.check(store).empty


# -- a synthetic population on both backends -------------------------------------------

PEOPLE = 150


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("backends") / "synth"
    generate(folder, people=PEOPLE, seed=5)
    return folder


def test_a_synthetic_population_ingests_alike_on_duckdb_and_postgres(
        tmp_path: Path, population: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", ingest_chunk_rows=97, ingest_workers=1)
    duck = open_store(tmp_path / "d" / "idgraph.duckdb", threads=1, memory_limit="1GB")
    try:
        with fresh_database() as url:
            pg = open_store(url, data_dir=tmp_path / "p", threads=1, memory_limit="1GB")
            try:
                for _ in range(2):  # the second run: every record unchanged
                    got = [ingest_paths(s, [population], settings) for s in (duck, pg)]
                    assert [[(x.source_id, x.rows, x.records_added, x.records_unchanged,
                              x.rows_quarantined, x.fields_quarantined) for x in run]
                            for run in got] == [[(x.source_id, x.rows, x.records_added,
                                                  x.records_unchanged, x.rows_quarantined,
                                                  x.fields_quarantined) for x in got[0]]] * 2
                assert duck.scalar("SELECT count(*) FROM records") > PEOPLE
                for name, order in (("records", "record_id, version"),
                                    ("quarantine", "source_id, source_line, field, reason"),
                                    ("sources", "source_id"),
                                    ("batches", "source_id, rows, records_added")):
                    assert table(pg, name, order) == table(duck, name, order), name
                assert list_sources(pg) == list_sources(duck) or [
                    (a.as_dict() | {"last_ingest": None, "last_batch": None})
                    for a in list_sources(pg)] == [
                    (a.as_dict() | {"last_ingest": None, "last_batch": None})
                    for a in list_sources(duck)]
            finally:
                pg.close()
    finally:
        duck.close()


def test_concurrent_batches_of_one_source_merge_one_after_the_other(tmp_path: Path) -> None:
    """PostgreSQL, several processes' writers: two batches of one source at once (two
    connections) each see the other's committed versions (the source's ingest lock),
    so every record keeps one current version and versions count up without a gap."""
    import threading

    from idgraph.sources.manifest import load_manifest as load

    write_csv(tmp_path / "a.csv", ROWS)
    changed = [r[:] for r in ROWS]
    changed[0][5] = "99 River Road"
    changed[2][4] = "212-555-0100"
    write_csv(tmp_path / "b.csv", changed)
    ma = load(write_manifest(tmp_path, "a.csv"))
    (tmp_path / "b").mkdir()
    mb = load(write_manifest(tmp_path / "b", "../b.csv"))
    with fresh_database() as url:
        first = open_store(url, data_dir=tmp_path / "p", threads=1, memory_limit="1GB")
        try:
            ingest_manifest(first, ma, _settings(tmp_path, allow_outside_paths=True))
            errors: list[BaseException] = []

            def run(m: Any) -> None:
                st = first.sibling()
                try:
                    for _ in range(3):
                        ingest_manifest(st, m, _settings(tmp_path, allow_outside_paths=True))
                except BaseException as exc:
                    errors.append(exc)
                finally:
                    st.close()

            threads = [threading.Thread(target=run, args=(m,)) for m in (ma, mb)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not errors, errors
            rows = first.fetchall("SELECT record_id, version, is_current FROM records "
                                  "ORDER BY record_id, version")
            by_id: dict[str, list[tuple[int, bool]]] = {}
            for rid, version, current in rows:
                by_id.setdefault(rid, []).append((version, current))
            for rid, versions in by_id.items():
                assert [v for v, _ in versions] == list(range(1, len(versions) + 1)), rid
                assert [c for _, c in versions].count(True) == 1, rid
                assert versions[-1][1], rid
            assert first.scalar("SELECT count(*) FROM batches") == 7
        finally:
            first.close()


def test_a_file_being_ingested_does_not_hold_up_the_registry(tmp_path: Path) -> None:
    """PostgreSQL: a change of ``sources`` bumps the registry generation (a trigger);
    the batch registers its source last, so while its file is read and merged another
    process can still change the registry (users, cases...) without waiting for it."""
    write_csv(tmp_path / "dmv.csv", ROWS * 3)
    mp = write_manifest(tmp_path, "dmv.csv")
    with fresh_database() as url:
        store = open_store(url, data_dir=tmp_path / "p", threads=1, memory_limit="1GB")
        other = store.sibling()
        try:
            ingest_manifest(store, mp, _settings(tmp_path))  # the source exists already
            other.execute("SET lock_timeout = '3s'")
            bumped: list[int] = []

            def meanwhile(rows: int) -> None:  # called inside the batch's transaction
                if store.has_table("registry_generation"):
                    other.execute("UPDATE registry_generation SET generation = generation + 1")
                bumped.append(rows)

            ingest_manifest(store, mp, _settings(tmp_path), progress=meanwhile)
            assert bumped
        finally:
            other.close()
            store.close()
