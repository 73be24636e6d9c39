"""The log's append, checkpoint and proof behaviour, and the record() hook contract."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from idgraph.audit import AuditEntry, AuditLog, merkle, record, record_many
from idgraph.audit.keys import (
    AuditKeyError,
    key_path,
    load_private_key,
    load_public_key,
    public_hex,
    public_pem,
)
from idgraph.store import Store, open_store

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def _entry(i: int, *, at: datetime | None = None) -> AuditEntry:
    return AuditEntry(
        time=at or T0 + timedelta(seconds=i),
        principal="p",
        action="a",
        outcome="ok",
        detail={"i": i},
    )


@pytest.fixture
def store() -> Store:
    return open_store(None)


def test_record_returns_gapless_indexes_and_joins_caller_transaction(store: Store) -> None:
    assert [record(store, _entry(i)) for i in range(3)] == [0, 1, 2]
    with pytest.raises(RuntimeError), store.transaction():
        assert record(store, _entry(3)) == 3
        raise RuntimeError("act failed")
    assert record(store, _entry(4)) == 3  # the rolled-back entry left no trace
    assert record_many(store, [_entry(5), _entry(6)]) == range(4, 6)
    assert AuditLog(store, key=Ed25519PrivateKey.generate()).verify().ok


def test_entries_round_trip_exact_bytes(store: Store) -> None:
    log = AuditLog(store)
    sent = [_entry(i) for i in range(5)]
    log.append_many(sent)
    got = log.entries(1, 4)
    assert [e.index for e in got] == [1, 2, 3]
    assert [e.data for e in got] == [s.canonical() for s in sent[1:4]]
    assert got[0].entry == sent[1]
    assert all(e.leaf_hash == merkle.leaf_hash(e.data) for e in got)


def test_backwards_time_is_logged_at_head_time_and_claim_kept(store: Store) -> None:
    log = AuditLog(store)
    log.append(_entry(10))
    log.append(_entry(0, at=T0))
    late = log.entries(1, 2)[0].entry
    assert late.time == T0 + timedelta(seconds=10)
    assert late.detail["time_claimed"] == T0.isoformat()


def test_checkpoint_signs_root_and_proofs_verify(tmp_path: Path, store: Store) -> None:
    log = AuditLog(store, tmp_path)
    log.append_many([_entry(i) for i in range(11)])
    cp = log.checkpoint()
    assert cp.size == 11 and cp.root == log.root()
    assert cp.signed_by(log.public_key)
    for i in range(11):
        proof = log.prove(i)
        assert proof.checkpoint == cp
        assert proof.verify(log.public_key)
    forged = log.prove(4)
    object.__setattr__(forged, "entry", forged.entry.replace(b'"i":4', b'"i":5'))
    assert not forged.verify(log.public_key)
    assert not log.prove(4).verify(Ed25519PrivateKey.generate().public_key())


def test_prove_beyond_latest_checkpoint_signs_a_new_one(store: Store) -> None:
    log = AuditLog(store, key=Ed25519PrivateKey.generate())
    log.append_many([_entry(i) for i in range(3)])
    first = log.checkpoint()
    log.append_many([_entry(i) for i in range(3, 6)])
    proof = log.prove(4)
    assert proof.checkpoint.id == first.id + 1 and proof.checkpoint.size == 6
    assert proof.verify(log.public_key)


CONSISTENCY_CASES = [(0, 9), (1, 9), (4, 9), (5, 9), (8, 9), (9, 9)]


@pytest.mark.parametrize(("old", "new"), CONSISTENCY_CASES)
def test_consistency_between_sizes(store: Store, old: int, new: int) -> None:
    log = AuditLog(store)
    log.append_many([_entry(i) for i in range(9)])
    proof = log.consistency(old, new)
    assert proof.old_root == merkle.root([merkle.leaf_hash(e.data) for e in log.entries(0, old)])
    assert proof.verify()


def test_key_is_made_once_with_private_mode(tmp_path: Path) -> None:
    key = load_private_key(tmp_path)
    assert stat.S_IMODE(key_path(tmp_path).stat().st_mode) == 0o600
    assert public_hex(load_private_key(tmp_path).public_key()) == public_hex(key.public_key())
    key_path(tmp_path).chmod(0o644)
    with pytest.raises(AuditKeyError):
        load_private_key(tmp_path)
    with pytest.raises(AuditKeyError):
        load_private_key(tmp_path / "none", create=False)


def test_public_key_formats_round_trip(tmp_path: Path) -> None:
    pub = Ed25519PrivateKey.generate().public_key()
    pem_file = tmp_path / "k.pem"
    pem_file.write_text(public_pem(pub))
    for spec in (pub, public_pem(pub), public_hex(pub), pem_file, str(pem_file)):
        assert public_hex(load_public_key(spec)) == public_hex(pub)
    with pytest.raises(AuditKeyError):
        load_public_key("not a key")


def test_checkpoint_refuses_to_sign_a_tampered_leaf(store: Store) -> None:
    log = AuditLog(store, key=Ed25519PrivateKey.generate())
    log.append_many([_entry(i) for i in range(4)])
    store.execute("UPDATE audit_log SET entry = replace(entry, 'ok', 'no') WHERE seq = 2")
    with pytest.raises(Exception, match="entry 2"):
        log.checkpoint()


def test_legacy_table_is_upgraded_in_place(store: Store) -> None:
    """A log from before the chain column and the head row (the migrations made both
    tables; the rows have no chain values and there is no head): the first append
    backfills the chain and writes the head."""
    for i in range(3):
        data = _entry(i).canonical()
        store.execute(
            "INSERT INTO audit_log (seq, entry, leaf_hash) VALUES (?, ?, ?)",
            [i, data.decode(), merkle.leaf_hash(data).hex()],
        )
    assert record(store, _entry(3)) == 3
    assert AuditLog(store, key=Ed25519PrivateKey.generate()).verify().ok


def test_verify_reports_entries_not_yet_signed(tmp_path: Path) -> None:
    """An honest log with entries after its last checkpoint is OK, but says they are
    not yet signed (a third party cannot yet hold the operator to them)."""
    from idgraph.store import open_store

    store = open_store(tmp_path / "x.duckdb")
    log = AuditLog(store, tmp_path)
    for i in range(3):
        log.append(AuditEntry(principal="u", action="t", outcome="ok", detail={"i": i}))
    unsigned = log.verify()
    assert unsigned.ok and (unsigned.signed, unsigned.unsigned) == (0, 3)
    assert "3 after the last checkpoint, not yet signed" in unsigned.summary()
    log.checkpoint()
    log.append(AuditEntry(principal="u", action="t", outcome="ok"))
    later = log.verify()
    assert later.ok and (later.signed, later.unsigned) == (3, 1)
    assert later.to_json()["unsigned"] == 1
