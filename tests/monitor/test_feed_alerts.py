"""End to end: a booking pushed to a live feed joins a watched identity and the watch's
owner has the alert at once (the alerts listener of idgraph.monitor.alerts)."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

from feed_fixtures import CASE, booking, caller, lines, linked_env

from idgraph.app import feeds, watches
from idgraph.app.context import Caller
from idgraph.monitor import alerts, events


def test_a_pushed_booking_alerts_the_watcher_within_a_second(tmp_path: Path) -> None:
    env = linked_env(tmp_path)
    installed = alerts.on_joined in events.listeners()
    alerts.install()
    try:
        (ident,) = env.store.fetchone(
            "SELECT identity_id FROM identity_members WHERE record_id = 'tx_dmv/1'") or ("",)
        gov = Caller(actor="gov", via="api", purpose="criminal_investigation",
                     claims=("DPPA-b1",), case_id=CASE)
        watches.create_watch(env, gov, identity_id=str(ident), case_id=CASE,
                             purpose="criminal_investigation", claims=("DPPA-b1",),
                             expires=date.today() + timedelta(days=30))
        token = feeds.create_token(env, caller("root"), "bookings", days=1)
        t0 = time.perf_counter()
        receipt = feeds.push(env, token, "bookings", lines(booking("E1")))
        elapsed = time.perf_counter() - t0
        assert receipt.placed and receipt.events == 1
        (alert,) = watches.list_alerts(env, gov)
        assert (alert.identity_id, alert.kind, alert.owner) == (str(ident), "new", "gov")
        assert alert.segment.startswith("bookings")
        assert elapsed < 1.0
    finally:
        if not installed:  # leave the listener as found (app.watches installs it on import)
            alerts.uninstall()
        alerts.DISPATCHER.flush(env.store)
        env.close()
