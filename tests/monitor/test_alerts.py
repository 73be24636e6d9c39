"""Issue 16, alerts: each test is written as the attack (or the duty) it checks.

An alert is a disclosure: it may fire only where the watch's purpose, claims, case and
legal process may use the new record's source on that day, minimised as a read is,
audited, with the notices the rules require."""

from __future__ import annotations

from datetime import timedelta

import pytest
from monitor_fixtures import (
    CI,
    IDENTITY,
    IMM,
    TODAY,
    caller,
    entries,
    env,
    join,
    notices,
    warrant,
)

from idgraph import clock
from idgraph.app import watches as app_watches
from idgraph.app.context import Env
from idgraph.app.errors import Conflict, Denied, Invalid, NotFound
from idgraph.monitor import alerts, watches
from idgraph.policy.profile import read_profile
from idgraph.schema import Query

__all__ = ["env"]  # the fixture, imported by name

LATER = TODAY + timedelta(days=30)


def _imm_watch(env: Env, basis: str | None = None, **kw: object) -> watches.Watch:
    args: dict[str, object] = {"identity_id": IDENTITY, "case_id": "IM1", "purpose": IMM,
                               "claims": ("DPPA-b1",), "basis": basis, "expires": LATER}
    args.update(kw)
    return app_watches.create_watch(env, caller("gov"), **args)  # type: ignore[arg-type]


def _alerts(env: Env, who: str = "gov") -> list[alerts.Alert]:
    return alerts.list_alerts(env.store, who)


# -- the purpose may not use the source: nothing fires, nothing is disclosed --------------
def test_immigration_watch_raises_nothing_on_a_new_york_dmv_record_without_a_warrant(
    env: Env,
) -> None:
    """N.Y. Veh. & Traf. Law § 201(12)(a): no DMV record to civil immigration enforcement
    without an Article III judge's order or warrant. A watch must not be a way round."""
    _imm_watch(env)
    stream = alerts.BUS.subscribe("gov")
    before = len(entries(env))
    join(env, "ny_dmv", dl_number="NY123", street="1 MAIN ST")
    assert _alerts(env) == []
    assert stream.empty()
    assert notices(env) == 0
    new = entries(env)[before:]
    assert not [e for e in new if e["action"] == alerts.ACTION]
    # nothing of the record left in any entry either (not even a decision naming it)
    assert not [e for e in new if e.get("record_ids")]
    alerts.BUS.unsubscribe("gov", stream)


def test_immigration_watch_with_an_article_iii_warrant_alerts_with_notice(env: Env) -> None:
    """The same record under a verified Article III warrant: the alert fires, is audited
    as a disclosure, and the subject is owed notice within 3 days (§ 201(12)(b))."""
    lid = warrant(env, expires=LATER)
    w = _imm_watch(env, basis=lid)
    stream = alerts.BUS.subscribe("gov")
    rid = join(env, "ny_dmv", dl_number="NY123", street="1 MAIN ST")
    [alert] = _alerts(env)
    assert (alert.watch_id, alert.identity_id, alert.segment) == (w.watch_id, IDENTITY, "ny_dmv")
    assert "ny.vtl201.notice" in alert.rules
    assert len(alert.notices) == 1 and notices(env) == 1
    [audited] = entries(env, alerts.ACTION)
    assert audited["record_ids"] == [rid] and audited["identity_ids"] == [IDENTITY]
    assert audited["sources"] == ["ny_dmv"] and audited["outcome"] == "ok"
    assert audited["detail"]["watch_id"] == w.watch_id
    assert audited["detail"]["notices"] == list(alert.notices)
    assert audited["basis"] == lid and audited["case_id"] == "IM1"
    item = stream.get(timeout=1)
    assert item["event"] == "alert" and item["data"]["alert_id"] == alert.alert_id
    alerts.BUS.unsubscribe("gov", stream)


def test_alert_is_minimised_as_a_read_is(env: Env) -> None:
    """An alert shows the record exactly as a profile read under the watch's query would
    (the same fields: policy.fields), never the raw row."""
    lid = warrant(env, expires=LATER)
    _imm_watch(env, basis=lid)
    rid = join(env, "ny_dmv", dl_number="NY123", ssn="123456789", raw='{"secret": 1}')
    [alert] = _alerts(env)
    profile = read_profile(env.store, Query(principal="gov", purpose=IMM, claims=("DPPA-b1",),
                                            basis=lid, case_id="IM1"), IDENTITY, anchor=rid)
    [shown] = [r for r in profile.records["ny_dmv"] if r.get("source_record_id") ==
               rid.split("/")[1] or r["record_id"] == rid]
    assert set(alert.record) == set(shown) - {"source_file"}
    assert "raw" not in alert.record and "row_hash" not in alert.record
    assert "secret" not in alert.body().decode()
    fields = entries(env, alerts.ACTION)[0]["detail"]["fields"]
    assert set(alert.record) - {"record_id", "source_id", "source_record_id", "version",
                                "batch_id", "ingested_at", "source_line",
                                "observed_at"} <= set(fields)


