"""Fixture builders for the data-act and read tests of :mod:`idgraph.app` (synthetic only).

A uniquely named module (``conftest`` is not): the tests import it by name. Users and
cases are written straight into the registry tables (these tests are about the data
acts and reads, not the admin acts that would normally add them); sources, records and
identities come from the real acts: ``ingest`` of two manifests, ``resolve`` with a
fixed model (no training).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from app_backend import settings_for

from idgraph import clock
from idgraph.app.context import Caller, Env

# name -> (role, org, org_type)
USERS: dict[str, tuple[str, str, str]] = {
    "root": ("admin", "ops", "government"),
    "ro": ("records_officer", "ops", "government"),
    "gov": ("investigator", "ice", "government"),
    "pi": ("investigator", "acme", "private"),
    "over": ("overseer", "board", "government"),
}
CI = "criminal_investigation"
CASE = "C1"  # an open criminal case of ice

# (source, record id, first, last, dob, street, city, state, zip, phone)
PEOPLE: tuple[tuple[str, ...], ...] = (
    ("tx_dmv", "1", "WILLIAM", "ONEIL", "1984-03-07", "12 MAIN ST", "AUSTIN", "TX", "73301",
     "5125550101"),
    ("court", "1", "WILLIAM", "ONEIL", "1984-03-07", "12 MAIN ST", "AUSTIN", "TX", "73301",
     ""),
    ("tx_dmv", "2", "MARIA", "GARCIA", "1990-11-02", "9 ELM ST", "AUSTIN", "TX", "73301",
     "5125550102"),
    ("court", "2", "MARIA", "GARCIA", "1990-11-02", "", "", "", "", ""),
    ("tx_dmv", "3", "JOHN", "SMITH", "1970-05-05", "1 PINE RD", "DALLAS", "TX", "75201",
     ""),
)
# source -> (kind, jurisdiction, regimes)
SOURCES: dict[str, tuple[str, str, str]] = {
    "tx_dmv": ("dmv", "US-TX", "DPPA"),
    "court": ("court", "US-TX", ""),
}
HEADER = ("id", "first", "last", "dob", "street", "city", "state", "zip", "phone")


def manifest(sid: str, path: str | None = None) -> str:
    kind, jur, regimes = SOURCES[sid]
    return f"""id: {sid}
title: {sid} (synthetic)
kind: {kind}
jurisdiction: {jur}
regimes: [{regimes}]
collected_for: tests
retention_days: 3650
input: {{path: {path or sid + ".csv"}, format: csv}}
record_id: id
fields:
  first_name: first
  last_name: last
  dob: dob
  street: street
  city: city
  state: state
  zip: zip
  phone: phone
"""


def write_sources(folder: Path) -> Path:
    """The two sources' manifests and CSV files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for sid in SOURCES:
        (folder / f"{sid}.yaml").write_text(manifest(sid))
        with (folder / f"{sid}.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(HEADER)
            for row in PEOPLE:
                if row[0] == sid:
                    w.writerow(row[1:])
    return folder


def seed(env: Env) -> None:
    """The users and the open case, straight into the registry tables."""
    store = env.store
    now = clock.now_naive()
    for name, (role, org, org_type) in USERS.items():
        store.execute(
            "INSERT INTO users (name, role, org, org_type, disabled, created_at, created_by) "
            "VALUES (?, ?, ?, ?, false, ?, 'test')", [name, role, org, org_type, now])
    store.execute(
        "INSERT INTO cases (case_id, title, status, kind, org, opened_by, opened_at) "
        "VALUES (?, ?, 'open', 'criminal', 'ice', 'gov', ?)", [CASE, CASE, now])
    env.refresh()


def new_env(tmp: Path) -> Env:
    """A file store in ``tmp/data`` (the search index lives beside it) with users."""
    env = Env.open(settings_for(tmp / "data", ingest_workers=0))
    seed(env)
    return env


def fixed_model() -> dict[str, Any]:
    """The idgraph model with hand-set m and u (as tests/link's): no training."""
    from idgraph.link.model import settings_dict

    model = settings_dict(prior=1e-3)
    for comp in model["comparisons"]:
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        pairs = [(0.9 / 2**i, 0.0005 * 4**i) for i in range(len(levels) - 1)] + [(0.02, 0.98)]
        for lv, (m, u) in zip(levels, pairs, strict=True):
            lv["m_probability"], lv["u_probability"] = m, u
    return model


def save_fixed_model(env: Env) -> None:
    from idgraph.link.train import save_model

    save_model(env.store, fixed_model(), {"fixed": True})


def caller(name: str, via: str = "api", **kw: Any) -> Caller:
    return Caller(actor=name, via=via, **kw)


def reader(name: str = "gov", **kw: Any) -> Caller:
    """An investigator's read under a criminal investigation, DPPA claim, case C1."""
    base: dict[str, Any] = {"purpose": CI, "claims": ("DPPA-b1",), "case_id": CASE}
    return Caller(actor=name, **{"via": "api", **base, **kw})


def audit_rows(env: Env, action: str | None = None) -> list[dict[str, Any]]:
    rows = env.store.fetchall("SELECT entry FROM audit_log ORDER BY seq")
    entries = [json.loads(r[0]) for r in rows]
    return [e for e in entries if action is None or e["action"] == action]
