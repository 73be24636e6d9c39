"""Fixture builders for the web UI tests: a small synthetic data dir, users with passwords,
a live server on 127.0.0.1 and a headless Debian Chromium driven by Playwright.

A uniquely named module (``conftest`` is not): the tests import it by name. Synthetic
data only. Identities are set by hand (members chained by accepted edges) and the link
model's m/u are fixed, so no model is trained: the store builds in seconds.

The population has one person whose name and source record id carry script
(:data:`XSS_NAME`, :data:`XSS_ID`), and a credit-header source (``canary``, GLBA) that a
criminal investigation claiming only DPPA-b1 may not read: its records are withheld and
the profile says so.
"""

from __future__ import annotations

import csv
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, Final

import uvicorn
from playwright.sync_api import Page

from idgraph.api.app import create_app
from idgraph.app import admin, auth, data
from idgraph.app import cases as app_cases
from idgraph.app.context import Caller, Env
from idgraph.link.model import settings_dict
from idgraph.link.train import save_model
from idgraph.settings import Settings

ARTIFACTS: Final = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_ARGS: Final = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync"]
PASSWORD: Final = "correct horse battery staple"
OPERATOR: Final = Caller("operator:web-tests", via="cli")

ADMIN, INVESTIGATOR, OVERSEER, RECORDS, SUPERVISOR = "root", "gov", "ovs", "rec", "chief"
CASE, SAR_CASE = "C1", "SA-1"
PURPOSE: Final = "criminal_investigation"
CLAIMS: Final = ("DPPA-b1",)

XSS_SCRIPT: Final = "<script>alert(1)</script>"
XSS_IMG: Final = '"><img src=x onerror=alert(1)>'
XSS_NAME: Final = f"{XSS_SCRIPT} {XSS_IMG}"
XSS_ID: Final = 'X1"><img src=x onerror=alert(2)>'

# source -> (kind, jurisdiction, regimes)
SOURCES: Final[dict[str, tuple[str, str, tuple[str, ...]]]] = {
    "tx_dmv": ("dmv", "US-TX", ("DPPA",)),
    "court": ("court", "US-NY", ()),
    "utility": ("utility", "US-NY", ()),
    "canary": ("credit_header", "US", ("GLBA",)),
}
HEADER: Final = ("id", "first", "middle", "last", "dob", "street", "city", "state", "zip",
                 "phone", "plate", "observed")
# (source, id, identity, first, middle, last, dob, street, city, state, zip, phone, plate,
#  observed)
Row = tuple[str, str, str, str, str, str, str, str, str, str, str, str, str, str]
POPULATION: Final[tuple[Row, ...]] = (
    ("tx_dmv", "1", "P1", "WILLIAM", "JAMES", "ONEIL", "1984-03-07", "12 MAIN ST",
     "NEW YORK", "NY", "10027", "", "ABC1234", "2020-01-01"),
    ("court", "1", "P1", "WILLIAM", "", "ONEIL", "1984-03-07", "", "", "", "", "", "", ""),
    ("utility", "1", "P1", "BILL", "", "ONEIL", "", "500 W 120TH ST", "NEW YORK", "NY",
     "10027", "2125550101", "", "2025-06-01"),
    ("canary", "1", "P1", "WILLIAM", "", "ONEIL", "1984-03-07", "77 HIDDEN LN", "NEW YORK",
     "NY", "10027", "2125550199", "", "2024-01-01"),
    ("tx_dmv", "2", "P2", "MARIA", "", "GARCIA", "1990-11-02", "12 MAIN ST", "NEW YORK",
     "NY", "10027", "", "", "2020-06-01"),
    ("utility", "2", "P2", "MARIA", "", "GARCIA", "", "12 MAIN ST", "NEW YORK", "NY",
     "10027", "2125550101", "", "2021-01-01"),
    ("tx_dmv", "6", "P6", "ELIZABETH", "", "TAYLOR", "1962-02-27", "8 BAY ST", "HOUSTON",
     "TX", "77002", "7135550103", "", "2021-01-01"),
    ("utility", "6", "P6", "LIZ", "", "TAYLOR", "", "8 BAY ST", "HOUSTON", "TX", "77002",
     "7135550103", "", "2024-01-01"),
    ("court", XSS_ID, "X1", XSS_SCRIPT, "", XSS_IMG, "1970-01-01", "", "", "", "", "", "",
     ""),
    ("utility", "X2", "X1", XSS_SCRIPT, "", XSS_IMG, "", "1 SCRIPT ST", "AUSTIN", "TX",
     "73301", "5125550177", "", "2023-01-01"),
)

