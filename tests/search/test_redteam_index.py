"""Red-team tests of the search index (issue 14, item 1): tampering, corruption, drift.

Each test is an attack written first, asserting the safe behaviour: `index check` names
every difference that changes what a search shows; a damaged index gives a clear
SearchIndexError (never a Rust panic or a traceback); a search never shows values the
store no longer holds. Synthetic data only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from find_fixtures import build_population, fixed_model, query

from idgraph.link.train import save_model
from idgraph.policy.registry import Registry
from idgraph.policy.retention import apply_retention
from idgraph.search.criteria import parse_criteria
from idgraph.search.documents import document, select
from idgraph.search.find import Engine, find
from idgraph.search.index import SearchIndex, SearchIndexError
from idgraph.store import Store


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[tuple[Store, SearchIndex, Path]]:
    store = build_population(tmp_path / "data", canary=False)
    save_model(store, fixed_model(), {"fixed": True})
    index = SearchIndex.at(tmp_path / "index")
    index.add(store)
    yield store, index, tmp_path / "index"
    store.close()


def _forge(index: SearchIndex, store: Store, record_id: str, **values: object) -> None:
    """Replace a record's document by one whose stored row (what a hit shows and what
    is scored) says ``values``, keeping its ids and its digest."""
    (row,) = select(store, True, [record_id])
    forged = {**row, **values}  # the digest column stays the store's
    with index._writer() as writer:
        writer.delete_documents_by_term("record_id", record_id)
        writer.add_document(document(forged))


def test_check_finds_a_forged_stored_row(world: tuple[Store, SearchIndex, Path]) -> None:
    """The stored row is what search shows (summary fields) and scores; check compares
    only the digest field written beside it, so a document whose row was changed but
    whose digest was kept passes as agreeing."""
    store, index, _ = world
    assert index.check(store).empty
    _forge(index, store, "tx_dmv/2", first_name="MALLORY", full_name="MALLORY GARCIA LOPEZ")
    result = find(store, query(), parse_criteria(name="maria garcia lopez"),
                  registry=Registry(store), engine=Engine(store, index))
    assert result.hits  # the forged document is live: search reads and scores its row
    diff = index.check(store)
    assert not diff.empty and "tx_dmv/2" in diff.values


def test_a_corrupt_segment_file_is_a_clear_error(world: tuple[Store, SearchIndex, Path]
                                                 ) -> None:
    """A damaged document store: tantivy panics (pyo3 PanicException, a BaseException
    that no `except Exception` or CLI handler catches). Opening must raise
    SearchIndexError with rebuild advice."""
    _, _, path = world
    for f in path.glob("*.store"):
        f.write_bytes(b"garbage")
    try:
        SearchIndex.at(path)
    except BaseException as exc:
        assert isinstance(exc, SearchIndexError), f"{type(exc).__module__}.{type(exc).__name__}"
        assert "rebuild" in str(exc)
    else:
        pytest.fail("a corrupt index opened without an error")


def test_a_truncated_term_dictionary_is_a_clear_error(
    world: tuple[Store, SearchIndex, Path]
) -> None:
    _, _, path = world
    for f in path.glob("*.term"):
        f.write_bytes(f.read_bytes()[: max(1, f.stat().st_size // 3)])
    try:
        ix = SearchIndex.at(path)
        ix.candidates(parse_criteria(name="william oneil"), {"tx_dmv"})
    except BaseException as exc:
        assert isinstance(exc, SearchIndexError), f"{type(exc).__module__}.{type(exc).__name__}"
    else:
        pytest.fail("a truncated term dictionary went unnoticed")


def test_a_missing_meta_file_is_not_an_empty_index(world: tuple[Store, SearchIndex, Path]
                                                   ) -> None:
    """meta.json lost (its segment files still there): opening makes a NEW empty index
    over them, and every search then answers "no identity found". It must be refused
    (the layout file says an index was made here) with rebuild advice."""
    _, _, path = world
    (path / "meta.json").unlink()
    try:
        ix = SearchIndex.at(path)
    except SearchIndexError as exc:
        assert "rebuild" in str(exc)
        return
    assert ix.count() > 0, "an index made here was silently replaced by an empty one"


def test_check_names_an_extra_forged_document(world: tuple[Store, SearchIndex, Path]) -> None:
    """A planted document of a record the store never held (a fake identity in a
    permitted segment) is named as extra, and a search through it is told apart."""
    store, index, _ = world
    (row,) = select(store, True, ["tx_dmv/1"])
    fake = {**row, "record_id": "tx_dmv/999", "identity_id": "P1"}
    with index._writer() as writer:
        writer.add_document(document(fake))
    assert index.check(store).extra == ("tx_dmv/999",)


def test_retention_never_leaves_values_in_search(world: tuple[Store, SearchIndex, Path]
                                                 ) -> None:
    """With the hooks installed, a retention run removes the records from the index."""
    store, index, _ = world
    # the index of this in-memory store is not beside it, so sync.after_removal would
    # not find it: the same removal, through the retention run's own hook list
    from idgraph.policy.retention import register_removal_hook, unregister_removal_hook

    def hook(_: Store, ids: list[str]) -> None:
        index.remove(ids)

    register_removal_hook(hook)
    try:
        run = apply_retention(store, as_of=datetime(2100, 1, 1))
    finally:
        unregister_removal_hook(hook)
    assert run.removed > 0
    assert index.count() == 0 and index.check(store).empty


def test_search_never_shows_a_record_the_store_no_longer_holds(
    world: tuple[Store, SearchIndex, Path]
) -> None:
    """Defence in depth: retention ran where the index hooks were not installed (a
    library caller: `install_hooks` is the CLI's), or the index update failed after
    the store's commit. find takes each candidate's members AND values from the
    index's stored rows (SearchIndex.rows), so records past retention are still scored
    and shown. Search must not disclose a record the store no longer holds."""
    store, index, _ = world
    run = apply_retention(store, as_of=datetime(2100, 1, 1))
    assert run.removed > 0
    assert int(store.scalar("SELECT count(*) FROM records")) == 0
    result = find(store, query(), parse_criteria(name="william oneil", dob="1984-03-07"),
                  registry=Registry(store), engine=Engine(store, index))
    assert result.hits == (), [h.to_dict() for h in result.hits]


def test_a_concurrent_writer_is_waited_for_then_refused(
    world: tuple[Store, SearchIndex, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import idgraph.search.index as index_module

    store, index, path = world
    monkeypatch.setattr(index_module, "_WRITER_WAIT", 0.3)
    other = SearchIndex.at(path)
    held = other._index.writer(15_000_000, 1)  # another writer holds the lock
    try:
        with pytest.raises(SearchIndexError, match="cannot write"):
            index.remove(["tx_dmv/1"])
    finally:
        held.rollback()
        held.wait_merging_threads()
    assert index.check(store).empty  # nothing half-written
    assert index.remove(["tx_dmv/1"]) == 1  # and the lock is free again


def test_a_search_during_a_rebuild_still_finds_people(
    world: tuple[Store, SearchIndex, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`index rebuild` commits "delete every document" first and the new documents in a
    second commit (minutes at 1M records): every search from another process between
    the two answers "no identity found". The old documents must stay visible until
    the new ones are committed (one commit)."""
    store, index, path = world
    reader = SearchIndex.at(path)  # another process's view of the same index
    criteria = parse_criteria(name="william oneil", dob="1984-03-07")
    assert reader.candidates(criteria, {"tx_dmv", "court"})
    seen: list[int] = []
    add = index.add

    def add_and_look(*args: object, **kw: object) -> int:
        seen.append(len(reader.candidates(criteria, {"tx_dmv", "court"})))
        return add(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(index, "add", add_and_look)
    index.rebuild(store)
    assert seen and all(n > 0 for n in seen), seen
