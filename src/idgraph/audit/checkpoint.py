"""Signed tree heads and proofs: the values a third party checks and keeps.

A checkpoint is stored as a C2SP signed note (:mod:`idgraph.audit.note`) in the ``note``
column; witness cosignatures are kept in ``audit_cosignatures`` and added to the note's
signature lines when loaded. Checkpoints written before the note format (``note`` is
NULL) keep their original form: an Ed25519 signature over :func:`checkpoint_message`;
they still verify.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from idgraph.audit import merkle
from idgraph.audit import note as notes
from idgraph.store import Store
from idgraph.store.auditlog import AuditRepo, CheckpointRow

CHECKPOINT_TAG = "idgraph-audit-checkpoint/v1"  # the legacy (pre-note) signed message
DEFAULT_ORIGIN = "idgraph.local/audit"


def checkpoint_message(size: int, root: bytes, time: str) -> bytes:
    """The exact bytes a legacy (v1) checkpoint signature covers."""
    return f"{CHECKPOINT_TAG}\n{size}\n{root.hex()}\n{time}\n".encode()


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head: the first ``size`` entries hash to ``root``.

    ``note`` is the signed-note text (log signature and any witness cosignatures);
    ``None`` for a legacy checkpoint, whose ``signature`` covers :meth:`message`.
    """

    id: int
    size: int
    root: bytes
    time: str
    signature: bytes
    pubkey: str
    note: str | None = None
    origin: str | None = None

    @property
    def format(self) -> str:
        return "signed-note" if self.note is not None else "v1"

    def message(self) -> bytes:
        if self.note is not None:
            return notes.parse(self.note).body.encode()
        return checkpoint_message(self.size, self.root, self.time)

    def parsed(self) -> notes.Note | None:
        return notes.parse(self.note) if self.note is not None else None

    def signed_by(self, key: Ed25519PublicKey) -> bool:
        """The log signature verifies with ``key`` and the note agrees with the row."""
        if self.note is None:
            try:
                key.verify(self.signature, self.message())
            except Exception:  # InvalidSignature, or a malformed signature
                return False
            return True
        try:
            n = notes.parse(self.note)
        except notes.NoteError:
            return False
        same = (n.origin, n.size, n.root, n.time) == (self.origin, self.size, self.root, self.time)
        own = any(s.data == self.signature for s in n.signatures if s.name == n.origin)
        return same and own and n.signed_by(n.origin, key)

    def with_cosignatures(self, lines: Sequence[str]) -> Checkpoint:
        if self.note is None or not lines:
            return self
        n = notes.parse(self.note)
        for line in lines:
            for sig in notes.parse(n.body + "\n" + line).signatures:
                n = n.with_signature(sig)
        return replace(self, note=n.text())

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "size": self.size,
            "root": self.root.hex(),
            "time": self.time,
            "signature": self.signature.hex(),
            "pubkey": self.pubkey,
            "format": self.format,
            "origin": self.origin,
            "note": self.note,
        }


@dataclass(frozen=True)
class StoredEntry:
    """One row of the log: its index, the exact hashed bytes and the stored leaf hash."""

    index: int
    data: bytes
    leaf_hash: bytes

    @property
    def entry(self) -> Any:
        from idgraph.audit.entry import AuditEntry

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


def _checkpoint_of(row: CheckpointRow) -> Checkpoint:
    return Checkpoint(
        id=int(row.id),
        size=int(row.size),
        root=bytes.fromhex(row.root),
        time=str(row.time),
        signature=bytes.fromhex(row.signature),
        pubkey=str(row.pubkey),
        note=row.note,
        origin=row.origin,
    )


def load_checkpoints(
    store: Store, malformed: list[tuple[int, str]] | None = None
) -> list[Checkpoint]:
    """Every stored checkpoint with its cosignatures, oldest first (as stored).

    A row that does not parse (a root or signature that is not hex, a note or a
    cosignature line that is not one: edited in the database) raises
    :class:`~idgraph.audit.integrity.AuditIntegrityError`, or, given a ``malformed`` list,
    is left out and reported there as ``(id, reason)``.
    """
    from idgraph.audit.integrity import AuditIntegrityError

    repo = AuditRepo(store)
    rows = repo.checkpoints()
    cosigs: dict[int, list[str]] = {}
    for cid, _, line in repo.cosignatures():
        cosigs.setdefault(cid, []).append(line)
    out: list[Checkpoint] = []
    for r in rows:
        try:
            cp = _checkpoint_of(r)
            cp.parsed()
            out.append(cp.with_cosignatures(cosigs.get(int(r.id), [])))
        except (ValueError, TypeError) as exc:  # NoteError is a ValueError
            reason = f"checkpoint {r.id}: the stored row does not parse ({exc}): edited?"
            if malformed is None:
                raise AuditIntegrityError(reason + "; refusing to use it") from None
            malformed.append((int(r.id), reason))
    return out


def insert_checkpoint(store: Store, cp: Checkpoint) -> None:
    AuditRepo(store).insert_checkpoint(CheckpointRow(
        cp.id, cp.size, cp.root.hex(), cp.time, cp.signature.hex(), cp.pubkey, cp.note,
        cp.origin))
