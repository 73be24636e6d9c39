"""The audit log: every decision, response and administrative act becomes an entry.

``record(store, entry)`` is the one hook every other module calls. It appends inside
the caller's transaction, so an act and its entry commit (or roll back) together.
Entries are leaves of an RFC 9162 Merkle tree; :class:`AuditLog` signs checkpoints
(Ed25519), proves inclusion and consistency, and verifies the whole log.
"""

from __future__ import annotations

from collections.abc import Iterable

from idgraph.audit.entry import AuditEntry
from idgraph.audit.log import (
    AuditIntegrityError,
    AuditLog,
    Checkpoint,
    ConsistencyProof,
    InclusionProof,
    StoredEntry,
    append_entries,
    ensure_tables,
)
from idgraph.audit.verify import Problem, VerifyResult, verify_log
from idgraph.store import Store


def record(store: Store, entry: AuditEntry) -> int:
    """Append ``entry``; return its index (0-based sequence number)."""
    return append_entries(store, [entry])[0]


def record_many(store: Store, entries: Iterable[AuditEntry]) -> range:
    """Append ``entries`` in one transaction; return their indexes."""
    return append_entries(store, entries)


__all__ = [
    "AuditEntry",
    "AuditIntegrityError",
    "AuditLog",
    "Checkpoint",
    "ConsistencyProof",
    "InclusionProof",
    "Problem",
    "StoredEntry",
    "VerifyResult",
    "ensure_tables",
    "record",
    "record_many",
    "verify_log",
]
