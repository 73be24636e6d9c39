"""The append-only audit log: entries as Merkle leaves, signed checkpoints, proofs.

Tables (made by the migrations; read and written through
:class:`~idgraph.store.auditlog.AuditRepo`):

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
from typing import TYPE_CHECKING, NamedTuple

from idgraph import clock
from idgraph.audit.entry import AuditEntry
from idgraph.audit.integrity import AuditIntegrityError
from idgraph.audit.keys import AuditKeyError
from idgraph.store import Store
from idgraph.store.auditlog import AuditRepo, DuplicateSeq, HeadRow

if TYPE_CHECKING:
    from idgraph.audit.auditlog import AuditLog

GENESIS_CHAIN = bytes(32)

_READY: weakref.WeakSet[Store] = weakref.WeakSet()
_log = logging.getLogger(__name__)


def ensure_tables(store: Store) -> None:
    """Write the head row if the log has none (a new log, or one from before the head
    table: chain values are backfilled). The tables themselves are made by the store's
    migrations. Once per store; under the audit lock (processes opening one database
    at once write one head)."""
    if store in _READY:
        return
    repo = AuditRepo(store)
    if not repo.has_head():
        with store.transaction():
            repo.lock()
            if not repo.has_head():
                _rebuild_head(repo)
    _READY.add(store)


def _rebuild_head(repo: AuditRepo) -> None:
    """Fill missing chain values and write the head row from the log as stored."""
    chain, last, size = GENESIS_CHAIN, None, 0
    fixes: list[tuple[str, int]] = []
    for seq, leaf_hex, chain_hex, entry in repo.rows_for_rebuild():
        chain = hashlib.sha256(chain + bytes.fromhex(leaf_hex)).digest()
        if chain_hex is None:
            fixes.append((chain.hex(), seq))
        last, size = entry, seq + 1
    repo.set_chains(fixes)
    try:
        last_time = AuditEntry.model_validate_json(last).time.isoformat() if last else None
    except ValueError:  # an edited last row: `audit verify` names it; the head stays usable
        last_time = None
    cp = repo.max_checkpoint_size()
    repo.insert_head(HeadRow(size, chain.hex(), last_time, int(cp or 0), clock.now().isoformat()))


class Head(NamedTuple):
    size: int
    chain: bytes
    last: datetime | None
    cp_size: int
    cp_at: datetime | None


def _read_head(repo: AuditRepo) -> tuple[HeadRow, Head]:
    row = repo.read_head()
    if row is None:
        raise AuditIntegrityError("audit_head row is missing")
    size, chain, last_time, cp_size, cp_at = row
    try:
        last = datetime.fromisoformat(last_time).astimezone(UTC) if last_time else None
        at = datetime.fromisoformat(cp_at) if cp_at else None
        return row, Head(int(size), bytes.fromhex(chain), last, int(cp_size or 0), at)
    except (ValueError, TypeError) as exc:
        raise AuditIntegrityError(
            f"audit_head row does not parse ({exc}): edited; nothing appended"
        ) from None


def read_head(store: Store) -> Head:
    """The parsed head row (:class:`AuditIntegrityError` if missing or edited)."""
    return _read_head(AuditRepo(store))[1]


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


def _advance(repo: AuditRepo, new: Head, expected: HeadRow | None) -> bool:
    """Write the head ``new``; with ``expected``, only if the stored row is still that
    (one statement verifies the cached head and moves it). True if written."""
    return repo.advance_head(new.size, new.chain.hex(),
                             new.last.isoformat() if new.last else None, expected)


# The head row each DuckDB store last read or wrote. A guess only: an append moves the
# head with a conditional UPDATE that matches only if the stored row is still exactly
# this one (same size and chain value: the same log), else it reads the row and starts
# again. So another connection's appends, a checkpoint, an edited row or a rolled-back
# transaction cost one more read, never a wrong chain. On PostgreSQL (several processes
# append) the head is always read after the audit lock: the guess would mostly be stale.
_HEADS: weakref.WeakKeyDictionary[Store, tuple[HeadRow, Head]] = weakref.WeakKeyDictionary()


def append_entries(store: Store, entries: Iterable[AuditEntry]) -> range:
    """Append ``entries`` in one transaction (joining the caller's); return their indexes.

    The transaction first takes the store's ``audit`` lock (every process appending to
    one PostgreSQL database queues on it), then reads the head, so the log stays one
    gap-free sequence. On DuckDB an append is two statements: the head's conditional
    UPDATE and one INSERT (see ``_HEADS``)."""
    ensure_tables(store)
    items = list(entries)
    repo = AuditRepo(store)
    cached = _HEADS.pop(store, None) if not repo.pg else None
    with store.transaction():
        repo.lock()
        if not items:
            head = _read_head(repo)[1]
            return range(head.size, head.size)
        row, head = cached if cached is not None else _read_head(repo)
        rows = _chain(items, head)
        if not _advance(repo, rows.head, row if cached is not None else None):
            row, head = _read_head(repo)  # the guess was stale: read, chain again
            rows = _chain(items, head)
            _advance(repo, rows.head, None)
        try:
            repo.insert_entries(rows.seqs, rows.datas, rows.leaves, rows.chains)
        except DuplicateSeq:
            raise AuditIntegrityError(
                f"audit_head says the log holds {rows.seqs[0]} entries but entry "
                f"{rows.seqs[0]} exists: the head row was edited; nothing appended"
            ) from None
        new = rows.head
        if not repo.pg:
            _HEADS[store] = (HeadRow(new.size, new.chain.hex(),
                                     new.last.isoformat() if new.last else None,
                                     row[3], row[4]), new)
    auto = _AUTO.get(store)
    if auto is not None and not store.in_transaction:
        auto.maybe(new.size, head)
    return range(head.size, new.size)


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
            if self.log.repo.pg:
                # several processes append: another may have signed since this append
                # read the head; sign only if still due
                now = read_head(self.log.store)
                if not self.due(now.size, now):
                    return
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
