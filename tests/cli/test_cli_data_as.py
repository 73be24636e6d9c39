"""``--as USER`` on the data commands: without it the CLI acts as the local operator;
with it, the named user's role decides (Cedar), and a refusal exits 3 (DENIED)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from idgraph.cli import app
from idgraph.cli.common import DENIED
from idgraph.store import open_store

runner = CliRunner()
ENV = {"COLUMNS": "1000", "IDGRAPH_INGEST_WORKERS": "0", "IDGRAPH_LOCK_WAIT_SECONDS": "5"}
MANIFEST = ("id: as_src\ntitle: t\nkind: dmv\njurisdiction: US-TX\nregimes: [DPPA]\n"
            "collected_for: testing\nretention_days: 100\n"
            "input: {path: p.csv, format: csv}\nrecord_id: ID\n"
            "fields: {last_name: LAST, first_name: FIRST}\n")


def invoke(data: Path, *args: str) -> Result:
    return runner.invoke(app, ["--data-dir", str(data), *args], env=ENV)


@pytest.fixture()
def folders(tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "m.yaml").write_text(MANIFEST)
    (src / "p.csv").write_text("ID,LAST,FIRST\n1,ONEIL,WILLIAM\n2,GARCIA,MARIA\n")
    data = tmp_path / "data"
    for args in (("users", "add", "root", "--role", "admin", "--org", "ops"),
                 ("users", "add", "gov", "--role", "investigator", "--org", "pd",
                  "--org-type", "government", "--as", "root")):
        res = invoke(data, *args)
        assert res.exit_code == 0, res.output
    return src, data


def entries(data: Path, action: str) -> list[dict[str, object]]:
    with open_store(data / "idgraph.duckdb") as st:
        rows = [json.loads(r[0]) for r in st.fetchall("SELECT entry FROM audit_log ORDER BY seq")]
    return [e for e in rows if e["action"] == action]


def test_an_investigator_may_not_ingest_or_list(folders: tuple[Path, Path]) -> None:
    src, data = folders
    for args in (("ingest", str(src)), ("sources",), ("quarantine",), ("index", "check"),
                 ("resolve",)):
        res = invoke(data, *args, "--as", "gov")
        assert res.exit_code == DENIED, (args, res.output)
        assert "denied by" in res.stderr and "Traceback" not in res.output
    assert [e["outcome"] for e in entries(data, "ingest.run")] == ["deny"]


def test_an_admin_and_the_local_operator_may(folders: tuple[Path, Path]) -> None:
    src, data = folders
    res = invoke(data, "ingest", str(src), "--as", "root")
    assert res.exit_code == 0, res.output
    listed = invoke(data, "sources", "--json")  # no --as: the local operator
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout.splitlines()[0])["records"] == 2
    (ingest,) = entries(data, "ingest.run")
    (listing,) = entries(data, "sources.list")
    assert ingest["principal"] == "root" and ingest["outcome"] == "ok"
    assert str(listing["principal"]).startswith("operator:")
