"""The legal-process registry: court orders, warrants, subpoenas, consents.

Registration refuses a document whose type, issuer, court and judge do not fit
(:data:`ISSUERS_OF` and :func:`problems`): a court order and a judicial warrant are
issued by a court and signed by a named judge whose appointment is recorded; an
administrative warrant is issued by an agency; a subpoena by a court, an agency or a
grand jury; a consent by the subject. An Article III or magistrate judge sits only
on a federal court, a state judge only on a state court.

A document belongs to the organisation of the user who registered it and is
registered to one open case of that organisation (``case_id`` is required: a warrant
obtained for a criminal matter must not serve an immigration read of the same
organisation). It **counts** (is a basis the policies see) only when all hold: a
second person of that organisation with a supervising or legal role verified it
against the scanned paper (``verify_legal``: who, when, SHA-256); the query is made
by that organisation; it is in force on the query date (issued <= date <= expires);
it belongs to the query's case (a document with no case, registered before cases
were required, counts for nothing); and its scope covers the source and every
identity read (an empty scope list means "not limited" on that axis).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final

from idgraph import clock
from idgraph.audit import record
from idgraph.policy.names import name_problem
from idgraph.store import Store
from idgraph.store.registry import LegalRow, RegistryRepo

if TYPE_CHECKING:
    from idgraph.policy.acts import ActDecision
    from idgraph.policy.registry import Registry

TYPES: Final[tuple[str, ...]] = (
    "court_order",
    "judicial_warrant",
    "administrative_warrant",
    "subpoena",
    "consent",
)
LEVELS: Final[tuple[str, ...]] = ("federal", "state", "none")
ISSUERS: Final[tuple[str, ...]] = ("court", "agency", "grand_jury", "subject")
# Who signed: a judge appointed under Article III of the U.S. Constitution, a U.S.
# magistrate judge, a state judge, or an administrative (agency) judge or officer.
APPOINTMENTS: Final[tuple[str, ...]] = ("article_iii", "magistrate", "state", "administrative")
JUDICIAL: Final[frozenset[str]] = frozenset({"article_iii", "magistrate", "state"})
# Who may verify a document (supervisors and counsel) is the act ``legal.verify`` in
# policies/acts.cedar; here: someone else of the document's organisation.

# Which issuer each type of document can have.
ISSUERS_OF: Final[dict[str, tuple[str, ...]]] = {
    "court_order": ("court",),
    "judicial_warrant": ("court",),
    "administrative_warrant": ("agency",),
    "subpoena": ("court", "agency", "grand_jury"),
    "consent": ("subject",),
}
# Types that a named judge must sign.
JUDGE_SIGNED: Final[frozenset[str]] = frozenset({"court_order", "judicial_warrant"})

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_EMPTY_SHA256: Final[str] = hashlib.sha256(b"").hexdigest()

# What the policies see as ``context.legal`` when no document counts.
NO_BASIS: Final[dict[str, str | bool]] = {
    "type": "none",
    "level": "none",
    "issuer": "none",
    "article_iii": False,
    "judge_signed": False,
    "identity_scoped": False,
    "verified": False,
}


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
    judge_appointment: str | None = None
    org: str | None = None  # the registrant's organisation: the only one it counts for
    registered_by: str | None = None
    verified_by: str | None = None
    verified_at: datetime | None = None
    document_sha256: str | None = None

    @property
    def verified(self) -> bool:
        """Whether a second person checked the paper (only then does it count)."""
        return bool(self.verified_by and self.document_sha256)

    def in_force(self, on: date) -> bool:
        return self.issued <= on and (self.expires is None or on <= self.expires)

    def covers(
        self, source_id: str, identity_ids: Sequence[str], case_id: str | None, on: date
    ) -> bool:
        """Whether this document's dates, case and scope cover reading ``source_id``."""
        if not self.in_force(on):
            return False
        # Only under its own case: a document with no case (a row from before cases were
        # required) would otherwise serve every case of its organisation.
        if self.case_id is None or self.case_id != case_id:
            return False
        if self.scope_sources and source_id not in self.scope_sources:
            return False
        if self.scope_identities:
            # Every identity read must be named; a search (no identity yet) is not covered.
            return bool(identity_ids) and all(i in self.scope_identities for i in identity_ids)
        return True

    def counts_for(
        self,
        org: str | None,
        source_id: str,
        identity_ids: Sequence[str],
        case_id: str | None,
        on: date,
    ) -> bool:
        """Whether this document is a basis for ``org`` reading ``source_id`` (see module)."""
        return (
            self.verified
            and org is not None
            and self.org == org
            # a consent speaks only for the people who gave it (rows from before that was
            # checked at registration may name nobody: they count for no one)
            and (self.type != "consent" or bool(self.scope_identities))
            and self.covers(source_id, identity_ids, case_id, on)
        )

    @property
    def article_iii(self) -> bool:
        """Issued by a federal court and signed by a named Article III judge."""
        return (
            self.issuer == "court"
            and self.level == "federal"
            and bool(self.judge)
            and self.judge_appointment == "article_iii"
        )

    @property
    def judge_signed(self) -> bool:
        """Issued by a court and signed by a named judge (not an agency's officer)."""
        return self.issuer == "court" and bool(self.judge) and self.judge_appointment in JUDICIAL

    def cedar(self) -> dict[str, str | bool]:
        """The attributes Cedar policies see as ``context.legal``."""
        return {
            "type": self.type,
            "level": self.level,
            "issuer": self.issuer,
            "article_iii": self.article_iii,
            "judge_signed": self.judge_signed,
            "identity_scoped": bool(self.scope_identities),
            "verified": self.verified,
        }


