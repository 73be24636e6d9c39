"""Before signing: is the stored log still the one the latest checkpoint signed?

:func:`verified_tree` rebuilds the Merkle tree of the *whole* log from the entry bytes
(leaf hashes recomputed by the database, never read from the ``leaf_hash`` column) and
checks that it extends the latest checkpoint: that checkpoint's signature verifies with
a key the log recorded, and the recomputed tree at its size has its root. A rewrite that
recomputed leaf hashes and the chain, a deletion of signed entries, or a truncation is
refused with :class:`AuditIntegrityError` naming the checkpoint and the entry range.
Cost: one scan of the log (the database hashes) and one tree build, per checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from idgraph.audit import merkle
from idgraph.audit.checkpoint import Checkpoint
from idgraph.store import Store
from idgraph.store.auditlog import AuditRepo

_CHUNK = 100_000


class AuditIntegrityError(Exception):
    """The stored log does not match its own hashes; refuse to sign or prove it."""


def recompute(store: Store, levels: merkle.MerkleLevels | None = None) -> merkle.MerkleLevels:
    """The tree over leaf hashes recomputed (by the database) from every stored entry's
    bytes; given ``levels`` (a tree recomputed before), it is extended with the entries
    after it (their hashes recomputed alike)."""
    start = levels.size if levels is not None else None
    levels = levels if levels is not None else merkle.MerkleLevels()
    for rows in AuditRepo(store).recomputed_leaves(_CHUNK, start):
        start = levels.size
        if rows[0].seq != start or rows[-1].seq != start + len(rows) - 1:
            raise AuditIntegrityError(f"audit_log has a gap or repeat at or after entry {start}")
        bad = next((r.seq for r in rows if not r.matches), None)
        if bad is not None:
            raise AuditIntegrityError(
                f"entry {bad}: stored leaf hash does not match the entry bytes; refusing to sign"
            )
        levels.extend(r.leaf for r in rows)
    return levels


def check_extends(
    levels: merkle.MerkleLevels,
    checkpoints: Iterable[Checkpoint],
    trusted: dict[str, Ed25519PublicKey],
) -> None:
    """Raise unless ``levels`` extends every checkpoint given (the latest above all).

    ``trusted`` maps the hex public keys the log recorded (current and rotated-out) to
    keys; a checkpoint signed by any other key, or not at all, is refused.
    """
    prev: Checkpoint | None = None
    for cp in sorted(checkpoints, key=lambda c: (c.size, c.id)):
        key = trusted.get(cp.pubkey)
        if key is None:
            raise AuditIntegrityError(
                f"checkpoint {cp.id}: signed by {cp.pubkey[:16]}..., a key this log never "
                "recorded; refusing to sign"
            )
        if not cp.signed_by(key):
            raise AuditIntegrityError(
                f"checkpoint {cp.id}: signature does not verify; refusing to sign"
            )
        lo = prev.size if prev is not None else 0
        if cp.size > levels.size:
            raise AuditIntegrityError(
                f"checkpoint {cp.id} signed {cp.size} entries but the log holds "
                f"{levels.size}: entries [{levels.size}, {cp.size}) were removed; "
                "refusing to sign a rolled-back log"
            )
        if levels.root(cp.size) != cp.root:
            raise AuditIntegrityError(
                f"entries in [{lo}, {cp.size}) differ from what checkpoint {cp.id} signed "
                f"(recomputed root {levels.root(cp.size).hex()[:16]}... != "
                f"{cp.root.hex()[:16]}...): the log was rewritten; refusing to sign"
            )
        prev = cp
