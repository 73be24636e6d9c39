"""Issue 12 items 4b, 7 and 8 through the CLI.

- 7: ``sources --json`` counts balance (rows = rows recorded + quarantined rows) and are
  cumulative over every batch of a source, with the last batch's figures beside them; a
  row quarantined for a missing record id is a quarantined row, not a bad field.
  ``idgraph quarantine`` lists every quarantine row of every kind (file, line, record id,
  field, value, reason), sorted, escaped, long values cut in the table and whole in JSON.
- 8: ``ingest`` prints which file each manifest read.
- 4b: names with Rich markup in them (``c2 [v2].csv``, ``[/x]``) are printed as named.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from idgraph.cli import app
from idgraph.policy import retention
from idgraph.store import open_store

runner = CliRunner()
ENV = {"COLUMNS": "1000", "IDGRAPH_INGEST_WORKERS": "1", "IDGRAPH_LOCK_WAIT_SECONDS": "5"}
LONG = "[/x]" + "9" * 300  # a bad date that is markup, and long

HEADER = "ID,LAST,DOB,DL_STATE\n"
# line: (row, kind of quarantine it makes, reason it starts with / contains)
ROWS: dict[int, tuple[str, str | None, str]] = {
    2: ("1,Alpha,1980-01-02,CA", None, ""),
    3: (",Bravo,1980-01-02,CA", "row", "missing record id"),
    4: ("1,Charlie,1980-01-02,CA", "row", "duplicate record id"),
    5: ("4,Delta,not a date,CA", "field", "does not match format"),
    6: ("5,Echo,1980-01-02,XX", "row", "row not stored"),
    7: ("6,Fox,1980-01-02,CA,extra", "row", "expected 4 columns"),
    8: ("7,Golf,1980-01-02,CA", None, ""),
    9: (f"8,Hotel,{LONG},CA", "field", "does not match format"),
    # a bad record id names its field and is still a whole row (kind stored by ingest)
    10: ("9\x00X,India,1980-01-02,CA", "row", "NUL byte"),
}
DATA = "c2 [v2].csv"


def manifest(data: str, sid: str) -> str:
    return (f"id: {sid}\ntitle: t\nkind: dmv\njurisdiction: US\nregimes: [dppa]\n"
            f"collected_for: testing\nretention_days: 100\n"
            f"input: {{path: '{data}', format: csv}}\nrecord_id: ID\n"
            "fields: {last_name: LAST, dob: {column: DOB, format: '%Y-%m-%d'}, "
            "origin_jurisdiction: DL_STATE}\n")


def invoke(data: Path, *args: str) -> Result:
    return runner.invoke(app, ["--data-dir", str(data), *args], env=ENV)


def ok(data: Path, *args: str) -> Result:
    res = invoke(data, *args)
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    return res


def json_lines(res: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in res.stdout.splitlines() if line.strip()]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    f = tmp_path / "in"
    f.mkdir()
    (f / DATA).write_text(HEADER + "".join(r + "\n" for r, _, _ in ROWS.values()),
                          encoding="utf-8")
    (f / "m.yaml").write_text(manifest(DATA, "src_b"), encoding="utf-8")
    return f


def test_ingest_prints_the_file_each_manifest_read_as_named(tmp_path: Path,
                                                           folder: Path) -> None:
    sub = folder / "w["  # the path of the second file holds "[/x]"
    sub.mkdir()
    (sub / "x].csv").write_text((folder / DATA).read_text("utf-8"), encoding="utf-8")
    (sub / "m.yaml").write_text(manifest("x].csv", "src_w"), encoding="utf-8")
    res = ok(tmp_path / "data", "ingest", str(folder), str(sub))
    lines = res.stdout.splitlines()
    assert f"src_b: read {(folder / DATA).resolve()}" in lines, res.stdout
    assert f"src_w: read {(sub / 'x].csv').resolve()}" in lines, res.stdout


def test_sources_counts_balance_and_are_cumulative(tmp_path: Path, folder: Path) -> None:
    data = tmp_path / "data"
    ok(data, "ingest", str(folder))
    want_rows = sum(1 for _, kind, _ in ROWS.values() if kind == "row")  # 4
    want_fields = sum(1 for _, kind, _ in ROWS.values() if kind == "field")  # 2
    (first,) = json_lines(ok(data, "sources", "--json"))
    assert (first["quarantined_rows"], first["bad_fields"]) == (want_rows, want_fields)
    assert first["rows"] == len(ROWS) == first["rows_recorded"] + first["quarantined_rows"]

    # a second batch: record 7 was removed under retention (so its row is quarantined
    # when it comes again), and one more row has a missing record id
    with open_store(data / "idgraph.duckdb") as st:
        retention.ensure(st)
        st.execute("INSERT INTO retention_tombstones SELECT record_id, row_hash, source_id, "
                   "now(), 'test' FROM records WHERE source_record_id = '7'")
        st.execute("DELETE FROM records WHERE source_record_id = '7'")
    with open(folder / DATA, "a", encoding="utf-8") as fh:
        fh.write(",India,1980-01-02,CA\n")
    ok(data, "ingest", str(folder))
    (src,) = json_lines(ok(data, "sources", "--json"))
    last_rows, last_fields = want_rows + 2, want_fields  # + retention + missing id
    assert src["batches"] == 2
    assert src["last_batch_quarantined_rows"] == last_rows
    assert src["last_batch_bad_fields"] == last_fields
    assert src["quarantined_rows"] == want_rows + last_rows
    assert src["bad_fields"] == want_fields + last_fields
    assert src["last_batch_rows"] == len(ROWS) + 1
    assert src["rows"] == 2 * len(ROWS) + 1
    assert src["rows"] == src["rows_recorded"] + src["quarantined_rows"]
    assert src["last_batch_rows"] == src["last_batch_records"] + src[
        "last_batch_quarantined_rows"]
    assert src["last_batch_records"] == (src["last_batch_added"] + src["last_batch_versioned"]
                                         + src["last_batch_unchanged"])
    assert src["last_batch_file"] == str((folder / DATA).resolve())

    # the quarantine listing holds exactly what the counts count, each row of its kind
    listed = json_lines(ok(data, "quarantine", "--source", "src_b", "--json", "--limit", "0"))
    assert len(listed) == src["quarantined_rows"] + src["bad_fields"]
    assert Counter(q["kind"] for q in listed) == {"row": src["quarantined_rows"],
                                                  "field": src["bad_fields"]}
    for line, (_, kind, why) in ROWS.items():
        mine = [q for q in listed if q["line"] == line and "retention" not in q["reason"]]
        assert [q["kind"] for q in mine] == ([kind] * 2 if kind else []), (line, mine)
        assert all(why in q["reason"] for q in mine), (line, mine)
    retired = [q for q in listed if "retention" in q["reason"]]
    assert [(q["line"], q["kind"], q["record_id"]) for q in retired] == [(8, "row", "7")]

    table = ok(data, "sources").stdout
    assert f"{want_rows + last_rows} ({last_rows})" in table


def test_quarantine_lists_file_line_id_field_value_reason(tmp_path: Path,
                                                          folder: Path) -> None:
    data = tmp_path / "data"
    ok(data, "ingest", str(folder))
    rows = json_lines(ok(data, "quarantine", "--json"))
    file = str((folder / DATA).resolve())
    assert [q["line"] for q in rows] == [3, 4, 5, 6, 7, 9, 10]  # sorted by file and line
    assert all(q["file"] == file and q["source"] == "src_b" for q in rows)
    by_line = {q["line"]: q for q in rows}
    assert by_line[5] == {**by_line[5], "record_id": "4", "field": "dob",
                          "value": "not a date", "kind": "field"}
    assert by_line[9]["value"] == LONG  # whole in JSON
    assert by_line[3]["record_id"] is None and by_line[3]["kind"] == "row"

    table = ok(data, "quarantine").stdout
    assert file in table  # "c2 [v2].csv", brackets and all
    assert "'[/x]9999" in table and LONG not in table  # cut, shown as text
    assert f"({len(LONG):,} chars)" in table
    assert "7 quarantine rows: 5 rows not stored, 2 values dropped from stored rows" in table

    cut = invoke(data, "quarantine", "--limit", "2")
    assert cut.exit_code == 0
    assert "showing the first 2 of 7" in cut.stdout
    cut_json = invoke(data, "quarantine", "--json", "--limit", "2")
    assert len(json_lines(cut_json)) == 2 and "showing the first 2 of 7" in cut_json.stderr

    (src,) = json_lines(ok(data, "sources", "--json"))
    by_batch = json_lines(ok(data, "quarantine", "--json", "--batch", src["last_batch"]))
    assert by_batch == rows

    for args, named in [(("--source", "nope"), "no source 'nope'"),
                        (("--batch", "[/x]"), "no batch '[/x]'")]:
        res = invoke(data, "quarantine", *args)
        assert res.exit_code == 1 and named in res.stderr, res.output
