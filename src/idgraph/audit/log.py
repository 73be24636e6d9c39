"""The append-only audit log: entries as Merkle leaves, signed checkpoints, proofs.

Tables (all owned here):

* ``audit_log(seq, entry, leaf_hash, chain)``: one row per entry. ``entry`` is the
  exact canonical JSON hashed into the leaf; ``chain`` = SHA-256(previous chain ||
  leaf hash) lets :func:`verify` name the first altered, removed or inserted row.
* ``audit_head``: one row with the size, last chain value and last time, and the size
  and wall-clock time of the latest checkpoint, so an append costs O(1) reads instead of
  a scan (it is a cache: verification never trusts it).
* ``audit_checkpoints``: signed tree heads (size, root, time, the C2SP signed note;
  legacy rows have no note), ``audit_cosignatures``: witness cosignature lines,
  ``audit_keys``: every signing key the log used, with the sizes it may sign.

Entry times never go backwards: an entry stamped earlier than the head (the previous
entry or the latest checkpoint) is logged at the head time, and the time it claimed is
kept in ``detail["time_claimed"]``. Verification then treats any backwards step as
back-dating.

Automatic checkpoints: :func:`enable_auto_checkpoints` attaches an :class:`AuditLog`
(with its key) to a store; every append then compares the head with the latest
checkpoint (O(1)) and, after its transaction commits, signs one when ``every_entries``
entries or ``every_seconds`` seconds have passed.
"""

from __future__ import annotations

import hashlib
import logging
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import duckdb
import pyarrow as pa

from idgraph import clock
from idgraph.audit.entry import AuditEntry
from idgraph.audit.integrity import AuditIntegrityError
from idgraph.audit.keys import AuditKeyError
from idgraph.store import Store

if TYPE_CHECKING:
    from idgraph.audit.auditlog import AuditLog

GENESIS_CHAIN = bytes(32)

_DDL = (
    """CREATE TABLE IF NOT EXISTS audit_log (
        seq BIGINT PRIMARY KEY, entry VARCHAR NOT NULL, leaf_hash VARCHAR NOT NULL)""",
    "ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS chain VARCHAR",
    """CREATE TABLE IF NOT EXISTS audit_head (
        id INTEGER PRIMARY KEY, size BIGINT NOT NULL, chain VARCHAR NOT NULL,
        last_time VARCHAR)""",
    "ALTER TABLE audit_head ADD COLUMN IF NOT EXISTS cp_size BIGINT",
    "ALTER TABLE audit_head ADD COLUMN IF NOT EXISTS cp_at VARCHAR",
    """CREATE TABLE IF NOT EXISTS audit_checkpoints (
        id BIGINT PRIMARY KEY, size BIGINT NOT NULL, root VARCHAR NOT NULL,
        time VARCHAR NOT NULL, signature VARCHAR NOT NULL, pubkey VARCHAR NOT NULL)""",
    "ALTER TABLE audit_checkpoints ADD COLUMN IF NOT EXISTS note VARCHAR",
    "ALTER TABLE audit_checkpoints ADD COLUMN IF NOT EXISTS origin VARCHAR",
    """CREATE TABLE IF NOT EXISTS audit_cosignatures (
        checkpoint_id BIGINT NOT NULL, name VARCHAR NOT NULL, line VARCHAR NOT NULL,
        added VARCHAR NOT NULL, PRIMARY KEY (checkpoint_id, name))""",
    """CREATE TABLE IF NOT EXISTS audit_keys (
        pubkey VARCHAR PRIMARY KEY, origin VARCHAR, since_size BIGINT NOT NULL,
        until_size BIGINT, added VARCHAR NOT NULL)""",
)

_READY: weakref.WeakSet[Store] = weakref.WeakSet()
_log = logging.getLogger(__name__)


def ensure_tables(store: Store) -> None:
    """Create the audit tables and the head row (backfilling logs from older layouts)."""
    store.ensure("audit", _DDL)
    if store in _READY:
        return
    with store.transaction() as con:
        rows = con.execute("SELECT count(*) FROM audit_head").fetchall()
        if not rows[0][0]:
            _rebuild_head(con)
    _READY.add(store)


