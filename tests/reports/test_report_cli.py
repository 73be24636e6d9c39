"""``idgraph report ...`` end to end on a temporary data dir (synthetic data)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from reports_fixtures import _registry, entries
from typer.testing import CliRunner

from idgraph.audit import record_many
from idgraph.cli import reports
from idgraph.cli.common import data_dir_settings
from idgraph.link.tables import ensure_tables as ensure_link
from idgraph.store import open_store

runner = CliRunner()


def _app() -> typer.Typer:
    """The root app's shape with only the ``report`` group (the lead wires it into cli)."""
    app = typer.Typer(no_args_is_help=True)

    @app.callback()
    def _root(ctx: typer.Context, data_dir: Path = typer.Option(..., "--data-dir")) -> None:
        ctx.obj = data_dir_settings(data_dir)

    reports.register(app)
    return app


def _data(d: Path) -> None:
    from idgraph.cases import ensure as ensure_cases
    from idgraph.policy.legal import ensure as ensure_legal
    from idgraph.policy.notices import ensure as ensure_notices
    from idgraph.policy.users import ensure as ensure_users

    with open_store(d / "idgraph.duckdb") as store:
        ensure_link(store)
        for ensure in (ensure_users, ensure_cases, ensure_legal, ensure_notices):
            ensure(store)
        _registry(store)
        record_many(store, entries())


def run(d: Path, *args: str) -> tuple[int, str]:
    res = runner.invoke(_app(), ["--data-dir", str(d), "report", *args])
    return res.exit_code, res.output


def test_cli_reports(tmp_path: Path) -> None:
    _data(tmp_path)
    out = tmp_path / "alice.json"
    code, text = run(tmp_path, "subject", "P-ALICE", "--out", str(out), "--as", "rec")
    assert code == 0, text
    data = json.loads(out.read_text())
    assert data["withheld"] == 1 and data["checkpoint"]["signature_ok"]
    assert "1 withheld" in text
    html = tmp_path / "alice.html"
    code, _ = run(
        tmp_path, "subject", "P-ALICE", "--out", str(html), "--as", "ovs", "--copy", "overseer"
    )
    assert code == 0 and "withheld from subject" in html.read_text()
    code, text = run(
        tmp_path,
        "oversight",
        "--from",
        "2030-01-05",
        "--to",
        "2030-01-20",
        "--out",
        str(tmp_path / "o.html"),
        "--as",
        "ovs",
        "--burst-reads",
        "4",
        "--burst-minutes",
        "5",
    )
    assert code == 0, text
    assert "bulk burst" in (tmp_path / "o.html").read_text()
    code, _ = run(
        tmp_path,
        "corrections",
        "--out",
        str(tmp_path / "c.json"),
        "--as",
        "rec",
        "--since",
        "2030-01-11",
    )
    assert code == 0
    assert [c["event"] for c in json.loads((tmp_path / "c.json").read_text())["corrections"]] == [
        "merged",
        "merged",
    ]


def test_cli_refusals(tmp_path: Path) -> None:
    _data(tmp_path)
    code, text = run(
        tmp_path, "subject", "P-ALICE", "--out", str(tmp_path / "x.txt"), "--as", "rec"
    )
    assert code == 1 and ".html or .json" in text
    code, text = run(
        tmp_path,
        "oversight",
        "--from",
        "2030-01-05",
        "--to",
        "2030-01-20",
        "--out",
        str(tmp_path / "o.json"),
        "--as",
        "inv1",
    )
    assert code == 1 and "may not report.oversight" in text  # decided by Cedar (app)
    assert not (tmp_path / "o.json").exists()
