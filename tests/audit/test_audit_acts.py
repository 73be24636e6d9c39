"""Item 12: ``--as`` on the audit commands is decided by the policy layer.

An unknown or unauthorised user gets nothing (no export file, no proof, no entries on
screen) and the refusal itself is logged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from idgraph.audit import AuditEntry, AuditLog
from idgraph.cli import app
from idgraph.policy.registry import Registry
from idgraph.policy.users import add_user
from idgraph.store import open_store

runner = CliRunner()
SECRET = "withheld-from-subject-copy"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    with open_store(tmp_path / "idgraph.duckdb") as store:
        add_user(store, "root", "admin", "agency")
        for name, role in (("auditor", "overseer"), ("bob", "investigator")):
            add_user(store, name, role, "agency", actor="root")
        Registry(store)
        AuditLog(store).append(
            AuditEntry(principal="inv2", action="profile.read", outcome="ok", case_id=SECRET)
        )
    return tmp_path


CASES = [
    # (command, user, allowed)
    (["export", "--out", "{out}"], "mallory", False),
    (["export", "--out", "{out}"], "bob", False),
    (["export", "--out", "{out}"], "auditor", True),
    (["prove", "0", "--json"], "mallory", False),
    (["prove", "0", "--json"], "bob", False),
    (["prove", "0", "--json"], "auditor", True),
    (["verify"], "mallory", False),
    (["verify"], "bob", True),
    (["checkpoint"], "mallory", False),
    (["checkpoint"], "auditor", False),
    (["checkpoint"], "root", True),
    (["rotate-key"], "auditor", False),
]
ACT = {
    "export": "audit.read",
    "prove": "audit.read",
    "verify": "audit.verify",
    "checkpoint": "audit.checkpoint",
    "rotate-key": "audit.keys",
}


@pytest.mark.parametrize(("command", "user", "allowed"), CASES)
def test_audit_acts_are_authorised(
    data_dir: Path, command: list[str], user: str, allowed: bool
) -> None:
    out = data_dir / "export.jsonl"
    args = [a.format(out=out) for a in command]
    res = runner.invoke(app, ["--data-dir", str(data_dir), "audit", *args, "--as", user])
    with open_store(data_dir / "idgraph.duckdb") as store:
        last = AuditLog(store).entries()[-1].entry
    assert (last.principal, last.action) == (user, ACT[command[0]])
    if allowed:
        assert res.exit_code == 0, res.output
        assert last.outcome in ("ok", "fail")
        return
    assert res.exit_code == 3  # DENIED: every refusal by the policy layer
    assert "may not" in res.output
    assert SECRET not in res.output and not out.exists()
    assert last.outcome == "deny" and last.rules


def test_as_is_required(data_dir: Path) -> None:
    res = runner.invoke(
        app,
        ["--data-dir", str(data_dir), "audit", "export", "--out", "x"],
        env={"IDGRAPH_USER": ""},
    )
    assert res.exit_code == 2 and "--as" in res.output


def test_the_read_is_in_the_export(data_dir: Path) -> None:
    out = data_dir / "e.jsonl"
    res = runner.invoke(
        app,
        ["--data-dir", str(data_dir), "audit", "export", "--out", str(out)],
        env={"IDGRAPH_USER": "auditor"},
    )
    assert res.exit_code == 0, res.output
    entries = [json.loads(x) for x in out.read_text().splitlines() if '"type":"entry"' in x]
    read = json.loads(entries[-1]["entry"])
    assert (read["principal"], read["action"], read["role"]) == (
        "auditor",
        "audit.read",
        "overseer",
    )
    assert read["detail"]["policy_set"] and read["rules"]