def ensure(store: Store) -> None:
    """Kept for callers of other packages: the tables are made by the store's migrations."""


def _default_issuer(type_: str) -> str | None:
    """The issuer a type implies when it has only one; ``None``: it must be given."""
    options = ISSUERS_OF.get(type_, ())
    return options[0] if len(options) == 1 else None


def legal_id_of(type_: str, number: str, court: str | None, org: str | None = None) -> str:
    parts = [type_, number, court or "", org or ""]
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"LP-{digest[:10]}"


def _from_row(r: LegalRow) -> LegalProcess:
    return LegalProcess(*r)


def reshaped_scopes(store: Store) -> set[str]:
    """Ids of identity-scoped documents one of whose identities was merged, split, retired
    or first created after the document was registered (``sar.lineage_changed``).

    The investigator named identity ids for the people the paper names; after a
    ``judge ... same`` and a resolve the same id holds another person's records too. Such
    a document no longer counts until a second person verifies it again (``legal verify``,
    allowed again for exactly this), checking the paper against the identities as they
    are now; events before the latest verification do not count against it."""
    from idgraph.policy.sar import lineage_changed

    return lineage_changed(store, RegistryRepo(store).identity_scoped_legal())


def get_legal(store: Store, legal_id: str) -> LegalProcess | None:
    row = RegistryRepo(store).legal(legal_id)
    return None if row is None else _from_row(row)


def list_legal(store: Store, case_id: str | None = None) -> list[LegalProcess]:
    return [_from_row(r) for r in RegistryRepo(store).legal_list(case_id)]


def problems(doc: LegalProcess) -> list[str]:
    """Why ``doc`` cannot be registered as given (empty: it fits)."""
    if doc.type not in TYPES:
        return [f"unknown type {doc.type!r}; one of {', '.join(TYPES)}"]
    out: list[str] = []
    if doc.level not in LEVELS:
        out.append(f"unknown level {doc.level!r}; one of {', '.join(LEVELS)}")
    if doc.issuer not in ISSUERS:
        out.append(f"unknown issuer {doc.issuer!r}; one of {', '.join(ISSUERS)}")
    elif doc.issuer not in ISSUERS_OF[doc.type]:
        allowed = " or ".join(ISSUERS_OF[doc.type])
        out.append(f"a {doc.type} is issued by {allowed}, not by {doc.issuer!r}")
    appointment = doc.judge_appointment
    if appointment is not None and appointment not in APPOINTMENTS:
        out.append(f"unknown judge appointment {appointment!r}; one of {', '.join(APPOINTMENTS)}")
    if doc.expires is not None and doc.expires < doc.issued:
        out.append("expires before it is issued")
    if doc.issued > clock.today():
        # paper dated after the day it is registered and verified as scanned is not a
        # document that exists yet: it would start counting on its own, unreviewed
        out.append(f"issued {doc.issued} is in the future (today is {clock.today()}, UTC)")
    if not doc.number.strip():
        out.append("a document needs its number")
    elif problem := name_problem("document number", doc.number):  # " W1" is not another paper
        out.append(problem)
    out += _signer_problems(doc)
    return out