def _rebuild_head(con: duckdb.DuckDBPyConnection) -> None:
    """Fill missing chain values and write the head row from the log as stored."""
    chain, last, size = GENESIS_CHAIN, None, 0
    rows = con.execute("SELECT seq, leaf_hash, chain, entry FROM audit_log ORDER BY seq")
    fixes: list[tuple[str, int]] = []
    for seq, leaf_hex, chain_hex, entry in rows.fetchall():
        chain = hashlib.sha256(chain + bytes.fromhex(leaf_hex)).digest()
        if chain_hex is None:
            fixes.append((chain.hex(), seq))
        last, size = entry, seq + 1
    for fix in fixes:
        con.execute("UPDATE audit_log SET chain = ? WHERE seq = ?", list(fix))
    try:
        last_time = AuditEntry.model_validate_json(last).time.isoformat() if last else None
    except ValueError:  # an edited last row: `audit verify` names it; the head stays usable
        last_time = None
    cp = con.execute("SELECT max(size) FROM audit_checkpoints").fetchall()[0][0]
    con.execute(
        "INSERT INTO audit_head (id, size, chain, last_time, cp_size, cp_at) "
        "VALUES (0, ?, ?, ?, ?, ?)",
        [size, chain.hex(), last_time, int(cp or 0), clock.now().isoformat()],
    )


class Head(NamedTuple):
    size: int
    chain: bytes
    last: datetime | None
    cp_size: int
    cp_at: datetime | None


_HEAD_COLUMNS = "size, chain, last_time, cp_size, cp_at"
HeadRow = tuple[Any, ...]  # the head row as stored (_HEAD_COLUMNS)


def _read_head(con: duckdb.DuckDBPyConnection) -> tuple[HeadRow, Head]:
    rows = con.execute(f"SELECT {_HEAD_COLUMNS} FROM audit_head WHERE id = 0").fetchall()
    if not rows:
        raise AuditIntegrityError("audit_head row is missing")
    size, chain, last_time, cp_size, cp_at = rows[0]
    try:
        last = datetime.fromisoformat(last_time).astimezone(UTC) if last_time else None
        at = datetime.fromisoformat(cp_at) if cp_at else None
        return rows[0], Head(int(size), bytes.fromhex(chain), last, int(cp_size or 0), at)
    except (ValueError, TypeError) as exc:
        raise AuditIntegrityError(
            f"audit_head row does not parse ({exc}): edited; nothing appended"
        ) from None


def _head(con: duckdb.DuckDBPyConnection) -> Head:
    return _read_head(con)[1]


def _stamp(entry: AuditEntry, last: datetime | None) -> tuple[AuditEntry, datetime]:
    """Keep times non-decreasing: an entry earlier than ``last`` is logged at ``last``."""
    t = entry.time.astimezone(UTC)
    if last is None or t >= last:
        return entry, t
    detail = {**entry.detail, "time_claimed": t.isoformat()}
    return entry.model_copy(update={"time": last, "detail": detail}), last


class _Rows(NamedTuple):
    """Entries ready to insert, and the head they leave."""

    seqs: list[int]
    datas: list[str]
    leaves: list[str]
    chains: list[str]
    head: Head


def _chain(items: list[AuditEntry], head: Head) -> _Rows:
    size, chain, last = head.size, head.chain, head.last
    rows = _Rows([], [], [], [], head)
    sha = hashlib.sha256
    for item in items:
        entry, last = _stamp(item, last)
        data = entry.canonical()
        leaf = sha(b"\x00" + data).digest()
        chain = sha(chain + leaf).digest()
        rows.seqs.append(size + len(rows.seqs))
        rows.datas.append(data.decode())
        rows.leaves.append(leaf.hex())
        rows.chains.append(chain.hex())
    return rows._replace(head=head._replace(size=size + len(items), chain=chain, last=last))


def _advance(con: duckdb.DuckDBPyConnection, new: Head, expected: HeadRow | None) -> bool:
    """Write the head ``new``; with ``expected``, only if the stored row is still that
    (one statement verifies the cached head and moves it). True if written."""
    values = [new.size, new.chain.hex(), new.last.isoformat() if new.last else None]
    if expected is None:
        con.execute("UPDATE audit_head SET size = ?, chain = ?, last_time = ? WHERE id = 0",
                    values)
        return True
    count = con.execute(
        "UPDATE audit_head SET size = ?, chain = ?, last_time = ? WHERE id = 0 AND size = ? "
        "AND chain = ? AND last_time IS NOT DISTINCT FROM ? "
        "AND cp_size IS NOT DISTINCT FROM ? AND cp_at IS NOT DISTINCT FROM ?",
        [*values, *expected],
    ).fetchall()
    return bool(count and count[0][0] == 1)


# The head row each store last read or wrote. A guess only: an append moves the head
# with a conditional UPDATE that matches only if the stored row is still exactly this one
# (same size and chain value: the same log), else it reads the row and starts again. So
# another process's appends, a checkpoint, an edited row or a rolled-back transaction
# cost one more read, never a wrong chain.
_HEADS: weakref.WeakKeyDictionary[Store, tuple[HeadRow, Head]] = weakref.WeakKeyDictionary()


