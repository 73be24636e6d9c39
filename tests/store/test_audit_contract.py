"""The audit repository (store/auditlog.py) and the audit log over it, on every backend:
rows in and out, the head's conditional move, bulk inserts, duplicate seqs, fields of
edited (unparsable) rows, paged scans; then the log itself: append, checkpoint,
cosignature, key rotation, proofs, export, verification and refusals after tampering."""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from idgraph.audit import AuditEntry, AuditIntegrityError, AuditLog, GroupCommit, record
from idgraph.audit import note as notes
from idgraph.audit.export import export_log
from idgraph.audit.log import GENESIS_CHAIN
from idgraph.store import Store
from idgraph.store.auditlog import AuditRepo, CheckpointRow, DuplicateSeq, HeadRow

sys.path.insert(0, str(Path(__file__).parents[1] / "audit"))  # audit_forge
from audit_forge import rewrite, set_purpose, truncate

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def _entry(i: int, action: str = "t.a", *, case_id: str | None = None,
           detail: dict[str, Any] | None = None) -> AuditEntry:
    return AuditEntry(time=T0 + timedelta(seconds=i), principal=f"p{i}", action=action,
                      outcome="ok", case_id=case_id,
                      detail={"i": i} if detail is None else detail)


def _rows(n: int, start: int = 0) -> tuple[list[int], list[str], list[str], list[str]]:
    seqs, datas, leaves, chains = [], [], [], []
    chain = GENESIS_CHAIN
    for i in range(start, start + n):
        data = _entry(i).canonical()
        leaf = hashlib.sha256(b"\x00" + data).digest()
        chain = hashlib.sha256(chain + leaf).digest()
        seqs.append(i)
        datas.append(data.decode())
        leaves.append(leaf.hex())
        chains.append(chain.hex())
    return seqs, datas, leaves, chains


# -- the repository ---------------------------------------------------------------------
def test_head_round_trip_and_conditional_advance(any_store: Store) -> None:
    repo = AuditRepo(any_store)
    assert not repo.has_head() and repo.read_head() is None and repo.size() == 0
    head = HeadRow(0, "00" * 32, None, 0, "2030-01-01T00:00:00+00:00")
    repo.insert_head(head)
    assert repo.read_head() == head and repo.has_head()
    with any_store.transaction():
        assert repo.advance_head(3, "ab" * 32, "t1", expected=head)
    moved = repo.read_head()
    assert moved == HeadRow(3, "ab" * 32, "t1", 0, head.cp_at)
    assert not repo.advance_head(9, "cd" * 32, "t2", expected=head)  # stale: no match
    assert repo.read_head() == moved
    assert repo.advance_head(9, "cd" * 32, None)
    repo.mark_checkpoint("t3", 9, "t4")
    assert repo.read_head() == HeadRow(9, "cd" * 32, "t3", 9, "t4")


@pytest.mark.parametrize("n", [1, 5, 1200])  # one row, one statement, bulk
def test_insert_entries_every_size_and_read_back(any_store: Store, n: int) -> None:
    repo = AuditRepo(any_store)
    seqs, datas, leaves, chains = _rows(n)
    with any_store.transaction():
        repo.insert_entries(seqs, datas, leaves, chains)
    assert repo.max_seq() == n - 1
    got = repo.entries(0, n)
    assert [(r.seq, r.entry, r.leaf_hash) for r in got] == list(zip(seqs, datas, leaves,
                                                                     strict=True))
    hashes = repo.leaf_hashes(0, n)
    assert [(s, h.hex()) for s, h in hashes] == list(zip(seqs, leaves, strict=True))
    assert all(isinstance(h, bytes) for _, h in hashes)
    rebuilt = repo.rows_for_rebuild()
    assert [r.chain for r in rebuilt] == chains
    pages = list(repo.recomputed_leaves(chunk=7))
    assert all(len(p) <= 7 for p in pages)
    flat = [r for p in pages for r in p]
    assert [r.seq for r in flat] == seqs and all(r.matches for r in flat)
    assert [r.leaf.hex() for r in flat] == leaves
    scanned = [r for p in repo.scan(chunk=4) for r in p]
    assert [r.seq for r in scanned] == seqs
    assert scanned[0].time == _entry(0).time.isoformat()