def _signer_problems(doc: LegalProcess) -> list[str]:
    """Court, judge, appointment and level against the type and issuer."""
    out: list[str] = []
    appointment = doc.judge_appointment
    if doc.type == "consent":
        if doc.court or doc.judge or appointment:
            out.append("a consent is given by the subject: no court, judge or appointment")
        if not doc.scope_identities:
            # DPPA § 2721(b)(11)-(13), GLBA § 6802(e)(1)-(2), FCRA § 1681b(a)(2), (a)(3)(B):
            # the consent is "of the individual to whom the information pertains"; one
            # without its subject would open everyone's records.
            out.append("a consent is the subject's own: name whose (--scope-identities)")
        if doc.level != "none":
            out.append("a consent has level 'none'")
        return out
    if doc.level == "none":
        out.append(f"a {doc.type} needs --level federal or state")
    if doc.issuer in ("court", "grand_jury") and not (doc.court or "").strip():
        out.append(f"a {doc.type} issued by {doc.issuer} needs the court (--court)")
    if doc.issuer == "agency" and doc.court:
        out.append("a document issued by an agency names no court")
    if doc.type in JUDGE_SIGNED and not (doc.judge or "").strip():
        out.append(f"a {doc.type} is signed by a named judge (--judge)")
    if doc.judge and appointment is None:
        out.append("name the judge's appointment (--judge-appointment)")
    if appointment is not None and not doc.judge:
        out.append("a judge appointment without a judge (--judge)")
    if appointment in JUDICIAL and doc.issuer not in ("court", "grand_jury"):
        out.append(f"a {appointment} judge signs for a court, not for {doc.issuer!r}")
    if appointment == "administrative" and doc.issuer != "agency":
        out.append("an administrative judge or officer signs only agency documents")
    if appointment in ("article_iii", "magistrate") and doc.level != "federal":
        out.append(f"an {appointment} judge sits only on a federal court: level must be federal")
    if appointment == "state" and doc.level != "state":
        out.append("a state judge sits on a state court: level must be state")
    return out


class LegalRefused(LegalError):
    """An object-level refusal of an authorised act (audited as a deny; CLI exit 3)."""


def _refuse(store: Store, dec: ActDecision, reason: str, **fields: Any) -> LegalRefused:
    """Audit an object-level refusal of an authorised act; the error to raise."""
    with store.transaction():
        record(store, dec.entry(outcome="deny", detail={"reason": reason}, **fields))
    return LegalRefused(reason)


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def add_legal(
    store: Store,
    *,
    type: str,
    number: str,
    issued: date,
    actor: str = "",
    expires: date | None = None,
    court: str | None = None,
    judge: str | None = None,
    judge_appointment: str | None = None,
    level: str | None = None,
    issuer: str | None = None,
    scope_identities: Sequence[str] = (),
    scope_sources: Sequence[str] = (),
    case_id: str,
    registry: Registry | None = None,
    decision: ActDecision | None = None,
) -> LegalProcess:
    """Register a document for ``actor``'s organisation under ``case_id`` (an open case of
    that organisation; audited); returns it unverified. It counts only under that case.
    ``decision``: the act ``legal.add`` already permitted (idgraph.app); without one it
    is decided here."""
    from idgraph.policy.acts import authorise_act  # acts imports the registry, which imports us

    if not case_id or not case_id.strip():
        raise LegalError("a document is registered to the case it was obtained for (--case)")
    if type not in TYPES:  # exact spelling: `Judicial_Warrant` is not a type
        raise LegalError(f"unknown type {type!r}; one of {', '.join(TYPES)}")
    chosen_issuer = issuer or _default_issuer(type)
    if chosen_issuer is None:
        raise LegalError(f"a {type} needs --issuer ({' | '.join(ISSUERS_OF[type])})")
    doc = LegalProcess(
        legal_id="",
        type=type,
        number=number,
        court=court or None,
        judge=judge or None,
        level=level or ("none" if type == "consent" else ""),
        issuer=chosen_issuer,
        issued=issued,
        expires=expires,
        scope_identities=tuple(scope_identities),
        scope_sources=tuple(scope_sources),
        case_id=case_id,
        judge_appointment=judge_appointment or None,
    )
    if not doc.level:
        raise LegalError(f"a {type} needs --level ({' | '.join(LEVELS[:2])})")
    found = problems(doc)
    if found:
        raise LegalError("; ".join(found))
    dec = decision or authorise_act(store, actor, "legal.add", registry=registry,
                                    target=number, case_id=case_id)
    actor, user = dec.actor, dec.user
    doc = replace(
        doc,
        legal_id=legal_id_of(type, number, court, user.org),
        org=user.org,
        registered_by=actor,
    )
    _check_case(store, dec, case_id, user.org)
    row = asdict(doc)
    with store.transaction():
        store.lock("legal")  # workers sharing a PostgreSQL database queue here
        if get_legal(store, doc.legal_id) is not None:
            raise LegalError(f"already registered as {doc.legal_id}")
        RegistryRepo(store).insert_legal(LegalRow(**row), at=clock.now_naive())
        record(
            store,
            dec.entry(
                detail={k: _jsonable(v) for k, v in row.items()},
                basis=doc.legal_id,
                case_id=case_id,
                sources=doc.scope_sources,
                identity_ids=doc.scope_identities,
            ),
        )
    return doc


