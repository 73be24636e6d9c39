"""Case management (issue 16 item 4): members and need-to-know, subjects and notes, the
case's activity, and what closing a case ends and releases.

Attacks first: a non-member investigator reading, watching or opening the case's
material is refused by Cedar and audited; another organisation's supervisor cannot
assign; an investigator cannot assign; a note's ``<script>`` is kept as text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from case_fixtures import new_store

from idgraph import clock
from idgraph.app import Caller, Conflict, Denied, Env, Invalid, NotFound
from idgraph.app import cases as app_cases
from idgraph.app import reports as app_reports
from idgraph.app import watches as app_watches
from idgraph.audit import AuditEntry, record
from idgraph.cases import members_of
from idgraph.cases.members import history
from idgraph.monitor import watches as watches_mod
from idgraph.policy.engine import allowed
from idgraph.policy.sar import open_sar
from idgraph.policy.users import add_user
from idgraph.schema import Query
from idgraph.settings import Settings

CI = "criminal_investigation"
LATER = clock.today() + timedelta(days=30)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    """nypd: det (opened C1), det2 (no member), chief (supervisor), rec (records officer),
    lawyer (counsel); ice: sup2 (supervisor), ice1 (investigator); ovs (overseer)."""
    store = new_store()
    store.execute("INSERT INTO sources (source_id, kind, jurisdiction, regimes) "
                  "VALUES ('court', 'court', 'US-NY', ?)", [[]])
    add_user(store, "root", "admin", "ops")
    for name, role, org in [("det", "investigator", "nypd"), ("det2", "investigator", "nypd"),
                            ("chief", "supervisor", "nypd"), ("rec", "records_officer", "nypd"),
                            ("lawyer", "counsel", "nypd"), ("sup2", "supervisor", "ice"),
                            ("ice1", "investigator", "ice"), ("ovs", "overseer", "board")]:
        add_user(store, name, role, org, org_type="government", actor="root")
    e = Env(store=store, settings=Settings(data_dir=tmp_path))
    app_cases.open_case(e, Caller("det"), "C1", title="burglary series", kind="criminal")
    app_cases.open_case(e, Caller("rec"), "SA1", title="subject asks", kind="subject_access")
    yield e
    store.close()


def entries(env: Env) -> list[dict[str, Any]]:
    return [json.loads(r[0]) for r in env.store.fetchall(
        "SELECT entry FROM audit_log ORDER BY seq")]


def last(env: Env, action: str) -> dict[str, Any]:
    return [e for e in entries(env) if e["action"] == action][-1]


def read(env: Env, who: str, case_id: str = "C1") -> Any:
    query = Query(principal=who, purpose=CI, claims=("DPPA-b1",), case_id=case_id)
    return allowed(env.registry(), query, ["court"])


# -- attacks -----------------------------------------------------------------------------
def test_non_member_read_is_denied_by_need_to_know_until_assigned(env: Env) -> None:
    assert read(env, "det").any_permitted  # the opener is its first member
    denied = read(env, "det2")
    assert not denied.any_permitted
    assert "base.need_to_know" in denied.decisions["court"].rules
    assert read(env, "chief").any_permitted  # a supervisor of the organisation, always
    app_cases.assign(env, Caller("chief"), "C1", add=["det2"])
    assert read(env, "det2").any_permitted
    app_cases.assign(env, Caller("chief"), "C1", remove=["det2"])
    assert "base.need_to_know" in read(env, "det2").decisions["court"].rules


def test_other_org_investigator_is_still_refused_by_case_open(env: Env) -> None:
    assert "base.case_open" in read(env, "ice1").decisions["court"].rules


@pytest.mark.parametrize(("who", "rule"), [
    ("sup2", None),  # another organisation's supervisor: the case is not theirs
    ("det", "act.role_ceiling"),  # an investigator does not assign
    ("rec", "act.role_ceiling"),
    ("ovs", "act.role_ceiling"),
])
def test_attack_assign_refused_and_audited(env: Env, who: str, rule: str | None) -> None:
    with pytest.raises(Denied) as exc:
        app_cases.assign(env, Caller(who), "C1", add=["det2"])
    if rule:
        assert rule in exc.value.rules
    entry = last(env, "cases.assign")
    assert (entry["principal"], entry["outcome"]) == (who, "deny")
    assert "det2" not in members_of(env.store, "C1")["C1"]
    assert not read(env, "det2").any_permitted


def test_attack_unknown_case_and_other_org_case_answer_alike(env: Env) -> None:
    app_cases.open_case(env, Caller("ice1"), "ICE-1", title="t", kind="criminal")
    with pytest.raises(Denied) as a:
        app_cases.assign(env, Caller("chief"), "ICE-1", add=["det2"])
    with pytest.raises(Denied) as b:
        app_cases.assign(env, Caller("chief"), "NOPE", add=["det2"])
    assert str(a.value).replace("ICE-1", "X") == str(b.value).replace("NOPE", "X")


def test_attack_assign_a_user_of_another_org_or_disabled_refused(env: Env) -> None:
    with pytest.raises(NotFound):
        app_cases.assign(env, Caller("chief"), "C1", add=["ice1"])
    with pytest.raises(NotFound):
        app_cases.assign(env, Caller("chief"), "C1", add=["nobody"])


READS_OF_MATERIAL = [
    ("members", lambda e, c: app_cases.members(e, c, "C1")),
    ("subjects", lambda e, c: app_cases.subjects(e, c, "C1")),
    ("notes", lambda e, c: app_cases.notes(e, c, "C1")),
    ("activity", lambda e, c: app_cases.activity(e, c, "C1")),
    ("file", lambda e, c: app_cases.case_file(e, c, "C1")),
    ("add_subject", lambda e, c: app_cases.add_subject(e, c, "C1", "I-9")),
    ("add_note", lambda e, c: app_cases.add_note(e, c, "C1", "mine now")),
]


@pytest.mark.parametrize(("name", "act"), READS_OF_MATERIAL,
                         ids=[n for n, _ in READS_OF_MATERIAL])
def test_attack_non_member_investigator_sees_no_case_material(env: Env, name: str,
                                                              act: Any) -> None:
    before = len(entries(env))
    with pytest.raises(Denied) as exc:
        act(env, Caller("det2"))
    assert "act.case_need_to_know" in exc.value.rules
    new = entries(env)[before:]
    assert [(e["principal"], e["outcome"], e["case_id"]) for e in new] == [
        ("det2", "deny", "C1")]
    assert "act.case_need_to_know" in new[0]["rules"]


def test_attack_other_org_investigator_gets_nothing_even_assigned_elsewhere(env: Env) -> None:
    for act in (lambda: app_cases.notes(env, Caller("ice1"), "C1"),
                lambda: app_cases.activity(env, Caller("ice1"), "C1")):
        with pytest.raises(Denied):
            act()
    with pytest.raises(NotFound):  # another organisation's supervisor: not theirs
        app_cases.activity(env, Caller("sup2"), "C1")


def test_attack_non_member_investigator_cannot_watch_under_the_case(env: Env) -> None:
    with pytest.raises(Denied) as exc:
        app_watches.create_watch(env, Caller("det2"), identity_id="I-1", case_id="C1",
                                 purpose=CI, expires=LATER)
    assert "act.case_need_to_know" in exc.value.rules
    entry = last(env, "watch.create")
    assert (entry["principal"], entry["outcome"]) == ("det2", "deny")
    assert watches_mod.list_watches(env.store) == []


def test_attack_note_script_is_kept_as_text(env: Env) -> None:
    xss = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    note = app_cases.add_note(env, Caller("det"), "C1", xss)
    assert [n.text for n in app_cases.notes(env, Caller("det"), "C1")] == [xss]
    entry = last(env, "cases.note")
    assert xss not in json.dumps(entry)  # the log keeps the note's id and length
    assert entry["detail"]["note_id"] == note.note_id


@pytest.mark.parametrize("text", ["", "   ", "a\x1b[31mred", "x" * 10_001, "nul\x00"])
def test_bad_notes_refused(env: Env, text: str) -> None:
    with pytest.raises(Invalid):
        app_cases.add_note(env, Caller("det"), "C1", text)


# -- members -----------------------------------------------------------------------------
def test_reassign_in_one_act_and_history_kept(env: Env) -> None:
    after = app_cases.assign(env, Caller("chief"), "C1", add=["det2"], remove=["det"])
    assert after == ("det2",)
    assert not read(env, "det").any_permitted and read(env, "det2").any_permitted
    rows = history(env.store, "C1")
    assert [(m.member, m.current) for m in rows] == [("det", False), ("det2", True)]
    assert rows[0].removed_by == "chief"
    entry = last(env, "cases.assign")
    assert entry["detail"]["added"] == ["det2"] and entry["detail"]["removed"] == ["det"]
    assert entry["detail"]["members"] == ["det2"] and entry["case_id"] == "C1"
    # the opener, reassigned away, is no longer let in by having opened it
    with pytest.raises(Denied):
        app_cases.notes(env, Caller("det"), "C1")


@pytest.mark.parametrize(("add", "remove", "error"), [
    (["det"], [], Conflict),  # already a member
    ([], ["det2"], Invalid),  # not a member
    ([], ["det"], Invalid),  # the last member
    ([], [], Invalid),
    (["det2"], ["det2"], Invalid),
])
def test_assign_errors(env: Env, add: list[str], remove: list[str],
                       error: type[Exception]) -> None:
    with pytest.raises(error):
        app_cases.assign(env, Caller("chief"), "C1", add=add, remove=remove)


def test_closed_case_cannot_be_assigned_or_added_to(env: Env) -> None:
    app_cases.close_case(env, Caller("det"), "C1")
    with pytest.raises(Invalid):
        app_cases.assign(env, Caller("chief"), "C1", add=["det2"])
    with pytest.raises(Conflict):
        app_cases.add_note(env, Caller("det"), "C1", "late")


# -- subjects and notes ------------------------------------------------------------------
def test_subjects_and_notes_for_members_and_supervisors_only(env: Env) -> None:
    app_cases.add_subject(env, Caller("det"), "C1", "I-1")
    with pytest.raises(Conflict):
        app_cases.add_subject(env, Caller("det"), "C1", "I-1")
    app_cases.add_note(env, Caller("det"), "C1", "seen at the depot", identity_id="I-1")
    app_cases.add_note(env, Caller("chief"), "C1", "approved")
    with pytest.raises(Invalid):  # a note about someone not a subject
        app_cases.add_note(env, Caller("det"), "C1", "x", identity_id="I-2")
    assert [s.identity_id for s in app_cases.subjects(env, Caller("chief"), "C1")] == ["I-1"]
    assert [(n.author, n.identity_id) for n in app_cases.notes(env, Caller("chief"), "C1")] == [
        ("det", "I-1"), ("chief", None)]
    # an overseer sees the case's subjects and activity, not its notes
    assert app_cases.subjects(env, Caller("ovs"), "C1")
    with pytest.raises(Denied):
        app_cases.notes(env, Caller("ovs"), "C1")
    f = app_cases.case_file(env, Caller("ovs"), "C1")
    assert f.notes is None and [s.identity_id for s in f.subjects] == ["I-1"]
    assert app_cases.case_file(env, Caller("det"), "C1").notes is not None
    for who in ("lawyer", "root"):  # counsel and admins: no case material
        with pytest.raises(Denied):
            app_cases.case_file(env, Caller(who), "C1")


# -- activity ----------------------------------------------------------------------------
def test_activity_lists_what_was_done_under_the_case_newest_first_paged(env: Env) -> None:
    app_cases.assign(env, Caller("chief"), "C1", add=["det2"])
    assert read(env, "det").any_permitted
    with env.store.transaction():
        record(env.store, AuditEntry(principal="det", action="search", outcome="ok",
                                     purpose=CI, case_id="C1", identity_ids=("I-1", "I-2"),
                                     record_ids=("court/1", "court/2", "court/3")))
        record(env.store, AuditEntry(principal="det2", action="match.download", outcome="ok",
                                     case_id="C1", detail={"rows": 12}))
        record(env.store, AuditEntry(principal="det", action="policy.decide", outcome="permit",
                                     case_id="C1", sources=("court",)))
        record(env.store, AuditEntry(principal="det", action="policy.decide", outcome="deny",
                                     case_id="C1", sources=("court",)))
        record(env.store, AuditEntry(principal="det", action="search", outcome="ok",
                                     case_id="OTHER"))
    page = app_cases.activity(env, Caller("det"), "C1", limit=3)
    assert [(a.action, a.outcome) for a in page.items] == [
        ("policy.decide", "deny"), ("match.download", "ok"), ("search", "ok")]
    assert [a.records for a in page.items] == [0, 12, 3]
    assert page.items[2].identities == 2
    assert page.total == 5  # + cases.open and cases.assign; the permit and OTHER left out
    rest = app_cases.activity(env, Caller("det"), "C1", offset=3, limit=3)
    # the first page's read is now the newest entry: the rest starts one later
    assert [a.action for a in rest.items] == ["search", "cases.assign", "cases.open"]
    assert rest.total == 6
    # reading the activity is activity too (newest first)
    assert app_cases.activity(env, Caller("chief"), "C1").items[0].action == "cases.read"
    with pytest.raises(Invalid):
        app_cases.activity(env, Caller("det"), "C1", limit=0)


# -- closing -----------------------------------------------------------------------------
def test_closing_ends_the_case_s_watches(env: Env) -> None:
    watch = app_watches.create_watch(env, Caller("det"), identity_id="I-1", case_id="C1",
                                     purpose=CI, claims=["DPPA-b1"], expires=LATER)
    [standing] = watches_mod.watching(env.store, ["I-1"])["I-1"]
    assert watches_mod.stop_reason(standing, clock.today()) is None
    app_cases.close_case(env, Caller("chief"), "C1")
    [standing] = watches_mod.watching(env.store, ["I-1"]).get("I-1", [standing])
    assert standing.watch.watch_id == watch.watch_id
    assert watches_mod.stop_reason(standing, clock.today()) == watches_mod.STOPPED_CASE


def test_removed_member_s_watch_reads_are_denied(env: Env) -> None:
    app_cases.assign(env, Caller("chief"), "C1", add=["det2"])
    app_watches.create_watch(env, Caller("det2"), identity_id="I-1", case_id="C1",
                             purpose=CI, expires=LATER)
    app_cases.assign(env, Caller("chief"), "C1", remove=["det2"])
    # every alert is a read under the watch's own query: need-to-know now refuses it
    assert "base.need_to_know" in read(env, "det2").decisions["court"].rules


def _disclose(env: Env, identity: str, case_id: str) -> None:
    with env.store.transaction():
        record(env.store, AuditEntry(principal="det", organisation="nypd",
                                     role="investigator", action="profile.read",
                                     outcome="ok", purpose=CI, case_id=case_id,
                                     identity_ids=(identity,), sources=("court",)))


def test_closing_releases_withheld_disclosures_and_flags_answering_requests(env: Env) -> None:
    _disclose(env, "I-1", "C1")
    sar = open_sar(env.store, "I-1", case_id="SA1", requester="the subject (synthetic)",
                   received=date.today(), actor="rec")
    before = app_reports.subject_report(env, Caller("rec"), "I-1", copy="subject")
    assert before.withheld == 1  # answered while the criminal case was open
    assert app_cases.supplements_due(env, Caller("rec")) == []
    app_cases.close_case(env, Caller("det"), "C1")
    after = app_reports.subject_report(env, Caller("rec"), "I-1", copy="subject")
    assert after.withheld == 0
    assert len(after.disclosures) == len(before.disclosures) + 1
    [due] = app_cases.supplements_due(env, Caller("rec"))
    assert (due.sar_id, due.case_id, due.identity_id, due.released) == (sar.sar_id, "C1",
                                                                        "I-1", 1)
    assert last(env, "cases.close")["detail"]["supplements_due"] == [sar.sar_id]
    assert [s.sar_id for s in app_cases.supplements_due(env, Caller("ovs"))] == [sar.sar_id]
    with pytest.raises(Denied):  # an investigator does not handle requests
        app_cases.supplements_due(env, Caller("det"))
    with pytest.raises(Denied):
        app_cases.supplement_sent(env, Caller("det"), sar.sar_id, "C1")
    with pytest.raises(NotFound):
        app_cases.supplement_sent(env, Caller("rec"), sar.sar_id, "SA1")
    app_cases.supplement_sent(env, Caller("rec"), sar.sar_id, "C1")
    assert app_cases.supplements_due(env, Caller("rec")) == []
    entry = last(env, "sar.supplement")
    assert (entry["principal"], entry["outcome"], entry["case_id"]) == ("rec", "ok", "C1")
    with pytest.raises(Conflict):
        app_cases.supplement_sent(env, Caller("rec"), sar.sar_id, "C1")


def test_closing_a_non_criminal_case_or_one_with_no_disclosure_flags_nothing(env: Env) -> None:
    app_cases.open_case(env, Caller("det"), "CV1", title="civil", kind="civil")
    _disclose(env, "I-1", "CV1")
    open_sar(env.store, "I-1", case_id="SA1", requester="subject", received=date.today(),
             actor="rec")
    app_cases.close_case(env, Caller("det"), "CV1")
    app_cases.close_case(env, Caller("det"), "C1")
    assert app_cases.supplements_due(env, Caller("rec")) == []
