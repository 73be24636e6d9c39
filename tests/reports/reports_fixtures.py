"""A small fixed, synthetic data set for the report tests (names are invented).

Registry tables are filled with SQL and audit entries with fixed times, so the log (and
so every hash, root and proof) is the same on every run: golden files can hold them.
Only a checkpoint's signing time and signature depend on the clock; :func:`normalise`
replaces them.

Story (January 2030, window 5-20 January):
* P-ALICE has three records (DMV, court, utility); read by inv1 (closed criminal case,
  under a warrant that expires on the 10th, and again on the 12th after it expired),
  inv2 (OPEN criminal case: withheld from her copy), inv3 (civil case) and in a bulk
  match with P-BOB. On the 10th a judgement split P-DAVE off P-ALICE.
* P-BOB: read by inv1 without a case; merged with P-EVE on the 14th.
* P-CAROL: a denied request; inv2 reads her five times in three minutes on the 15th
  for immigration enforcement after three criminal reads earlier (drift and a burst).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from idgraph.audit import AuditEntry, AuditLog, record_many
from idgraph.audit.reports import Thresholds
from idgraph.cases import ensure as ensure_cases
from idgraph.link.tables import ensure_tables as ensure_link
from idgraph.policy.legal import ensure as ensure_legal
from idgraph.policy.notices import ensure as ensure_notices
from idgraph.policy.sar import ensure as ensure_sar
from idgraph.policy.users import ensure as ensure_users
from idgraph.store import Store, open_store

GOLDEN = Path(__file__).parent / "golden"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
AT = datetime(2030, 2, 1, 9, 0, tzinfo=UTC)
START, END = date(2030, 1, 5), date(2030, 1, 20)
THRESHOLDS = Thresholds(many_users=3, drift=0.5, drift_min_reads=3, burst_reads=4, burst_minutes=5)
CI, IMM = "criminal_investigation", "civil_immigration_enforcement"


def t(day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2030, 1, day, hour, minute, tzinfo=UTC)


def _rows(store: Store, table: str, rows: Sequence[dict[str, Any]]) -> None:
    for row in rows:
        cols = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join("?" for _ in row)
        store.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(row.values()))


SOURCES = [
    ("dmv_ny", "NY DMV registrations", "dmv", "US-NY", ["DPPA"], 3650),
    ("court_ny", "NY court index", "court", "US-NY", [], 3650),
    ("utility", "Utility connections", "utility", "US-NY", [], 365),
]

RECORDS = [
    # record_id, identity, values
    (
        "dmv_ny/A1",
        "P-ALICE",
        {
            "full_name": "ALICE QUILLBY",
            "dob": date(1988, 3, 4),
            "plate": "QXZ1234",
            "address": "12 ELM ST, ALBANY, NY 12207",
        },
    ),
    ("court_ny/C1", "P-ALICE", {"full_name": "ALICE QUILLBY", "case_number": "CR-2029-0042"}),
    ("utility/U1", "P-ALICE", {"full_name": "A QUILLBY", "phone": "+15185550100"}),
    ("dmv_ny/B1", "P-BOB", {"full_name": "BOB ZANTER", "plate": "BZT9876"}),
    ("court_ny/C9", "P-CAROL", {"full_name": "CAROL VEXMOOR", "case_number": "CV-2029-0007"}),
]

USERS = [
    ("inv1", "investigator", "nypd", "government"),
    ("inv2", "investigator", "nypd", "government"),
    ("inv3", "investigator", "acme", "private"),
    ("ovs", "overseer", "oig", "government"),
    ("rec", "records_officer", "oig", "government"),
]

CASES = [
    ("C-OPEN", "open", "criminal", "nypd"),
    ("C-DONE", "closed", "criminal", "nypd"),
    ("V-1", "open", "civil", "acme"),
]


def _registry(store: Store) -> None:
    for sid, title, kind, jur, regimes, days in SOURCES:
        _rows(
            store,
            "sources",
            [
                {
                    "source_id": sid,
                    "title": title,
                    "kind": kind,
                    "jurisdiction": jur,
                    "regimes": regimes,
                    "retention_days": days,
                }
            ],
        )
    for n, (rid, ident, values) in enumerate(RECORDS):
        sid, srid = rid.split("/")
        _rows(
            store,
            "records",
            [
                {
                    "record_id": rid,
                    "source_id": sid,
                    "source_record_id": srid,
                    "version": 1,
                    "is_current": True,
                    "row_hash": f"h-{rid}",
                    "batch_id": f"B-{sid}-1",
                    "ingested_at": datetime(2029, 12, 1 + n),
                    "source_file": f"{sid}.csv",
                    "source_line": 2 + n,
                    "raw": "{}",
                    **values,
                }
            ],
        )
        _rows(store, "identity_members", [{"identity_id": ident, "record_id": rid}])
    # dmv_ny/A1 has an older version too.
    _rows(
        store,
        "records",
        [
            {
                "record_id": "dmv_ny/A1",
                "source_id": "dmv_ny",
                "source_record_id": "A1",
                "version": 0,
                "is_current": False,
                "row_hash": "h-old",
                "batch_id": "B-dmv_ny-0",
                "ingested_at": datetime(2029, 6, 1),
                "raw": "{}",
            }
        ],
    )
    for name, role, org, org_type in USERS:
        _rows(
            store,
            "users",
            [{"name": name, "role": role, "org": org, "org_type": org_type, "disabled": False}],
        )
    # P-ALICE asked the records officer what is held about her: the subject report
    # answers that request (a records officer gives it only for an open request).
    ensure_sar(store)
    _rows(
        store,
        "subject_access_requests",
        [
            {
                "sar_id": "SAR-ALICE",
                "identity_id": "P-ALICE",
                "requester": "the subject, in person",
                "received": date(2030, 1, 2),
                "case_id": "SA-1",
                "org": "oig",
                "opened_by": "rec",
                "opened_at": datetime(2030, 1, 2),
                "status": "open",
            }
        ],
    )
    for cid, status, kind, org in CASES:
        _rows(
            store,
            "cases",
            [
                {
                    "case_id": cid,
                    "title": f"case {cid}",
                    "status": status,
                    "kind": kind,
                    "org": org,
                    "opened_by": "inv1",
                    "opened_at": datetime(2029, 12, 20),
                }
            ],
        )
    _rows(
        store,
        "legal_process",
        [
            {
                "legal_id": "LP-WARRANT",
                "type": "judicial_warrant",
                "number": "W-17",
                "court": "Albany County Court",
                "level": "state",
                "issuer": "court",
                "issued": date(2030, 1, 1),
                "expires": date(2030, 1, 10),
                "case_id": "C-DONE",
            },
            {
                "legal_id": "LP-SUBP",
                "type": "subpoena",
                "number": "S-3",
                "court": "NY Supreme",
                "level": "state",
                "issuer": "court",
                "issued": date(2029, 11, 1),
                "expires": None,
                "case_id": "V-1",
            },
        ],
    )
    _rows(
        store,
        "notices",
        [
            {
                "notice_id": "N-1",
                "identity_id": "P-ALICE",
                "org": "nypd",
                "principal": "inv1",
                "case_id": "C-DONE",
                "sources": ["dmv_ny"],
                "rule": "ny.vtl201.notice",
                "duty": "notice:3d",
                "created_at": t(5),
                "due_date": date(2030, 1, 8),
                "sent_at": t(7),
                "sent_by": "rec",
            },
            {
                "notice_id": "N-2",
                "identity_id": "P-ALICE",
                "org": "nypd",
                "principal": "inv2",
                "case_id": "C-OPEN",
                "sources": ["dmv_ny"],
                "rule": "ny.vtl201.notice",
                "duty": "notice:3d",
                "created_at": t(6),
                "due_date": date(2030, 1, 9),
            },
            {
                "notice_id": "N-3",
                "identity_id": "P-ALICE",
                "org": "acme",
                "principal": "inv3",
                "case_id": "V-1",
                "sources": ["dmv_ny"],
                "rule": "ny.vtl201.notice",
                "duty": "notice:3d",
                "created_at": t(7),
                "due_date": date(2030, 1, 10),
                "sent_at": t(12),
                "sent_by": "rec",
            },
            {
                "notice_id": "N-4",
                "identity_id": "P-BOB",
                "org": "nypd",
                "principal": "inv1",
                "case_id": None,
                "sources": ["dmv_ny"],
                "rule": "ny.vtl201.notice",
                "duty": "notice:3bd",
                "created_at": t(19),
                "due_date": date(2030, 1, 24),
            },
        ],
    )
    _rows(
        store,
        "identity_lineage",
        [
            {
                "run_id": "R-2",
                "identity_id": "P-DAVE",
                "event": "split",
                "related": ["P-ALICE"],
                "at": datetime(2030, 1, 10, 12),
            },
            {
                "run_id": "R-3",
                "identity_id": "P-BOB",
                "event": "merged",
                "related": ["P-EVE"],
                "at": datetime(2030, 1, 14, 12),
            },
        ],
    )


def read(
    when: datetime,
    who: str,
    ident: Sequence[str],
    records: Sequence[str],
    *,
    case: str | None,
    purpose: str = CI,
    basis: str | None = None,
    outcome: str = "ok",
    rules: Sequence[str] = ("base.investigation",),
) -> AuditEntry:
    org = {u[0]: u[2] for u in USERS}[who]
    return AuditEntry(
        time=when,
        principal=who,
        organisation=org,
        role="investigator",
        action="profile.read",
        outcome=outcome,
        purpose=purpose,
        basis=basis,
        case_id=case,
        sources=tuple(sorted({r.split("/")[0] for r in records})),
        rules=tuple(rules),
        identity_ids=tuple(ident),
        record_ids=tuple(records),
    )


def deny_decision(when: datetime, who: str, source: str, rule: str) -> AuditEntry:
    return AuditEntry(
        time=when,
        principal=who,
        organisation="acme",
        role="investigator",
        action="policy.decide",
        outcome="deny",
        purpose=CI,
        sources=(source,),
        rules=(rule,),
        identity_ids=("P-CAROL",),
    )


def entries() -> list[AuditEntry]:
    alice = ["dmv_ny/A1", "court_ny/C1", "utility/U1"]
    out = [
        read(t(5), "inv1", ["P-ALICE"], alice[:2], case="C-DONE", basis="LP-WARRANT"),
        read(t(6), "inv2", ["P-ALICE"], alice, case="C-OPEN"),
        read(
            t(7),
            "inv3",
            ["P-ALICE"],
            ["dmv_ny/A1"],
            case="V-1",
            purpose="civil_litigation",
            basis="LP-SUBP",
        ),
        read(t(7, 10), "inv2", ["P-CAROL"], ["court_ny/C9"], case="C-OPEN"),
        read(t(8), "inv1", ["P-BOB"], ["dmv_ny/B1"], case=None),
        read(t(8, 11), "inv2", ["P-BOB"], ["dmv_ny/B1"], case="C-OPEN"),
        read(t(9), "inv1", ["P-ALICE", "P-BOB"], ["dmv_ny/A1", "dmv_ny/B1"], case="C-DONE"),
        deny_decision(t(9, 14), "inv3", "court_ny", "base.case_open"),
        deny_decision(t(9, 14), "inv3", "utility", "base.case_open"),
        read(
            t(9, 14), "inv3", ["P-CAROL"], [], case=None, outcome="deny", rules=("base.case_open",)
        ),
        read(t(12), "inv1", ["P-ALICE"], ["court_ny/C1"], case="C-DONE", basis="LP-WARRANT"),
        *[
            read(t(15, 22, m), "inv2", ["P-CAROL"], ["court_ny/C9"], case="C-OPEN", purpose=IMM)
            for m in (0, 1, 1, 2, 3)
        ],
        read(t(25), "inv1", ["P-ALICE"], ["utility/U1"], case="C-DONE"),  # after the window
        AuditEntry(
            time=t(26),
            principal="rec",
            action="notices.sent",
            outcome="ok",
            identity_ids=("P-ALICE",),
        ),
    ]
    return out


def build() -> tuple[Store, AuditLog]:
    store = open_store(None)
    ensure_link(store)
    for ensure in (ensure_users, ensure_cases, ensure_legal, ensure_notices):
        ensure(store)
    _registry(store)
    record_many(store, entries())
    return store, AuditLog(store, key=KEY)


def normalise(text: str, checkpoint: dict[str, Any] | None) -> str:
    """Replace the clock-dependent checkpoint time and signature by placeholders."""
    if checkpoint:
        if checkpoint.get("note"):
            text = text.replace(json.dumps(checkpoint["note"], ensure_ascii=False)[1:-1], "<NOTE>")
        text = text.replace(checkpoint["signature"], "<SIGNATURE>")
        text = text.replace(checkpoint["time"], "<CHECKPOINT-TIME>")
    return text


def golden(name: str, text: str) -> None:
    """Compare with ``golden/name``; ``IDGRAPH_UPDATE_GOLDEN=1`` rewrites it."""
    path = GOLDEN / name
    if os.environ.get("IDGRAPH_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden {name}: run with IDGRAPH_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


def as_data(text: str) -> Any:
    return json.loads(text)
