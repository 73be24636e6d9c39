"""PostgreSQL (``serve --workers N``, one database): an alert or a deconfliction notice
raised by another process reaches this process's open streams (alerts.Relay), once; on
DuckDB one process raises every alert, and no relay runs."""

from __future__ import annotations

import queue
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from monitor_fixtures import CI, IDENTITY, TODAY, caller, env, join

from idgraph.app import watches as app_watches
from idgraph.app.context import Env
from idgraph.monitor import alerts, events, watches

__all__ = ["env"]

LATER = TODAY + timedelta(days=30)


def _raise_only(e: Env, batch: Sequence[events.RecordJoined]) -> None:
    """Another process's listener: raises the alerts (its own bus: none here)."""
    alerts.raise_alerts(e.store, e.registry(), batch)


def _drain(q: queue.Queue[dict[str, Any]], wait: float) -> list[dict[str, Any]]:
    out = []
    try:
        out.append(q.get(timeout=wait))
        while True:
            out.append(q.get(timeout=1.5))
    except queue.Empty:
        return out


@pytest.mark.duckdb_only
def test_on_duckdb_no_relay_runs(env: Env) -> None:
    assert alerts.relay(env.store) is None


@pytest.mark.postgres_only
def test_another_process_s_alerts_and_notices_reach_this_process_s_streams(env: Env) -> None:
    app_watches.create_watch(env, caller("gov"), identity_id=IDENTITY, case_id="C1",
                             purpose=CI, expires=LATER)
    gov = alerts.BUS.subscribe("gov")
    relay = alerts.relay(env.store)
    assert relay is not None and alerts.relay(env.store) is relay  # one per store
    other = Env(store=env.store.sibling(), settings=env.settings)
    alerts.uninstall()
    events.on_record_joined(_raise_only)
    try:
        join(other, "court", case_number="CR-9")
        got = _drain(gov, 5)
        assert [(i["event"], i["data"]["owner"], i["data"]["identity_id"]) for i in got] == [
            ("alert", "gov", IDENTITY)]
        # a notice made by the other process: its recipients here are told, once
        det = alerts.BUS.subscribe("det")
        with other.store.transaction():  # the library: no publish in this process
            made = watches.create_watch(
                other.store, owner="det", org="nypd", identity_id=IDENTITY, criteria=None,
                case_id="N1", purpose=CI, claims=(), basis=None, expires=LATER,
                webhook_url=None)
            assert watches.deconflict(other.store, made)
        notes = _drain(det, 5)
        assert [i["event"] for i in notes] == ["deconfliction"]
        assert [i["event"] for i in _drain(gov, 5)] == ["deconfliction"]
    finally:
        events.remove_listener(_raise_only)
        alerts.install()
        other.store.close()
    # raised here: published by this process, and not a second time by the relay
    join(env, "court", case_number="CR-10")
    assert [i["event"] for i in _drain(gov, 3)] == ["alert"]
    relay.stop.set()
    relay.thread.join(timeout=5)
    alerts.BUS.unsubscribe("gov", gov)
    alerts.BUS.unsubscribe("det", det)
