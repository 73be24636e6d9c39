"""The oversight report: aggregates, denials, legal process, notices, patterns."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from reports_fixtures import AT, END, START, THRESHOLDS, build, golden

from idgraph.app import Caller, Denied, Env
from idgraph.app import reports as app_reports
from idgraph.audit.reports import (
    OversightReport,
    Thresholds,
    oversight_report,
    render_html,
    to_json,
)
from idgraph.settings import Settings


def _report(thresholds: Thresholds = THRESHOLDS) -> OversightReport:
    store, _ = build()
    return oversight_report(store, start=START, end=END, actor="ovs", thresholds=thresholds, at=AT)


def test_golden_json_and_html() -> None:
    report = _report()
    golden("oversight.json", to_json(report))
    golden("oversight.html", render_html(report))


def test_reads_by_purpose_organisation_user_source() -> None:
    r = _report()
    assert r.totals["reads"] == 13  # the read of 25 January is outside the window
    assert [(c.key, c.count) for c in r.reads_by_purpose] == [
        ("criminal_investigation", 7),
        ("civil_immigration_enforcement", 5),
        ("civil_litigation", 1),
    ]
    assert [(c.key, c.count) for c in r.reads_by_organisation] == [("nypd", 12), ("acme", 1)]
    assert {c.key: c.count for c in r.reads_by_source} == {
        "court_ny": 9,
        "dmv_ny": 6,
        "utility": 1,
    }
    assert {u.principal: (u.reads, u.denied) for u in r.users} == {
        "inv1": (4, 0),
        "inv2": (8, 0),
        "inv3": (1, 1),
    }
    assert len(r.reads_by_day) == 16 and sum(c.count for c in r.reads_by_day) == 13


def test_denials_with_rules() -> None:
    r = _report()
    (rule,) = r.denials
    assert (rule.rule, rule.source_decisions, rule.requests, rule.indexes) == (
        "base.case_open",
        2,
        1,
        [7, 8, 9],
    )
    (req,) = r.denied_requests
    assert (req.index, req.principal, req.identity_ids) == (9, "inv3", ["P-CAROL"])


def test_legal_process_used_and_expired() -> None:
    r = _report()
    assert {doc.legal_id: (doc.status, doc.indexes) for doc in r.legal} == {
        "LP-SUBP": ("in force", [2]),
        "LP-WARRANT": ("expired in window", [0, 10]),
    }


def test_notices_due_sent_overdue() -> None:
    r = _report()
    assert {n.notice_id: n.status for n in r.notices} == {
        "N-1": "sent",
        "N-2": "overdue",
        "N-3": "sent late",
    }  # N-4 falls due after the window
    assert (r.totals["notices_due"], r.totals["notices_sent"], r.totals["notices_overdue"]) == (
        3,
        2,
        1,
    )


def test_patterns_link_to_entries() -> None:
    found = {(p.kind, p.key): p.indexes for p in _report().patterns}
    assert found == {
        ("read_without_case", "inv1"): [4],
        ("many_users", "P-ALICE"): [0, 1, 2, 6, 10],
        ("purpose_drift", "inv2"): [1, 3, 5, 11, 12, 13, 14, 15],
        ("bulk_burst", "inv2"): [11, 12, 13, 14, 15],
        ("basis_expired", "LP-WARRANT"): [10],
    }


THRESHOLD_CASES = [
    # thresholds, pattern kinds expected to disappear
    (Thresholds(many_users=4, burst_reads=4, burst_minutes=5), {"many_users"}),
    (Thresholds(many_users=3, burst_reads=6, burst_minutes=5), {"bulk_burst"}),
    (Thresholds(many_users=3, burst_reads=4, burst_minutes=1), {"bulk_burst"}),
    (
        Thresholds(many_users=3, burst_reads=4, burst_minutes=5, drift_min_reads=4),
        {"purpose_drift"},
    ),
]


@pytest.mark.parametrize(("thresholds", "gone"), THRESHOLD_CASES)
def test_thresholds(thresholds: Thresholds, gone: set[str]) -> None:
    kinds = {p.kind for p in _report(thresholds).patterns}
    all_kinds = {"read_without_case", "many_users", "purpose_drift", "bulk_burst", "basis_expired"}
    assert kinds == all_kinds - gone


def test_window_bounds_and_audit(tmp_path: Path) -> None:
    store, log = build()
    r = oversight_report(store, start=date(2030, 1, 25), end=date(2030, 1, 25), actor="ovs", at=AT)
    assert (r.totals["reads"], r.patterns, r.legal) == (1, [], [])
    entry = log.entries(r.report_entry, r.report_entry + 1)[0].entry
    assert (entry.action, entry.outcome, entry.detail["reads"]) == ("report.oversight", "ok", 1)
    env = Env(store=store, settings=Settings(data_dir=tmp_path))  # who may: Cedar, in app
    with pytest.raises(Denied):
        app_reports.oversight_report(env, Caller("rec"), start=START, end=END)
    assert log.entries(log.size() - 1)[0].entry.outcome == "deny"
    with pytest.raises(ValueError, match="ends before"):
        oversight_report(store, start=END, end=START, actor="ovs", at=AT)
