"""Issue 11 item 5, as the attack: a deployment's own policies are not optional per command.

The policy set is the shipped rules plus the deployment's folder (``data_dir/policies``
or ``IDGRAPH_POLICY_DIR``); every read path decides under it without any flag, every
decision's audit entry names it, and changing it is recorded in the log.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from policy_fixtures import LINK_DDL, add_record, add_source, audit_rows, link
from typer.testing import CliRunner

from idgraph.cases import open_case
from idgraph.cli import app
from idgraph.policy.explain import read_explanation
from idgraph.policy.profile import AccessDenied, read_profile
from idgraph.policy.registry import Registry
from idgraph.policy.users import add_user
from idgraph.schema import Query
from idgraph.settings import Settings
from idgraph.store import Store, open_store

CI = "criminal_investigation"
NO_JAIL = (
    '@id("county.no_jail")\n'
    'forbid (principal, action in Action::"read", resource)\n'
    'when { resource.kind == "booking" };\n'
)
NO_COURT = (
    '@id("county.no_court")\n'
    'forbid (principal, action in Action::"read", resource)\n'
    'when { resource.kind == "court" };\n'
)
runner = CliRunner()


def deployment(data: Path) -> Store:
    """A store in ``data`` with identity I = court/1 + jail/1 and an investigator's case."""
    store = open_store(data / "idgraph.duckdb")
    for stmt in LINK_DDL:
        store.execute(stmt)
    add_source(store, "court", "court", "US-NY", [], 3650)
    add_source(store, "jail", "booking", "US-NY", [], 3650)
    a = add_record(store, "court", "1", full_name="ANA LOPEZ", case_number="CR-7")
    b = add_record(store, "jail", "1", full_name="ANA LOPEZ", facility="ALBANY COUNTY")
    link(store, "I", [a, b], [(a, b)])
    add_user(store, "root", "admin", "ops", org_type="government")
    add_user(store, "gov", "investigator", "pd", org_type="government", actor="root")
    open_case(store, "C1", title="case", kind="criminal", actor="gov")
    return store


def county_folder(data: Path, *texts: str) -> Path:
    folder = data / "policies"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.cedar"):
        old.unlink()
    for i, text in enumerate(texts):
        (folder / f"county{i}.cedar").write_text(text)
    return folder


def cli(data: Path, *args: str) -> tuple[int, str]:
    res = runner.invoke(app, ["--data-dir", str(data), *args])
    return res.exit_code, res.output


def test_county_rule_applies_to_profile_and_explain_without_any_flag(tmp_path: Path) -> None:
    data = tmp_path / "data"
    deployment(data).close()
    county_folder(data, NO_JAIL)
    code, out = cli(data, "profile", "I", "--as", "gov", "--purpose", CI, "--case", "C1", "--json")
    assert code == 0, out
    assert "county.no_jail" in out and "ALBANY COUNTY" not in out
    code, out = cli(data, "explain", "court/1", "jail/1", "--as", "gov", "--purpose", CI,
                    "--case", "C1")
    assert code == 3 and "county.no_jail" in out, out
    # the per-command flag is gone: the set is the deployment's, not the caller's
    code, _ = cli(data, "profile", "I", "--as", "gov", "--purpose", CI, "--case", "C1",
                  "--policy-dir", str(tmp_path))
    assert code == 2


