"""A hook after the ingest commit (the search index's update) that fails or is
interrupted: the batch stays stored and the caller is told so, never "not stored"."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_ingest import ROWS, settings, write_csv, write_manifest

from idgraph.sources import AfterIngestError, ingest_manifest
from idgraph.sources.ingest import register_after_ingest, unregister_after_ingest
from idgraph.store import Store, open_store


def _boom(store: Store, batch_id: str) -> None:
    raise RuntimeError("index writer gone")


def _interrupt(store: Store, batch_id: str) -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize("hook", [_boom, _interrupt], ids=["failure", "Ctrl-C"])
def test_a_hook_after_the_commit_leaves_the_batch_stored(tmp_path: Path, hook: object) -> None:
    store = open_store(tmp_path / "db" / "t.duckdb")
    write_csv(tmp_path / "dmv.csv", ROWS)
    register_after_ingest(hook)  # type: ignore[arg-type]
    try:
        with pytest.raises(AfterIngestError) as caught:
            ingest_manifest(store, write_manifest(tmp_path, "dmv.csv"), settings(tmp_path))
    finally:
        unregister_after_ingest(hook)  # type: ignore[arg-type]
    err = caught.value
    assert err.summary.records_added == 3 and err.summary.balanced
    assert isinstance(err.cause, RuntimeError | KeyboardInterrupt)
    assert "is stored" in str(err)
    assert store.scalar("SELECT count(*) FROM records") == 3
    assert store.scalar("SELECT count(*) FROM batches") == 1