def test_a_duplicate_seq_is_its_own_error(any_store: Store) -> None:
    repo = AuditRepo(any_store)
    seqs, datas, leaves, chains = _rows(3)
    repo.insert_entries(seqs, datas, leaves, chains)
    for k in (1, 3):  # single-row and multi-row statements
        with pytest.raises(DuplicateSeq), any_store.transaction():
            repo.insert_entries(seqs[:k], datas[:k], leaves[:k], chains[:k])
    assert repo.max_seq() == 2


def test_edited_rows_read_as_missing_fields_not_errors(any_store: Store) -> None:
    """An entry that is not JSON (edited in the database): scans give no time, action
    filters leave it out, and its recomputed leaf disagrees with the stored hash."""
    repo = AuditRepo(any_store)
    seqs, datas, leaves, chains = _rows(4)
    datas[1] = '{"action": "audit.key_rotate", broken'
    datas[2] = json.dumps({"action": "audit.key_rotate", "time": 5})
    repo.insert_entries(seqs, datas, leaves, chains)
    times = [r.time for p in repo.scan() for r in p]
    assert times[1] is None and times[2] == "5" and times[0] is not None
    assert [s for s, _ in repo.entries_with_action("audit.key_rotate")] == [2]
    assert repo.entry_time(1) is None and repo.entry_time(3) == _entry(3).time.isoformat()
    matches = [r.matches for p in repo.recomputed_leaves() for r in p]
    assert matches == [True, False, False, True]


def test_entry_filters(any_store: Store) -> None:
    entries = [_entry(0, "profile.read", case_id="c1"), _entry(1, "search.find"),
               _entry(2, "profile.read"), _entry(3, "search.find", case_id="c1"),
               AuditEntry(time=T0, principal="x", action="profile.read", outcome="deny",
                          case_id="c2")]
    for e in entries:
        record(any_store, e)
    repo = AuditRepo(any_store)
    assert [s for s, _ in repo.entries_matching(["profile.read"])] == [0, 2, 4]
    assert [s for s, _ in repo.entries_matching(["profile.read", "search.find"], "ok")] == [
        0, 1, 2, 3]
    assert [s for s, _ in repo.entries_matching(outcome="ok", case_id="c1")] == [0, 3]
    assert [s for s, _ in repo.entries_matching()] == [0, 1, 2, 3, 4]
    assert [(c, s) for c, s, _ in repo.case_entries(-1, 4)] == [("c1", 0), ("c1", 3),
                                                                 ("c2", 4)]
    assert [(c, s) for c, s, _ in repo.case_entries(0, 3)] == [("c1", 3)]
    assert [s for s, _ in repo.entries_at([3, 1, 9])] == [1, 3]


def test_checkpoints_cosignatures_and_keys(any_store: Store) -> None:
    repo = AuditRepo(any_store)
    row = CheckpointRow(0, 3, "ab" * 32, "t", "cd" * 64, "ef" * 32, "note", "o")
    repo.insert_checkpoint(row)
    assert repo.checkpoints() == [row] and repo.max_checkpoint_size() == 3
    repo.add_cosignature(0, "w1", "line-1", "t")
    repo.add_cosignature(0, "w1", "line-2", "t")  # kept as first stored
    repo.add_cosignature(0, "a0", "line-0", "t")
    assert repo.cosignature(0, "w1") == "line-1" and repo.cosignature(1, "w1") is None
    assert [(c.name, c.line) for c in repo.cosignatures()] == [("a0", "line-0"),
                                                              ("w1", "line-1")]
    repo.add_key("k1", "o", 0, "t")
    repo.add_key("k1", "o", 5, "t", if_absent=True)
    with any_store.transaction():
        repo.retire_key("k1", 7)
        repo.add_key("k2", "o", 7, "t")
    assert sorted(repo.signing_keys()) == [("k1", 0, 7), ("k2", 7, None)]


