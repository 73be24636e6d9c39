"""Exports check out with the standalone tools/verify_audit.py, and forgeries do not."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from idgraph.audit import AuditEntry, AuditLog
from idgraph.audit.export import export_log
from idgraph.audit.keys import public_pem
from idgraph.store import open_store

TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_audit.py"
T0 = datetime(2030, 1, 1, tzinfo=UTC)


def _entries(start: int, stop: int) -> list[AuditEntry]:
    return [
        AuditEntry(
            time=T0 + timedelta(seconds=i),
            principal=f"u{i}",
            action="search",
            outcome="permit",
            detail={"i": i},
        )
        for i in range(start, stop)
    ]


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, Path]:
    """An export of 13 entries over three checkpoints (sizes 4, 9, 13) and the key PEM."""
    log = AuditLog(open_store(None), tmp_path)
    for start, stop in ((0, 4), (4, 9)):
        log.append_many(_entries(start, stop))
        log.checkpoint()
    log.append_many(_entries(9, 13))  # export signs the last checkpoint itself
    out = tmp_path / "audit.jsonl"
    summary = export_log(log, out)
    assert (summary.entries, summary.checkpoints, summary.proofs) == (13, 3, 13)
    pem = tmp_path / "pub.pem"
    pem.write_text(public_pem(log.public_key))
    return out, pem


def run_tool(export: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), str(export), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_export_verifies_with_the_standalone_tool(exported: tuple[Path, Path]) -> None:
    out, pem = exported
    done = run_tool(out, "--pubkey", str(pem))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("OK: 13 entries, 3 checkpoints")


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _entry_line(lines: list[dict[str, Any]], index: int) -> dict[str, Any]:
    return next(o for o in lines if o["type"] == "entry" and o["index"] == index)


def forge_entry(lines: list[dict[str, Any]]) -> None:
    """Change entry 5 and fix its leaf hash: only the inclusion proof can tell."""
    import hashlib

    o = _entry_line(lines, 5)
    o["entry"] = o["entry"].replace('"u5"', '"intruder"')
    o["leaf_hash"] = hashlib.sha256(b"\x00" + o["entry"].encode()).hexdigest()


def alter_entry(lines: list[dict[str, Any]]) -> None:
    o = _entry_line(lines, 2)
    o["entry"] = o["entry"].replace('"i":2', '"i":7')


def drop_entry(lines: list[dict[str, Any]]) -> None:
    lines.remove(_entry_line(lines, 6))


def bad_signature(lines: list[dict[str, Any]]) -> None:
    cp = next(o for o in lines if o["type"] == "checkpoint" and o["id"] == 1)
    cp["root"] = "00" * 32


def bad_proof(lines: list[dict[str, Any]]) -> None:
    _entry_line(lines, 11)["proof"]["path"][0] = "11" * 32


def bad_consistency(lines: list[dict[str, Any]]) -> None:
    next(o for o in lines if o["type"] == "consistency")["path"][0] = "22" * 32


CASES: list[tuple[Callable[[list[dict[str, Any]]], None], str]] = [
    (forge_entry, "entry 5: inclusion proof fails"),
    (alter_entry, "entry 2: leaf hash"),
    (drop_entry, "entry 6: missing"),
    (bad_signature, "checkpoint 1: bad signature"),
    (bad_proof, "entry 11: inclusion proof fails"),
    (bad_consistency, "consistency proof fails"),
]


@pytest.mark.parametrize(("mutate", "message"), CASES)
def test_tool_names_the_first_failure(
    exported: tuple[Path, Path], mutate: Callable[[list[dict[str, Any]]], None], message: str
) -> None:
    out, pem = exported
    lines = _lines(out)
    mutate(lines)
    out.write_text("".join(json.dumps(o) + "\n" for o in lines))
    done = run_tool(out, "--pubkey", str(pem))
    assert done.returncode == 1
    assert done.stdout.startswith("FAIL:") and message in done.stdout, done.stdout


def test_tool_rejects_a_different_key(exported: tuple[Path, Path], tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = tmp_path / "other.pem"
    other.write_text(public_pem(Ed25519PrivateKey.generate().public_key()))
    done = run_tool(exported[0], "--pubkey", str(other))
    assert done.returncode == 1 and "checkpoint 0: bad signature" in done.stdout
