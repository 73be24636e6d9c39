"""The audit log: every decision, response and administrative act becomes an entry.

``record(store, entry)`` is the one hook every other module calls. It appends inside
the caller's transaction, so an act and its entry commit (or roll back) together.
Entries are leaves of an RFC 9162 Merkle tree; :class:`AuditLog` signs checkpoints
(Ed25519, C2SP signed notes) only over a tree that extends every earlier one, proves
inclusion and consistency, and verifies the whole log. See docs/audit.md.
:class:`GroupCommit` lets many threads of one process share commits (none returns
before its entries are durable).
"""

from __future__ import annotations

from collections.abc import Iterable

from idgraph.audit.auditlog import AuditLog
from idgraph.audit.checkpoint import Checkpoint, ConsistencyProof, InclusionProof, StoredEntry
from idgraph.audit.entry import AuditEntry
from idgraph.audit.group import GroupCommit
from idgraph.audit.integrity import AuditIntegrityError
from idgraph.audit.log import append_entries, enable_auto_checkpoints, ensure_tables
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
    "GroupCommit",
    "InclusionProof",
    "Problem",
    "StoredEntry",
    "VerifyResult",
    "enable_auto_checkpoints",
    "ensure_tables",
    "record",
    "record_many",
    "verify_log",
]
