"""The access CLI end to end on a temporary data dir (synthetic data)."""

from __future__ import annotations

import json
from pathlib import Path

from policy_fixtures import LINK_DDL, add_record, add_source, link
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.store import open_store

CANARY = "QUIXOTL ZANZIBARIUS"
runner = CliRunner()


def run(data: Path, *args: str) -> tuple[int, str]:
    res = runner.invoke(app, ["--data-dir", str(data), *args])
    return res.exit_code, res.output


def _graph(data: Path) -> None:
    with open_store(data / "idgraph.duckdb") as store:
        for stmt in LINK_DDL:
            store.execute(stmt)
        add_source(store, "court", "court", "US-NY", [], 3650)
        add_source(store, "jail", "booking", "US-NY", [], 3650)
        add_source(store, "canary", "credit_header", "US", ["GLBA"], 30)
        a = add_record(store, "court", "1", full_name="ANA LOPEZ", case_number="CR-7")
        b = add_record(store, "jail", "1", full_name="ANA LOPEZ", facility="ALBANY COUNTY")
        c = add_record(store, "canary", "1", full_name=CANARY, phone="+15559990123")
        link(store, "I", [a, b, c], [(a, c), (c, b)])


def test_cli_flow(tmp_path: Path) -> None:
    d = tmp_path
    assert run(d, "users", "add", "root", "--role", "admin", "--org", "ops")[0] == 0
    code, _ = run(
        d,
        "users",
        "add",
        "gov",
        "--role",
        "investigator",
        "--org",
        "ice",
        "--org-type",
        "government",
        "--as",
        "root",
    )
    assert code == 0
    assert "investigator" in run(d, "users", "list", "--as", "root")[1]
    assert run(d, "cases", "open", "C1", "--title", "t", "--as", "gov")[0] == 0
    code, out = run(
        d,
        "legal",
        "add",
        "--type",
        "court_order",
        "--number",
        "CO-1",
        "--issued",
        "2026-01-01",
        "--court",
        "Albany County Court",
        "--judge",
        "J. Doe",
        "--judge-appointment",
        "state",
        "--level",
        "state",
        "--scope-identities",
        "I",
        "--case",
        "C1",
        "--as",
        "gov",
    )
    assert code == 0 and out.strip().startswith("LP-")
    _graph(d)
    base = ["profile", "I", "--as", "gov", "--purpose", "criminal_investigation", "--case", "C1"]
    code, out = run(d, *base)
    assert code == 0 and "ANA LOPEZ" in out and CANARY not in out and "glba.exception" in out
    code, out = run(d, *base, "--json")
    prof = json.loads(out)
    assert len(prof["records"]) == 1 and CANARY not in out
    code, out = run(d, *base, "--claims", "GLBA-e8", "--json")
    assert CANARY in out
    assert run(d, "cases", "close", "C1", "--as", "gov")[0] == 0
    code, out = run(d, *base)
    assert code == 3 and "base.case_open" in out
    assert run(d, "users", "disable", "gov", "--as", "root")[0] == 0
    code, out = run(d, "retention", "apply", "--now", "2026-06-01")
    assert code == 0 and "1 removed" in out
    code, out = run(d, "notices", "--overdue", "--as", "root")
    assert code == 0