def test_criminal_watch_alerts_on_a_court_record_not_on_another_identity(env: Env) -> None:
    app_watches.create_watch(env, caller("gov"), identity_id=IDENTITY, case_id="C1",
                             purpose=CI, claims=(), expires=LATER)
    join(env, "court", case_number="CR-1")
    join(env, "court", identity="I2", case_number="CR-2")
    [alert] = _alerts(env)
    assert alert.identity_id == IDENTITY and alert.record["case_number"] == "CR-1"


def test_criteria_watch_alerts_when_a_new_record_meets_the_criteria(env: Env) -> None:
    app_watches.create_watch(env, caller("gov"), criteria={"last_name": "roe",
                                                           "case_number": "cr-9"},
                             case_id="C1", purpose=CI, expires=LATER)
    join(env, "court", identity="I7", case_number="CR-8")
    assert _alerts(env) == []
    join(env, "court", identity="I7", case_number="CR-9")
    [alert] = _alerts(env)
    assert alert.identity_id == "I7"


def test_criteria_watch_by_a_protected_attribute_is_refused_and_audited(env: Env) -> None:
    with pytest.raises(Denied):
        app_watches.create_watch(env, caller("gov"), criteria={"ethnicity": "X"},
                                 case_id="C1", purpose=CI, expires=LATER)
    assert entries(env, "watch.create")[-1]["outcome"] == "deny"
    assert watches.list_watches(env.store) == []


# -- a watch stops: its expiry, its legal process's expiry, its case's closing ---------------
def test_expired_watch_raises_nothing(env: Env) -> None:
    lid = warrant(env, expires=TODAY + timedelta(days=90))
    _imm_watch(env, basis=lid, expires=TODAY + timedelta(days=1))
    with clock.frozen(TODAY + timedelta(days=2)):
        join(env, "ny_dmv", dl_number="NY1")
    assert _alerts(env) == [] and notices(env) == 0
    assert not entries(env, alerts.ACTION)


def test_watch_whose_legal_process_expired_raises_nothing(env: Env) -> None:
    lid = warrant(env, expires=TODAY + timedelta(days=5))
    _imm_watch(env, basis=lid, expires=TODAY + timedelta(days=60))
    join(env, "ny_dmv", dl_number="NY1")
    assert len(_alerts(env)) == 1  # in force today
    with clock.frozen(TODAY + timedelta(days=6)):
        join(env, "ny_dmv", dl_number="NY2")
    assert len(_alerts(env)) == 1 and len(entries(env, alerts.ACTION)) == 1
    [standing] = watches.watching(env.store, [IDENTITY])[IDENTITY]
    assert watches.stop_reason(standing, TODAY + timedelta(days=6)) == watches.STOPPED_LEGAL


def test_watch_whose_case_closed_raises_nothing(env: Env) -> None:
    from idgraph.app.cases import close_case

    app_watches.create_watch(env, caller("gov"), identity_id=IDENTITY, case_id="C1",
                             purpose=CI, expires=LATER)
    join(env, "court", case_number="CR-1")
    assert len(_alerts(env)) == 1
    close_case(env, caller("gov"), "C1")
    join(env, "court", case_number="CR-2")
    assert len(_alerts(env)) == 1 and len(entries(env, alerts.ACTION)) == 1


def test_case_closed_by_another_process_stops_the_watch_at_once(env: Env) -> None:
    """The registry this process holds still says open: the watch's standing is read
    from the tables with the event, so it stops all the same."""
    app_watches.create_watch(env, caller("gov"), identity_id=IDENTITY, case_id="C1",
                             purpose=CI, expires=LATER)
    env.store.execute("UPDATE cases SET status = 'closed' WHERE case_id = 'C1'")
    join(env, "court", case_number="CR-1")
    assert _alerts(env) == []


def test_cancelled_watch_raises_nothing(env: Env) -> None:
    w = app_watches.create_watch(env, caller("gov"), identity_id=IDENTITY, case_id="C1",
                                 purpose=CI, expires=LATER)
    app_watches.cancel_watch(env, caller("gov"), w.watch_id)
    join(env, "court", case_number="CR-1")
    assert _alerts(env) == []


