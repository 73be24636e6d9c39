"""Fixture builders shared by the policy and cases tests (synthetic data only)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from idgraph.cases import open_case
from idgraph.policy.users import add_user
from idgraph.store import Store
from pgdb import new_store as new_store  # the tests build their stores with it

# The link tables are made by the store's migrations (store/migrations); kept for the
# tests that loop over it.
LINK_DDL: tuple[str, ...] = ()

# source_id -> (kind, jurisdiction, regimes, retention_days)
SOURCES: dict[str, tuple[str, str, list[str], int]] = {
    "ny_dmv": ("dmv", "US-NY", ["DPPA", "NY-VTL-201"], 3650),
    "il_sos": ("dmv", "US-IL", ["DPPA"], 3650),
    "ca_dmv": ("dmv", "US-CA", ["DPPA"], 3650),
    "wa_dol": ("dmv", "US-WA", ["DPPA"], 3650),
    "tx_dmv": ("dmv", "US-TX", ["DPPA"], 3650),
    "credit_hdr": ("credit_header", "US", ["GLBA"], 3650),
    "consumer_rpt": ("credit_header", "US", ["FCRA"], 3650),
    "utility": ("utility", "US-NY", [], 30),
    "court": ("court", "US-NY", [], 3650),
    "jail": ("booking", "US-NY", [], 3650),
}


def add_source(
    store: Store, sid: str, kind: str, jur: str, regimes: Sequence[str], days: int
) -> None:
    store.execute(
        "INSERT INTO sources (source_id, title, kind, jurisdiction, regimes, retention_days) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [sid, sid, kind, jur, list(regimes), days],
    )


def seed(store: Store) -> None:
    """Sources, users of two organisations and open cases."""
    for sid, (kind, jur, regimes, days) in SOURCES.items():
        add_source(store, sid, kind, jur, regimes, days)
    add_user(store, "root", "admin", "ops", org_type="government")
    for name, role, org, org_type in [
        ("gov", "investigator", "ice", "government"),
        ("pi", "investigator", "acme", "private"),
        ("off", "investigator", "ice", "government"),
        ("rec", "records_officer", "ice", "government"),
        ("admin2", "admin", "ice", "government"),
        ("ovs", "overseer", "ice", "government"),
        ("chief", "supervisor", "ice", "government"),
        ("lawyer", "counsel", "ice", "government"),
        ("pilaw", "counsel", "acme", "private"),
    ]:
        add_user(store, name, role, org, org_type=org_type, actor="root")
    open_case(store, "C1", title="case one", kind="criminal", actor="gov")
    open_case(store, "IM1", title="removal", kind="immigration", actor="gov")
    open_case(store, "R1", title="study", kind="research", actor="gov")
    open_case(store, "P1", title="private case", kind="civil", actor="pi")
    open_case(store, "E1", title="hiring", kind="employment", actor="pi")
    open_case(store, "SA1", title="subject access", kind="subject_access", actor="rec")
    open_case(store, "OV1", title="oversight", kind="oversight", actor="ovs")


SCAN = "ab" * 32  # the SHA-256 of a (synthetic) scanned document


def add_verified(store: Store, *, actor: str = "gov", verifier: str = "lawyer", **kw: Any) -> str:
    """Register a legal-process document as ``actor`` and have ``verifier`` verify it."""
    from idgraph.policy.legal import add_legal, verify_legal

    doc = add_legal(store, actor=actor, **kw)
    verify_legal(store, doc.legal_id, sha256=SCAN, actor=verifier)
    return doc.legal_id


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


def link(
    store: Store, identity_id: str, record_ids: Sequence[str], edges: Sequence[tuple[str, str]]
) -> None:
    store.execute(
        "INSERT INTO link_runs (run_id, started_at, finished_at, threshold) "
        "VALUES ('r1', TIMESTAMP '2026-01-02', TIMESTAMP '2026-01-02', 0.9) "
        "ON CONFLICT DO NOTHING"
    )
    for rid in record_ids:
        store.execute("INSERT INTO identity_members VALUES (?, ?)", [identity_id, rid])
    for left, right in edges:
        store.execute(
            "INSERT INTO link_edges VALUES ('r1', ?, ?, 0.99, 10.0, true, '{}')", [left, right]
        )


def audit_rows(store: Store, action: str | None = None) -> list[dict[str, Any]]:
    import json

    rows = store.fetchall("SELECT entry FROM audit_log ORDER BY seq")
    entries = [json.loads(r[0]) for r in rows]
    return [e for e in entries if action is None or e["action"] == action]
