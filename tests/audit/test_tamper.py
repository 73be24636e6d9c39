"""Any single mutation of the stored log is detected by verify, naming the first bad entry."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from idgraph.audit import AuditEntry, AuditLog
from idgraph.audit.log import GENESIS_CHAIN
from idgraph.store import Store, open_store

KEY = Ed25519PrivateKey.generate()
BASE = datetime.now(UTC) + timedelta(days=1)  # future: checkpoints never clamp entries
NOTE = "abcdefghijklmnop"

Row = list[object]  # [seq, entry, leaf_hash, chain]


def _entry(i: int) -> AuditEntry:
    return AuditEntry(
        time=BASE + timedelta(seconds=i),
        principal=f"user-{i}",
        action="profile.read",
        outcome="permit",
        detail={"n": i, "note": NOTE},
    )


def build(n: int, first_cp: int) -> tuple[Store, AuditLog]:
    """A log of ``n`` entries with checkpoints at ``first_cp`` and ``n``."""
    store = open_store(None)
    log = AuditLog(store, key=KEY)
    log.append_many([_entry(i) for i in range(first_cp)])
    log.checkpoint()
    log.append_many([_entry(i) for i in range(first_cp, n)])
    log.checkpoint()
    assert log.verify().ok
    return store, log


def rows_of(store: Store) -> list[Row]:
    got = store.fetchall("SELECT seq, entry, leaf_hash, chain FROM audit_log ORDER BY seq")
    return [list(r) for r in got]


def rewrite(store: Store, rows: list[Row]) -> None:
    store.execute("DELETE FROM audit_log")
    for r in rows:
        store.execute("INSERT INTO audit_log (seq, entry, leaf_hash, chain) VALUES (?, ?, ?, ?)", r)


def _leaf(entry: str) -> str:
    return hashlib.sha256(b"\x00" + entry.encode()).hexdigest()


def rechain(rows: list[Row], start: int) -> None:
    """What a careful forger does: recompute leaf hashes and chain from ``start`` on."""
    chain = bytes.fromhex(str(rows[start - 1][3])) if start else GENESIS_CHAIN
    for r in rows[start:]:
        r[2] = _leaf(str(r[1]))
        chain = hashlib.sha256(chain + bytes.fromhex(str(r[2]))).digest()
        r[3] = chain.hex()


# -- entry mutations: each returns the index verify must name ------------------------
def flip_byte(rows: list[Row], i: int, j: int, pos: int) -> int:
    entry = str(rows[i][1])
    at = entry.index(NOTE) + pos % len(NOTE)
    rows[i][1] = entry[:at] + ("Z" if entry[at] != "Z" else "Y") + entry[at + 1 :]
    return i


def change_leaf(rows: list[Row], i: int, j: int, pos: int) -> int:
    rows[i][2] = hashlib.sha256(str(pos).encode()).hexdigest()
    return i


def delete_row(rows: list[Row], i: int, j: int, pos: int) -> int:
    del rows[i]
    return i


def swap_rows(rows: list[Row], i: int, j: int, pos: int) -> int:
    a, b = sorted((i, j))
    rows[a][1:], rows[b][1:] = rows[b][1:], rows[a][1:]
    return a


def swap_entries_only(rows: list[Row], i: int, j: int, pos: int) -> int:
    a, b = sorted((i, j))
    rows[a][1], rows[b][1] = rows[b][1], rows[a][1]
    return a


def _forged(rows: list[Row], i: int) -> str:
    data = json.loads(str(rows[i][1]))
    data["principal"] = "intruder"
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def insert_row(rows: list[Row], i: int, j: int, pos: int) -> int:
    """A forged row at ``i`` with a correct leaf hash and chain link; later rows shift."""
    forged = _forged(rows, i)
    prev = bytes.fromhex(str(rows[i - 1][3])) if i else GENESIS_CHAIN
    chain = hashlib.sha256(prev + bytes.fromhex(_leaf(forged))).hexdigest()
    rows.insert(i, [i, forged, _leaf(forged), chain])
    for k, r in enumerate(rows):
        r[0] = k
    return i


def insert_copy(rows: list[Row], i: int, j: int, pos: int) -> int:
    """A naive insertion: a forged row reusing the chain value of the row it displaces."""
    forged = _forged(rows, i)
    rows.insert(i, [i, forged, _leaf(forged), rows[i][3]])
    for k, r in enumerate(rows):
        r[0] = k
    return i


def backdate(rows: list[Row], i: int, j: int, pos: int) -> int:
    """Move entry ``i`` (>= 1) before its predecessor, recomputing every hash after it."""
    i = max(i, 1)
    data = json.loads(str(rows[i][1]))
    earlier = datetime.fromisoformat(data["time"]) - timedelta(seconds=2 + pos)
    data["time"] = earlier.isoformat()
    rows[i][1] = json.dumps(data, sort_keys=True, separators=(",", ":"))
    rechain(rows, i)
    return i


MUTATIONS: list[Callable[[list[Row], int, int, int], int]] = [
    flip_byte,
    change_leaf,
    delete_row,
    swap_rows,
    swap_entries_only,
    insert_row,
    insert_copy,
    backdate,
]


@settings(max_examples=60, deadline=None)
@given(
    mutation=st.sampled_from(MUTATIONS),
    n=st.integers(3, 12),
    data=st.data(),
)
def test_entry_mutation_detected_at_first_bad_index(
    mutation: Callable[[list[Row], int, int, int], int], n: int, data: st.DataObject
) -> None:
    store, log = build(n, data.draw(st.integers(1, n - 1)))
    i = data.draw(st.integers(0, n - 1))
    j = data.draw(st.integers(0, n - 1).filter(lambda x: x != i))
    rows = rows_of(store)
    expected = mutation(rows, i, j, data.draw(st.integers(0, 100)))
    rewrite(store, rows)
    result = log.verify()
    assert not result.ok
    assert result.first_bad_index == expected, result.problems


# -- checkpoint mutations ------------------------------------------------------------
CHECKPOINT_CASES = [
    ("root", "root = ?", lambda cp: hashlib.sha256(b"other").hexdigest()),
    ("size", "size = ?", lambda cp: cp.size - 1),
    ("signature", "signature = ?", lambda cp: cp.signature[::-1].hex()),
    ("time", "time = ?", lambda cp: "2001-01-01T00:00:00+00:00"),
]


@pytest.mark.parametrize(("what", "assignment", "value"), CHECKPOINT_CASES)
@pytest.mark.parametrize("which", [0, 1])
def test_checkpoint_mutation_detected(
    what: str, assignment: str, value: Callable[..., object], which: int
) -> None:
    store, log = build(7, 3)
    cp = log.checkpoints()[which]
    store.execute(f"UPDATE audit_checkpoints SET {assignment} WHERE id = ?", [value(cp), cp.id])
    result = log.verify()
    assert not result.ok
    assert result.first_bad_checkpoint == which
    assert result.first_bad_index is None
    assert result.problems[0].kind == "checkpoint.signature"


def test_wrong_public_key_fails_every_checkpoint() -> None:
    _, log = build(5, 2)
    result = log.verify(Ed25519PrivateKey.generate().public_key())
    assert [p.checkpoint for p in result.problems] == [0, 1]


def test_deleting_last_entry_is_caught_by_the_checkpoint() -> None:
    store, log = build(6, 3)
    store.execute("DELETE FROM audit_log WHERE seq = 5")
    result = log.verify()
    assert result.first_bad_index == 5
    assert result.problems[0].kind == "checkpoint.size"


def test_consistent_rewrite_is_caught_by_the_signed_root() -> None:
    store, log = build(8, 4)
    rows = rows_of(store)
    rows[2][1] = _forged(rows, 2)
    rechain(rows, 2)
    rewrite(store, rows)
    kinds = {p.kind for p in log.verify().problems}
    assert "checkpoint.root" in kinds