# -- creating a watch is an act, checked against its case ----------------------------------
@pytest.mark.parametrize(("who", "kw", "error"), [
    ("rec", {}, Denied),  # a records officer does not watch people (role ceiling)
    ("gov", {"purpose": IMM}, Denied),  # immigration purpose under a criminal case
    # another organisation's case: its investigator is no member (act.case_need_to_know),
    # refused as for any case they do not work, whether it exists or not
    ("pi", {}, Denied),
    ("gov", {"expires": TODAY}, Invalid),
    ("gov", {"expires": TODAY + timedelta(days=400)}, Invalid),
    ("gov", {"purpose": "nonsense"}, Invalid),
    ("gov", {"basis": "no-such-doc"}, NotFound),
    ("gov", {"webhook_url": "file:///etc/passwd"}, Invalid),
], ids=["role", "purpose-case", "other-org-case", "expires-today", "too-long",
        "unknown-purpose", "unknown-basis", "webhook-scheme"])
def test_create_watch_refusals(env: Env, who: str, kw: dict[str, object],
                               error: type[Exception]) -> None:
    args: dict[str, object] = {"identity_id": IDENTITY, "case_id": "C1", "purpose": CI,
                               "expires": LATER, **kw}
    with pytest.raises(error):
        app_watches.create_watch(env, caller(who), **args)  # type: ignore[arg-type]
    assert watches.list_watches(env.store) == []
    assert entries(env, "watch.create")[-1]["outcome"] in ("deny", "error")


def test_a_warrant_of_another_case_does_not_serve_the_watch(env: Env) -> None:
    lid = warrant(env, expires=LATER)  # registered to IM1
    with pytest.raises(Denied):
        app_watches.create_watch(env, caller("gov"), identity_id=IDENTITY, case_id="C1",
                                 purpose=CI, basis=lid, expires=LATER)


def test_closed_case_takes_no_new_watch(env: Env) -> None:
    env.store.execute("UPDATE cases SET status = 'closed' WHERE case_id = 'C1'")
    with pytest.raises(Conflict):
        app_watches.create_watch(env, caller("gov"), identity_id=IDENTITY, case_id="C1",
                                 purpose=CI, expires=LATER)


def test_cancel_is_the_owner_or_a_supervisor(env: Env) -> None:
    w = app_watches.create_watch(env, caller("gov"), identity_id=IDENTITY, case_id="C1",
                                 purpose=CI, expires=LATER)
    with pytest.raises(Denied):
        app_watches.cancel_watch(env, caller("off"), w.watch_id)  # same org, not owner
    with pytest.raises(NotFound):
        app_watches.cancel_watch(env, caller("pi"), w.watch_id)  # another org
    assert app_watches.cancel_watch(env, caller("chief"), w.watch_id).status == "cancelled"
    with pytest.raises(Conflict):
        app_watches.cancel_watch(env, caller("gov"), w.watch_id)


def test_listings_are_scoped_and_secret_free(env: Env) -> None:
    w = app_watches.create_watch(env, caller("gov"), identity_id=IDENTITY, case_id="C1",
                                 purpose=CI, expires=LATER)
    assert w.secret and len(w.secret) == 64
    assert [x.watch_id for x in app_watches.list_watches(env, caller("gov"))] == [w.watch_id]
    assert app_watches.list_watches(env, caller("off")) == []  # another investigator's
    [seen] = app_watches.list_watches(env, caller("chief"))  # the supervisor sees it
    assert seen.secret is None
    assert app_watches.list_watches(env, caller("pi")) == []
    join(env, "court", case_number="CR-1")
    assert len(app_watches.list_alerts(env, caller("gov"))) == 1
    assert app_watches.list_alerts(env, caller("off")) == []


def test_a_listener_failure_never_loses_the_feed(env: Env) -> None:
    """An alert that cannot be raised is recorded without personal data; the feed goes on."""
    from idgraph.monitor import events

    app_watches.create_watch(env, caller("gov"), identity_id=IDENTITY, case_id="C1",
                             purpose=CI, expires=LATER)
    events.clear_failures()
    env.store.execute("DROP TABLE alerts")
    join(env, "court", case_number="CR-1")
    [failure] = events.listener_failures()
    assert failure.listener.endswith("on_joined") and "CR-1" not in repr(failure)
    events.clear_failures()


