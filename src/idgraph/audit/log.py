"""The append-only audit log: entries as Merkle leaves, signed checkpoints, proofs.

Tables (all owned here):

* ``audit_log(seq, entry, leaf_hash, chain)``: one row per entry. ``entry`` is the
  exact canonical JSON hashed into the leaf; ``chain`` = SHA-256(previous chain ||
  leaf hash) lets :func:`verify` name the first altered, removed or inserted row.
* ``audit_head``: one row with the size, last chain value and last time, so an append
  costs O(1) reads instead of a scan (it is a cache: verification never trusts it).
* ``audit_checkpoints``: signed tree heads (size, root, time, Ed25519 signature).

Entry times never go backwards: an entry stamped earlier than the head (the previous
entry or the latest checkpoint) is logged at the head time, and the time it claimed is
kept in ``detail["time_claimed"]``. Verification then treats any backwards step as
back-dating.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from idgraph.audit import merkle
from idgraph.audit.entry import AuditEntry
from idgraph.audit.keys import AuditKeyError, load_private_key, public_hex
from idgraph.store import Store

if TYPE_CHECKING:
    from idgraph.audit.verify import VerifyResult

GENESIS_CHAIN = bytes(32)
CHECKPOINT_TAG = "idgraph-audit-checkpoint/v1"
_CHUNK = 100_000

_DDL = (
    """CREATE TABLE IF NOT EXISTS audit_log (
        seq BIGINT PRIMARY KEY, entry VARCHAR NOT NULL, leaf_hash VARCHAR NOT NULL)""",
    "ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS chain VARCHAR",
    """CREATE TABLE IF NOT EXISTS audit_head (
        id INTEGER PRIMARY KEY, size BIGINT NOT NULL, chain VARCHAR NOT NULL,
        last_time VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS audit_checkpoints (
        id BIGINT PRIMARY KEY, size BIGINT NOT NULL, root VARCHAR NOT NULL,
        time VARCHAR NOT NULL, signature VARCHAR NOT NULL, pubkey VARCHAR NOT NULL)""",
)

_READY: weakref.WeakSet[Store] = weakref.WeakSet()


class AuditIntegrityError(Exception):
    """The stored log does not match its own hashes; refuse to sign or prove it."""


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
    last_time = AuditEntry.model_validate_json(last).time.isoformat() if last else None
    con.execute("INSERT INTO audit_head VALUES (0, ?, ?, ?)", [size, chain.hex(), last_time])


def _head(con: duckdb.DuckDBPyConnection) -> tuple[int, bytes, datetime | None]:
    rows = con.execute("SELECT size, chain, last_time FROM audit_head WHERE id = 0").fetchall()
    if not rows:
        raise AuditIntegrityError("audit_head row is missing")
    size, chain, last_time = rows[0]
    last = datetime.fromisoformat(last_time).astimezone(UTC) if last_time else None
    return int(size), bytes.fromhex(chain), last


def _stamp(entry: AuditEntry, last: datetime | None) -> tuple[AuditEntry, datetime]:
    """Keep times non-decreasing: an entry earlier than ``last`` is logged at ``last``."""
    t = entry.time.astimezone(UTC)
    if last is None or t >= last:
        return entry, t
    detail = {**entry.detail, "time_claimed": t.isoformat()}
    return entry.model_copy(update={"time": last, "detail": detail}), last


def append_entries(store: Store, entries: Iterable[AuditEntry]) -> range:
    """Append ``entries`` in one transaction (joining the caller's); return their indexes."""
    ensure_tables(store)
    items = list(entries)
    with store.transaction() as con:
        size, chain, last = _head(con)
        seqs: list[int] = []
        datas: list[str] = []
        leaves: list[str] = []
        chains: list[str] = []
        sha = hashlib.sha256
        for item in items:
            entry, last = _stamp(item, last)
            data = entry.canonical()
            leaf = sha(b"\x00" + data).digest()
            chain = sha(chain + leaf).digest()
            seqs.append(size + len(seqs))
            datas.append(data.decode())
            leaves.append(leaf.hex())
            chains.append(chain.hex())
        if not seqs:
            return range(size, size)
        _insert(con, seqs, datas, leaves, chains)
        con.execute(
            "UPDATE audit_head SET size = ?, chain = ?, last_time = ? WHERE id = 0",
            [size + len(seqs), chain.hex(), last.isoformat() if last else None],
        )
    return range(size, size + len(seqs))


def _insert(
    con: duckdb.DuckDBPyConnection,
    seqs: list[int],
    datas: list[str],
    leaves: list[str],
    chains: list[str],
) -> None:
    sql = "INSERT INTO audit_log (seq, entry, leaf_hash, chain) "
    if len(seqs) == 1:
        con.execute(sql + "VALUES (?, ?, ?, ?)", [seqs[0], datas[0], leaves[0], chains[0]])
        return
    batch = pa.table({"seq": seqs, "entry": datas, "leaf_hash": leaves, "chain": chains})
    con.register("_audit_batch", batch)
    try:
        con.execute(sql + "SELECT seq, entry, leaf_hash, chain FROM _audit_batch")
    finally:
        con.unregister("_audit_batch")


def checkpoint_message(size: int, root: bytes, time: str) -> bytes:
    """The exact bytes a checkpoint signature covers."""
    return f"{CHECKPOINT_TAG}\n{size}\n{root.hex()}\n{time}\n".encode()


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head: the first ``size`` entries hash to ``root``."""

    id: int
    size: int
    root: bytes
    time: str
    signature: bytes
    pubkey: str

    def message(self) -> bytes:
        return checkpoint_message(self.size, self.root, self.time)

    def signed_by(self, key: Ed25519PublicKey) -> bool:
        try:
            key.verify(self.signature, self.message())
        except Exception:  # InvalidSignature, or a malformed signature
            return False
        return True

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "size": self.size,
            "root": self.root.hex(),
            "time": self.time,
            "signature": self.signature.hex(),
            "pubkey": self.pubkey,
        }


@dataclass(frozen=True)
class StoredEntry:
    """One row of the log: its index, the exact hashed bytes and the stored leaf hash."""

    index: int
    data: bytes
    leaf_hash: bytes

    @property
    def entry(self) -> AuditEntry:
        return AuditEntry.model_validate_json(self.data)


@dataclass(frozen=True)
class InclusionProof:
    """Entry ``index`` is leaf ``index`` of the tree a checkpoint signed."""

    index: int
    entry: bytes
    leaf_hash: bytes
    path: tuple[bytes, ...]
    checkpoint: Checkpoint

    def verify(self, key: Ed25519PublicKey | None = None) -> bool:
        """Check the leaf, the path and (given ``key``) the checkpoint signature."""
        if key is not None and not self.checkpoint.signed_by(key):
            return False
        return merkle.leaf_hash(self.entry) == self.leaf_hash and merkle.verify_inclusion(
            self.index, self.checkpoint.size, self.leaf_hash, self.path, self.checkpoint.root
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "entry": self.entry.decode(),
            "leaf_hash": self.leaf_hash.hex(),
            "tree_size": self.checkpoint.size,
            "path": [p.hex() for p in self.path],
            "checkpoint": self.checkpoint.to_json(),
        }


@dataclass(frozen=True)
class ConsistencyProof:
    """The tree of ``old_size`` entries is a prefix of the tree of ``new_size``."""

    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    path: tuple[bytes, ...]

    def verify(self) -> bool:
        return merkle.verify_consistency(
            self.old_size, self.new_size, self.old_root, self.new_root, self.path
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "old_size": self.old_size,
            "new_size": self.new_size,
            "old_root": self.old_root.hex(),
            "new_root": self.new_root.hex(),
            "path": [p.hex() for p in self.path],
        }


def _checkpoint_of(row: Sequence[Any]) -> Checkpoint:
    return Checkpoint(
        id=int(row[0]),
        size=int(row[1]),
        root=bytes.fromhex(row[2]),
        time=str(row[3]),
        signature=bytes.fromhex(row[4]),
        pubkey=str(row[5]),
    )


def load_checkpoints(store: Store) -> list[Checkpoint]:
    """Every stored checkpoint, oldest first (as stored: verification checks them)."""
    ensure_tables(store)
    rows = store.fetchall(
        "SELECT id, size, root, time, signature, pubkey FROM audit_checkpoints ORDER BY id"
    )
    return [_checkpoint_of(r) for r in rows]


class AuditLog:
    """The audit log of one store; ``data_dir`` holds the checkpoint signing key."""

    def __init__(
        self, store: Store, data_dir: Path | None = None, key: Ed25519PrivateKey | None = None
    ) -> None:
        ensure_tables(store)
        self.store = store
        self.data_dir = data_dir
        self._key = key
        self._levels = merkle.MerkleLevels()

    # -- keys -------------------------------------------------------------
    @property
    def key(self) -> Ed25519PrivateKey:
        if self._key is None:
            if self.data_dir is None:
                raise ValueError("AuditLog needs a data_dir or a key to sign checkpoints")
            self._key = load_private_key(self.data_dir)
        return self._key

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.key.public_key()

    # -- entries ----------------------------------------------------------
    def size(self) -> int:
        rows = self.store.fetchall("SELECT size FROM audit_head WHERE id = 0")
        return int(rows[0][0]) if rows else 0

    def append(self, entry: AuditEntry) -> int:
        return append_entries(self.store, [entry])[0]

    def append_many(self, entries: Iterable[AuditEntry]) -> range:
        return append_entries(self.store, entries)

    def entries(self, start: int = 0, stop: int | None = None) -> list[StoredEntry]:
        """Stored entries with ``start <= index < stop``."""
        stop = self.size() if stop is None else stop
        rows = self.store.fetchall(
            "SELECT seq, entry, leaf_hash FROM audit_log WHERE seq >= ? AND seq < ? ORDER BY seq",
            [start, stop],
        )
        return [StoredEntry(int(s), e.encode(), bytes.fromhex(h)) for s, e, h in rows]

    # -- tree -------------------------------------------------------------
    def _sync(self) -> merkle.MerkleLevels:
        """Bring the cached levels up to the stored size, reading only new leaf hashes."""
        n = self.size()
        if n < self._levels.size:
            self._levels = merkle.MerkleLevels()
        while self._levels.size < n:
            start = self._levels.size
            rows = self.store.fetchall(
                "SELECT seq, from_hex(leaf_hash) FROM audit_log WHERE seq >= ? AND seq < ? "
                "ORDER BY seq",
                [start, min(n, start + _CHUNK)],
            )
            if not rows or int(rows[0][0]) != start or int(rows[-1][0]) != start + len(rows) - 1:
                raise AuditIntegrityError(f"audit_log has a gap at or after index {start}")
            self._levels.extend(bytes(r[1]) for r in rows)
        return self._levels

    def tree(self) -> merkle.MerkleLevels:
        """The Merkle levels over the stored leaf hashes (cached, grown on demand)."""
        return self._sync()

    def root(self, size: int | None = None) -> bytes:
        return self._sync().root(size)

    def _check_range(self, start: int, stop: int) -> None:
        """Recompute leaf hashes of entries ``[start, stop)`` before signing over them."""
        for e in self.entries(start, stop):
            if merkle.leaf_hash(e.data) != e.leaf_hash:
                raise AuditIntegrityError(f"entry {e.index}: leaf hash does not match entry")

    # -- checkpoints ------------------------------------------------------
    def checkpoints(self) -> list[Checkpoint]:
        return load_checkpoints(self.store)

    def latest_checkpoint(self) -> Checkpoint | None:
        cps = self.checkpoints()
        return cps[-1] if cps else None

    def checkpoint(self) -> Checkpoint:
        """Sign the current tree head and store it."""
        with self.store.transaction() as con:
            levels = self._sync()
            n = levels.size
            latest = self.latest_checkpoint()
            self._check_range(latest.size if latest and latest.size <= n else 0, n)
            _, _, last = _head(con)
            now = datetime.now(UTC)
            when = max(now, last) if last else now
            root = levels.root(n)
            sig = self.key.sign(checkpoint_message(n, root, when.isoformat()))
            cp = Checkpoint(
                id=latest.id + 1 if latest else 0,
                size=n,
                root=root,
                time=when.isoformat(),
                signature=sig,
                pubkey=public_hex(self.public_key),
            )
            con.execute(
                "INSERT INTO audit_checkpoints VALUES (?, ?, ?, ?, ?, ?)",
                [cp.id, cp.size, cp.root.hex(), cp.time, cp.signature.hex(), cp.pubkey],
            )
            con.execute("UPDATE audit_head SET last_time = ? WHERE id = 0", [cp.time])
        return cp

    # -- proofs -----------------------------------------------------------
    def prove(self, index: int, checkpoint: Checkpoint | None = None) -> InclusionProof:
        """Inclusion proof of entry ``index`` against ``checkpoint`` (default: the
        latest checkpoint covering it, signing a new one when none does)."""
        cp = checkpoint or self.latest_checkpoint()
        if cp is None or cp.size <= index:
            cp = self.checkpoint()
        if not 0 <= index < cp.size:
            raise ValueError(f"index {index} outside checkpoint of size {cp.size}")
        levels = self._levels if self._levels.size >= cp.size else self._sync()
        stored = self.entries(index, index + 1)
        if not stored:
            raise AuditIntegrityError(f"entry {index} is missing")
        path = levels.inclusion_path(index, cp.size)
        return InclusionProof(index, stored[0].data, levels.levels[0][index], tuple(path), cp)

    def consistency(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """Proof that the log at ``old_size`` is a prefix of the log at ``new_size``."""
        levels = self._sync()
        n = levels.size if new_size is None else new_size
        path = levels.consistency_path(old_size, n)
        return ConsistencyProof(old_size, n, levels.root(old_size), levels.root(n), tuple(path))

    # -- verification -----------------------------------------------------
    def verify(self, pubkey: Ed25519PublicKey | Path | str | bytes | None = None) -> VerifyResult:
        """Check the whole log against ``pubkey`` (default: this data dir's key)."""
        from idgraph.audit.verify import verify_log

        if pubkey is None and self._key is not None:
            pubkey = self._key.public_key()
        elif pubkey is None and self.data_dir is not None:
            try:
                pubkey = load_private_key(self.data_dir, create=False).public_key()
            except AuditKeyError:
                pubkey = None  # no key yet: any checkpoint is reported unverifiable
        return verify_log(self.store, pubkey)
