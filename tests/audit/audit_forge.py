"""What a careful forger with database access does: rewrite an entry, then recompute its
leaf hash and the hash chain of it and every later row, and the head."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from idgraph.audit import merkle
from idgraph.audit import note as notes
from idgraph.audit.keys import public_hex
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


# -- exports the operator crafts with its own key -----------------------------------------
def read_export(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_export(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in lines), encoding="utf-8")
    return path


def resign_export(
    lines: list[dict[str, Any]], key: Ed25519PrivateKey, origin: str | None = None
) -> list[dict[str, Any]]:
    """What an operator holding the signing key does to a crafted export: recompute every
    leaf hash, re-sign every checkpoint (same sizes and times; ``origin`` if given) over
    the entries as they now are, and redo the consistency and inclusion proofs."""
    entries = [o for o in lines if o.get("type") == "entry"]
    leaves = [merkle.leaf_hash(o["entry"].encode()) for o in entries]
    levels = merkle.MerkleLevels(leaves)
    cps: dict[int, dict[str, Any]] = {}
    for o in lines:
        if o.get("type") == "header" and origin is not None:
            o["origin"] = origin
        elif o.get("type") == "checkpoint":
            name = origin or o["origin"]
            size = min(o["size"], levels.size)
            n = notes.sign(name, size, levels.root(size), o["time"], key)
            o.update(
                size=size,
                root=n.root.hex(),
                signature=n.signatures[0].data.hex(),
                pubkey=public_hex(key.public_key()),
                origin=name,
                note=n.text(),
                format="signed-note",
            )
            cps[o["id"]] = o
        elif o.get("type") == "consistency":
            a, b = cps[o["from"]], cps[o["to"]]
            path = levels.consistency_path(a["size"], b["size"])
            o.update(
                old_size=a["size"],
                new_size=b["size"],
                old_root=a["root"],
                new_root=b["root"],
                path=[p.hex() for p in path],
            )
    for o, leaf in zip(entries, leaves, strict=True):
        o["leaf_hash"] = leaf.hex()
        proof = o.get("proof")
        if proof is not None:
            size = cps[proof["checkpoint"]]["size"]
            if o["index"] < size:
                proof["path"] = [p.hex() for p in levels.inclusion_path(o["index"], size)]
    return lines


def set_entry_field(lines: list[dict[str, Any]], index: int, field: str, value: Any) -> None:
    """Change (or with ``value`` None, drop) one field of entry ``index``'s JSON."""
    o = next(x for x in lines if x.get("type") == "entry" and x["index"] == index)
    data = json.loads(o["entry"])
    if value is None:
        data.pop(field, None)
    else:
        data[field] = value
    o["entry"] = json.dumps(data, sort_keys=True, separators=(",", ":"))
