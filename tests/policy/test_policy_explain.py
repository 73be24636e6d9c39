"""Explanations are reads: decided per source, minimised, audited (end to end)."""

from __future__ import annotations

import json

import pytest

from idgraph.cases import open_case
from idgraph.link import resolve
from idgraph.policy import AccessDenied
from idgraph.policy.explain import WITHHELD, read_explanation
from idgraph.policy.users import add_user
from idgraph.schema import Query
from idgraph.settings import Settings
from idgraph.sources import ingest_paths
from idgraph.store import Store, open_store
from idgraph.synth import tiny

CI = "criminal_investigation"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Store:
    root = tmp_path_factory.mktemp("explain")
    src = tiny(root / "synth")
    settings = Settings(data_dir=root / "data", ingest_workers=0)
    store = open_store(settings.db_path)
    ingest_paths(store, [src], settings)
    resolve(store, settings)
    add_user(store, "root", "admin", "ops", org_type="government")
    add_user(store, "gov", "investigator", "pd", org_type="government", actor="root")
    open_case(store, "C1", title="case", kind="criminal", actor="gov")
    open_case(store, "R1", title="study", kind="research", actor="gov")
    open_case(store, "IM1", title="removal", kind="immigration", actor="gov")
    return store


def _pair(store: Store, source: str, column: str) -> tuple[str, str, str]:
    row = store.fetchone(f"""SELECT min(record_id), max(record_id), {column} FROM records
        WHERE is_current AND source_id = ? AND {column} IS NOT NULL
        GROUP BY {column} HAVING count(*) > 1 ORDER BY {column} LIMIT 1""", [source])
    assert row is not None
    return str(row[0]), str(row[1]), str(row[2])


def test_permitted_purpose_sees_the_birth_date_comparison(world: Store) -> None:
    a, b, dob = _pair(world, "ny_dmv", "dob")
    q = Query(principal="gov", purpose=CI, claims=("DPPA-b1",), case_id="C1")
    out = read_explanation(world, q, a, b)
    feat = {f["comparison"]: f for f in out["features"]}
    assert feat["dob"]["level"] != "withheld" and feat["dob"]["weight"] > 0
    assert dob.replace("-", "") in json.dumps(out).replace("-", "")


def test_research_purpose_sees_no_names_or_dates(world: Store) -> None:
    a, b, dob = _pair(world, "ny_dmv", "dob")
    q = Query(principal="gov", purpose="research", claims=("DPPA-b5",), case_id="R1")
    out = read_explanation(world, q, a, b)
    feat = {f["comparison"]: f for f in out["features"]}
    assert feat["dob"]["detail"] == feat["last_name"]["detail"] == WITHHELD
    assert dob.replace("-", "") not in json.dumps(out).replace("-", "")


def test_identifying_only_purpose_never_sees_ssn_or_dob(world: Store) -> None:
    a, b, ssn = _pair(world, "credit_header", "ssn")
    q = Query(principal="gov", purpose=CI, claims=("FCRA-1681f",), case_id="C1")
    out = read_explanation(world, q, a, b)
    feat = {f["comparison"]: f for f in out["features"]}
    assert feat["ssn"]["detail"] == WITHHELD and feat["ssn"]["weight"] is None
    assert feat["dob"]["detail"] == WITHHELD
    assert ssn not in json.dumps(out)
    assert feat["last_name"]["level"] != "withheld"


def test_denied_source_is_refused_and_audited(world: Store) -> None:
    a, b, _ = _pair(world, "ca_dmv", "dob")
    q = Query(principal="gov", purpose="civil_immigration_enforcement",
              claims=("DPPA-b1",), case_id="IM1")
    before = world.scalar("SELECT count(*) FROM audit_log")
    with pytest.raises(AccessDenied):
        read_explanation(world, q, a, b)
    entries = [json.loads(r[0]) for r in world.fetchall(
        "SELECT entry FROM audit_log ORDER BY seq")][before:]
    assert any(e["action"] == "explain.read" and e["outcome"] == "deny" for e in entries)
    assert not any(a in e["record_ids"] for e in entries)


def test_unknown_record_is_a_lookup_error(world: Store) -> None:
    # ... to a reader the source is permitted to (GLBA-e8: a government criminal case);
    # to anyone else a missing record is denied like an existing one (test_redteam_gate).
    q = Query(principal="gov", purpose=CI, claims=("DPPA-b1", "GLBA-e8"), case_id="C1")
    with pytest.raises(LookupError):
        read_explanation(world, q, "credit_header/none", "credit_header/none2")



def test_cli_explain_is_policy_checked(world: Store) -> None:
    from typer.testing import CliRunner

    from idgraph.cli import app

    assert world.path is not None
    data = ["--data-dir", str(world.path.parent)]
    a, b, _ = _pair(world, "ny_dmv", "dob")
    runner = CliRunner()
    ok = runner.invoke(app, [*data, "explain", a, b, "--as", "gov", "--purpose", CI,
                             "--claims", "DPPA-b1", "--case", "C1", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["record_a"] == a
    c, d, _ = _pair(world, "ca_dmv", "dob")
    denied = runner.invoke(app, [*data, "explain", c, d, "--as", "gov", "--purpose",
                                 "civil_immigration_enforcement", "--claims", "DPPA-b1",
                                 "--case", "IM1"])
    assert denied.exit_code == 3
    assert "denied by" in denied.output