def _check_case(store: Store, dec: ActDecision, case_id: str, org: str) -> None:
    """A document may be attached only to an open case of the registrant's organisation."""
    from idgraph.cases import get_case

    case = get_case(store, case_id)
    if case is None or case.org != org:
        raise _refuse(store, dec, f"no case {case_id!r} in {org!r}", case_id=case_id)
    if not case.is_open:
        raise _refuse(store, dec, f"case {case_id!r} is closed", case_id=case_id)


def verify_legal(
    store: Store,
    legal_id: str,
    *,
    sha256: str,
    actor: str = "",
    registry: Registry | None = None,
    decision: ActDecision | None = None,
) -> LegalProcess:
    """Record that ``actor`` checked the paper of ``legal_id`` (audited); it counts from now.

    ``actor`` must be permitted the act ``legal.verify`` (supervisors and counsel:
    ``decision``, or decided here), of the document's organisation and not the person
    who registered it; ``sha256`` is the hex SHA-256 of the scanned document.
    """
    from idgraph.policy.acts import authorise_act

    digest = sha256.strip().lower()
    if not _SHA256.match(digest):
        raise LegalError("--sha256 must be the 64 hex digits of the scanned document's SHA-256")
    if digest == _EMPTY_SHA256 or len(set(digest)) == 1:  # no scan was hashed
        raise LegalError("--sha256 is not the hash of a scanned document (an empty file or a "
                         "placeholder): hash the scan itself")
    dec = decision or authorise_act(store, actor, "legal.verify", registry=registry,
                                    target=legal_id)
    actor, user = dec.actor, dec.user
    doc = get_legal(store, legal_id)
    if doc is None or doc.org != user.org:
        raise _refuse(store, dec, f"no document {legal_id!r} in {user.org!r}", basis=legal_id)
    if doc.registered_by == actor:
        raise _refuse(store, dec, "the registrant cannot verify their own document",
                      basis=legal_id)
    # verified once, a document is verified again only when its identities were merged
    # or split since (reshaped_scopes): the paper is checked against them as they are now
    if doc.verified and legal_id not in reshaped_scopes(store):
        raise _refuse(store, dec, f"{legal_id} already verified by {doc.verified_by}",
                      basis=legal_id)
    now = clock.now_naive()
    with store.transaction():
        store.lock("legal")  # verified once, though two workers verify it at once
        again = get_legal(store, legal_id)
        if again is None or again.verified_at != doc.verified_at:
            raise LegalError(f"{legal_id} was verified meanwhile")
        RegistryRepo(store).verify_legal(legal_id, by=actor, at=now, sha256=digest)
        record(
            store,
            dec.entry(
                detail={"document_sha256": digest, "registered_by": doc.registered_by},
                basis=legal_id,
                case_id=doc.case_id,
            ),
        )
    return replace(doc, verified_by=actor, verified_at=now, document_sha256=digest)
