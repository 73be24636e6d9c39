"""Item 10: tools/verify_audit.py holds an export to checkpoints a third party kept.

Every attack runs the tool as a subprocess, as an outside party would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from idgraph.audit import AuditEntry, AuditLog
from idgraph.audit.checkpoint import checkpoint_message
from idgraph.audit.export import export_log
from idgraph.audit.keys import public_hex
from idgraph.audit.witness import Witness
from idgraph.store import open_store

TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_audit.py"
KEY = Ed25519PrivateKey.generate()
PUB = public_hex(KEY.public_key())
T0 = datetime(2030, 1, 1, tzinfo=UTC)


def _entry(i: int, who: str = "inv") -> AuditEntry:
    return AuditEntry(
        time=T0 + timedelta(seconds=i),
        principal=f"{who}{i}",
        action="profile.read",
        outcome="ok",
        purpose="criminal_investigation",
    )


def make(
    folder: Path, n: int, sizes: tuple[int, ...], forge: int | None = None, legacy: int = 0
) -> AuditLog:
    """A log of ``n`` entries signed at ``sizes`` with KEY (entry ``forge`` rewritten);
    a legacy (pre-note) checkpoint at ``legacy`` entries, as an old store holds."""
    log = AuditLog(open_store(None), folder, key=KEY)
    done = 0
    for size in sorted({*sizes, n}):
        log.append_many([_entry(i, "intruder" if i == forge else "inv") for i in range(done, size)])
        done = size
        if size == legacy:
            root, when = log.root(size), (T0 + timedelta(seconds=size)).isoformat()
            sig = KEY.sign(checkpoint_message(size, root, when))
            log.store.execute(
                "INSERT INTO audit_checkpoints (id, size, root, time, signature, pubkey) "
                "VALUES (0, ?, ?, ?, ?, ?)",
                [size, root.hex(), when, sig.hex(), PUB],
            )
        elif size in sizes:
            log.checkpoint()
    return log


def tool(path: Path, *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, str(TOOL), str(path), "--pubkey", PUB, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def kept(tmp_path: Path) -> tuple[Path, Path]:
    """What a third party kept: the legacy JSON checkpoint (size 4) and the signed note
    (size 9) an honest log published."""
    log = make(tmp_path / "honest", 9, (4, 9), legacy=4)
    (old, new) = log.checkpoints()
    legacy = tmp_path / "kept-0.json"
    legacy.write_text(json.dumps({k: v for k, v in old.to_json().items() if k != "note"}))
    note = tmp_path / "honest" / "audit-publication" / "checkpoints" / "00000001.txt"
    assert new.note is not None and note.read_text() == new.note
    return legacy, note


def _export(log: AuditLog, path: Path, *, checkpoint: bool = True) -> Path:
    export_log(log, path, checkpoint=checkpoint)
    return path


SCENARIOS: list[tuple[str, Callable[[Path], AuditLog], bool, int, str]] = [
    # (name, the log the operator exports, sign before export, exit code, output)
    ("honest and grown", lambda d: make(d, 12, (4, 9), legacy=4), True, 0, "2 kept checkpoints"),
    ("rollback", lambda d: make(d, 7, (4,)), True, 1, "rollback: it signed 9 entries"),
    ("rewrite re-signed", lambda d: make(d, 12, (4, 9), forge=2), True, 1, "rewrite: do not hash"),
    ("rewrite after 4", lambda d: make(d, 12, (9,), forge=6), True, 1, "kept checkpoint 00000001"),
    ("nothing signed", lambda d: make(d, 12, ()), False, 1, "nothing is signed"),
    (
        "unsigned tail",
        lambda d: make(d, 12, (4, 9), legacy=4),
        False,
        1,
        "entries 9..11 are unsigned",
    ),
]


@pytest.mark.parametrize(
    ("name", "operator", "sign", "code", "text"), SCENARIOS, ids=[s[0] for s in SCENARIOS]
)
def test_export_against_kept_checkpoints(
    tmp_path: Path,
    kept: tuple[Path, Path],
    name: str,
    operator: Callable[[Path], AuditLog],
    sign: bool,
    code: int,
    text: str,
) -> None:
    out = _export(operator(tmp_path / "op"), tmp_path / "export.jsonl", checkpoint=sign)
    got, output = tool(out, "--checkpoint", str(kept[0]), "--checkpoint", str(kept[1]))
    assert got == code, output
    assert text in output


def test_unsigned_tail_can_be_allowed_and_is_reported(tmp_path: Path) -> None:
    out = _export(make(tmp_path, 12, (4, 9)), tmp_path / "e.jsonl", checkpoint=False)
    code, output = tool(out, "--allow-unsigned-tail")
    assert code == 0 and "entries 9..11 are unsigned" in output


def test_witness_key_requires_a_cosignature(tmp_path: Path) -> None:
    log = make(tmp_path, 12, (4, 9, 12))
    w = Witness.init(tmp_path / "witness", "witness.example/w1", [KEY.public_key()])
    out = _export(log, tmp_path / "e.jsonl")
    code, output = tool(out, "--witness-key", w.vkey())
    assert code == 1 and "no checkpoint is cosigned by witness witness.example/w1" in output
    cp = log.checkpoints()[1]  # the witness saw size 9 only
    assert cp.note is not None
    log.add_cosignature(cp.id, w.name, w.cosign(cp.note, ()).line())
    out = _export(log, tmp_path / "e.jsonl")
    code, output = tool(out, "--witness-key", w.vkey())
    assert code == 1 and "entries 9..11 are not cosigned by witness" in output
    last = log.checkpoints()[2]
    assert last.note is not None
    proof = log.consistency(9, 12).path
    log.add_cosignature(last.id, w.name, w.cosign(last.note, proof).line())
    code, output = tool(_export(log, tmp_path / "e.jsonl"), "--witness-key", w.vkey())
    assert code == 0, output
    assert (
        tmp_path / "audit-publication" / "checkpoints" / "00000002.witness.example_w1.txt"
    ).exists()
