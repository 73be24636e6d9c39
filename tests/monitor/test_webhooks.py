"""Issue 16, webhooks: a forged or replayed delivery is detectable; failures are retried
with back-off and dead-lettered after the last try, and shown."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from monitor_fixtures import CI, IDENTITY, TODAY, caller, env, join

from idgraph.app import watches as app_watches
from idgraph.app.context import Env
from idgraph.monitor import alerts, webhooks
from idgraph.monitor.webhooks import ReplayGuard, WebhookError, sign, verify

__all__ = ["env"]

SECRET = bytes.fromhex("11" * 32)
BODY = b'{"alert_id": "A-1"}'
NOW = 1_780_000_000


def test_signature_verifies() -> None:
    header = sign(SECRET, BODY, now=NOW)
    assert header.startswith(f"t={NOW},v1=")
    assert verify(SECRET, header, BODY, now=NOW + 10) == NOW


@pytest.mark.parametrize(("secret", "body", "header", "reason"), [
    (SECRET, b'{"alert_id": "A-2"}', None, "signature"),  # body changed in transit
    (bytes.fromhex("22" * 32), BODY, None, "signature"),  # signed with another secret
    (SECRET, BODY, f"t={NOW + 1},v1=", "signature"),  # timestamp moved, old MAC kept
    (SECRET, BODY, "v1=abcd", "malformed"),
    (SECRET, BODY, "garbage", "malformed"),
    (SECRET, BODY, f"t={NOW},t={NOW},v1=00", "malformed"),
], ids=["body", "secret", "timestamp-moved", "no-timestamp", "garbage", "two-timestamps"])
def test_forged_delivery_is_refused(secret: bytes, body: bytes, header: str | None,
                                    reason: str) -> None:
    good = sign(SECRET, BODY, now=NOW)
    if header is None:
        header = good
    elif header.endswith("v1="):
        header += good.split("v1=")[1]
    with pytest.raises(WebhookError) as err:
        verify(secret, header, body, now=NOW)
    assert err.value.reason == reason


def test_replay_after_the_tolerance_is_stale() -> None:
    header = sign(SECRET, BODY, now=NOW)
    with pytest.raises(WebhookError) as err:
        verify(SECRET, header, BODY, now=NOW + webhooks.TOLERANCE + 1)
    assert err.value.reason == "stale"
    with pytest.raises(WebhookError):  # a future timestamp too
        verify(SECRET, sign(SECRET, BODY, now=NOW + 3600), BODY, now=NOW)


def test_replay_inside_the_tolerance_is_caught_by_the_guard() -> None:
    guard = ReplayGuard()
    header = sign(SECRET, BODY, now=NOW)
    assert guard.check(SECRET, header, BODY, now=NOW + 1) == NOW
    with pytest.raises(WebhookError) as err:
        guard.check(SECRET, header, BODY, now=NOW + 2)
    assert err.value.reason == "replayed"
    # a fresh delivery of the same body (a retry is signed anew) is accepted
    assert guard.check(SECRET, sign(SECRET, BODY, now=NOW + 3), BODY, now=NOW + 3) == NOW + 3


def test_retries_back_off_exponentially_then_dead_letter() -> None:
    waits: list[float] = []
    calls: list[str] = []

    def post(url: str, body: bytes, headers: dict[str, str]) -> int:
        calls.append(headers[webhooks.HEADER])
        return 503

    out = webhooks.deliver("https://example.invalid/h", SECRET, BODY, post=post,
                           sleep=waits.append, tries=5, base=0.5, clock=lambda: NOW)
    assert (out.delivered, out.attempts, out.last_error) == (False, 5, "HTTP 503")
    assert waits == [0.5, 1.0, 2.0, 4.0]
    assert all(verify(SECRET, h, BODY, now=NOW) == NOW for h in calls)


def test_network_errors_are_retried_until_delivered() -> None:
    answers: list[int | Exception] = [ConnectionRefusedError(), 500, 204]

    def post(url: str, body: bytes, headers: dict[str, str]) -> int:
        a = answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a

    out = webhooks.deliver("https://example.invalid/h", SECRET, BODY, post=post,
                           sleep=lambda s: None)
    assert (out.delivered, out.attempts) == (True, 3)


@dataclass
class FakeReceiver:
    status: int = 200
    sent: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.sent.append((url, body, headers))
        return self.status


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> FakeReceiver:
    fake = FakeReceiver()
    monkeypatch.setattr(alerts.DISPATCHER, "post", fake.post)
    monkeypatch.setattr(alerts.DISPATCHER, "sleep", lambda s: None)
    return fake


def test_alert_webhook_is_signed_with_the_watch_secret(env: Env, receiver: FakeReceiver) -> None:
    w = app_watches.create_watch(env, caller("gov"), identity_id=IDENTITY, case_id="C1",
                                 purpose=CI, expires=TODAY + timedelta(days=30),
                                 webhook_url="https://hooks.example.invalid/idgraph")
    join(env, "court", case_number="CR-1")
    alerts.DISPATCHER.join()
    [(url, body, headers)] = receiver.sent
    assert url == "https://hooks.example.invalid/idgraph"
    assert w.secret is not None
    verify(bytes.fromhex(w.secret), headers[webhooks.HEADER], body)
    assert json.loads(body)["watch_id"] == w.watch_id
    [alert] = alerts.list_alerts(env.store, "gov")
    assert alerts.delivery_status(env.store, alert.alert_id) == ("delivered", 1)


def test_failed_webhook_is_dead_lettered_and_shown(env: Env, receiver: FakeReceiver) -> None:
    receiver.status = 500
    app_watches.create_watch(env, caller("gov"), identity_id=IDENTITY, case_id="C1",
                             purpose=CI, expires=TODAY + timedelta(days=30),
                             webhook_url="https://hooks.example.invalid/down")
    join(env, "court", case_number="CR-1")
    alerts.DISPATCHER.join()
    assert len(receiver.sent) == webhooks.TRIES
    [dead] = app_watches.list_dead_letters(env, caller("gov"))
    assert (dead.attempts, dead.last_error) == (webhooks.TRIES, "HTTP 500")
    assert len(app_watches.list_dead_letters(env, caller("chief"))) == 1  # the supervisor
    assert app_watches.list_dead_letters(env, caller("pi")) == []  # another org


def test_the_verify_tool(tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_bytes(BODY)
    tool = Path(__file__).resolve().parents[2] / "tools" / "verify_webhook.py"
    good = sign(SECRET, BODY)
    ok = subprocess.run([sys.executable, str(tool), SECRET.hex(), good, str(body)],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    body.write_bytes(BODY + b" ")
    bad = subprocess.run([sys.executable, str(tool), SECRET.hex(), good, str(body)],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and "signature" in bad.stderr
