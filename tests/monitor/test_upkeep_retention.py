"""Issue 16 leftover: retention removes alerts with the record they announced.

An alert keeps a minimised copy of its record. When the record's retention ends the
copy must not outlive it: ``retention.apply`` removes the alert (and its webhook
delivery rows: a pending one is never sent), in the act's transaction, and audits which
alerts it removed. The alert's ``record_id`` may be a pseudonym; the real record is
found through the alert's disclosure entry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from monitor_fixtures import CI, IDENTITY, TODAY, caller, entries, env, join

from idgraph.app import admin
from idgraph.app import watches as app_watches
from idgraph.app.context import Env
from idgraph.monitor import alerts, upkeep

__all__ = ["env"]

LATER = TODAY + timedelta(days=30)


@pytest.fixture
def quiet_webhooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deliveries stay pending (the worker never runs): retention must remove the rows."""
    monkeypatch.setattr(alerts.DISPATCHER, "submit", lambda *a: None)


def test_retention_removes_the_alert_with_its_record_and_audits_it(
    env: Env, quiet_webhooks: None,
) -> None:
    app_watches.create_watch(env, caller("gov"), identity_id=IDENTITY, case_id="C1",
                             purpose=CI, expires=LATER,
                             webhook_url="https://hooks.example.invalid/in")
    kept = join(env, "court", case_number="CR-1")  # 3650 days: kept
    short = join(env, "utility", phone="+12125550100")  # 30 days: past retention
    mine = {a.record_id: a for a in alerts.list_alerts(env.store, "gov")}
    assert set(mine) == {kept, short}
    # the short one shown under a pseudonym (as for a purpose the record's id is withheld
    # from): found by its disclosure entry all the same
    env.store.execute("UPDATE alerts SET record_id = 'utility/~0f1e2d3c4b5a' "
                      "WHERE alert_id = ?", [mine[short].alert_id])
    run = admin.apply_retention(env, caller("rec"))
    assert short in run.record_ids and kept not in run.record_ids
    left = alerts.list_alerts(env.store, "gov")
    assert [a.alert_id for a in left] == [mine[kept].alert_id]
    assert env.store.scalar("SELECT count(*) FROM alerts WHERE record::VARCHAR LIKE ?",
                            ["%2125550100%"]) == 0, "no copy of the record's values left"
    assert [r[0] for r in env.store.fetchall("SELECT alert_id FROM webhook_deliveries")] == [
        mine[kept].alert_id]
    [audited] = [e for e in entries(env, "retention.apply")
                 if "alerts_removed" in e["detail"]]
    assert audited["detail"]["alert_ids"] == [mine[short].alert_id]
    assert audited["principal"] == "rec" and audited["outcome"] == "ok"
    # the disclosure itself stays in the log: it happened (the subject may ask)
    assert any(short in e["record_ids"] for e in entries(env, alerts.ACTION))


def test_a_refused_retention_removes_nothing(env: Env) -> None:
    app_watches.create_watch(env, caller("gov"), identity_id=IDENTITY, case_id="C1",
                             purpose=CI, expires=LATER)
    join(env, "utility", phone="+12125550100")
    with pytest.raises(Exception, match="may not"):
        admin.apply_retention(env, caller("gov"))
    assert len(alerts.list_alerts(env.store, "gov")) == 1


def test_remove_alerts_of_records_without_alerts_is_a_no_op(env: Env) -> None:
    assert upkeep.remove_alerts_of_records(env.store, ["court/x"]) == []
    assert upkeep.remove_alerts_of_records(env.store, []) == []
