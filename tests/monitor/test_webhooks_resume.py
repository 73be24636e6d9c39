"""Issue 16 leftover: a webhook delivery pending when the process stops is not lost.

The alert and its ``pending`` delivery row commit together; the worker's queue is in
memory. A crash after the commit and before the worker posts must not drop the delivery:
the next process resumes the row (at serve start or its first dispatch), signed afresh
with the watch's secret, the same JSON; a row whose watch stopped or whose alert is gone
is marked dead instead of sent."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from monitor_fixtures import CI, IDENTITY, TODAY, caller, env, join

from idgraph import clock
from idgraph.app import watches as app_watches
from idgraph.app.context import Env
from idgraph.monitor import alerts, delivery, webhooks
from idgraph.policy.users import disable_user

__all__ = ["env"]

LATER = TODAY + timedelta(days=30)


@dataclass
class Receiver:
    sent: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.sent.append((url, body, headers))
        return 200


def _crash_before_delivery(env: Env, monkeypatch: pytest.MonkeyPatch, n: int = 1) -> None:
    """Alerts raised and committed, then the process 'dies' before its worker posts."""
    lost: list[str] = []
    monkeypatch.setattr(alerts.DISPATCHER, "submit",
                        lambda store, alert_id, *a: lost.append(alert_id))
    for i in range(n):
        join(env, "court", case_number=f"CR-{i}")
    monkeypatch.undo()
    assert len(lost) >= n
    rows = env.store.fetchall("SELECT status FROM webhook_deliveries")
    assert [r[0] for r in rows] == ["pending"] * n


def _restarted(receiver: Receiver) -> delivery.Dispatcher:
    """The next process's dispatcher: nothing in memory; started after the crash."""
    return delivery.Dispatcher(post=receiver.post, sleep=lambda s: None,
                               started=clock.now_naive() + timedelta(seconds=1))


def _watch(env: Env, who: str = "gov") -> str:
    w = app_watches.create_watch(env, caller(who), identity_id=IDENTITY, case_id="C1",
                                 purpose=CI, expires=LATER,
                                 webhook_url="https://hooks.example.invalid/in")
    assert w.secret is not None
    return w.secret


