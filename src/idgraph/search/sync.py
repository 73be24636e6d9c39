"""Keeping the search index in step with the store: ingest, resolve, attach, retention.

The lower layers cannot import search; each offers a hook list, and
:func:`install_hooks` (called when the CLI loads) registers these functions there. The
index of a file store lives beside it (``<data dir>/index``); in-memory stores have
none. An index that does not exist yet is made from the whole store the first time a
hook runs (a data dir from before the index existed). After each update the index is
marked in step with the store (:meth:`SearchIndex.mark_synced`): a change no hook saw
makes :meth:`SearchIndex.behind` say so, and searches then read records from the store.
"""

from __future__ import annotations

from collections.abc import Sequence

from idgraph.search.index import INDEX_DIRNAME, SearchIndex, SearchIndexError
from idgraph.store import Store

__all__ = ["after_ingest", "after_removal", "after_resolve", "install_hooks",
           "uninstall_hooks"]

def _incremental(store: Store) -> SearchIndex | None:
    """The index of a file store to update step by step; when its data dir has none
    yet, the index is made from the whole store (None: nothing more to do)."""
    if store.data_dir is None:
        return None
    path = store.data_dir / INDEX_DIRNAME
    if (path / "meta.json").exists():
        return SearchIndex.at(path)
    SearchIndex.at(path).rebuild(store)
    return None


def after_ingest(store: Store, batch_id: str) -> None:
    """Index the records a committed ingest batch added or versioned."""
    index = _incremental(store)
    if index is None:
        return
    try:
        index.add_batch(store, batch_id)
        index.mark_synced(store)
    except Exception as exc:  # the batch is committed: say what is left to do
        raise SearchIndexError(
            f"batch {batch_id} is stored, but the search index was not updated ({exc}); "
            "run `idgraph index rebuild`") from exc


def after_resolve(store: Store, record_ids: Sequence[str] | None) -> None:
    """Refresh identity ids (``record_ids``: only these records' changed)."""
    index = _incremental(store)
    if index is not None:
        index.set_identities(store, record_ids)
        index.mark_synced(store)


def after_removal(store: Store, record_ids: Sequence[str]) -> None:
    """Retention removed these records: their documents go in the same run."""
    index = SearchIndex.of_store(store)
    if index is not None:
        index.remove(record_ids)
        index.mark_synced(store)


def install_hooks() -> None:
    """Keep every file store's index in step with ingest, resolve, attach and retention
    (idempotent; the CLI installs them)."""
    from idgraph.link.resolve import register_after_resolve
    from idgraph.policy.retention import register_removal_hook
    from idgraph.sources.ingest import register_after_ingest

    register_after_ingest(after_ingest)
    register_after_resolve(after_resolve)
    register_removal_hook(after_removal)


def uninstall_hooks() -> None:
    from idgraph.link.resolve import unregister_after_resolve
    from idgraph.policy.retention import unregister_removal_hook
    from idgraph.sources.ingest import unregister_after_ingest

    unregister_after_ingest(after_ingest)
    unregister_after_resolve(after_resolve)
    unregister_removal_hook(after_removal)
