"""The ``idgraph audit`` commands, each of which logs its own read of the log."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from idgraph.audit import AuditEntry, AuditLog, record
from idgraph.cli import app
from idgraph.policy.registry import Registry
from idgraph.policy.users import add_user
from idgraph.store import open_store

runner = CliRunner()


USERS = [("root", "admin"), ("auditor", "overseer"), ("bob", "investigator")]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Six entries after the users (an admin, an overseer, an investigator) were added."""
    with open_store(tmp_path / "idgraph.duckdb") as store:
        for name, role in USERS:
            add_user(store, name, role, "agency", actor=None if name == "root" else "root")
        Registry(store)  # records the deployment's policy set once (policy.change)
        base = AuditLog(store).size()
        for i in range(6):
            record(
                store, AuditEntry(principal="p", action="search", outcome="permit", detail={"i": i})
            )
    (tmp_path / "base").write_text(str(base))
    return tmp_path


def at(data_dir: Path, i: int) -> str:
    """The index of the fixture's ``i``-th search entry."""
    return str(int((data_dir / "base").read_text()) + i)


def invoke(data_dir: Path, *args: str, user: str = "auditor") -> tuple[int, str]:
    result = runner.invoke(
        app, ["--data-dir", str(data_dir), "audit", *args], env={"IDGRAPH_USER": user}
    )
    return result.exit_code, result.output


def actions(data_dir: Path) -> list[tuple[str, str]]:
    with open_store(data_dir / "idgraph.duckdb") as store:
        return [(e.entry.principal, e.entry.action) for e in AuditLog(store).entries()]


CASES = [
    # (args, exit code, text in output, (principal, action) appended last)
    (["verify"], 0, "OK: ", ("auditor", "audit.verify")),
    (["verify", "--as", "bob", "--json"], 0, '"ok": true', ("bob", "audit.verify")),
    (["checkpoint", "--as", "root"], 0, '"format": "signed-note"', ("root", "audit.checkpoint")),
    (["prove", "2"], 0, "verified", ("auditor", "audit.read")),
    # the attempt is a read of the log too: logged (outcome error) like every act
    (["prove", "99"], 1, "no entry 99", ("auditor", "audit.read")),
]


@pytest.mark.parametrize(("args", "code", "text", "last"), CASES)
def test_commands(
    data_dir: Path, args: list[str], code: int, text: str, last: tuple[str, str]
) -> None:
    got, output = invoke(data_dir, *args)
    assert got == code, output
    assert text in output
    assert actions(data_dir)[-1] == last


def test_prove_json_and_export_round_trip(data_dir: Path) -> None:
    code, output = invoke(data_dir, "prove", at(data_dir, 3), "--json")
    assert code == 0
    proof = json.loads(output)
    assert proof["index"] == int(at(data_dir, 3)) and proof["verified"] is True
    out = data_dir / "export.jsonl"
    code, output = invoke(data_dir, "export", "--out", str(out))
    assert code == 0, output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    entries = [o for o in lines if o["type"] == "entry"]
    assert json.loads(entries[-1]["entry"])["action"] == "audit.read"  # its own read
    assert all("proof" in o for o in entries)


def test_verify_fails_on_tampering_and_still_logs_the_attempt(data_dir: Path) -> None:
    assert invoke(data_dir, "checkpoint", user="root")[0] == 0
    seq = at(data_dir, 4)
    with open_store(data_dir / "idgraph.duckdb") as store:
        store.execute(
            "UPDATE audit_log SET entry = replace(entry, 'permit', 'deny') WHERE seq = ?", [seq]
        )
    code, output = invoke(data_dir, "verify")
    assert code == 1
    assert f"FAIL: entry {seq}" in output
    assert actions(data_dir)[-1] == ("auditor", "audit.verify")


def test_pubkey_pem_and_hex(data_dir: Path) -> None:
    code, pem = invoke(data_dir, "pubkey")
    assert code == 0 and pem.startswith("-----BEGIN PUBLIC KEY-----")
    code, hexkey = invoke(data_dir, "pubkey", "--hex")
    assert code == 0 and len(hexkey.strip()) == 64
    out = data_dir / "pub.pem"
    assert invoke(data_dir, "pubkey", "--out", str(out))[0] == 0
    assert out.read_text().strip() == pem.strip()


TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_audit.py"
PROOF_CASES = [
    # (edit applied to the proof JSON text, tool exit code, text in its output)
    (lambda text: text, 0, "is in checkpoint"),
    (lambda text: text.replace('\\"p\\"', '\\"intruder\\"'), 1, ": leaf hash"),
]


@pytest.mark.parametrize(("edit", "code", "text"), PROOF_CASES)
def test_prove_json_checks_with_the_standalone_tool(
    data_dir: Path, edit: Callable[[str], str], code: int, text: str
) -> None:
    got, output = invoke(data_dir, "prove", at(data_dir, 1), "--json")
    assert got == 0
    proof = data_dir / "proof.json"
    proof.write_text(edit(output))
    pem = data_dir / "pub.pem"
    assert invoke(data_dir, "pubkey", "--out", str(pem))[0] == 0
    done = subprocess.run(
        [sys.executable, str(TOOL), str(proof), "--pubkey", str(pem)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == code, done.stdout + done.stderr
    assert text in done.stdout
