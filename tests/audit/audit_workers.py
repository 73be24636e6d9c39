"""Processes that append to one audit log at once (started with multiprocessing's
``spawn``: importable by name, no test module imported in the child)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from idgraph.audit import AuditEntry, AuditLog, enable_auto_checkpoints, record, record_many

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def entry(worker: str, i: int) -> AuditEntry:
    return AuditEntry(time=T0 + timedelta(milliseconds=i), principal=worker, action="t.append",
                      outcome="ok", detail={"worker": worker, "i": i})


def append_worker(url: str, data_dir: str, worker: str, appends: int, checkpoint_every: int,
                  start: Any, out: Any) -> None:
    """Open the database, wait for the others, append ``appends`` entries (one at a
    time, every third call two at once), signing automatic checkpoints every
    ``checkpoint_every`` entries with the deployment's key; put ``(worker, indexes)`` (or
    ``(worker, error text)``) on ``out``."""
    from idgraph.store import open_store

    try:
        store = open_store(url, data_dir=Path(data_dir), threads=1, memory_limit="256MB")
        try:
            if checkpoint_every:
                log = AuditLog(store, Path(data_dir))
                enable_auto_checkpoints(store, log, every_entries=checkpoint_every,
                                        every_seconds=0)
            start.wait(60)
            got: list[int] = []
            i = 0
            while i < appends:
                if i % 3 == 2 and i + 1 < appends:
                    got.extend(record_many(store, [entry(worker, i), entry(worker, i + 1)]))
                    i += 2
                else:
                    got.append(record(store, entry(worker, i)))
                    i += 1
            out.put((worker, got))
        finally:
            store.close()
    except BaseException as exc:  # the parent reports it
        out.put((worker, f"{type(exc).__name__}: {exc}"))
