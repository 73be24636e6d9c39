"""Fixture builders for the API tests: a small synthetic store, users of every role with
API tokens, and a live uvicorn server on 127.0.0.1 (synthetic data only).

A uniquely named module (``conftest`` is not): the tests import it by name.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import uvicorn

from idgraph import clock
from idgraph.api.app import create_app
from idgraph.api.deps import locked
from idgraph.app import admin, auth, data, reads
from idgraph.app import cases as app_cases
from idgraph.app.context import Caller, Env
from idgraph.cli import serve
from idgraph.settings import Settings
from idgraph.synth import generate

PEOPLE = 300
OPERATOR = Caller("operator:api-tests", via="cli")
ADMIN = "root"
# role -> the user holding it
ROLE_USERS: dict[str, str] = {
    "admin": ADMIN,
    "investigator": "det",
    "supervisor": "chief",
    "records_officer": "rec",
    "overseer": "ovs",
    "counsel": "lawyer",
}
ORG = "nypd"
CASE = "C-API-1"
SAR_CASE = "SA-API-1"  # a subject-access case of the records officer
PURPOSE = "criminal_investigation"
CLAIMS = ("DPPA-b1", "GLBA-e8")
DISABLED = "gone"  # an investigator disabled after their token was made
EXPIRED = "expired"  # the token label of det's token made 60 days ago for 30 days


@dataclass
class LiveApi:
    """A running server over a built store."""

    base_url: str
    settings: Settings
    env: Env
    synth: Path  # the synthetic source files and manifests
    tokens: dict[str, str] = field(default_factory=dict)  # role or label -> bearer token
    person: tuple[str, int] | None = None  # an example (name, birth year)
    identity_id: str | None = None  # the first hit for ``person``
    record_ids: tuple[str, str] | None = None  # two records of that identity

    def client(self, who: str | None = None, **kw: object) -> httpx.Client:
        headers = {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=60.0, **kw)

    def read_params(self) -> dict[str, object]:
        return {"purpose": PURPOSE, "claims": ",".join(CLAIMS), "case_id": CASE}


def build_store(folder: Path, database_url: str | None = None) -> Settings:
    """Synthesise, ingest, resolve and index ``PEOPLE`` people into ``folder/data`` (the
    DuckDB file there), or into the PostgreSQL database at ``database_url`` (keys and the
    search index still in ``folder/data``)."""
    synth = folder / "synth"
    generate(synth, people=PEOPLE, seed=7)
    settings = Settings(data_dir=folder / "data", threads=1, memory_limit="1GB",
                        ingest_workers=0, database_url=database_url)
    env = Env.open(settings)
    try:
        outcome = data.ingest(env, OPERATOR, [synth])
        assert outcome.ok, outcome.errors
        data.resolve(env, OPERATOR)
        data.index_rebuild(env, OPERATOR)
    finally:
        env.close()
    return settings


def add_people(env: Env) -> dict[str, str]:
    """Users of every role (and a disabled one), the case, and a bearer token each."""
    root = Caller(ADMIN, via="cli")
    admin.add_user(env, root, ADMIN, "admin", "ops", org_type="government")
    for role, name in ROLE_USERS.items():
        if name != ADMIN:
            admin.add_user(env, root, name, role, ORG, org_type="government")
    admin.add_user(env, root, DISABLED, "investigator", ORG, org_type="government")
    env.refresh()
    app_cases.open_case(env, Caller(ROLE_USERS["investigator"]), CASE, title="api tests",
                    kind="criminal")
    app_cases.open_case(env, Caller(ROLE_USERS["records_officer"]), SAR_CASE,
                    title="api tests: subject access", kind="subject_access")
    tokens = {role: auth.create_token(env, root, user=name, name=f"t-{role}").secret
              for role, name in ROLE_USERS.items()}
    tokens[DISABLED] = auth.create_token(env, root, user=DISABLED, name="t-gone").secret
    with clock.frozen(clock.now() - timedelta(days=60)):
        tokens[EXPIRED] = auth.create_token(env, root, user=ROLE_USERS["investigator"],
                                            name="t-old", days=30).secret
    admin.disable_user(env, root, DISABLED)
    env.refresh()
    return tokens


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(settings: Settings, env: Env) -> Iterator[str]:
    """A uvicorn server in a thread on a free port of 127.0.0.1; yields its base URL."""
    port = free_port()
    app = create_app(settings, env=env)
    server = uvicorn.Server(serve.config(app, "127.0.0.1", port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="api-test-server", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def find_example(live: LiveApi) -> None:
    """An example person and their identity (searched as the investigator)."""
    env = live.env
    with locked(env):
        live.person = reads.example_person(env)
    assert live.person is not None
    name, year = live.person
    with live.client("investigator") as c:
        r = c.get("/api/v1/search", params={**live.read_params(), "name": name,
                                              "dob": str(year)})
        assert r.status_code == 200, r.text
        hits = r.json()["hits"]
        assert hits, f"no hit for {name} {year}"
        live.identity_id = hits[0]["identity_id"]
        surname = name.split()[0]
        r = c.get("/api/v1/search", params={**live.read_params(), "name": surname,
                                              "limit": 20})
        for hit in [hits[0], *r.json()["hits"]]:
            r = c.get(f"/api/v1/identities/{hit['identity_id']}", params=live.read_params())
            assert r.status_code == 200, r.text
            ids = [rec["record_id"] for rows in r.json()["records"].values() for rec in rows]
            if len(ids) >= 2:
                live.record_ids = (ids[0], ids[1])
                return
    raise AssertionError("no identity with two records to explain")


@contextmanager
def live_api(folder: Path, database_url: str | None = None) -> Iterator[LiveApi]:
    """The live server over a store built in ``folder`` (DuckDB), or in the PostgreSQL
    database at ``database_url``."""
    settings = build_store(folder, database_url)
    env = Env.open(settings)
    try:
        tokens = add_people(env)
        with serving(settings, env) as base:
            live = LiveApi(base_url=base, settings=settings, env=env, synth=folder / "synth",
                           tokens=tokens)
            find_example(live)
            yield live
    finally:
        env.close()
