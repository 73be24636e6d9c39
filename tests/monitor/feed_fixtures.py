"""Fixtures of the feed tests (synthetic only): a store with two batch sources linked
by a fixed model, and a live source ``bookings`` (JSON lines) to push to.

A uniquely named module (``conftest`` is not): the tests import it by bare name."""

from __future__ import annotations

import atexit
import csv
import json
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from idgraph import clock
from idgraph.app import data
from idgraph.app.context import Caller, Env
from idgraph.settings import Settings

# ``IDGRAPH_POLICY_TESTS_ON=postgres`` (as for the policy, cases and watch tests): every
# linked env is a fresh PostgreSQL database on the server of IDGRAPH_TEST_DATABASE_URL
# (dropped when the run ends); by default a DuckDB file in the test's folder.
_BACKEND = os.environ.get("IDGRAPH_POLICY_TESTS_ON", "duckdb")
_DATABASES = ExitStack()
atexit.register(_DATABASES.close)


def settings_for(data_dir: Path, **extra: Any) -> Settings:
    """The settings of a test deployment in ``data_dir`` on the backend under test."""
    if _BACKEND == "postgres":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from pgdb import fresh_database

        url = _DATABASES.enter_context(fresh_database())
        return Settings(data_dir=data_dir, database_url=url, **extra)
    return Settings(data_dir=data_dir, **extra)


def backend_environ(settings: Settings) -> dict[str, str]:
    """What a CLI or server process needs in its environment to open ``settings``' store
    (the database URL on PostgreSQL; nothing on DuckDB: ``--data-dir`` says it)."""
    if settings.database_url is None:
        return {}
    return {"IDGRAPH_DATABASE_URL": settings.database_url.get_secret_value()}

USERS: dict[str, tuple[str, str, str]] = {
    "root": ("admin", "ops", "government"),
    "ro": ("records_officer", "ops", "government"),
    "gov": ("investigator", "ice", "government"),
}
CASE = "C1"  # an open criminal case of ice (gov's organisation)
HEADER = ("id", "first", "last", "dob", "street", "city", "state", "zip")
PEOPLE = {
    "tx_dmv": [("1", "WILLIAM", "ONEIL", "1984-03-07", "12 MAIN ST", "AUSTIN", "TX", "73301"),
               ("2", "MARIA", "GARCIA", "1990-11-02", "9 ELM ST", "AUSTIN", "TX", "73301")],
    "court": [("1", "WILLIAM", "ONEIL", "1984-03-07", "12 MAIN ST", "AUSTIN", "TX", "73301")],
}
KINDS = {"tx_dmv": ("dmv", "DPPA"), "court": ("court", ""), "bookings": ("court", "")}
FIELDS = """fields:
  first_name: first
  last_name: last
  dob: dob
  street: street
  city: city
  state: state
  zip: zip
"""


def manifest(sid: str, path: str, fmt: str) -> str:
    kind, regimes = KINDS[sid]
    return (f"id: {sid}\ntitle: {sid} (synthetic)\nkind: {kind}\njurisdiction: US-TX\n"
            f"regimes: [{regimes}]\ncollected_for: tests\nretention_days: 3650\n"
            f"input: {{path: {path}, format: {fmt}}}\nrecord_id: id\n{FIELDS}")


def booking(rid: str, first: str = "WILLIAM", last: str = "ONEIL", dob: str = "1984-03-07",
            **extra: Any) -> dict[str, Any]:
    return {"id": rid, "first": first, "last": last, "dob": dob, "street": "12 MAIN ST",
            "city": "AUSTIN", "state": "TX", "zip": "73301", **extra}


def lines(*rows: dict[str, Any] | str) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


def write_sources(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for sid, rows in PEOPLE.items():
        (folder / f"{sid}.yaml").write_text(manifest(sid, f"{sid}.csv", "csv"))
        with (folder / f"{sid}.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(HEADER)
            w.writerows(rows)
    (folder / "bookings.yaml").write_text(manifest("bookings", "bookings.jsonl", "jsonl"))
    (folder / "bookings.jsonl").write_bytes(lines(booking("B0", "MARIA", "GARCIA",
                                                          "1990-11-02")))
    return folder


def seed(env: Env) -> None:
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


def fixed_model() -> dict[str, Any]:
    from idgraph.link.model import settings_dict

    model = settings_dict(prior=1e-3)
    for comp in model["comparisons"]:
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        pairs = [(0.9 / 2**i, 0.0005 * 4**i) for i in range(len(levels) - 1)] + [(0.02, 0.98)]
        for lv, (m, u) in zip(levels, pairs, strict=True):
            lv["m_probability"], lv["u_probability"] = m, u
    return model


def caller(name: str, via: str = "api") -> Caller:
    return Caller(actor=name, via=via)


def linked_env(tmp: Path, *, resolve: bool = True) -> Env:
    """A file store in ``tmp/data`` with users, the three sources ingested, the index
    built and (``resolve``) one link run with the fixed model."""
    from idgraph.link.train import save_model

    env = Env.open(settings_for(tmp / "data", ingest_workers=0))
    seed(env)
    outcome = data.ingest(env, caller("ro"), [write_sources(tmp / "src")])
    assert outcome.ok, outcome.errors
    data.index_rebuild(env, caller("ro"))
    if resolve:
        save_model(env.store, fixed_model(), {"fixed": True})
        data.resolve(env, caller("ro"))
    return env


def audit_rows(env: Env, action: str | None = None) -> list[dict[str, Any]]:
    rows = env.store.fetchall("SELECT entry FROM audit_log ORDER BY seq")
    entries = [json.loads(r[0]) for r in rows]
    return [e for e in entries if action is None or e["action"] == action]
