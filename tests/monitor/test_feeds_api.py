"""``POST /api/v1/feeds/{source}`` and the feed token and status routes, in process
(FastAPI's TestClient over a linked store), and ``idgraph serve`` killed with SIGKILL
mid-stream: every acknowledged record is in the store after the restart, placed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from feed_fixtures import backend_environ, booking, caller, lines, linked_env

from idgraph.api.app import create_app
from idgraph.app import auth, feeds
from idgraph.app.context import Env
from idgraph.store import open_store

IDGRAPH = str(Path(sys.executable).parent / "idgraph")
URL = "/api/v1/feeds/bookings"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    e = linked_env(tmp_path_factory.mktemp("feeds_api"))
    yield e
    e.close()


@pytest.fixture(scope="module")
def client(env: Env) -> Iterator[TestClient]:
    with TestClient(create_app(env.settings, env=env)) as c:
        yield c


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}


def test_push_answers_every_line(env: Env, client: TestClient) -> None:
    token = feeds.create_token(env, caller("root"), "bookings", days=1)
    body = lines(booking("H1"), "{oops", booking("H2", "MARIA", "GARCIA", "1990-11-02"))
    r = client.post(URL, content=body, headers=_bearer(token))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert [(x["line"], x["status"]) for x in doc["lines"]] == [
        (1, "stored"), (2, "quarantined"), (3, "stored")]
    assert "not valid JSON" in doc["lines"][1]["reasons"][0] and doc["placed"] is True
    again = client.post(URL, content=body, headers=_bearer(token)).json()
    assert [x["status"] for x in again["lines"]] == ["duplicate", "quarantined", "duplicate"]
    assert r.headers["cache-control"] == "no-store"


def test_push_refuses_a_missing_bad_or_other_source_token(env: Env, client: TestClient) -> None:
    court = feeds.create_token(env, caller("root"), "court", days=1)
    body = lines(booking("H9"))
    assert client.post(URL, content=body).status_code == 401
    assert client.post(URL, content=body, headers=_bearer("idgf_x_y")).status_code == 401
    r = client.post(URL, content=body, headers=_bearer(court))
    assert r.status_code == 403 and r.json()["rules"] == [feeds.TOKEN_SOURCE_RULE]
    user = auth.create_token(env, caller("root", via="cli"), name="t", days=1).secret
    assert client.post(URL, content=body, headers=_bearer(user)).status_code == 401
    assert env.store.scalar("SELECT count(*) FROM records WHERE record_id = 'bookings/H9'") == 0


def test_token_and_status_routes(env: Env, client: TestClient) -> None:
    admin = auth.create_token(env, caller("root", via="cli"), name="a", days=1).secret
    officer = auth.create_token(env, caller("ro", via="cli"), name="r", days=1).secret
    r = client.post(f"{URL}/tokens", json={"days": 2}, headers=_auth(admin))
    assert r.status_code == 201 and r.json()["token"].startswith("idgf_"), r.text
    assert client.post(f"{URL}/tokens", json={"days": 2},
                       headers=_auth(officer)).status_code == 403
    r = client.post(URL, content=lines(booking("H3", "LEE", "PARK")),
                    headers=_bearer(r.json()["token"]))
    assert r.status_code == 200
    st = client.get(f"{URL}/status", headers=_bearer(officer))
    assert st.status_code == 200 and st.json()["stored"] >= 1
    assert client.get("/api/v1/feeds/nowhere/status",
                      headers=_bearer(officer)).status_code == 404


# -- SIGKILL mid-stream ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(data: Path, port: int, extra: dict[str, str] | None = None
           ) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([IDGRAPH, "--data-dir", str(data), "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "IDGRAPH_INGEST_WORKERS": "0", **(extra or {})})
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, "idgraph serve stopped"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("idgraph serve did not answer")


def test_sigkill_mid_stream_loses_no_acknowledged_record(tmp_path: Path) -> None:
    e = linked_env(tmp_path)
    token = feeds.create_token(e, caller("root"), "bookings", days=1)
    data_dir, settings = e.settings.data_dir, e.settings
    backend = backend_environ(settings)
    e.close()
    port = _free_port()
    proc = _serve(data_dir, port, backend)
    acked: list[str] = []
    sent: list[str] = []
    stop = threading.Event()

    def stream() -> None:
        n = 0
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            while not stop.is_set():
                ids = [f"K{n + i}" for i in range(5)]
                n += 5
                sent.extend(ids)
                try:
                    r = http.post(URL, content=lines(*(booking(i, "PAT", f"Q{i}") for i in ids)),
                                  headers=_bearer(token))
                except httpx.HTTPError:
                    return  # the server is gone: this push is not acknowledged
                if r.status_code == 200:
                    acked.extend(x["source_record_id"] for x in r.json()["lines"]
                                 if x["status"] in ("stored", "duplicate"))

    t = threading.Thread(target=stream)
    t.start()
    try:
        deadline = time.monotonic() + 60
        while len(acked) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        stop.set()
        t.join(timeout=30)
        if proc.poll() is None:
            proc.kill()
    assert len(acked) >= 40 and len(sent) > len(acked) - 1
    # restart: the store opens (WAL replayed) and every acknowledged record is there
    proc = _serve(data_dir, port, backend)
    try:
        r = httpx.post(f"http://127.0.0.1:{port}{URL}", content=lines(booking("AFTER")),
                       headers=_bearer(token), timeout=30)
        assert r.status_code == 200, r.text
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    store = open_store(settings.db_target, data_dir=data_dir, upgrade=False)
    fetch = store.fetchall
    try:
        stored = {str(x[0]) for x in fetch(
            "SELECT source_record_id FROM records WHERE source_id = 'bookings'")}
        placed = {str(x[0]) for x in fetch(
            "SELECT r.source_record_id FROM records r JOIN identity_members m "
            "ON m.record_id = r.record_id WHERE r.source_id = 'bookings'")}
        pending = fetch("SELECT count(*) FROM feed_receipts WHERE placed_at IS NULL")[0]
        dup = fetch("SELECT count(*) FROM (SELECT record_id FROM records "
                    "GROUP BY record_id, row_hash HAVING count(*) > 1) AS d")[0]
    finally:
        store.close()
    missing = set(acked) - stored
    assert not missing, f"acknowledged but lost: {sorted(missing)[:10]}"
    assert set(acked) <= placed  # placed after the restart if the kill came before
    assert pending == (0,) and dup == (0,)
