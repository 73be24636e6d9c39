"""Several server processes on one PostgreSQL database write one audit log: appends
queue on the store's ``audit`` lock and read the head after taking it, so the log stays
one gap-free Merkle sequence (issue 17). N processes (multiprocessing, spawn) x M
appends each, with automatic checkpoints signed by whichever process is due; then the
same with threads of one process, each on its own connection; then ``audit verify``."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import Any

from audit_workers import append_worker, entry
from typer.testing import CliRunner

from idgraph.audit import AuditLog, enable_auto_checkpoints, record, record_many
from idgraph.store import Store, open_store
from pgdb import fresh_database

N, M = 4, 40  # processes, appends each
THREADS, THREAD_APPENDS = 4, 30


def _check_one_sequence(store: Store, data_dir: Path, got: dict[str, list[int]],
                        base: int, total: int) -> None:
    """Every caller's indexes are its own entries, in its order; the stored seqs are
    0..total-1; checkpoints are consecutive and the whole log verifies."""
    log = AuditLog(store, data_dir)
    seqs = [int(r[0]) for r in store.fetchall("SELECT seq FROM audit_log ORDER BY seq")]
    assert seqs == list(range(total))
    indexes = sorted(i for mine in got.values() for i in mine)
    assert indexes == list(range(base, total))  # before base: the parent's entries
    for worker, mine in got.items():
        assert mine == sorted(mine)
        details = [e.entry.detail for i in mine for e in log.entries(i, i + 1)]
        assert [d["worker"] for d in details] == [worker] * len(mine)
        assert [d["i"] for d in details] == list(range(len(mine)))
    cps = log.checkpoints()
    assert [cp.id for cp in cps] == list(range(len(cps)))
    assert [cp.size for cp in cps] == sorted(cp.size for cp in cps)
    log.checkpoint()
    result = log.verify()
    assert result.ok and result.size == total and result.unsigned == 0, result.summary()


def _setup(store: Store, data_dir: Path) -> int:
    """The deployment's key and an overseer (for ``audit verify``); the log's size."""
    from idgraph.policy.users import add_user

    _ = AuditLog(store, data_dir).key  # made before the workers start
    add_user(store, "root", "admin", "agency")
    add_user(store, "auditor", "overseer", "agency", actor="root")
    return AuditLog(store, data_dir).size()


def _verify_cli(url: str, data_dir: Path) -> None:
    """``idgraph audit verify`` over the database passes."""
    from idgraph.cli import app

    res = CliRunner().invoke(app, ["--data-dir", str(data_dir), "audit", "verify"], env={
        "IDGRAPH_DATABASE_URL": url, "IDGRAPH_USER": "auditor"})
    assert res.exit_code == 0, res.output
    assert "OK: " in res.output


def test_processes_append_one_gap_free_sequence(tmp_path: Path) -> None:
    with fresh_database() as url:
        with open_store(url, data_dir=tmp_path) as store:
            base = _setup(store, tmp_path)
        ctx = multiprocessing.get_context("spawn")
        start = ctx.Barrier(N)
        out: Any = ctx.Queue()
        procs = [ctx.Process(target=append_worker,
                             args=(url, str(tmp_path), f"w{k}", M, 25, start, out))
                 for k in range(N)]
        for p in procs:
            p.start()
        try:
            results = dict(out.get(timeout=600) for _ in procs)
        finally:
            for p in procs:
                p.join(60)
                if p.is_alive():
                    p.kill()
        errors = {w: r for w, r in results.items() if isinstance(r, str)}
        assert not errors, errors
        assert all(p.exitcode == 0 for p in procs)
        with open_store(url, data_dir=tmp_path) as store:
            _check_one_sequence(store, tmp_path, results, base, base + N * M)
            assert len(AuditLog(store, tmp_path).checkpoints()) >= (N * M) // 25
        _verify_cli(url, tmp_path)


def test_threads_on_their_own_connections_append_one_sequence(tmp_path: Path) -> None:
    with fresh_database() as url, open_store(url, data_dir=tmp_path,
                                             pool_size=THREADS + 2) as store:
        base = _setup(store, tmp_path)
        got: dict[str, list[int]] = {}
        failed: list[BaseException] = []
        start = threading.Barrier(THREADS)

        def worker(name: str) -> None:
            mine = store.sibling()
            try:
                enable_auto_checkpoints(mine, AuditLog(mine, tmp_path), every_entries=20,
                                        every_seconds=0)
                start.wait(30)
                indexes: list[int] = []
                for i in range(0, THREAD_APPENDS, 2):
                    if i % 4 == 0:
                        indexes.append(record(mine, entry(name, i)))
                        indexes.append(record(mine, entry(name, i + 1)))
                    else:
                        indexes.extend(record_many(mine, [entry(name, i), entry(name, i + 1)]))
                got[name] = indexes
            except BaseException as exc:
                failed.append(exc)
            finally:
                mine.close()

        threads = [threading.Thread(target=worker, args=(f"t{k}",)) for k in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert not failed, failed
        _check_one_sequence(store, tmp_path, got, base, base + THREADS * THREAD_APPENDS)
        _verify_cli(url, tmp_path)
