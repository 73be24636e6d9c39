"""``idgraph cases assign|members|subjects|note|notes|activity|supplements``: thin shells
over idgraph.app.cases; a refusal exits 3 naming the rule, an input error exits 2 or 1
with one line; the acts are audited with via=cli."""

from __future__ import annotations

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


def ok(data: Path, *args: str) -> str:
    code, out = run(data, *args)
    assert code == 0, out
    return out


def entries(data: Path) -> list[dict[str, Any]]:
    with open_store(data / "idgraph.duckdb") as store:
        return [json.loads(r[0]) for r in
                store.fetchall("SELECT entry FROM audit_log ORDER BY seq")]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cases_cli")
    ok(d, "users", "add", "root", "--role", "admin", "--org", "ops")
    for name, role, org in (("inv", "investigator", "ice"), ("inv2", "investigator", "ice"),
                            ("sup", "supervisor", "ice"), ("sup9", "supervisor", "fbi"),
                            ("ro", "records_officer", "ice")):
        ok(d, "users", "add", name, "--role", role, "--org", org, "--org-type", "government",
           "--as", "root")
    ok(d, "cases", "open", "C-1", "--title", "t", "--as", "inv")
    return d


def test_attack_non_member_and_other_org_supervisor_refused_exit_3(data: Path) -> None:
    code, out = run(data, "cases", "notes", "C-1", "--as", "inv2")
    assert code == 3 and "act.case_need_to_know" in out
    code, out = run(data, "cases", "assign", "C-1", "--add", "inv2", "--as", "sup9")
    assert code == 3 and "no case 'C-1'" in out
    code, out = run(data, "cases", "assign", "C-1", "--add", "inv2", "--as", "inv")
    assert code == 3 and "act.role_ceiling" in out
    assert [(e["principal"], e["outcome"]) for e in entries(data)[-3:]] == [
        ("inv2", "deny"), ("sup9", "deny"), ("inv", "deny")]


def test_assign_subjects_note_activity(data: Path) -> None:
    out = ok(data, "cases", "assign", "C-1", "--add", "inv2", "--as", "sup")
    assert "C-1 members: inv, inv2" in out
    out = ok(data, "cases", "members", "C-1", "--as", "inv2", "--json")
    assert [m["member"] for m in json.loads(out)] == ["inv", "inv2"]
    out = ok(data, "cases", "subjects", "C-1", "--add", "I-7", "--as", "inv2", "--json")
    assert [s["identity"] for s in json.loads(out)] == ["I-7"]
    out = ok(data, "cases", "note", "C-1", "[red]<b>seen</b>[/red]", "--identity", "I-7",
             "--as", "inv")
    assert out.startswith("noted N-")
    notes = json.loads(ok(data, "cases", "notes", "C-1", "--as", "sup", "--json"))
    assert [(n["author"], n["subject"], n["text"]) for n in notes] == [
        ("inv", "I-7", "[red]<b>seen</b>[/red]")]  # markup kept as text
    page = json.loads(ok(data, "cases", "activity", "C-1", "--limit", "3", "--as", "inv",
                         "--json"))
    # newest first: sup's notes read, the note, the subjects listing after --add
    assert [(a["who"], a["action"]) for a in page] == [
        ("sup", "cases.read"), ("inv", "cases.note"), ("inv2", "cases.read")]
    e = entries(data)[-1]
    assert (e["action"], e["case_id"], e["detail"]["via"]) == ("cases.read", "C-1", "cli")
    code, out = run(data, "cases", "activity", "C-1", "--limit", "0", "--as", "inv")
    assert code == 2  # typer refuses the range before anything runs


def test_reassign_and_supplements(data: Path) -> None:
    ok(data, "cases", "open", "C-2", "--title", "t", "--as", "inv")
    out = ok(data, "cases", "assign", "C-2", "--add", "inv2", "--remove", "inv", "--as", "sup")
    assert "C-2 members: inv2" in out
    code, out = run(data, "cases", "subjects", "C-2", "--as", "inv")
    assert code == 3 and "act.case_need_to_know" in out
    ok(data, "cases", "close", "C-2", "--as", "sup")
    assert json.loads(ok(data, "cases", "supplements", "--as", "ro", "--json")) == []
    code, out = run(data, "cases", "supplements", "--as", "inv")
    assert code == 3
    code, out = run(data, "cases", "supplement-sent", "SAR-NOPE", "C-2", "--as", "ro")
    assert code != 0 and "no request 'SAR-NOPE'" in out