MATCH_MAPPING: Final = """fields:
  full_name: {column: NAME, order: first_last}
  dob: {column: BORN, format: "%m/%d/%Y"}
  street: ADDR
  zip: ZIP
  phone: PHONE
record_id: REF
"""
MATCH_LIST: Final = (
    "REF,NAME,BORN,ADDR,ZIP,PHONE\n"
    "R1,William ONeil,03/07/1984,,,\n"
    "R2,Liz Taylor,,8 Bay St,77002,\n"
    "R3,Zebulon Quartermaine,01/01/2001,,,\n"
    "R4,,,,,(713) 555-0103\n"
)

def _manifest(sid: str) -> str:
    kind, jur, regimes = SOURCES[sid]
    return f"""id: {sid}
title: {sid} (synthetic)
kind: {kind}
jurisdiction: {jur}
regimes: [{", ".join(regimes)}]
collected_for: tests
retention_days: 3650
input: {{path: {sid}.csv, format: csv}}
record_id: id
fields:
  first_name: first
  middle_name: middle
  last_name: last
  dob: dob
  street: street
  city: city
  state: state
  zip: zip
  phone: phone
  plate: plate
  observed_at: observed
"""


def write_sources(folder: Path, rows: Sequence[Row] = POPULATION) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    by_source: dict[str, list[Row]] = {}
    for r in rows:
        by_source.setdefault(r[0], []).append(r)
    for sid, recs in by_source.items():
        (folder / f"{sid}.yaml").write_text(_manifest(sid))
        with (folder / f"{sid}.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(HEADER)
            for r in recs:
                writer.writerow([r[1], *r[3:]])


def fixed_model() -> dict[str, Any]:
    """The idgraph model with hand-set m and u probabilities (no training)."""
    model = settings_dict(prior=1e-3)
    for comp in model["comparisons"]:
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        pairs = [(0.9 / 2**i, 0.0005 * 4**i) for i in range(len(levels) - 1)] + [(0.02, 0.98)]
        for lv, (m, u) in zip(levels, pairs, strict=True):
            lv["m_probability"], lv["u_probability"] = m, u
    return model


def _link(env: Env, rows: Sequence[Row]) -> None:
    store = env.store
    store.execute("INSERT INTO link_runs (run_id, started_at, finished_at, threshold) VALUES "
                  "('r1', TIMESTAMP '2026-01-02', TIMESTAMP '2026-01-02', 0.9) "
                  "ON CONFLICT DO NOTHING")
    members: dict[str, list[str]] = {}
    for r in rows:
        members.setdefault(r[2], []).append(f"{r[0]}/{r[1]}")
    for identity, ids in members.items():
        for rid in ids:
            store.execute("INSERT INTO identity_members (identity_id, record_id) VALUES (?, ?)",
                          [identity, rid])
        for left, right in pairwise(ids):
            store.execute("INSERT INTO link_edges (run_id, record_id_l, record_id_r, "
                          "match_probability, match_weight, accepted, evidence) VALUES "
                          "('r1', ?, ?, 0.99, 10.0, true, '{}')", [left, right])


def _people(env: Env) -> None:
    root = Caller(ADMIN, via="cli")
    admin.add_user(env, root, ADMIN, "admin", "ops", org_type="government")
    admin.add_user(env, root, INVESTIGATOR, "investigator", "nypd", org_type="government")
    admin.add_user(env, root, OVERSEER, "overseer", "oig", org_type="government")
    admin.add_user(env, root, RECORDS, "records_officer", "nypd", org_type="government")
    admin.add_user(env, root, SUPERVISOR, "supervisor", "nypd", org_type="government")
    env.refresh()
    for name in (ADMIN, INVESTIGATOR, OVERSEER, RECORDS, SUPERVISOR):
        auth.set_password(env, root, name, PASSWORD)
    app_cases.open_case(env, Caller(INVESTIGATOR), CASE, title="burglary series", kind="criminal")
    app_cases.open_case(env, Caller(RECORDS), SAR_CASE, title="subject asks", kind="subject_access")
    env.refresh()


def build(folder: Path, database_url: str | None = None) -> Settings:
    """The data dir ``folder/data``: sources ingested by the app, identities, a fixed
    model, the search index, users with passwords and two cases."""
    write_sources(folder / "sources")
    settings = Settings(data_dir=folder / "data", threads=1, memory_limit="1GB",
                        ingest_workers=0, database_url=database_url)
    env = Env.open(settings)
    try:
        outcome = data.ingest(env, OPERATOR, [folder / "sources"])
        assert outcome.ok, outcome.errors
        _link(env, POPULATION)
        save_model(env.store, fixed_model(), {"fixed": True})
        data.index_rebuild(env, OPERATOR)
        _people(env)
    finally:
        env.close()
    return settings


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveWeb:
    base_url: str
    settings: Settings
    env: Env

    def url(self, path: str) -> str:
        return self.base_url + path


@contextmanager
def live_web(folder: Path, database_url: str | None = None) -> Iterator[LiveWeb]:
    """A uvicorn server in a thread on a free port of 127.0.0.1 over a built data dir (its
    tables in the PostgreSQL database at ``database_url`` when given)."""
    settings = build(folder, database_url)
    env = Env.open(settings)
    port = free_port()
    config = uvicorn.Config(create_app(settings, env=env), host="127.0.0.1", port=port,
                            access_log=False, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="web-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    try:
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the web test server did not start")
            time.sleep(0.05)
        yield LiveWeb(f"http://127.0.0.1:{port}", settings, env)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        env.close()


def require_chromium() -> str:
    """The Debian Chromium binary; a missing browser fails the test (never a skip)."""
    path = os.environ.get("IDGRAPH_CHROMIUM", CHROMIUM)
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        found = shutil.which("chromium")
        raise AssertionError(
            f"Chromium is required for the web UI tests and was not found at {path}"
            + (f" (there is one at {found}: set IDGRAPH_CHROMIUM)" if found else "")
            + ". Install it: apt-get install chromium")
    return path


# -- browser helpers ---------------------------------------------------------------------

def shot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """A PNG of the page in test-artifacts/web_<name>.png."""
    path = ARTIFACTS / f"web_{name}.png"
    path.unlink(missing_ok=True)
    page.screenshot(path=str(path), full_page=full_page)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


def log_in(page: Page, live: LiveWeb, user: str, *, then: str = "/") -> None:
    """Log in through the form (landing on the purpose screen)."""
    page.goto(live.url(f"/login?next={then}"))
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/purpose**")


def choose_purpose(page: Page, purpose: str = PURPOSE, *, case: str | None = CASE,
                   claims: Sequence[str] = CLAIMS) -> None:
    """Fill and submit the purpose screen (the page must be on it)."""
    page.get_by_label("Purpose", exact=True).select_option(purpose)
    page.get_by_label("Case", exact=True).fill(case or "")
    for code in claims:
        page.locator(f"input[name='claims'][value='{code}']").check()
    page.get_by_role("button", name="Use this purpose").click()
    page.wait_for_load_state()
    assert "/purpose" not in page.url, page.content()[:2000]