def test_library_read_paths_use_the_deployment_set(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = deployment(data)
    county_folder(data, NO_JAIL)
    q = Query(principal="gov", purpose=CI, case_id="C1")
    prof = read_profile(store, q, "I")  # no registry passed: built from the store's data dir
    assert prof.sources["jail"].rules == ("county.no_jail",) and "jail" not in prof.records
    with pytest.raises(AccessDenied) as exc:
        read_explanation(store, q, "court/1", "jail/1")
    assert "county.no_jail" in exc.value.rules
    store.close()


def test_policy_dir_setting_names_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    store = deployment(data)
    elsewhere = county_folder(tmp_path / "etc", NO_COURT)
    county_folder(data, NO_JAIL)  # not used: the setting names another folder
    monkeypatch.setenv("IDGRAPH_POLICY_DIR", str(elsewhere))
    reg = Registry(store)
    assert reg.policy_folder == elsewhere
    assert "county.no_court" in reg.policies.ids and "county.no_jail" not in reg.policies.ids
    assert Registry(store, settings=Settings(data_dir=data)).policies.digest == reg.policies.digest
    monkeypatch.setenv("IDGRAPH_POLICY_DIR", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError):
        Registry(store)
    store.close()


def test_every_decision_entry_names_the_policy_set(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = deployment(data)
    county_folder(data, NO_JAIL)
    reg = Registry(store)
    q = Query(principal="gov", purpose=CI, case_id="C1")
    read_profile(store, q, "I", registry=reg)
    with pytest.raises(AccessDenied):
        read_explanation(store, q, "court/1", "jail/1", registry=reg)
    rows = [
        e
        for e in audit_rows(store)
        if e["action"] in ("policy.decide", "profile.read", "explain.read")
    ]
    assert {e["action"] for e in rows} == {"policy.decide", "profile.read", "explain.read"}
    assert all(e["detail"]["policy_set"] == reg.policies.digest for e in rows)
    store.close()


def test_changing_the_folder_is_an_audited_policy_change(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = deployment(data)
    q = Query(principal="gov", purpose=CI, case_id="C1")
    first = Registry(store).policies.digest
    read_profile(store, q, "I")
    Registry(store)  # the same set again: nothing new to record
    changes = audit_rows(store, "policy.change")
    assert [(c["detail"]["old"], c["detail"]["new"]) for c in changes] == [(None, first)]

    county_folder(data, NO_JAIL)
    prof = read_profile(store, q, "I")
    assert prof.sources["jail"].rules == ("county.no_jail",)
    county_folder(data, NO_JAIL.replace("booking", "court"))  # same file name and id, new text
    read_profile(store, q, "I")
    county_folder(data)  # removed
    Registry(store)

    changes = audit_rows(store, "policy.change")
    assert len(changes) == 4
    d1, d2, d3 = (c["detail"] for c in changes[1:])
    assert d1["old"] == first and d1["added"] == ["county.no_jail"] and d1["removed"] == []
    assert d2["old"] == d1["new"] != d2["new"] and d2["added"] == d2["removed"] == []
    assert d3["removed"] == ["county.no_jail"] and d3["new"] == first
    # the change is in the log before any decision taken under the new set
    entries = audit_rows(store)
    at = entries.index(changes[1])
    assert all(e["detail"].get("policy_set") == first for e in entries[:at]
               if e["action"] == "policy.decide")
    assert entries[at + 1]["detail"]["policy_set"] == d1["new"]
    store.close()


def test_policy_install_is_an_admin_act_and_show_prints_the_set(tmp_path: Path) -> None:
    data = tmp_path / "data"
    deployment(data).close()
    new = county_folder(tmp_path / "release", NO_JAIL)
    code, out = cli(data, "policy", "install", str(new), "--as", "gov")
    assert code == 3 and "policy.install" in out
    code, out = cli(data, "policy", "install", str(new), "--as", "root", "--json")
    assert code == 0, out
    assert (data / "policies" / "county0.cedar").read_text() == NO_JAIL
    code, out = cli(data, "policy", "show")
    with open_store(data / "idgraph.duckdb") as store:
        digest = Registry(store).policies.digest
        installs = audit_rows(store, "policy.install")
        changes = audit_rows(store, "policy.change")
        assert [e["outcome"] for e in installs] == ["deny", "ok"]
        assert installs[1]["detail"]["installed"] == digest
        assert installs[1]["detail"]["added"] == ["county.no_jail"]
        # the install recorded the set: loading it is not an unannounced change
        assert all(c["detail"]["new"] != digest for c in changes)
    assert code == 0 and digest in out and "county.no_jail" in out
    broken = county_folder(tmp_path / "broken", "forbid (principal, action, resource);")
    code, out = cli(data, "policy", "install", str(broken), "--as", "root")
    assert code == 1 and "@id" in out
    assert (data / "policies" / "county0.cedar").read_text() == NO_JAIL
