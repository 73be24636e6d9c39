"""Issue 11 item 8 through the CLI, as the attack: registry listings need --as, are
audited, have --json and keep ids whole at 80 columns; a denied read says which rule
denied each source."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from idgraph.cases import open_case
from idgraph.cli import app
from idgraph.policy.notices import create_notices
from idgraph.policy.users import add_user
from idgraph.store import Store, open_store

runner = CliRunner()
CASE = "2026-CR-000117-HOMICIDE-ALBANY-COUNTY-TASK-FORCE"
LEGAL = "LP-7f3e9a2c41d8b6e0aa51"
IDENTITY = "ID-5b0c7e2a9f4d4e18b3a6c2d9e1f07a3b"


def run(data: Path, *args: str) -> tuple[int, str]:
    res = runner.invoke(app, ["--data-dir", str(data), *args], env={"COLUMNS": "80"})
    return res.exit_code, res.output


def _raw_graph(store: Store) -> None:
    """A linked pair written straight into the graph tables (made by the migrations)."""
    store.execute("INSERT INTO link_runs (run_id, started_at, finished_at, threshold) "
                  "VALUES ('r1', TIMESTAMP '2026-01-02', TIMESTAMP '2026-01-02', 0.9)")
    for sid, kind in [("court", "court"), ("jail", "booking")]:
        store.execute("INSERT INTO sources (source_id, title, kind, jurisdiction, regimes) "
                      "VALUES (?, ?, ?, 'US-NY', [])", [sid, sid, kind])
        store.execute(
            "INSERT INTO records (record_id, source_id, source_record_id, version, is_current, "
            "batch_id, raw, row_hash, ingested_at, full_name) VALUES "
            "(?, ?, '1', 1, true, 'b1', '{}', ?, TIMESTAMP '2026-01-01', 'ANA LOPEZ')",
            [f"{sid}/1", sid, f"h-{sid}"],
        )
        store.execute("INSERT INTO identity_members (identity_id, record_id) VALUES (?, ?)",
                      [IDENTITY, f"{sid}/1"])
    store.execute("INSERT INTO link_edges (run_id, record_id_l, record_id_r, "
                  "match_probability, match_weight, accepted, evidence) VALUES "
                  "('r1', 'court/1', 'jail/1', 0.99, 10.0, true, '{}')")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    with open_store(d / "idgraph.duckdb") as store:
        add_user(store, "root", "admin", "ops", org_type="government")
        add_user(store, "gov", "investigator", "pd", org_type="government", actor="root")
        add_user(store, "pi", "investigator", "acme", org_type="private", actor="root")
        add_user(store, "rec", "records_officer", "pd", org_type="government", actor="root")
        add_user(store, "ovs", "overseer", "oversight", org_type="government", actor="root")
        open_case(store, CASE, title="task force", kind="criminal", actor="gov")
        open_case(store, "ACME-1", title="other org", kind="civil", actor="pi")
        store.execute(
            "INSERT INTO legal_process (legal_id, type, number, level, issuer, issued, "
            "scope_identities, case_id, registered_by) VALUES (?, 'court_order', 'CO-1', "
            "'state', 'court', DATE '2026-01-01', ?, ?, 'gov')",
            [LEGAL, [IDENTITY], CASE],
        )
        create_notices(store, identity_id=IDENTITY, org="pd", principal="gov", case_id=CASE,
                       duties=[("court", "county.notice", "notice:3d")], at=datetime(2026, 1, 5))
        _raw_graph(store)
    return d


def _audit(data: Path) -> list[dict[str, object]]:
    with open_store(data / "idgraph.duckdb") as store:
        rows = store.fetchall("SELECT entry FROM audit_log ORDER BY seq")
    return [json.loads(r[0]) for r in rows]


LISTS = [
    (["users", "list"], "root", "users.list", ["gov", "pi", "ovs"]),
    (["cases", "list"], "gov", "cases.list", [CASE]),
    (["legal", "list"], "gov", "legal.list", [LEGAL]),
    (["notices"], "rec", "notices.list", [IDENTITY]),
]


@pytest.mark.parametrize(("cmd", "actor", "act", "ids"), LISTS)
def test_listing_needs_as_is_audited_and_keeps_ids_whole(
    data: Path, cmd: list[str], actor: str, act: str, ids: list[str]
) -> None:
    code, _ = run(data, *cmd)
    assert code != 0  # no anonymous reading
    code, out = run(data, *cmd, "--as", "nobody")
    assert code == 3
    code, out = run(data, *cmd, "--as", actor)
    assert code == 0, out
    lines = out.splitlines()
    for i in ids:  # each id whole, on one line, at 80 columns
        assert any(i in line for line in lines), (i, out)
    code, out = run(data, *cmd, "--as", actor, "--json")
    assert code == 0
    rows = json.loads(out)
    assert all(any(i in json.dumps(r) for r in rows) for i in ids)
    entries = [e for e in _audit(data) if e["action"] == act]
    assert [e["outcome"] for e in entries] == ["deny", "ok", "ok"]
    assert all(e["detail"]["shown"] for e in entries[1:])


def test_an_investigator_sees_only_their_organisations_cases(data: Path) -> None:
    code, out = run(data, "cases", "list", "--as", "pi", "--json")
    assert code == 0 and [r["case"] for r in json.loads(out)] == ["ACME-1"]
    code, out = run(data, "legal", "list", "--as", "pi", "--json")
    assert code == 0 and json.loads(out) == []
    code, out = run(data, "cases", "list", "--as", "ovs", "--json")
    assert sorted(r["case"] for r in json.loads(out)) == sorted([CASE, "ACME-1"])


def test_denied_profile_prints_which_rule_denied_each_source(data: Path) -> None:
    folder = data / "policies"
    folder.mkdir()
    (folder / "county.cedar").write_text(
        '@id("county.no_court")\nforbid (principal, action in Action::"read", resource)\n'
        'when { resource.kind == "court" };\n'
        '@id("county.no_jail")\nforbid (principal, action in Action::"read", resource)\n'
        'when { resource.kind == "booking" };\n'
    )
    code, out = run(data, "profile", IDENTITY, "--as", "gov", "--purpose",
                    "criminal_investigation", "--case", CASE)
    assert code == 3
    lines = out.splitlines()
    for sid, rule in [("court", "county.no_court"), ("jail", "county.no_jail")]:
        assert any(sid in line and rule in line for line in lines), out
