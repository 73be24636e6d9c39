"""The legal-process registry: court orders, warrants, subpoenas, consents.

A query names one registered document as its basis. It counts for a source and an
identity only when it is in force on the query date (issued <= date <= expires),
belongs to the query's case (when attached to one), and its scope covers both:
an empty scope list means "not limited" on that axis. A court-issued subpoena and
an agency (administrative) subpoena are told apart by ``issuer``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from idgraph.audit import AuditEntry, record
from idgraph.policy.users import get_user
from idgraph.store import Store

TYPES: Final[tuple[str, ...]] = (
    "court_order",
    "judicial_warrant",
    "administrative_warrant",
    "subpoena",
    "consent",
)
LEVELS: Final[tuple[str, ...]] = ("federal", "state", "none")
ISSUERS: Final[tuple[str, ...]] = ("court", "agency", "subject")

DDL: Final[tuple[str, ...]] = (
    """CREATE TABLE IF NOT EXISTS legal_process (
        legal_id VARCHAR PRIMARY KEY, type VARCHAR NOT NULL, number VARCHAR, court VARCHAR,
        judge VARCHAR, level VARCHAR, issuer VARCHAR, issued DATE, expires DATE,
        scope_identities VARCHAR[], scope_sources VARCHAR[], case_id VARCHAR,
        registered_by VARCHAR, registered_at TIMESTAMP)""",
)

NO_BASIS: Final[dict[str, str]] = {"type": "none", "level": "none", "issuer": "none"}


class LegalError(ValueError):
    """A legal-process operation that may not proceed."""


@dataclass(frozen=True, slots=True)
class LegalProcess:
    legal_id: str
    type: str
    number: str
    court: str | None
    judge: str | None
    level: str
    issuer: str
    issued: date
    expires: date | None
    scope_identities: tuple[str, ...] = ()
    scope_sources: tuple[str, ...] = ()
    case_id: str | None = None

    def in_force(self, on: date) -> bool:
        return self.issued <= on and (self.expires is None or on <= self.expires)

    def covers(
        self, source_id: str, identity_ids: Sequence[str], case_id: str | None, on: date
    ) -> bool:
        """Whether this document authorises reading ``source_id`` about ``identity_ids``."""
        if not self.in_force(on):
            return False
        if self.case_id is not None and self.case_id != case_id:
            return False
        if self.scope_sources and source_id not in self.scope_sources:
            return False
        if self.scope_identities:
            # Every identity read must be named; a search (no identity yet) is not covered.
            return bool(identity_ids) and all(i in self.scope_identities for i in identity_ids)
        return True

    def cedar(self) -> dict[str, str]:
        """The attributes Cedar policies see as ``context.legal``."""
        return {"type": self.type, "level": self.level, "issuer": self.issuer}


def ensure(store: Store) -> None:
    store.ensure("policy.legal", DDL)


def _default_issuer(type_: str) -> str:
    return {"administrative_warrant": "agency", "consent": "subject"}.get(type_, "court")


def legal_id_of(type_: str, number: str, court: str | None) -> str:
    digest = hashlib.sha256(f"{type_}\x1f{number}\x1f{court or ''}".encode()).hexdigest()
    return f"LP-{digest[:10]}"


_COLS = (
    "legal_id, type, number, court, judge, level, issuer, issued, expires, "
    "scope_identities, scope_sources, case_id"
)


def _from_row(r: tuple[Any, ...]) -> LegalProcess:
    return LegalProcess(
        legal_id=r[0],
        type=r[1],
        number=r[2],
        court=r[3],
        judge=r[4],
        level=r[5],
        issuer=r[6],
        issued=r[7],
        expires=r[8],
        scope_identities=tuple(r[9] or ()),
        scope_sources=tuple(r[10] or ()),
        case_id=r[11],
    )


def get_legal(store: Store, legal_id: str) -> LegalProcess | None:
    ensure(store)
    row = store.fetchone(f"SELECT {_COLS} FROM legal_process WHERE legal_id = ?", [legal_id])
    return None if row is None else _from_row(row)


def list_legal(store: Store, case_id: str | None = None) -> list[LegalProcess]:
    ensure(store)
    rows = store.fetchall(
        f"SELECT {_COLS} FROM legal_process WHERE ? IS NULL OR case_id = ? ORDER BY issued",
        [case_id, case_id],
    )
    return [_from_row(r) for r in rows]


def _check(type_: str, level: str, issuer: str, issued: date, expires: date | None) -> None:
    if type_ not in TYPES:
        raise LegalError(f"unknown type {type_!r}; one of {', '.join(TYPES)}")
    if level not in LEVELS:
        raise LegalError(f"unknown level {level!r}; one of {', '.join(LEVELS)}")
    if issuer not in ISSUERS:
        raise LegalError(f"unknown issuer {issuer!r}; one of {', '.join(ISSUERS)}")
    if expires is not None and expires < issued:
        raise LegalError("expires before it is issued")


def _store(store: Store, doc: LegalProcess, actor: str) -> None:
    user = get_user(store, actor)
    if user is None or not user.active:
        raise LegalError(f"unknown or disabled user {actor!r}")
    if get_legal(store, doc.legal_id) is not None:
        raise LegalError(f"already registered as {doc.legal_id}")
    row = asdict(doc)
    row["scope_identities"] = list(doc.scope_identities)
    row["scope_sources"] = list(doc.scope_sources)
    store.execute(
        f"INSERT INTO legal_process ({_COLS}, registered_by, registered_at) "
        f"VALUES ({', '.join('?' * 14)})",
        [
            *(row[c.strip()] for c in _COLS.split(",")),
            actor,
            datetime.now(UTC).replace(tzinfo=None),
        ],
    )
    detail = {k: v.isoformat() if isinstance(v, date) else v for k, v in row.items()}
    record(
        store,
        AuditEntry(
            principal=actor,
            organisation=user.org,
            role=user.role,
            action="legal.add",
            outcome="ok",
            basis=doc.legal_id,
            case_id=doc.case_id,
            sources=doc.scope_sources,
            identity_ids=doc.scope_identities,
            detail=detail,
        ),
    )


def add_legal(
    store: Store,
    *,
    type: str,
    number: str,
    issued: date,
    actor: str,
    expires: date | None = None,
    court: str | None = None,
    judge: str | None = None,
    level: str = "state",
    issuer: str | None = None,
    scope_identities: Sequence[str] = (),
    scope_sources: Sequence[str] = (),
    case_id: str | None = None,
) -> LegalProcess:
    """Register a legal-process document (audited); returns it with its ``legal_id``."""
    ensure(store)
    issuer = issuer or _default_issuer(type)
    _check(type, level, issuer, issued, expires)
    doc = LegalProcess(
        legal_id=legal_id_of(type, number, court),
        type=type,
        number=number,
        court=court,
        judge=judge,
        level=level,
        issuer=issuer,
        issued=issued,
        expires=expires,
        scope_identities=tuple(scope_identities),
        scope_sources=tuple(scope_sources),
        case_id=case_id,
    )
    with store.transaction():
        _store(store, doc, actor)
    return doc
