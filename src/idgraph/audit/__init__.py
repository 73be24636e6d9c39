"""The audit log: every decision, response and administrative act becomes an entry.

``record(store, entry)`` is the one hook every other module calls. It appends inside
the caller's transaction, so an act and its entry commit (or roll back) together.
"""

from __future__ import annotations

import hashlib

from idgraph.audit.entry import AuditEntry
from idgraph.store import Store

_DDL = (
    """CREATE TABLE IF NOT EXISTS audit_log (
        seq BIGINT PRIMARY KEY, entry JSON NOT NULL, leaf_hash VARCHAR NOT NULL)""",
)


def record(store: Store, entry: AuditEntry) -> int:
    """Append ``entry``; return its index (0-based sequence number)."""
    store.ensure("audit", _DDL)
    data = entry.canonical()
    leaf = hashlib.sha256(b"\x00" + data).hexdigest()
    with store.transaction() as con:
        row = con.execute("SELECT coalesce(max(seq) + 1, 0) FROM audit_log").fetchone()
        seq = int(row[0]) if row else 0
        con.execute("INSERT INTO audit_log VALUES (?, ?, ?)", [seq, data.decode(), leaf])
    return seq


__all__ = ["AuditEntry", "record"]
