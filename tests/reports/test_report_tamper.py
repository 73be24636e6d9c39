"""Items 9 and 10 through the subject-access report: a rewritten log is never shown as
verified, and the standalone verifier checks the report's JSON as the subject gets it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from reports_fixtures import AT, KEY, build

from idgraph.audit import AuditEntry, AuditIntegrityError
from idgraph.audit.keys import public_hex
from idgraph.audit.log import GENESIS_CHAIN
from idgraph.audit.reports import subject_report, to_json
from idgraph.audit.reports.common import disclosure_of, load_entries, prove, to_jsonable
from idgraph.store import Store

TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_audit.py"


def forge_purpose(store: Store, seq: int, purpose: str) -> None:
    """Rewrite entry ``seq``'s purpose; recompute leaf hashes, the chain and the head."""
    rows = store.fetchall("SELECT seq, entry, chain FROM audit_log ORDER BY seq")
    data = json.loads(rows[seq][1])
    data["purpose"] = purpose
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    chain = bytes.fromhex(rows[seq - 1][2]) if seq else GENESIS_CHAIN
    for i, entry, _ in rows[seq:]:
        entry = text if i == seq else entry
        leaf = hashlib.sha256(b"\x00" + entry.encode()).digest()
        chain = hashlib.sha256(chain + leaf).digest()
        store.execute(
            "UPDATE audit_log SET entry = ?, leaf_hash = ?, chain = ? WHERE seq = ?",
            [entry, leaf.hex(), chain.hex(), i],
        )
    store.execute("UPDATE audit_head SET chain = ? WHERE id = 0", [chain.hex()])


def test_forged_purpose_is_not_signed_into_a_new_checkpoint() -> None:
    """The reported attack: the report needs a new checkpoint over the forged tree."""
    store, log = build()
    log.checkpoint()
    log.append(
        AuditEntry(
            time=AT,
            principal="inv1",
            action="profile.read",
            outcome="ok",
            identity_ids=("P-ALICE",),
            purpose="criminal_investigation",
        )
    )
    forge_purpose(store, 0, "subject_access")
    with pytest.raises(AuditIntegrityError, match="refusing to sign"):
        subject_report(store, "P-ALICE", log=log, actor="rec", at=AT)


def test_forged_purpose_under_an_existing_checkpoint_refuses_the_report() -> None:
    """The report signs a checkpoint over its own report.subject entry (which binds the
    disclosures it lists), so a rewrite under an existing checkpoint stops it too."""
    store, log = build()
    log.checkpoint()
    forge_purpose(store, 0, "subject_access")
    with pytest.raises(AuditIntegrityError, match="refusing to sign"):
        subject_report(store, "P-ALICE", log=log, actor="rec", at=AT)


# -- the standalone verifier reads the subject's copy --------------------------------
Edit = Callable[[dict[str, Any], dict[str, Any]], None]


def _disclosure(report: dict[str, Any], index: int) -> dict[str, Any]:
    return next(d for d in report["disclosures"] if d["index"] == index)


def _purpose(r: dict[str, Any], _: dict[str, Any]) -> None:
    _disclosure(r, 0)["purpose"] = "subject_access"


def _path(r: dict[str, Any], _: dict[str, Any]) -> None:
    _disclosure(r, 2)["proof"]["path"][0] = "11" * 32


def _entry(r: dict[str, Any], _: dict[str, Any]) -> None:
    p = _disclosure(r, 0)["proof"]
    p["entry"] = p["entry"].replace("criminal_investigation", "subject_access")


def _unsigned(r: dict[str, Any], _: dict[str, Any]) -> None:
    r["checkpoint"] = None


def _root(r: dict[str, Any], _: dict[str, Any]) -> None:
    r["checkpoint"]["root"] = "22" * 32


# The operator hides a read from the person: every proof left in the copy still holds.
def _delete(r: dict[str, Any], _: dict[str, Any]) -> None:
    r["disclosures"] = [d for d in r["disclosures"] if d["index"] != 2]


def _withheld(r: dict[str, Any], _: dict[str, Any]) -> None:
    r["withheld"] = 0


def _swap(r: dict[str, Any], bob: dict[str, Any]) -> None:
    """Another person's disclosure, genuinely proven in the same checkpoint, for one of hers."""
    r["disclosures"] = [bob if d["index"] == 2 else d for d in r["disclosures"]]


def _drop_report_entry(r: dict[str, Any], _: dict[str, Any]) -> None:
    _delete(r, _)
    r["report_proof"] = None


def _alter_report_entry(r: dict[str, Any], _: dict[str, Any]) -> None:
    _delete(r, _)
    p = r["report_proof"]
    p["entry"] = p["entry"].replace('"shown":[0,2,6,', '"shown":[0,6,')


CASES: list[tuple[Edit | None, int, str]] = [
    (None, 0, "OK: 5 disclosures proven in checkpoint 0"),
    (_purpose, 1, "disclosure 0: purpose 'subject_access' is not what entry 0 says"),
    (_path, 1, "entry 2: inclusion proof fails"),
    (_entry, 1, "entry 0: leaf hash does not match"),
    (_unsigned, 1, "nothing is signed"),
    (_root, 1, "bad signature"),
    (_delete, 1, "not the ones report entry 18 names (missing from the report: 2;"),
    (_withheld, 1, "withheld count 0 is not what report entry 18 says (1)"),
    (_swap, 1, "(missing from the report: 2; not named by the entry: 4)"),
    (_drop_report_entry, 1, "no report entry"),
    (_alter_report_entry, 1, "entry 18: leaf hash does not match"),
]


@pytest.mark.parametrize(("edit", "code", "text"), CASES)
def test_verifier_reads_the_subject_report_json(
    tmp_path: Path, edit: Edit | None, code: int, text: str
) -> None:
    store, log = build()
    report = json.loads(to_json(subject_report(store, "P-ALICE", log=log, actor="rec", at=AT)))
    assert report["withheld"] == 1 and report["report_entry"] == 18
    cp = log.latest_checkpoint()
    assert cp is not None and cp.size == report["checkpoint"]["size"]
    # P-BOB's read by inv1 (entry 4), proven in the checkpoint of her report
    (bob_read,) = [i for i in load_entries(store) if i.index == 4]
    proof = prove(log, 4, cp, show_entry=True)
    bob = to_jsonable(replace(disclosure_of(bob_read, {}), proof=proof))
    if edit is not None:
        edit(report, bob)
    path = tmp_path / "alice.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    done = subprocess.run(
        [sys.executable, str(TOOL), str(path), "--pubkey", public_hex(KEY.public_key())],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == code, done.stdout + done.stderr
    assert text in done.stdout


def test_a_kept_report_holds_a_later_export_to_its_checkpoint(tmp_path: Path) -> None:
    """The subject keeps the report; a later rewrite re-signed by the operator fails."""
    from idgraph.audit.export import export_log

    store, log = build()
    kept = tmp_path / "alice.json"
    kept.write_text(to_json(subject_report(store, "P-ALICE", log=log, actor="rec", at=AT)))
    pub = public_hex(KEY.public_key())
    for forged, code in ((False, 0), (True, 1)):
        if forged:
            forge_purpose(store, 0, "subject_access")
            store.execute("DELETE FROM audit_checkpoints")  # the operator re-signs
        out = tmp_path / "export.jsonl"
        export_log(log.__class__(store, key=KEY), out)
        done = subprocess.run(
            [sys.executable, str(TOOL), str(out), "--pubkey", pub, "--checkpoint", str(kept)],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert done.returncode == code, done.stdout + done.stderr
    assert "rewrite: do not hash to kept checkpoint alice.json" in done.stdout
