"""The audit reports (subject access, oversight, corrections) on PostgreSQL say exactly
what they say on DuckDB: the fixed data set of tests/reports, built in a fresh
PostgreSQL database, gives the same golden files."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgdb import fresh_database

sys.path.insert(0, str(Path(__file__).parents[1] / "reports"))  # reports_fixtures

from reports_fixtures import (
    AT,
    END,
    KEY,
    START,
    THRESHOLDS,
    _registry,
    as_data,
    entries,
    golden,
    normalise,
)

from idgraph.audit import AuditLog, record_many
from idgraph.audit.reports import (
    corrections_report,
    oversight_report,
    render_html,
    subject_report,
    to_json,
)
from idgraph.store import Store, open_store


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[tuple[Store, AuditLog]]:
    with fresh_database() as url, open_store(url, data_dir=tmp_path) as store:
        _registry(store)
        record_many(store, entries())
        yield store, AuditLog(store, key=KEY)


def test_subject_report_on_postgres(pg: tuple[Store, AuditLog]) -> None:
    store, log = pg
    report = subject_report(store, "P-ALICE", log=log, actor="rec", copy="subject", at=AT)
    text = to_json(report)
    cp = as_data(text)["checkpoint"]
    golden("subject_subject.json", normalise(text, cp))
    golden("subject_subject.html", normalise(render_html(report), cp))
    assert log.verify().ok


def test_oversight_report_on_postgres(pg: tuple[Store, AuditLog]) -> None:
    store, log = pg
    report = oversight_report(store, start=START, end=END, actor="ovs",
                              thresholds=THRESHOLDS, at=AT)
    golden("oversight.json", to_json(report))
    golden("oversight.html", render_html(report))
    assert log.verify().ok


def test_corrections_report_on_postgres(pg: tuple[Store, AuditLog]) -> None:
    store, log = pg
    fixes = corrections_report(store, actor="rec", at=AT)
    assert len(fixes.corrections) == 5
    golden("corrections.json", to_json(fixes))
    assert log.verify().ok
