"""Fixture builders for the search tests (find, associates, match): synthetic data only.

A uniquely named module (``conftest`` is not): the tests import it by name.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from idgraph.cases import open_case
from idgraph.policy.users import add_user
from idgraph.schema import Query
from idgraph.store import Store, open_store

# source_id -> (kind, jurisdiction, regimes)
SOURCES: dict[str, tuple[str, str, list[str]]] = {
    "tx_dmv": ("dmv", "US-TX", ["DPPA"]),
    "court": ("court", "US-NY", []),
    "jail": ("booking", "US-NY", []),
    "utility": ("utility", "US-NY", []),
}
CANARY = "canary"  # a credit header: GLBA, not usable for a criminal investigation
CI = "criminal_investigation"


def add_source(store: Store, sid: str, kind: str, jur: str, regimes: Sequence[str]) -> None:
    store.execute(
        "INSERT INTO sources (source_id, title, kind, jurisdiction, regimes, retention_days) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [sid, sid, kind, jur, list(regimes), 3650],
    )


def new_store(*, canary: bool = True) -> Store:
    """Sources (with the canary credit header or without), users and open cases."""
    store = open_store(None)
    for sid, (kind, jur, regimes) in SOURCES.items():
        add_source(store, sid, kind, jur, regimes)
    if canary:
        add_source(store, CANARY, "credit_header", "US", ["GLBA"])
    add_user(store, "root", "admin", "ops", org_type="government")
    add_user(store, "gov", "investigator", "ice", org_type="government", actor="root")
    open_case(store, "C1", title="case one", kind="criminal", actor="gov")
    return store


def add_record(store: Store, source_id: str, rid: str, **values: Any) -> str:
    record_id = f"{source_id}/{rid}"
    row: dict[str, Any] = {
        "record_id": record_id,
        "source_id": source_id,
        "source_record_id": rid,
        "version": 1,
        "is_current": True,
        "batch_id": "b1",
        "raw": "{}",
        "row_hash": f"h-{record_id}",
        "ingested_at": datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None),
    }
    row.update(values)
    store.execute(
        f"INSERT INTO records ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
        list(row.values()),
    )
    return record_id


def link(store: Store, identity_id: str, record_ids: Sequence[str]) -> None:
    """Members of one identity, chained by accepted edges of run r1."""
    store.execute(
        "INSERT INTO link_runs (run_id, started_at, finished_at, threshold) "
        "VALUES ('r1', TIMESTAMP '2026-01-02', TIMESTAMP '2026-01-02', 0.9) "
        "ON CONFLICT DO NOTHING"
    )
    for rid in record_ids:
        store.execute("INSERT INTO identity_members VALUES (?, ?)", [identity_id, rid])
    for left, right in pairwise(record_ids):
        store.execute(
            "INSERT INTO link_edges VALUES ('r1', ?, ?, 0.99, 10.0, true, '{}')", [left, right]
        )


def audit_rows(store: Store, action: str | None = None) -> list[dict[str, Any]]:
    rows = store.fetchall("SELECT entry FROM audit_log ORDER BY seq")
    entries = [json.loads(r[0]) for r in rows]
    return [e for e in entries if action is None or e["action"] == action]


def query(**kw: object) -> Query:
    base: dict[str, object] = {
        "principal": "gov",
        "purpose": CI,
        "case_id": "C1",
        "claims": ("DPPA-b1",),
    }
    base.update(kw)
    return Query.model_validate(base)


# -- a small resolved population, ingested through manifests (the real normalisers) ----

# (source, record id, identity, first, middle, last, dob, street, city, state, zip, phone,
#  plate, observed)
Row = tuple[str, str, str, str, str, str, str, str, str, str, str, str, str, str]
POPULATION: tuple[Row, ...] = (
    ("tx_dmv", "1", "P1", "WILLIAM", "JAMES", "ONEIL", "1984-03-07", "12 MAIN ST",
     "NEW YORK", "NY", "10027", "", "ABC1234", "2020-01-01"),
    ("court", "1", "P1", "WILLIAM", "", "ONEIL", "1984-03-07", "", "", "", "", "", "", ""),
    ("utility", "1", "P1", "BILL", "", "ONEIL", "", "500 W 120TH ST", "NEW YORK", "NY",
     "10027", "2125550101", "", "2025-06-01"),
    ("tx_dmv", "2", "P2", "MARIA", "", "GARCIA LOPEZ", "1990-11-02", "9 ELM ST", "AUSTIN",
     "TX", "73301", "", "", "2021-01-01"),
    ("court", "2", "P2", "MARIA", "", "GARCIA LOPEZ", "1990-11-02", "", "", "", "", "", "",
     ""),
    ("tx_dmv", "3", "P3", "MARIA", "", "GARCIA", "1985-01-15", "77 OAK AVE", "AUSTIN", "TX",
     "73301", "5125550102", "", "2021-01-01"),
    ("tx_dmv", "4", "P4", "JOHN", "", "SMITH", "1970-05-05", "1 PINE RD", "DALLAS", "TX",
     "75201", "", "XYZ9876", "2021-01-01"),
    ("jail", "4", "P4", "JOHN", "", "SMITH", "1970-05-05", "", "", "", "", "", "", ""),
    ("tx_dmv", "5", "P5", "JON", "", "SMYTH", "1971-06-06", "3 PINE RD", "DALLAS", "TX",
     "75201", "", "", "2021-01-01"),
    ("tx_dmv", "6", "P6", "ELIZABETH", "", "TAYLOR", "1962-02-27", "8 BAY ST", "HOUSTON",
     "TX", "77002", "7135550103", "", "2021-01-01"),
    ("utility", "6", "P6", "LIZ", "", "TAYLOR", "", "8 BAY ST", "HOUSTON", "TX", "77002",
     "7135550103", "", "2024-01-01"),
    ("tx_dmv", "7", "P7", "KATHERINE", "", "JOHNSON", "1995-07-12", "40 ELM ST", "AUSTIN",
     "TX", "73301", "", "", "2021-01-01"),
    ("tx_dmv", "8", "P8", "WILLIAM", "", "ONEAL", "1948-09-30", "2 RIVER DR", "EL PASO",
     "TX", "79901", "", "", "2021-01-01"),
)
# the canary: another WILLIAM ONEIL born the same day (an identity of its own), and a
# record of P6's with P1's phone and plate -- neither may move anything when withheld
CANARY_ROWS: tuple[Row, ...] = (
    ("canary", "1", "Q1", "WILLIAM", "", "ONEIL", "1984-03-07", "12 MAIN ST", "NEW YORK",
     "NY", "10027", "2125550101", "ABC1234", "2024-01-01"),
    ("canary", "2", "P6", "WILLIAM", "", "ONEIL", "1984-03-07", "500 W 120TH ST",
     "NEW YORK", "NY", "10027", "2125550101", "ABC1234", "2024-01-01"),
)
_KINDS = {**{s: (k, j, r) for s, (k, j, r) in SOURCES.items()},
          CANARY: ("credit_header", "US", ["GLBA"]),
          "ny_dmv": ("dmv", "US-NY", ["DPPA", "NY-VTL-201"])}
_HEADER = ("id", "first", "middle", "last", "dob", "street", "city", "state", "zip", "phone",
           "plate", "observed")


def _manifest(sid: str) -> str:
    kind, jur, regimes = _KINDS[sid]
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


def build_population(folder: Path, *, canary: bool, db: Path | str | None = None,
                     extra: Sequence[Row] = ()) -> Store:
    """The population ingested from manifests in ``folder``, identities as in the table
    (members chained by accepted edges), users and a case; without the canary source
    when ``canary`` is False; in the file (or PostgreSQL URL) ``db`` if given (else in
    memory; a database's keys in ``folder``); ``extra``
    rows added (their sources among ``_KINDS``)."""
    import csv

    from idgraph.settings import Settings
    from idgraph.sources.ingest import ingest_paths

    rows = POPULATION + (CANARY_ROWS if canary else ()) + tuple(extra)
    folder.mkdir(parents=True, exist_ok=True)
    by_source: dict[str, list[Row]] = {}
    for r in rows:
        by_source.setdefault(r[0], []).append(r)
    for sid, recs in by_source.items():
        (folder / f"{sid}.yaml").write_text(_manifest(sid))
        with (folder / f"{sid}.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(_HEADER)
            for r in recs:
                w.writerow([r[1], *r[3:]])
    store = open_store(db, data_dir=folder if isinstance(db, str) else None)
    ingest_paths(store, [folder], Settings(data_dir=folder, ingest_workers=1))
    members: dict[str, list[str]] = {}
    for r in rows:
        members.setdefault(r[2], []).append(f"{r[0]}/{r[1]}")
    for iid, ids in members.items():
        link(store, iid, ids)
    add_user(store, "root", "admin", "ops", org_type="government")
    add_user(store, "gov", "investigator", "ice", org_type="government", actor="root")
    open_case(store, "C1", title="case one", kind="criminal", actor="gov")
    return store


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