def test_lock_needs_a_transaction_and_holds_in_one(any_store: Store) -> None:
    repo = AuditRepo(any_store)
    with pytest.raises(RuntimeError):
        repo.lock()
    with any_store.transaction():
        repo.lock()
        repo.lock()  # re-entrant within the transaction


# -- the log over it ----------------------------------------------------------------------
def _log(store: Store, key: Ed25519PrivateKey | None = None) -> AuditLog:
    return AuditLog(store, store.data_dir, key=key or Ed25519PrivateKey.generate())


def test_append_checkpoint_prove_export_verify(any_store: Store, tmp_path: Path) -> None:
    log = _log(any_store)
    assert [record(any_store, _entry(i)) for i in range(3)] == [0, 1, 2]
    assert log.append_many([_entry(i) for i in range(3, 8)]) == range(3, 8)
    first = log.checkpoint()
    assert (first.id, first.size) == (0, 8)
    log.append(_entry(8, "late", detail={"x": "100% ?"}))  # % and ? in the data
    second = log.checkpoint()
    assert (second.id, second.size) == (1, 9)
    proof = log.prove(4, second)
    assert proof.verify(log.public_key)
    assert log.consistency(8, 9).verify()
    summary = export_log(log, tmp_path / "out" / "audit.jsonl")
    assert (summary.entries, summary.checkpoints, summary.proofs) == (9, 2, 9)
    result = log.verify()
    assert result.ok and (result.size, result.signed) == (9, 9), result.summary()
    assert any_store.data_dir is not None
    pub = any_store.data_dir / "audit-publication" / "checkpoints"
    assert sorted(p.name for p in pub.iterdir()) == ["00000000.txt", "00000001.txt"]


def test_entry_times_never_go_backwards(any_store: Store) -> None:
    record(any_store, _entry(10))
    record(any_store, _entry(3))  # claimed earlier: logged at the head time
    (_, data), = AuditRepo(any_store).entries_at([1])
    stored = json.loads(data)
    assert stored["time"] == _entry(10).time.isoformat()
    assert stored["detail"]["time_claimed"] == _entry(3).time.isoformat()
    assert _log(any_store).verify().ok


def test_cosignature_and_rotation(any_store: Store) -> None:
    old = Ed25519PrivateKey.generate()
    log = _log(any_store, old)
    log.append_many([_entry(i) for i in range(4)])
    cp = log.checkpoint()
    assert cp.note is not None
    wkey = Ed25519PrivateKey.generate()
    sig = notes.cosign(notes.parse(cp.note), "w.example/1", wkey, T0)
    merged = log.add_cosignature(cp.id, "w.example/1", sig.line())
    assert merged.note is not None and "w.example/1" in merged.note
    assert "w.example/1" in (log.checkpoints()[0].note or "")
    new = Ed25519PrivateKey.generate()
    handover, cross = log.rotate_key(new, AuditEntry(principal="admin", action="x",
                                                     outcome="ok"))
    assert cross.size == handover.size == 5
    log.append(_entry(9))
    log.checkpoint()
    assert log.verify(old.public_key()).ok
    assert log.verify(new.public_key()).ok


def test_group_commit_threads(any_store: Store) -> None:
    record(any_store, _entry(0))
    group = GroupCommit(any_store)
    got: list[range] = []
    lock = threading.Lock()

    def caller(k: int) -> None:
        for i in range(10):
            r = group.record_many([_entry(100 * k + i), _entry(100 * k + i)])
            with lock:
                got.append(r)

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    group.store.close()
    assert sorted(i for r in got for i in r) == list(range(1, 81))
    assert _log(any_store).verify().ok


# -- tampering is found on every backend ------------------------------------------------
def test_an_edited_entry_is_named_and_refused(any_store: Store) -> None:
    log = _log(any_store)
    log.append_many([_entry(i) for i in range(6)])
    log.checkpoint()
    any_store.execute("UPDATE audit_log SET entry = replace(entry, 'p3', 'px') WHERE seq = 3")
    result = log.verify()
    assert not result.ok and result.first_bad_index == 3
    with pytest.raises(AuditIntegrityError, match="entry 3"):
        log.checkpoint()


