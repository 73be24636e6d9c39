"""Export the log as JSON lines an outside party can check with ``tools/verify_audit.py``.

Lines, in order:

* ``{"type": "header", ...}``: format, entry and checkpoint counts, the log's origin and
  current public key (hex), and every key the log recorded;
* ``{"type": "checkpoint", ...}``: every checkpoint (id, size, root, time, signature,
  pubkey, and ``note``: the C2SP signed note with any witness cosignatures; legacy
  checkpoints have no note and their signature covers ``checkpoint_message``);
* ``{"type": "consistency", ...}``: a consistency proof between each consecutive pair;
* ``{"type": "entry", ...}``: each entry's canonical bytes (as a string), index, leaf
  hash and, with ``proofs``, its inclusion proof against the latest checkpoint.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from idgraph.audit.auditlog import AuditLog
from idgraph.audit.checkpoint import CHECKPOINT_TAG, Checkpoint
from idgraph.audit.keys import public_hex

FORMAT = "idgraph-audit-export/v1"
_CHUNK = 20_000


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    entries: int
    checkpoints: int
    proofs: int
    root: str


def _line(fh: TextIO, obj: dict[str, Any]) -> None:
    fh.write(json.dumps(obj, separators=(",", ":")))
    fh.write("\n")


def _consistency_lines(log: AuditLog, cps: list[Checkpoint]) -> Iterator[dict[str, Any]]:
    for old, new in itertools.pairwise(cps):
        if old.size > new.size:
            continue  # out of order: the verifier reports it from the checkpoints alone
        proof = log.consistency(old.size, new.size)
        yield {"type": "consistency", "from": old.id, "to": new.id, **proof.to_json()}


def export_log(
    log: AuditLog, out: Path, *, proofs: bool = True, checkpoint: bool = True
) -> ExportSummary:
    """Write the whole log to ``out``; sign a fresh checkpoint first when ``checkpoint``
    and entries were appended since the latest one."""
    size = log.size()
    latest = log.latest_checkpoint()
    if checkpoint and (latest is None or latest.size < size):
        latest = log.checkpoint()
    cps = log.checkpoints()
    levels = log.tree()
    proved = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    # who read whom: readable by its owner only (0600, also when the file existed)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        header = {
            "type": "header",
            "format": FORMAT,
            "hash": "sha256",
            "leaf": "sha256(0x00 || entry)",
            "node": "sha256(0x01 || left || right)",
            "checkpoint_message": CHECKPOINT_TAG + "\n{size}\n{root}\n{time}\n",
            "checkpoint_note": "https://c2sp.org/tlog-checkpoint (extension line: time)",
            "origin": log.origin,
            "entries": size,
            "checkpoints": len(cps),
            "pubkey": public_hex(log.public_key),
            "keys": {
                k: {"since_size": lo, "until_size": hi}
                for k, (lo, hi) in sorted(log.recorded_keys().items())
            },
        }
        _line(fh, header)
        for cp in cps:
            _line(fh, {"type": "checkpoint", **cp.to_json()})
        for line in _consistency_lines(log, cps):
            _line(fh, line)
        for start in range(0, size, _CHUNK):
            for e in log.entries(start, min(size, start + _CHUNK)):
                obj: dict[str, Any] = {
                    "type": "entry",
                    "index": e.index,
                    "entry": e.data.decode(),
                    "leaf_hash": e.leaf_hash.hex(),
                }
                if proofs and latest is not None and e.index < latest.size:
                    path = levels.inclusion_path(e.index, latest.size)
                    obj["proof"] = {
                        "checkpoint": latest.id,
                        "tree_size": latest.size,
                        "path": [p.hex() for p in path],
                    }
                    proved += 1
                _line(fh, obj)
    return ExportSummary(out, size, len(cps), proved, levels.root(size).hex())
