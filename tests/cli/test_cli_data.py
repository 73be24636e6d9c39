"""The data commands end to end: synth, ingest (twice), sources, and rejection."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.store import open_store

runner = CliRunner()


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    res = runner.invoke(app, ["synth", "--people", "400", "--seed", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_synth_ingest_twice_adds_nothing_the_second_time(synth_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = runner.invoke(app, ["--data-dir", str(data), "ingest", str(synth_dir)])
    assert first.exit_code == 0, first.output
    with open_store(data / "idgraph.duckdb") as st:
        n_sources = st.scalar("SELECT count(*) FROM sources")
        n_records = st.scalar("SELECT count(*) FROM records")
        batches = st.fetchall("SELECT rows, records_added, records_unchanged, "
                              "records_versioned, rows_quarantined FROM batches")
    assert n_sources >= 7
    assert all(rows == add + unch + ver + q for rows, add, unch, ver, q in batches)
    with open(synth_dir / "truth.csv", encoding="utf-8") as fh:
        truth = list(csv.DictReader(fh))
    assert n_records + sum(b[4] for b in batches) >= len(truth)
    second = runner.invoke(app, ["--data-dir", str(data), "ingest", str(synth_dir)])
    assert second.exit_code == 0, second.output
    with open_store(data / "idgraph.duckdb") as st:
        assert st.scalar("SELECT count(*) FROM records") == n_records
        assert st.scalar("SELECT sum(records_added + records_versioned) FROM batches "
                         "WHERE batch_id NOT IN (SELECT batch_id FROM records)") == 0
    listing = runner.invoke(app, ["--data-dir", str(data), "sources", "--json"])
    assert listing.exit_code == 0
    by_id = {d["source"]: d for d in map(json.loads, listing.output.splitlines())}
    assert by_id["ny_dmv"]["regimes"] == "DPPA, NY-VTL-201"
    assert by_id["ny_dmv"]["records"] == by_id["ny_dmv"]["versions"] > 0


def test_ingest_rejects_bad_file_names_it_and_exits_nonzero(tmp_path: Path) -> None:
    (tmp_path / "bad.csv.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    (tmp_path / "bad.yaml").write_text(
        "id: bad_src\ntitle: t\nkind: other\njurisdiction: US\ncollected_for: x\n"
        "retention_days: 1\ninput: {path: bad.csv.gz, format: csv}\nrecord_id: ID\n"
        "fields: {last_name: LAST}\n")
    res = runner.invoke(app, ["--data-dir", str(tmp_path / "d"), "ingest", str(tmp_path)])
    assert res.exit_code == 1
    assert "bad.csv.gz" in res.output and "gzip" in res.output
    with open_store(tmp_path / "d" / "idgraph.duckdb") as st:
        assert st.scalar("SELECT count(*) FROM records") == 0
        assert st.scalar("SELECT count(*) FROM sources") == 0


def test_ingest_reports_manifest_error_with_key(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("id: x1\ntitle: t\n")
    res = runner.invoke(app, ["--data-dir", str(tmp_path / "d"), "ingest", str(tmp_path)])
    assert res.exit_code == 1
    assert "m.yaml" in res.output and "kind: required key is missing" in res.output
