"""Issue 16 over HTTP: a watch set up through the API raises an alert that arrives on the
owner's live stream (server-sent events) within a second of the record joining, and in
``GET /alerts``; the stream is the owner's alone."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from api_fixtures import CASE, CLAIMS, PURPOSE, LiveApi

from idgraph.api.app import API_PREFIX
from idgraph.api.deps import locked
from idgraph.monitor import events


def _listen(live: LiveApi, who: str, seconds: float, out: list[tuple[float, dict[str, Any]]],
            ready: threading.Event) -> None:
    with live.client(who) as c, c.stream("GET", f"{API_PREFIX}/alerts/stream",
                                         params={"seconds": seconds}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        event = ""
        for line in r.iter_lines():
            if line.startswith(": idgraph"):
                ready.set()
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "alert":
                out.append((time.monotonic(), json.loads(line[6:])))


def test_alert_reaches_the_owner_s_stream_within_a_second(live: LiveApi) -> None:
    expires = (date.today() + timedelta(days=30)).isoformat()
    with live.client("investigator") as c:
        r = c.post(f"{API_PREFIX}/watches", json={
            "identity_id": live.identity_id, "case_id": CASE, "purpose": PURPOSE,
            "claims": list(CLAIMS), "expires": expires})
        assert r.status_code == 201, r.text
        watch = r.json()
        assert watch["secret"] and watch["status"] == "active"
    mine: list[tuple[float, dict[str, Any]]] = []
    theirs: list[tuple[float, dict[str, Any]]] = []
    ready_mine, ready_theirs = threading.Event(), threading.Event()
    threads = [
        threading.Thread(target=_listen, args=(live, "investigator", 4.0, mine, ready_mine)),
        threading.Thread(target=_listen, args=(live, "supervisor", 4.0, theirs, ready_theirs)),
    ]
    for t in threads:
        t.start()
    assert ready_mine.wait(10) and ready_theirs.wait(10)
    with live.client("investigator") as c:
        prof = c.get(f"{API_PREFIX}/identities/{live.identity_id}", params=live.read_params())
        permitted = sorted(s for s, o in prof.json()["sources"].items()
                           if o["included"] and o["records"])
    env = live.env
    assert permitted
    marks = ", ".join("?" for _ in permitted)  # the same SQL on both backends
    with locked(env):
        row = env.store.fetchone(
            "SELECT r.record_id, r.source_id, r.origin_jurisdiction FROM identity_members m "
            "JOIN records r USING (record_id) WHERE m.identity_id = ? AND r.is_current "
            f"AND r.source_id IN ({marks}) ORDER BY r.record_id LIMIT 1",
            [live.identity_id, *permitted])
    assert row is not None, "the example identity has no record a read may see"
    rid, sid, origin = row
    sent = time.monotonic()
    with locked(env):
        events.record_joined(env, [events.RecordJoined(
            rid, str(live.identity_id), sid, origin, "b-api", "changed", datetime.now(UTC))])
    for t in threads:
        t.join(timeout=15)
    got = [(at, a) for at, a in mine if a["watch_id"] == watch["watch_id"]]
    assert got, "no alert on the owner's stream"
    at, alert = got[0]
    assert at - sent < 1.0
    assert alert["source"] == sid and alert["identity_id"] == live.identity_id
    assert not [a for _, a in theirs if a["watch_id"] == watch["watch_id"]]
    with live.client("investigator") as c:
        listed = c.get(f"{API_PREFIX}/alerts").json()
        assert alert["alert_id"] in {a["alert_id"] for a in listed}
        r = c.post(f"{API_PREFIX}/watches/{watch['watch_id']}/cancel")
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        assert r.json()["secret"] is None