def append_entries(store: Store, entries: Iterable[AuditEntry]) -> range:
    """Append ``entries`` in one transaction (joining the caller's); return their indexes.

    Two statements: the head's conditional UPDATE and one INSERT (see ``_HEADS``)."""
    ensure_tables(store)
    items = list(entries)
    cached = _HEADS.pop(store, None)
    with store.transaction() as con:
        if not items:
            head = _head(con)
            return range(head.size, head.size)
        row, head = cached if cached is not None else _read_head(con)
        rows = _chain(items, head)
        if not _advance(con, rows.head, row if cached is not None else None):
            row, head = _read_head(con)  # the guess was stale: read, chain again
            rows = _chain(items, head)
            _advance(con, rows.head, None)
        _insert(con, rows.seqs, rows.datas, rows.leaves, rows.chains)
        new = rows.head
        _HEADS[store] = ((new.size, new.chain.hex(), new.last.isoformat() if new.last else None,
                          row[3], row[4]), new)
    auto = _AUTO.get(store)
    if auto is not None and not store.in_transaction:
        auto.maybe(new.size, head)
    return range(head.size, new.size)


_ARROW_FROM: Final[int] = 1000  # rows; fewer go as list parameters (one statement)


def _insert(
    con: duckdb.DuckDBPyConnection,
    seqs: list[int],
    datas: list[str],
    leaves: list[str],
    chains: list[str],
) -> None:
    sql = "INSERT INTO audit_log (seq, entry, leaf_hash, chain) "
    try:
        if len(seqs) == 1:
            con.execute(sql + "VALUES (?, ?, ?, ?)", [seqs[0], datas[0], leaves[0], chains[0]])
        elif len(seqs) < _ARROW_FROM:
            con.execute(sql + "SELECT unnest(?), unnest(?), unnest(?), unnest(?)",
                        [seqs, datas, leaves, chains])
        else:
            batch = pa.table({"seq": seqs, "entry": datas, "leaf_hash": leaves, "chain": chains})
            con.register("_audit_batch", batch)
            try:
                con.execute(sql + "SELECT seq, entry, leaf_hash, chain FROM _audit_batch")
            finally:
                con.unregister("_audit_batch")
    except duckdb.ConstraintException:
        raise AuditIntegrityError(
            f"audit_head says the log holds {seqs[0]} entries but entry {seqs[0]} exists: "
            "the head row was edited; nothing appended"
        ) from None


@dataclass
class AutoCheckpoint:
    """Sign a checkpoint once ``every_entries`` entries or ``every_seconds`` seconds
    (0: never) have passed since the latest one. A refusal (a rewritten log, a missing
    key) is logged and retried after another ``every_entries`` entries: appending never
    fails because signing does."""

    log: AuditLog
    every_entries: int
    every_seconds: float
    retry_from: int = 0
    last_error: str | None = None

    def due(self, size: int, head: Head) -> bool:
        pending = size - head.cp_size
        if size < self.retry_from:
            return False
        if pending < 0:  # the head claims a checkpoint beyond the log: edited; sign to check
            return True
        if pending == 0:
            return False
        if self.every_entries > 0 and pending >= self.every_entries:
            return True
        if self.every_seconds > 0 and head.cp_at is not None:
            return (clock.now() - head.cp_at).total_seconds() >= self.every_seconds
        return False

    def maybe(self, size: int, head: Head) -> None:
        if not self.due(size, head):
            return
        try:
            self.log.checkpoint()
            self.last_error = None
        except (AuditIntegrityError, AuditKeyError, OSError) as exc:
            self.last_error = str(exc)
            self.retry_from = size + max(self.every_entries, 1)
            _log.error("automatic audit checkpoint refused: %s", exc)


_AUTO: weakref.WeakKeyDictionary[Store, AutoCheckpoint] = weakref.WeakKeyDictionary()


def enable_auto_checkpoints(
    store: Store, log: AuditLog, *, every_entries: int, every_seconds: float
) -> AutoCheckpoint:
    """Sign checkpoints of ``store``'s log automatically on append (see :class:`AutoCheckpoint`)."""
    auto = AutoCheckpoint(log, every_entries, every_seconds)
    if every_entries > 0 or every_seconds > 0:
        _AUTO[store] = auto
    else:
        _AUTO.pop(store, None)
    return auto


def disable_auto_checkpoints(store: Store) -> None:
    _AUTO.pop(store, None)
