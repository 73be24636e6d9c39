"""The CLI's admin commands are thin shells over idgraph.app: same commands, options,
exit codes (3 for a refusal by the policy layer) and output; the acts are audited by the
app with the rules, the policy-set digest and via=cli."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.store import open_store

runner = CliRunner()


def run(data: Path, *args: str) -> tuple[int, str]:
    res = runner.invoke(app, ["--data-dir", str(data), *args])
    return res.exit_code, res.output


def entries(data: Path) -> list[dict[str, Any]]:
    with open_store(data / "idgraph.duckdb") as store:
        return [json.loads(r[0]) for r in
                store.fetchall("SELECT entry FROM audit_log ORDER BY seq")]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("admin_cli")
    assert run(d, "users", "add", "root", "--role", "admin", "--org", "ops")[0] == 0
    for name, role in (("inv", "investigator"), ("sup", "supervisor"),
                       ("ro", "records_officer"), ("ovs", "overseer")):
        code, out = run(d, "users", "add", name, "--role", role, "--org", "ice",
                        "--org-type", "government", "--as", "root")
        assert code == 0, out
    return d


def test_bootstrap_only_once(data: Path) -> None:
    code, out = run(data, "users", "add", "eve", "--role", "admin", "--org", "ops")
    assert code == 3 and "may not users.manage" in out
    last = entries(data)[-1]
    assert (last["action"], last["outcome"], last["principal"]) == ("users.add", "deny",
                                                                    "anonymous")


def test_cases_and_refusals_exit_3(data: Path) -> None:
    code, out = run(data, "cases", "open", "C-1", "--title", "t", "--as", "inv")
    assert code == 0 and "opened C-1 for ice" in out
    e = entries(data)[-1]
    assert (e["action"], e["rules"], e["detail"]["via"]) == ("cases.open",
                                                            ["act.cases_open_close"], "cli")
    code, out = run(data, "cases", "open", "C-2", "--title", "t", "--as", "root")
    assert code == 3 and "act.role_ceiling" in out
    code, out = run(data, "cases", "close", "C-1", "--as", "ro")  # not the owner
    assert code == 3 and "only 'inv'" in out
    assert entries(data)[-1]["outcome"] == "deny"
    code, out = run(data, "cases", "list", "--as", "sup", "--json")
    assert code == 0 and json.loads(out)[0]["case"] == "C-1"
    code, out = run(data, "cases", "close", "C-1", "--as", "sup")
    assert code == 0 and "closed C-1" in out


def test_retention_without_as_is_the_local_operator(data: Path) -> None:
    code, out = run(data, "retention", "apply")
    assert code == 0 and "removed" in out
    e = entries(data)[-1]
    assert e["principal"] == f"operator:{getpass.getuser()}" and e["role"] == "operator"
    assert e["rules"] == ["act.retention_apply"] and e["detail"]["via"] == "cli"
    code, out = run(data, "retention", "apply", "--as", "inv")
    assert code == 3 and "may not retention.apply" in out
    code, out = run(data, "retention", "list", "--as", "ovs", "--json")
    assert code == 0 and json.loads(out)[0]["run"].startswith("RET-")


def test_judge_refuses_before_looking_at_records(data: Path) -> None:
    for rid in ("x/1", "x/2"):
        code, out = run(data, "judge", rid, "y/1", "same", "--as", "inv")
        assert code == 3 and "unknown record" not in out
    code, out = run(data, "judge", "x/1", "y/1", "same", "--by", "sup")
    assert code == 1 and "unknown record" in out  # permitted, then no such record
    last = entries(data)[-1]
    assert (last["action"], last["outcome"]) == ("link.judge", "error")


def test_policy_show_needs_no_user_and_install_needs_an_admin(data: Path,
                                                              tmp_path: Path) -> None:
    code, out = run(data, "policy", "show", "--json")
    assert code == 0 and json.loads(out)["digest"]
    folder = tmp_path / "rules"
    folder.mkdir()
    code, out = run(data, "policy", "install", str(folder), "--as", "sup")
    assert code == 3 and "may not policy.install" in out


def test_audit_reads_are_logged_by_the_app(data: Path) -> None:
    code, out = run(data, "audit", "prove", "0", "--as", "ovs")
    assert code == 0 and "verified" in out
    e = [x for x in entries(data) if x["action"] == "audit.read"][-1]
    assert (e["principal"], e["detail"]["read"], e["rules"]) == ("ovs", "prove",
                                                                ["act.audit_read"])
    code, out = run(data, "audit", "prove", "0", "--as", "ro")
    assert code == 3
