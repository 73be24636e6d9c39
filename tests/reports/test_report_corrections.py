"""Correction notices after merges and splits of identities already disclosed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from reports_fixtures import AT, build, golden, read, t

from idgraph.app import Caller, Denied, Env
from idgraph.app import reports as app_reports
from idgraph.audit import record
from idgraph.audit.reports import corrections, corrections_report, render_html
from idgraph.audit.reports import to_json as report_json
from idgraph.settings import Settings


def test_recipients_listed_after_split() -> None:
    store, _ = build()
    split = [c for c in corrections(store) if c.event == "split"]
    assert [(c.recipient_org, c.recipient, c.disclosures) for c in split] == [
        ("acme", "inv3", [2]),
        ("nypd", "inv1", [0, 6]),
        ("nypd", "inv2", [1]),
    ]
    assert all(c.identity_id == "P-DAVE" and c.related == ["P-ALICE"] for c in split)
    # A read after the split was of the corrected identity: no correction for it.
    assert all(10 not in c.disclosures for c in split)


def test_recipients_listed_after_merge() -> None:
    store, _ = build()
    merged = [c for c in corrections(store) if c.event == "merged"]
    assert [(c.recipient, c.disclosures, c.disclosed_ids) for c in merged] == [
        ("inv1", [4, 6], ["P-BOB"]),
        ("inv2", [5], ["P-BOB"]),
    ]


def test_since_and_new_split() -> None:
    store, _ = build()
    assert [c.event for c in corrections(store, since=datetime(2030, 1, 11))] == [
        "merged",
        "merged",
    ]
    assert corrections(store, since=datetime(2030, 1, 15)) == []
    # A judgement later splits P-CAROL: everyone who read her before is listed.
    record(store, read(t(27), "inv3", ["P-CAROL"], ["court_ny/C9"], case="V-1"))
    store.execute(
        "INSERT INTO identity_lineage VALUES ('R-4', 'P-FRED', 'split', ['P-CAROL'], ?)",
        [datetime(2030, 1, 28)],
    )
    late = corrections(store, since=datetime(2030, 1, 28, tzinfo=UTC))
    assert [(c.recipient, len(c.disclosures)) for c in late] == [("inv3", 1), ("inv2", 6)]


def test_corrections_report_audited_and_golden(tmp_path: Path) -> None:
    store, log = build()
    report = corrections_report(store, actor="rec", at=AT)
    assert len(report.corrections) == 5
    assert log.entries(report.report_entry)[0].entry.action == "report.corrections"
    golden("corrections.json", report_json(report))
    assert "P-DAVE" in render_html(report)
    env = Env(store=store, settings=Settings(data_dir=tmp_path))  # who may: Cedar, in app
    with pytest.raises(Denied):
        app_reports.corrections_report(env, Caller("inv1"))
    assert log.entries(log.size() - 1)[0].entry.outcome == "deny"
