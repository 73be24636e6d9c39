"""The subject-access report: records, disclosures with proofs, withholding, notices."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

import pytest
from reports_fixtures import AT, KEY, as_data, build, golden, normalise

from idgraph.app import Caller, Denied, Env
from idgraph.app import reports as app_reports
from idgraph.audit import merkle, note
from idgraph.audit.reports import (
    SubjectReport,
    render_html,
    subject_report,
    to_json,
)
from idgraph.cases import close_case, open_case
from idgraph.link.tables import ensure_tables as ensure_link
from idgraph.policy.profile import read_profile
from idgraph.policy.sar import open_sar
from idgraph.policy.users import add_user
from idgraph.schema import Query
from idgraph.settings import Settings
from idgraph.store import open_store


def _report(copy: Literal["subject", "overseer"] = "subject") -> SubjectReport:
    store, log = build()
    actor = "ovs" if copy == "overseer" else "rec"
    return subject_report(store, "P-ALICE", log=log, actor=actor, copy=copy, at=AT)


@pytest.mark.parametrize("copy", ["subject", "overseer"])
def test_golden_json(copy: Literal["subject", "overseer"]) -> None:
    report = _report(copy)
    text = to_json(report)
    golden(f"subject_{copy}.json", normalise(text, as_data(text)["checkpoint"]))


def test_golden_html() -> None:
    report = _report()
    cp = as_data(to_json(report))["checkpoint"]
    golden("subject_subject.html", normalise(render_html(report), cp))


def test_records_by_source_with_provenance_and_retention() -> None:
    report = _report()
    assert [g.source_id for g in report.sources] == ["court_ny", "dmv_ny", "utility"]
    (dmv,) = next(g for g in report.sources if g.source_id == "dmv_ny").records
    assert (dmv.version, dmv.versions, dmv.batch_id) == (1, 2, "B-dmv_ny-1")
    assert (dmv.source_file, dmv.source_line) == ("dmv_ny.csv", 2)
    assert dmv.ingested_at == "2029-12-01T00:00:00+00:00"
    assert dmv.retain_until == "2039-11-29T00:00:00+00:00"  # + 3650 days
    (util,) = report.sources[2].records
    assert util.retain_until == "2030-12-03T00:00:00+00:00"  # + 365 days
    assert dmv.values["plate"] == "QXZ1234" and "first_name_phonetic" not in dmv.values


def test_subject_copy_withholds_open_criminal_case() -> None:
    report = _report()
    assert report.withheld == 1 and report.withheld_notices == 1
    assert all(d.case_id != "C-OPEN" for d in report.disclosures)
    assert [n.notice_id for n in report.notices] == ["N-1", "N-3"]
    assert [d.index for d in report.disclosures] == [0, 2, 6, 10, 16]
    assert "withheld" in report.notes[0]
    text = to_json(report)
    assert "inv2" not in text and "C-OPEN" not in text


def test_overseer_copy_shows_all() -> None:
    report = _report("overseer")
    assert report.withheld == 0 and report.withheld_notices == 0
    assert [d.index for d in report.disclosures] == [0, 1, 2, 6, 10, 16]
    (hidden,) = [d for d in report.disclosures if d.withheld]
    assert (hidden.case_id, hidden.principal, hidden.case_status) == ("C-OPEN", "inv2", "open")
    assert [n.notice_id for n in report.notices] == ["N-1", "N-2", "N-3"]
    assert {n.notice_id: n.status for n in report.notices}["N-2"] == "overdue"


@pytest.mark.parametrize("copy", ["subject", "overseer"])
def test_inclusion_proofs_verify(copy: Literal["subject", "overseer"]) -> None:
    report = _report(copy)
    cp = report.checkpoint
    assert cp is not None and cp.signature_ok
    assert cp.note is not None and cp.origin is not None
    signed = note.parse(cp.note)
    assert (signed.size, signed.root.hex(), signed.time) == (cp.size, cp.root, cp.time)
    assert signed.signed_by(cp.origin, KEY.public_key())
    KEY.public_key().verify(bytes.fromhex(cp.signature), signed.body.encode())
    for d in report.disclosures:
        p = d.proof
        assert p is not None and p.verified and p.tree_size == cp.size
        leaf = bytes.fromhex(p.leaf_hash)
        path = [bytes.fromhex(h) for h in p.path]
        assert merkle.verify_inclusion(d.index, cp.size, leaf, path, bytes.fromhex(cp.root))
        assert not merkle.verify_inclusion(d.index + 1, cp.size, leaf, path, bytes.fromhex(cp.root))
        if p.entry is not None:
            assert merkle.leaf_hash(p.entry.encode()) == leaf
            assert json.loads(p.entry)["principal"] == d.principal


def test_entry_naming_other_people_is_redacted_in_subject_copy() -> None:
    subject = {d.index: d for d in _report().disclosures}
    overseer = {d.index: d for d in _report("overseer").disclosures}
    assert subject[6].identity_ids == ["P-ALICE", "P-BOB"]
    assert subject[6].record_ids == ["dmv_ny/A1"]  # only her own record ids
    assert subject[6].proof is not None and subject[6].proof.entry is None
    assert subject[6].proof.verified
    assert overseer[6].proof is not None and "dmv_ny/B1" in (overseer[6].proof.entry or "")
    assert subject[0].proof is not None and subject[0].proof.entry is not None


def test_report_is_audited_and_refused_without_role(tmp_path: Path) -> None:
    store, log = build()
    report = subject_report(store, "P-ALICE", log=log, actor="rec", at=AT)
    entry = log.entries(report.report_entry, report.report_entry + 1)[0].entry
    assert (entry.action, entry.outcome, entry.principal) == ("report.subject", "ok", "rec")
    assert entry.identity_ids == ("P-ALICE",) and entry.detail["withheld"] == 1
    size = log.size()
    # who may produce which copy is the act report.subject, decided by Cedar (idgraph.app)
    env = Env(store=store, settings=Settings(data_dir=tmp_path))
    with pytest.raises(Denied):
        app_reports.subject_report(env, Caller("rec"), "P-ALICE", copy="overseer")
    with pytest.raises(Denied):
        app_reports.subject_report(env, Caller("inv1"), "P-ALICE")
    denied = [e.entry for e in log.entries(size) if e.entry.action != "policy.change"]
    assert [(e.action, e.outcome, e.principal) for e in denied] == [
        ("report.subject", "deny", "rec"),
        ("report.subject", "deny", "inv1"),
    ]


def test_html_escapes_values() -> None:
    store, log = build()
    store.execute(
        "UPDATE records SET full_name = '<script>alert(1)</script>' WHERE record_id = 'utility/U1'"
    )
    html = render_html(subject_report(store, "P-ALICE", log=log, actor="rec", at=AT))
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_real_profile_read_is_a_disclosure_until_case_closes() -> None:
    """End to end through read_profile: the read path's entries are what the report finds."""
    from reports_fixtures import KEY as key

    from idgraph.audit import AuditLog

    store = open_store(None)
    ensure_link(store)
    store.execute(
        "INSERT INTO sources (source_id, title, kind, jurisdiction, regimes, retention_days) "
        "VALUES ('court', 'court', 'court', 'US-NY', [], 3650)"
    )
    store.execute(
        "INSERT INTO records (record_id, source_id, source_record_id, version, is_current, "
        "row_hash, batch_id, ingested_at, raw, full_name) VALUES ('court/1', 'court', '1', 1, "
        "true, 'h', 'b1', TIMESTAMP '2026-01-01', '{}', 'ANA LOPEZ')"
    )
    store.execute("INSERT INTO identity_members VALUES ('I', 'court/1')")
    add_user(store, "root", "admin", "ops", org_type="government")
    add_user(store, "gov", "investigator", "ice", org_type="government", actor="root")
    add_user(store, "rec", "records_officer", "oig", org_type="government", actor="root")
    open_case(store, "C1", title="case", kind="criminal", actor="gov")
    open_case(store, "SA1", title="access", kind="subject_access", actor="rec")
    open_sar(store, "I", case_id="SA1", requester="the subject", received=date(2026, 3, 1),
             actor="rec")  # the report answers this request
    query = Query(
        principal="gov",
        purpose="criminal_investigation",
        case_id="C1",
        claims=("DPPA-b1",),
        at=datetime(2026, 3, 2, tzinfo=UTC),
    )
    prof = read_profile(store, query, "I")
    assert prof.record_ids == ("court/1",)
    log = AuditLog(store, key=key)
    first = subject_report(store, "I", log=log, actor="rec")
    assert (first.withheld, first.disclosures) == (1, [])
    close_case(store, "C1", actor="gov")
    second = subject_report(store, "I", log=log, actor="rec")
    (d,) = second.disclosures
    assert (second.withheld, d.organisation, d.role, d.case_status) == (
        0,
        "ice",
        "investigator",
        "closed",
    )
    assert d.record_ids == ["court/1"] and d.proof is not None and d.proof.verified
    assert second.sources[0].records[0].retain_until == date(2035, 12, 30).isoformat() + (
        "T00:00:00+00:00"
    )
