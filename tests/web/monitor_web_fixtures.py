"""The monitoring pages' live server: the web tests' data dir (``web_fixtures.build``)
plus two live sources and an immigration agency (synthetic data only).

* ``jail`` (kind ``booking``, US-TX): bookings pushed over HTTP;
* ``ny_dmv`` (kind ``dmv``, US-NY, DPPA): New York motor-vehicle records, which an
  immigration enforcement purpose may not read without a verified Article III warrant
  (N.Y. VTL § 201(12)(a), rule ``ny.vtl201.basis``);
* user ``ice`` (investigator of the government organisation ``ice``) with the open
  immigration case ``IM1``.

Both sources are registered by ingesting one record each (of person P2), so pushes can be
read with their manifests. The server is a uvicorn thread of this process on 127.0.0.1,
as ``web_fixtures.live_web`` runs it; HTTP pushes reach it over TCP like any sender's.
"""

from __future__ import annotations

import csv
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import uvicorn
from web_fixtures import (
    ADMIN,
    HEADER,
    OPERATOR,
    PASSWORD,
    LiveWeb,
    Row,
    _people,
    fixed_model,
    free_port,
    write_sources,
)

from idgraph.api.app import create_app
from idgraph.api.deps import locked
from idgraph.app import admin, auth, data, feeds
from idgraph.app import cases as app_cases
from idgraph.app.context import Caller, Env
from idgraph.link.train import save_model
from idgraph.settings import Settings

IMMIGRATION: Final = "ice"
IMM_CASE: Final = "IM1"
IMM_PURPOSE: Final = "civil_immigration_enforcement"
JAIL, NY_DMV = "jail", "ny_dmv"
LIVE_SOURCES: Final[dict[str, tuple[str, str, str]]] = {
    JAIL: ("booking", "US-TX", ""),
    NY_DMV: ("dmv", "US-NY", "DPPA"),
}
# one record of P2 in each live source (registers its manifest)
LIVE_ROWS: Final[tuple[Row, ...]] = (
    (JAIL, "J0", "P2", "MARIA", "", "GARCIA", "1990-11-02", "12 MAIN ST", "NEW YORK", "NY",
     "10027", "", "", "2024-02-01"),
    (NY_DMV, "N0", "P2", "MARIA", "", "GARCIA", "1990-11-02", "12 MAIN ST", "NEW YORK", "NY",
     "10027", "", "", "2022-02-01"),
)


def _manifest(sid: str) -> str:
    kind, jur, regimes = LIVE_SOURCES[sid]
    return (f"id: {sid}\ntitle: {sid} (synthetic)\nkind: {kind}\njurisdiction: {jur}\n"
            f"regimes: [{regimes}]\ncollected_for: tests\nretention_days: 3650\n"
            f"input: {{path: {sid}.csv, format: csv}}\nrecord_id: id\nfields:\n"
            "  first_name: first\n  middle_name: middle\n  last_name: last\n  dob: dob\n"
            "  street: street\n  city: city\n  state: state\n  zip: zip\n  phone: phone\n"
            "  plate: plate\n  observed_at: observed\n")


def build(folder: Path) -> Settings:
    """``web_fixtures.build``'s data dir with the live sources and the immigration user."""
    src = folder / "sources"
    write_sources(src)
    for row in LIVE_ROWS:
        (src / f"{row[0]}.yaml").write_text(_manifest(row[0]))
        with (src / f"{row[0]}.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(HEADER)
            writer.writerow([row[1], *row[3:]])
    settings = Settings(data_dir=folder / "data", threads=1, memory_limit="1GB",
                        ingest_workers=0)
    env = Env.open(settings)
    try:
        outcome = data.ingest(env, OPERATOR, [src])
        assert outcome.ok, outcome.errors
        data.index_rebuild(env, OPERATOR)
        save_model(env.store, fixed_model(), {"fixed": True})
        data.resolve(env, OPERATOR)  # a link run the live linker places new records by
        _people(env)
        root = Caller(ADMIN, via="cli")
        admin.add_user(env, root, IMMIGRATION, "investigator", "ice", org_type="government")
        env.refresh()
        auth.set_password(env, root, IMMIGRATION, PASSWORD)
        app_cases.open_case(env, Caller(IMMIGRATION), IMM_CASE, title="removal proceedings",
                        kind="immigration")
        env.refresh()
    finally:
        env.close()
    return settings


@contextmanager
def live_monitor(folder: Path) -> Iterator[LiveWeb]:
    """A uvicorn server in a thread on 127.0.0.1 over :func:`build`'s data dir."""
    settings = build(folder)
    env = Env.open(settings)
    port = free_port()
    config = uvicorn.Config(create_app(settings, env=env), host="127.0.0.1", port=port,
                            access_log=False, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="monitor-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    try:
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the monitor test server did not start")
            time.sleep(0.05)
        yield LiveWeb(f"http://127.0.0.1:{port}", settings, env)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        env.close()


def feed_token(live: LiveWeb, source: str) -> str:
    """A feed token for ``source`` (minted by the admin through the app)."""
    with locked(live.env):
        return feeds.create_token(live.env, Caller(ADMIN, via="cli"), source, days=1)


def record(rid: str, *, first: str = "WILLIAM", last: str = "ONEIL", dob: str = "1984-03-07",
           **extra: str) -> dict[str, Any]:
    """A pushed line in the live sources' columns (P1's person by default)."""
    return {"id": rid, "first": first, "middle": "", "last": last, "dob": dob,
            "street": "12 MAIN ST", "city": "NEW YORK", "state": "NY", "zip": "10027",
            "phone": "", "plate": "", "observed": "2026-12-01", **extra}


def push(live: LiveWeb, source: str, token: str, *rows: dict[str, Any]) -> dict[str, Any]:
    """``POST /api/v1/feeds/{source}`` with JSON lines; the receipt (2xx) as a dict."""
    body = "".join(json.dumps(r) + "\n" for r in rows).encode()
    req = urllib.request.Request(live.url(f"/api/v1/feeds/{source}"), data=body,
                                 method="POST", headers={
                                     "Authorization": f"Bearer {token}",
                                     "Content-Type": "application/x-ndjson"})
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            out: dict[str, Any] = json.loads(answer.read())
            return out
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"push refused: {exc.code} {exc.read()[:500]!r}") from exc


def identity_of(live: LiveWeb, record_id: str) -> str | None:
    with locked(live.env):
        row = live.env.store.fetchone(
            "SELECT identity_id FROM identity_members WHERE record_id = ?", [record_id])
    return None if row is None else str(row[0])


def alerts_of(live: LiveWeb, watch_id: str) -> list[str]:
    """The stored alerts of a watch (record ids)."""
    with locked(live.env):
        rows = live.env.store.fetchall(
            "SELECT record_id FROM alerts WHERE watch_id = ? ORDER BY raised_at", [watch_id])
    return [str(r[0]) for r in rows]