def test_a_pending_delivery_is_resumed_after_a_restart(
    env: Env, monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = _watch(env)
    _crash_before_delivery(env, monkeypatch, n=2)
    receiver = Receiver()
    after = _restarted(receiver)
    assert after.resume(env.store) == 2
    after.join()
    assert after.flush(env.store) == 2
    assert len(receiver.sent) == 2
    stored = {a.alert_id: a for a in alerts.list_alerts(env.store, "gov")}
    for url, body, headers in receiver.sent:
        assert url == "https://hooks.example.invalid/in"
        webhooks.verify(bytes.fromhex(secret), headers[webhooks.HEADER], body)
        sent = json.loads(body)
        assert sent == stored[sent["alert_id"]].to_dict()  # the same JSON as at first
        assert delivery.delivery_status(env.store, sent["alert_id"]) == ("delivered", 1)
    # a second resume (or a later flush) sends nothing twice
    assert after.resume(env.store) == 0


def test_the_first_flush_of_a_process_resumes_and_in_flight_rows_are_not_doubled(
    env: Env, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _watch(env)
    _crash_before_delivery(env, monkeypatch)
    receiver = Receiver()
    after = _restarted(receiver)
    after.flush(env.store)  # the first dispatch of the new process
    after.flush(env.store)  # and a second, while the first is maybe still in flight
    after.join()
    after.flush(env.store)
    assert len(receiver.sent) == 1


@pytest.mark.parametrize("stop", ["cancelled", "owner disabled", "alert removed"])
def test_a_pending_delivery_that_may_no_longer_go_is_marked_dead(
    env: Env, monkeypatch: pytest.MonkeyPatch, stop: str,
) -> None:
    _watch(env)
    _crash_before_delivery(env, monkeypatch)
    [alert] = alerts.list_alerts(env.store, "gov")
    if stop == "cancelled":
        app_watches.cancel_watch(env, caller("gov"), alert.watch_id)
    elif stop == "owner disabled":
        disable_user(env.store, "gov", actor="root")
    else:
        env.store.execute("DELETE FROM alerts WHERE alert_id = ?", [alert.alert_id])
    receiver = Receiver()
    after = _restarted(receiver)
    assert after.resume(env.store) == 0
    assert receiver.sent == []
    status, _ = delivery.delivery_status(env.store, alert.alert_id) or ("?", None)
    assert status == "dead"
    why = env.store.scalar("SELECT last_error FROM webhook_deliveries WHERE alert_id = ?",
                           [alert.alert_id])
    assert why in ("watch stopped", "owner inactive", "alert removed")


def test_a_hanging_receiver_does_not_hold_up_other_watches_webhooks(env: Env) -> None:
    """One watch's receiver that hangs (or fails slowly through every back-off) must not
    delay every other organisation's deliveries behind it on one worker."""
    import threading
    import time

    release = threading.Event()
    sent: list[str] = []

    def post(url: str, body: bytes, headers: dict[str, str]) -> int:
        if "slow" in url:
            release.wait(10)
        sent.append(url)
        return 200

    d = delivery.Dispatcher(post=post, sleep=lambda s: None)
    d.resume(env.store)  # nothing pending: keeps flush from resuming anything
    for i in range(3):
        d.submit(env.store, f"A-slow{i}", "https://slow.example.invalid/", b"k", b"{}")
    started = time.monotonic()
    d.submit(env.store, "A-fast", "https://fast.example.invalid/", b"k", b"{}")
    while "https://fast.example.invalid/" not in sent and time.monotonic() - started < 5:
        time.sleep(0.01)
    waited = time.monotonic() - started
    release.set()
    d.join()
    assert "https://fast.example.invalid/" in sent and waited < 2.0, waited


def test_the_shell_s_first_watch_request_resumes_under_its_lock(
    env: Env, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``use_guard`` (each watch route of the API calls it) resumes the store's pending
    rows once, under the lock it is given."""
    from collections.abc import Iterator
    from contextlib import contextmanager

    _watch(env)
    _crash_before_delivery(env, monkeypatch)
    receiver = Receiver()
    monkeypatch.setattr(alerts.DISPATCHER, "post", receiver.post)
    monkeypatch.setattr(alerts.DISPATCHER, "sleep", lambda s: None)
    alerts.DISPATCHER._resumed.discard(id(env.store))  # as in a new process
    held: list[bool] = []

    @contextmanager
    def guard() -> Iterator[None]:
        held.append(True)
        yield

    try:
        delivery.use_guard(env.store, guard)
        alerts.DISPATCHER.join()
    finally:
        delivery.use_guard(env.store, None)
    assert held and len(receiver.sent) == 1
    assert [r[0] for r in env.store.fetchall("SELECT status FROM webhook_deliveries")] == [
        "delivered"]


@pytest.mark.postgres_only
def test_two_processes_resuming_one_database_send_each_row_once(
    env: Env, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL (``serve --workers N``): processes that start together all resume the
    rows left pending by the previous ones; each row is sent by one of them only, and a
    row queued by a live process after they started is left to it."""
    _watch(env)
    _crash_before_delivery(env, monkeypatch, n=2)
    receiver = Receiver()
    first, second = _restarted(receiver), _restarted(receiver)
    with clock.frozen(TODAY + timedelta(days=1)):  # both running, a moment later
        assert first.resume(env.store) + second.resume(env.store) == 2
    first.join()
    second.join()
    first.flush(env.store)
    second.flush(env.store)
    assert len(receiver.sent) == 2
    assert len({json.loads(b)["alert_id"] for _, b, _ in receiver.sent}) == 2
    # a row queued after a dispatcher started is another live process's: not taken
    early = delivery.Dispatcher(post=receiver.post, sleep=lambda s: None,
                                started=datetime(2000, 1, 1))
    _crash_before_delivery_more(env, monkeypatch)
    assert early.resume(env.store) == 0


def _crash_before_delivery_more(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alerts.DISPATCHER, "submit", lambda *a: None)
    join(env, "court", case_number="CR-late")
    monkeypatch.undo()