def test_a_removed_entry_is_a_gap(any_store: Store) -> None:
    log = _log(any_store)
    log.append_many([_entry(i) for i in range(6)])
    any_store.execute("DELETE FROM audit_log WHERE seq = 2")
    result = log.verify()
    assert not result.ok and result.first_bad_index == 2
    with pytest.raises(AuditIntegrityError, match="gap"):
        log.checkpoint()


def test_an_edited_head_refuses_appends(any_store: Store) -> None:
    record(any_store, _entry(0))
    any_store.execute("UPDATE audit_head SET size = 0")
    with pytest.raises(AuditIntegrityError, match="head row was edited"):
        record(any_store, _entry(1))
    assert AuditRepo(any_store).max_seq() == 0
    any_store.execute("UPDATE audit_head SET last_time = 'not a time'")
    with pytest.raises(AuditIntegrityError, match="does not parse"):
        record(any_store, _entry(1))


def test_a_log_without_head_or_chain_is_upgraded(any_store: Store) -> None:
    """Rows from before the chain column and the head row: the first append backfills."""
    seqs, datas, leaves, _ = _rows(3)
    for s, d, h in zip(seqs, datas, leaves, strict=True):
        any_store.execute("INSERT INTO audit_log (seq, entry, leaf_hash) VALUES (?, ?, ?)",
                          [s, d, h])
    assert record(any_store, _entry(3)) == 3
    assert _log(any_store).verify().ok


def test_a_forged_rewrite_with_recomputed_hashes_is_refused(any_store: Store) -> None:
    """A forger with database access rewrites an entry and recomputes its leaf hash, the
    chain of every later row and the head: the signed checkpoint still catches it."""
    log = _log(any_store)
    log.append_many([_entry(i) for i in range(8)])
    log.checkpoint()
    log.append_many([_entry(i) for i in range(8, 10)])
    rewrite(any_store, 5, set_purpose("forged"))
    result = log.verify()
    assert not result.ok and result.first_bad_checkpoint == 0
    with pytest.raises(AuditIntegrityError, match="rewritten"):
        log.checkpoint()


def test_a_rolled_back_log_is_refused(any_store: Store) -> None:
    log = _log(any_store)
    log.append_many([_entry(i) for i in range(8)])
    log.checkpoint()
    truncate(any_store, 5)
    assert not log.verify().ok
    with pytest.raises(AuditIntegrityError, match="removed"):
        log.checkpoint()
    assert record(any_store, _entry(9)) == 5  # appends go on (verify names the gap)


def test_deleted_checkpoint_rows_are_found_by_the_publication(any_store: Store) -> None:
    log = _log(any_store)
    log.append_many([_entry(i) for i in range(4)])
    log.checkpoint()
    log.append(_entry(4))
    log.checkpoint()
    any_store.execute("DELETE FROM audit_checkpoints WHERE id = 1")
    result = log.verify()
    assert not result.ok and result.first_bad_checkpoint == 1
    with pytest.raises(AuditIntegrityError, match="deleted"):
        log.checkpoint()


def test_a_rotation_by_another_process_is_picked_up(any_store: Store) -> None:
    """Two servers share the data folder (its key file) and the database: after one
    rotates the key, the other's next checkpoint signs with the new key, not refuses."""
    data_dir = any_store.data_dir
    assert data_dir is not None
    other_store = any_store.sibling()
    try:
        mine, other = AuditLog(any_store, data_dir), AuditLog(other_store, data_dir)
        mine.append_many([_entry(i) for i in range(3)])
        first = other.checkpoint()  # both hold the original key now
        _ = mine.key
        new = Ed25519PrivateKey.generate()
        mine.rotate_key(new, AuditEntry(principal="admin", action="x", outcome="ok"))
        other.append(_entry(7))
        cp = other.checkpoint()
        assert cp.pubkey == mine.checkpoints()[-1].pubkey != first.pubkey
        assert mine.verify(first.pubkey).ok
    finally:
        other_store.close()
