"""What a careful forger with database access does: rewrite an entry, then recompute its
leaf hash and the hash chain of it and every later row, and the head."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from idgraph.audit.log import GENESIS_CHAIN
from idgraph.store import Store


def rechain_from(store: Store, start: int) -> None:
    """Recompute leaf hashes and chain values from ``start`` on, and the head row."""
    rows = store.fetchall("SELECT seq, entry, chain FROM audit_log ORDER BY seq")
    chain = bytes.fromhex(rows[start - 1][2]) if start else GENESIS_CHAIN
    for seq, entry, _ in rows[start:]:
        leaf = hashlib.sha256(b"\x00" + entry.encode()).digest()
        chain = hashlib.sha256(chain + leaf).digest()
        store.execute(
            "UPDATE audit_log SET leaf_hash = ?, chain = ? WHERE seq = ?",
            [leaf.hex(), chain.hex(), seq],
        )
    store.execute(
        "UPDATE audit_head SET size = ?, chain = ? WHERE id = 0", [len(rows), chain.hex()]
    )


def rewrite(store: Store, seq: int, change: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite entry ``seq``'s JSON with ``change`` and recompute everything after it."""
    (entry,) = store.fetchone("SELECT entry FROM audit_log WHERE seq = ?", [seq]) or ("",)
    data = json.loads(entry)
    change(data)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    store.execute("UPDATE audit_log SET entry = ? WHERE seq = ?", [text, seq])
    rechain_from(store, seq)


def truncate(store: Store, size: int) -> None:
    """Roll the log back to its first ``size`` entries (head included)."""
    store.execute("DELETE FROM audit_log WHERE seq >= ?", [size])
    rechain_from(store, size)


def set_purpose(purpose: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["purpose"] = purpose

    return change
