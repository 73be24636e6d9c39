"""Issue 14 item 6: an audited act in few statements, and group commit.

The head row is cached per store and moved by one conditional UPDATE that matches only
the row the cache remembers: every way the stored row can differ from the cache (another
connection's appends, a checkpoint, a rolled-back transaction, an edit) must fall back
to reading it, never chain onto a stale head. Group commit: callers on many threads get
gapless, distinct indexes of their own entries, only once those are committed.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from idgraph.audit import AuditEntry, AuditIntegrityError, AuditLog, record, record_many
from idgraph.audit.group import GroupCommit
from idgraph.audit.log import enable_auto_checkpoints
from idgraph.store import DuckDBStore, Store, open_store

T0 = datetime(2030, 1, 1, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()


def _entry(i: int, who: str = "p") -> AuditEntry:
    return AuditEntry(time=T0 + timedelta(seconds=i), principal=who, action="a", outcome="ok",
                      detail={"i": i})


def _ok(store: Store) -> None:
    result = AuditLog(store, key=KEY).verify()
    assert result.ok, result.summary()


class _Counting:
    """A connection that counts the statements run through it."""

    def __init__(self, con: Any) -> None:
        self.con: Any = con
        self.sql: list[str] = []

    def execute(self, sql: str, params: Any = None) -> Any:
        self.sql.append(sql)
        return self.con.execute(sql, params or [])

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)


def test_an_append_in_the_acts_transaction_is_two_statements() -> None:
    store = open_store(None)
    assert isinstance(store, DuckDBStore)
    record(store, _entry(0))  # the head is read once
    counting = _Counting(store.con)
    store.con = counting  # type: ignore[assignment]
    with store.transaction():
        counting.sql.clear()
        record(store, _entry(1))
        record_many(store, [_entry(2), _entry(3), _entry(4)])
    assert [s.split()[0] for s in counting.sql] == [
        "UPDATE", "INSERT", "UPDATE", "INSERT", "COMMIT"
    ]
    store.con = counting.con
    _ok(store)


Step = tuple[str, int]  # (which connection appends, how many)


@pytest.mark.parametrize("steps", [
    [("a", 2), ("b", 3), ("a", 1), ("b", 1), ("a", 4)],  # two connections take turns
    [("a", 1), ("a", 1), ("b", 5), ("b", 1), ("a", 1)],
])
def test_appends_from_another_connection_are_never_chained_over(
    tmp_path: Path, steps: list[Step]
) -> None:
    a = open_store(tmp_path / "idgraph.duckdb")
    b = a.sibling()  # another writer of the same database
    n = 0
    for who, k in steps:
        got = record_many(a if who == "a" else b, [_entry(n + i, who) for i in range(k)])
        assert got == range(n, n + k)
        n += k
    _ok(a)


def test_a_rolled_back_append_leaves_the_cache_harmless() -> None:
    store = open_store(None)
    record_many(store, [_entry(0), _entry(1)])
    with pytest.raises(RuntimeError), store.transaction():
        assert record(store, _entry(2)) == 2
        raise RuntimeError("act failed")
    assert record(store, _entry(3)) == 2
    assert record(store, _entry(4)) == 3
    _ok(store)


@pytest.mark.parametrize("edit", [
    "UPDATE audit_head SET size = 1",
    "UPDATE audit_head SET chain = 'zz'",
    "UPDATE audit_head SET last_time = 'not a time'",
    "DELETE FROM audit_head",
])
def test_an_edited_head_after_caching_is_still_refused(edit: str) -> None:
    store = open_store(None)
    record_many(store, [_entry(0), _entry(1), _entry(2)])
    store.execute(edit)
    with pytest.raises(AuditIntegrityError):
        record(store, _entry(3))


def test_an_edited_but_readable_head_is_read_not_the_cache() -> None:
    """As before the cache: the append chains onto the stored row (verify names it)."""
    import hashlib

    store = open_store(None)
    record_many(store, [_entry(0), _entry(1), _entry(2)])
    store.execute("UPDATE audit_head SET chain = ?", [bytes(32).hex()])
    assert record(store, _entry(3)) == 3
    leaf = hashlib.sha256(b"\x00" + _entry(3).canonical()).digest()
    stored = store.scalar("SELECT chain FROM audit_log WHERE seq = 3")
    assert stored == hashlib.sha256(bytes(32) + leaf).hexdigest()
    assert not AuditLog(store, key=KEY).verify().ok


def test_a_checkpoint_between_appends_is_seen(tmp_path: Path) -> None:
    """A checkpoint moves the head's checkpoint columns: automatic checkpoints must count
    from it (the cached row would say none was signed)."""
    store = open_store(tmp_path / "idgraph.duckdb")
    log = AuditLog(store, tmp_path, key=KEY)
    auto = enable_auto_checkpoints(store, log, every_entries=3, every_seconds=0)
    for i in range(7):
        record(store, _entry(i))
    assert auto.last_error is None
    assert [cp.size for cp in log.checkpoints()] == [3, 6]
    _ok(store)


def test_group_commit_gives_each_caller_its_own_durable_indexes(tmp_path: Path) -> None:
    store = open_store(tmp_path / "idgraph.duckdb")
    record(store, _entry(0, "before"))
    group = GroupCommit(store)
    got: dict[str, list[range]] = {}

    def caller(name: str) -> None:
        got[name] = [group.record_many([_entry(i, name), _entry(i, name)]) for i in range(20)]

    threads = [threading.Thread(target=caller, args=(f"t{k}",)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    indexes = sorted(i for ranges in got.values() for r in ranges for i in r)
    assert indexes == list(range(1, 1 + 6 * 20 * 2))  # gapless, distinct
    assert group.appended == 240 and 1 <= group.groups <= 120
    log = AuditLog(store, key=KEY)
    for name, ranges in got.items():  # each index holds that caller's entry
        for r in ranges:
            assert all(e.entry.principal == name for e in log.entries(r.start, r.stop))
    assert record(store, _entry(0, "after")) == 241  # the main connection sees them all
    _ok(store)


def test_a_failed_group_fails_every_caller_and_appends_nothing() -> None:
    store = open_store(None)
    record(store, _entry(0))
    group = GroupCommit(store)
    store.execute("UPDATE audit_head SET chain = 'zz'")
    with pytest.raises(AuditIntegrityError):
        group.record(_entry(1))
    assert store.scalar("SELECT count(*) FROM audit_log") == 1