def test_an_alert_is_a_disclosure_in_the_subject_access_report(env: Env) -> None:
    """Privacy Act § 552a(c)(3): an accounting of disclosures must include alerts."""
    from idgraph.app.reports import subject_report

    app_watches.create_watch(env, caller("gov"), identity_id=IDENTITY, case_id="C1",
                             purpose=CI, expires=LATER)
    rid = join(env, "court", case_number="CR-1")
    report = subject_report(env, caller("ovs"), IDENTITY, copy="overseer")
    [shown] = [d for d in report.disclosures if d.action == alerts.ACTION]
    assert shown.record_ids == [rid] and shown.principal == "gov"


def test_disabled_owner_s_watch_raises_nothing(env: Env) -> None:
    """Disabled by another process (this one's registry still says active): stopped."""
    app_watches.create_watch(env, caller("gov"), identity_id=IDENTITY, case_id="C1",
                             purpose=CI, expires=LATER)
    env.store.execute("UPDATE users SET disabled = true WHERE name = 'gov'")
    join(env, "court", case_number="CR-1")
    assert _alerts(env) == [] and not entries(env, alerts.ACTION)


def test_an_event_is_decided_on_the_record_s_own_source(env: Env) -> None:
    """An event that names another source than the stored record's does not move the
    record to a more permissive source: the store's source and origin decide."""
    from datetime import UTC, datetime

    from monitor_fixtures import add_record

    from idgraph.monitor import events

    _imm_watch(env)
    rid = add_record(env.store, "ny_dmv", "lie1", first_name="ANA", dl_number="NY9")
    env.store.execute("INSERT INTO identity_members VALUES (?, ?)", [IDENTITY, rid])
    events.record_joined(env, [events.RecordJoined(
        rid, IDENTITY, "jail", None, "b-x", "new", datetime.now(UTC))])
    assert _alerts(env) == [] and not entries(env, alerts.ACTION)


@pytest.mark.parametrize("url", [
    "http://hooks.example.org/x",  # personal data in clear
    "https://127.0.0.1/x", "https://10.1.2.3/x", "https://169.254.169.254/latest",
    "https://[::1]/x", "https://localhost:8000/x", "https://api.localhost/x", "https:///x",
])
def test_webhook_must_be_tls_and_not_into_the_operator_s_network(env: Env, url: str) -> None:
    with pytest.raises(Invalid):
        app_watches.create_watch(env, caller("gov"), identity_id=IDENTITY, case_id="C1",
                                 purpose=CI, expires=LATER, webhook_url=url)
    assert watches.list_watches(env.store) == []


def test_criteria_on_a_field_the_purpose_may_not_see_never_match(env: Env) -> None:
    """A criteria watch on a withheld field (an SSN: 18 U.S.C. § 2725(4)) would tell its
    owner the value by firing: it never fires."""
    app_watches.create_watch(env, caller("gov"), criteria={"ssn": "123456789"},
                             case_id="C1", purpose="locate_witness", expires=LATER)
    join(env, "court", identity="I8", ssn="123456789")
    assert _alerts(env) == []
    # the same criteria on a field it may see (the name) fire
    app_watches.create_watch(env, caller("gov"), criteria={"last_name": "ROE"},
                             case_id="C1", purpose="locate_witness", expires=LATER)
    join(env, "court", identity="I8", ssn="123456789")
    [alert] = _alerts(env)
    assert "ssn" not in alert.record


def test_criteria_watch_is_decided_before_the_record_is_read(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused segment: the record's values are never read."""
    read: list[str] = []
    original = alerts._record_rows

    def spy(store: object, rids: list[str]) -> object:
        read.extend(rids)
        return original(store, rids)  # type: ignore[arg-type]

    monkeypatch.setattr(alerts, "_record_rows", spy)
    app_watches.create_watch(env, caller("gov"), criteria={"last_name": "ROE"},
                             case_id="IM1", purpose=IMM, claims=("DPPA-b1",), expires=LATER)
    join(env, "ny_dmv", identity="I8")
    assert read == [] and _alerts(env) == []


def test_stream_subscribes_when_opened(env: Env) -> None:
    app_watches.create_watch(env, caller("gov"), identity_id=IDENTITY, case_id="C1",
                             purpose=CI, expires=LATER)
    stream = app_watches.alert_stream(env, caller("gov"), timeout=0.05)
    join(env, "court", case_number="CR-1")  # before the first read of the stream
    item = next(stream)
    assert item is not None and item["event"] == "alert"
    assert next(stream) is None  # quiet: a keep-alive
    stream.close()  # type: ignore[attr-defined]
    assert "gov" not in alerts.BUS._subs
