"""The registry repository: the small tables decisions and acts read and write.

Users, credentials (password hashes, sessions, API tokens, failed logins and lock-outs),
legal process, cases (members, subjects, notes, activity, supplements), notices,
subject-access requests, the recorded policy sets and retention runs. Every SQL statement
of ``idgraph.policy`` and ``idgraph.cases`` lives here, written for both backends (where
DuckDB and PostgreSQL differ the method branches on :attr:`Store.dialect`); the business
modules call these narrow methods and never write SQL.

A few statements reach tables other repositories own (records, sources, the audit log):
the reads policy decisions need (the sources and their segments, the current records of
a read, a case's audit entries) and retention's removal of records. They are kept here,
narrow, until those repositories offer them. The identity graph is read through
:mod:`idgraph.store.graph`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from idgraph.schema import RECORD_COLUMNS
from idgraph.store.base import Store

# -- rows ---------------------------------------------------------------------------


class UserRow(NamedTuple):
    name: str
    role: str
    org: str
    org_type: str
    disabled: bool
    immigration_agency: bool
    disabled_at: datetime | None


@dataclass(frozen=True, slots=True)
class SessionRow:
    name: str
    created_at: datetime
    last_seen: datetime
    expires_at: datetime
    revoked_at: datetime | None
    purpose: str | None
    claims: tuple[str, ...]
    basis: str | None
    case_id: str | None


@dataclass(frozen=True, slots=True)
class TokenRow:
    token_id: str
    name: str  # the user the token acts as
    label: str
    digest: str
    created_at: datetime
    created_by: str
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    last_used: datetime | None


class LegalRow(NamedTuple):
    """One ``legal_process`` row (scopes as tuples)."""

    legal_id: str
    type: str
    number: str
    court: str | None
    judge: str | None
    level: str
    issuer: str
    issued: date
    expires: date | None
    scope_identities: tuple[str, ...]
    scope_sources: tuple[str, ...]
    case_id: str | None
    judge_appointment: str | None
    org: str | None
    registered_by: str | None
    verified_by: str | None
    verified_at: datetime | None
    document_sha256: str | None


class CaseRow(NamedTuple):
    case_id: str
    title: str
    status: str
    kind: str
    org: str
    opened_by: str
    opened_at: datetime


class MembershipRow(NamedTuple):
    case_id: str
    member: str
    added_by: str
    added_at: datetime
    removed_by: str | None
    removed_at: datetime | None


class SubjectRow(NamedTuple):
    case_id: str
    identity_id: str
    added_by: str
    added_at: datetime


class NoteRow(NamedTuple):
    note_id: str
    case_id: str
    identity_id: str | None
    author: str
    noted_at: datetime
    text: str


class SupplementRow(NamedTuple):
    sar_id: str
    case_id: str
    identity_id: str
    org: str
    released: int
    flagged_at: datetime
    sent_at: datetime | None


class NoticeRow(NamedTuple):
    notice_id: str
    identity_id: str
    org: str
    case_id: str | None
    sources: tuple[str, ...]
    rule: str
    duty: str
    due_date: date
    sent_at: datetime | None


class NoticeRecord(NamedTuple):
    """A whole ``notices`` row (reports)."""

    notice_id: str
    identity_id: str
    org: str
    principal: str
    case_id: str | None
    sources: tuple[str, ...]
    rule: str
    duty: str
    created_at: datetime
    due_date: date
    sent_at: datetime | None
    sent_by: str | None


class SarRow(NamedTuple):
    sar_id: str
    identity_id: str
    requester: str
    received: date
    case_id: str
    org: str
    opened_by: str
    opened_at: datetime
    status: str


class PolicySetRow(NamedTuple):
    seq: int
    digest: str
    ids: tuple[str, ...]
    files: tuple[str, ...]
    folder: str | None
    recorded_at: datetime
    recorded_by: str
    how: str


class RetentionRunRow(NamedTuple):
    run_id: str
    as_of: datetime
    removed: int
    by_source: str | None  # JSON text
    ran_at: datetime | None
    actor: str | None


class SourceRow(NamedTuple):
    source_id: str
    kind: str | None
    jurisdiction: str | None
    regimes: tuple[str, ...]
    retention_days: int | None


_USER_COLS = "name, role, org, org_type, disabled, immigration_agency, disabled_at"
_SESSION_COLS = (
    "name, created_at, last_seen, expires_at, revoked_at, purpose, claims, basis, case_id"
)
_TOKEN_COLS = (
    "token_id, name, label, digest, created_at, created_by, expires_at, revoked_at, "
    "revoked_by, last_used"
)
LEGAL_COLS = (
    "legal_id, type, number, court, judge, level, issuer, issued, expires, "
    "scope_identities, scope_sources, case_id, judge_appointment, org, registered_by, "
    "verified_by, verified_at, document_sha256"
)
_CASE_COLS = "case_id, title, status, kind, org, opened_by, opened_at"
_SAR_COLS = "sar_id, identity_id, requester, received, case_id, org, opened_by, opened_at, status"
# a parameter that may be NULL: typed, so PostgreSQL can tell what ``? IS NULL`` compares
_OPT = "CAST(? AS VARCHAR)"

# Current members of each case: the open rows, and the opener while no row names them.
_MEMBERS = (
    "SELECT case_id, member, added_at FROM case_members WHERE removed_at IS NULL "
    f"AND ({_OPT} IS NULL OR case_id = ?) "
    "UNION ALL SELECT c.case_id, c.opened_by, c.opened_at FROM cases c "
    f"WHERE c.opened_by IS NOT NULL AND ({_OPT} IS NULL OR c.case_id = ?) AND NOT EXISTS ("
    "SELECT 1 FROM case_members m WHERE m.case_id = c.case_id AND m.member = c.opened_by) "
    "ORDER BY 3, 2"
)


# the gate's per-source permits are not listed in a case's activity
_LISTED = (
    "NOT coalesce(json_extract_string(entry, '$.action') = 'policy.decide' AND "
    "json_extract_string(entry, '$.outcome') = 'permit', false)"
)
_ACTIVITY_CHUNK = 50_000  # audit entries parsed per statement (PostgreSQL)


def _json_text_of(value: object) -> str:
    """A JSON value as DuckDB's ``json_extract_string`` gives it (strings as they are)."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _legal(r: Sequence[Any]) -> LegalRow:
    row = list(r)
    row[9] = tuple(row[9] or ())
    row[10] = tuple(row[10] or ())
    return LegalRow(*row)


class RegistryRepo:
    """The registry tables of one store (construct per use: it holds no state but the store)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pg = store.dialect == "postgres"

    # -- dialect helpers ----------------------------------------------------
    def _in(self, column: str) -> str:
        """``column`` is one of a list parameter."""
        return f"{column} = ANY(?)" if self.pg else f"{column} IN (SELECT unnest(?))"

    # -- users --------------------------------------------------------------
    def user(self, name: str) -> UserRow | None:
        row = self.store.fetchone(f"SELECT {_USER_COLS} FROM users WHERE name = ?", [name])
        return None if row is None else _user(row)

    def users(self) -> list[UserRow]:
        return [_user(r) for r in self.store.fetchall(
            f"SELECT {_USER_COLS} FROM users ORDER BY name")]

    def user_count(self) -> int:
        return int(self.store.scalar("SELECT count(*) FROM users"))

    def user_named_alike(self, name: str) -> str | None:
        """A user whose name equals ``name`` but for case."""
        found = self.store.scalar("SELECT name FROM users WHERE lower(name) = lower(?)", [name])
        return None if found is None else str(found)

    def org_type_other_than(self, org: str, org_type: str) -> str | None:
        """The type ``org``'s users have, when it is not ``org_type``."""
        row = self.store.fetchone(
            "SELECT org_type FROM users WHERE org = ? AND org_type <> ? LIMIT 1", [org, org_type])
        return None if row is None else str(row[0])

    def org_immigration_differs(self, org: str, immigration_agency: bool) -> bool:
        """Whether some user of ``org`` has the other immigration-agency flag."""
        return self.store.fetchone(
            "SELECT 1 FROM users WHERE org = ? AND coalesce(immigration_agency, false) <> ? "
            "LIMIT 1", [org, immigration_agency]) is not None

    def insert_user(self, name: str, role: str, org: str, org_type: str, *, at: datetime,
                    by: str | None, immigration_agency: bool) -> None:
        self.store.execute(
            "INSERT INTO users (name, role, org, org_type, disabled, created_at, created_by, "
            "immigration_agency) VALUES (?, ?, ?, ?, false, ?, ?, ?)",
            [name, role, org, org_type, at, by, immigration_agency])

    def disable_user(self, name: str, *, at: datetime, by: str | None) -> None:
        self.store.execute(
            "UPDATE users SET disabled = true, disabled_at = ?, disabled_by = ? WHERE name = ?",
            [at, by, name])

    # -- passwords ----------------------------------------------------------
    def password_hash(self, name: str) -> str | None:
        row = self.store.fetchone("SELECT password_hash FROM credentials WHERE name = ?", [name])
        return None if row is None else str(row[0])

    def put_password_hash(self, name: str, hashed: str, *, by: str, at: datetime) -> None:
        self.store.execute(
            "INSERT INTO credentials (name, password_hash, changed_at, changed_by) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
            "password_hash = excluded.password_hash, changed_at = excluded.changed_at, "
            "changed_by = excluded.changed_by",
            [name, hashed, at, by])

    # -- sessions -----------------------------------------------------------
    def insert_session(self, digest: str, name: str, *, at: datetime, expires_at: datetime,
                       client: str, via: str) -> None:
        self.store.execute(
            "INSERT INTO sessions (digest, name, created_at, last_seen, expires_at, client, via) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [digest, name, at, at, expires_at, client, via])

    def session(self, digest: str) -> SessionRow | None:
        row = self.store.fetchone(f"SELECT {_SESSION_COLS} FROM sessions WHERE digest = ?",
                                  [digest])
        if row is None:
            return None
        return SessionRow(row[0], row[1], row[2], row[3], row[4], row[5],
                          tuple(row[6] or ()), row[7], row[8])

    def touch_session(self, digest: str, at: datetime) -> None:
        self.store.execute("UPDATE sessions SET last_seen = ? WHERE digest = ?", [at, digest])

    def revoke_session(self, digest: str, at: datetime) -> None:
        self.store.execute(
            "UPDATE sessions SET revoked_at = ? WHERE digest = ? AND revoked_at IS NULL",
            [at, digest])

    def revoke_sessions_of(self, name: str, at: datetime) -> int:
        """Revoke every live session of ``name``; the number revoked."""
        with self.store.transaction():
            n = self.store.scalar(
                "SELECT count(*) FROM sessions WHERE name = ? AND revoked_at IS NULL", [name])
            self.store.execute(
                "UPDATE sessions SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                [at, name])
        return int(n or 0)

    def set_session_purpose(self, digest: str, *, purpose: str, claims: Sequence[str],
                            basis: str | None, case_id: str | None) -> None:
        self.store.execute(
            "UPDATE sessions SET purpose = ?, claims = ?, basis = ?, case_id = ? "
            "WHERE digest = ?",
            [purpose, list(claims), basis, case_id, digest])

    def drop_stale_sessions(self, before: datetime) -> None:
        self.store.execute(
            "DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ?", [before, before])

    # -- API tokens ---------------------------------------------------------
    def insert_token(self, token_id: str, name: str, label: str, digest: str, *, by: str,
                     at: datetime, expires_at: datetime) -> None:
        self.store.execute(
            "INSERT INTO api_tokens (token_id, name, label, digest, created_at, created_by, "
            "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [token_id, name, label, digest, at, by, expires_at])

    def token(self, token_id: str) -> TokenRow | None:
        row = self.store.fetchone(f"SELECT {_TOKEN_COLS} FROM api_tokens WHERE token_id = ?",
                                  [token_id])
        return None if row is None else TokenRow(*row)

    def tokens(self, name: str | None = None) -> list[TokenRow]:
        """Tokens of ``name`` (every token when ``None``), newest first."""
        rows = self.store.fetchall(
            f"SELECT {_TOKEN_COLS} FROM api_tokens WHERE ({_OPT} IS NULL OR name = ?) "
            "ORDER BY created_at DESC, token_id", [name, name])
        return [TokenRow(*r) for r in rows]

    def revoke_token(self, token_id: str, *, by: str, at: datetime) -> None:
        self.store.execute(
            "UPDATE api_tokens SET revoked_at = ?, revoked_by = ? "
            "WHERE token_id = ? AND revoked_at IS NULL", [at, by, token_id])

    def note_token_use(self, token_id: str, at: datetime) -> None:
        self.store.execute("UPDATE api_tokens SET last_used = ? WHERE token_id = ?",
                           [at, token_id])

    # -- failed logins and lock-outs ----------------------------------------
    def add_failure(self, kind: str, subject: str, at: datetime) -> None:
        self.store.execute(
            "INSERT INTO login_failures (failed_at, kind, subject) VALUES (?, ?, ?)",
            [at, kind, subject])

    def failures_since(self, kind: str, subject: str, since: datetime) -> int:
        return int(self.store.scalar(
            "SELECT count(*) FROM login_failures WHERE kind = ? AND subject = ? "
            "AND failed_at > ?", [kind, subject, since]) or 0)

    def clear_failures(self, kind: str, subject: str) -> None:
        self.store.execute("DELETE FROM login_failures WHERE kind = ? AND subject = ?",
                           [kind, subject])

    def drop_old_failures(self, before: datetime) -> None:
        with self.store.transaction():
            self.store.execute("DELETE FROM login_failures WHERE failed_at < ?", [before])
            self.store.execute("DELETE FROM login_locks WHERE locked_until < ?", [before])

    def lock_login(self, kind: str, subject: str, until: datetime) -> None:
        self.store.execute(
            "INSERT INTO login_locks (kind, subject, locked_until) VALUES (?, ?, ?) "
            "ON CONFLICT (kind, subject) DO UPDATE SET locked_until = excluded.locked_until",
            [kind, subject, until])

    def locked_until(self, kind: str, subject: str, now: datetime) -> datetime | None:
        row = self.store.fetchone(
            "SELECT locked_until FROM login_locks "
            "WHERE kind = ? AND subject = ? AND locked_until > ?", [kind, subject, now])
        return None if row is None else row[0]

    # -- legal process ------------------------------------------------------
    def legal(self, legal_id: str) -> LegalRow | None:
        row = self.store.fetchone(f"SELECT {LEGAL_COLS} FROM legal_process WHERE legal_id = ?",
                                  [legal_id])
        return None if row is None else _legal(row)

    def legal_list(self, case_id: str | None = None) -> list[LegalRow]:
        rows = self.store.fetchall(
            f"SELECT {LEGAL_COLS} FROM legal_process WHERE {_OPT} IS NULL OR case_id = ? "
            "ORDER BY issued", [case_id, case_id])
        return [_legal(r) for r in rows]

    def insert_legal(self, row: LegalRow, *, at: datetime) -> None:
        values = [list(v) if isinstance(v, tuple) else v for v in row]
        self.store.execute(
            f"INSERT INTO legal_process ({LEGAL_COLS}, registered_at) "
            f"VALUES ({', '.join('?' * (len(LegalRow._fields) + 1))})", [*values, at])

    def verify_legal(self, legal_id: str, *, by: str, at: datetime, sha256: str) -> None:
        self.store.execute(
            "UPDATE legal_process SET verified_by = ?, verified_at = ?, document_sha256 = ? "
            "WHERE legal_id = ?", [by, at, sha256, legal_id])

    def identity_scoped_legal(self) -> list[tuple[str, tuple[str, ...], datetime]]:
        """(legal id, scope identities, latest of registration and verification) of every
        identity-scoped document with a registration time."""
        size = "cardinality(scope_identities)" if self.pg else "len(scope_identities)"
        rows = self.store.fetchall(
            "SELECT legal_id, scope_identities, greatest(registered_at, verified_at) "
            f"FROM legal_process WHERE {size} > 0 AND registered_at IS NOT NULL")
        return [(r[0], tuple(r[1]), r[2]) for r in rows]

    def legal_orgs(self) -> dict[str, str | None]:
        """Each document's organisation: its own; else its case's; else its registrant's."""
        rows = self.store.fetchall(
            "SELECT l.legal_id, coalesce(l.org, c.org, u.org) FROM legal_process l "
            "LEFT JOIN cases c ON c.case_id = l.case_id "
            "LEFT JOIN users u ON u.name = l.registered_by")
        return {r[0]: r[1] for r in rows}

    # -- cases --------------------------------------------------------------
    def case(self, case_id: str) -> CaseRow | None:
        row = self.store.fetchone(f"SELECT {_CASE_COLS} FROM cases WHERE case_id = ?",
                                  [case_id])
        return None if row is None else CaseRow(*row)

    def cases(self, *, org: str | None = None, status: str | None = None) -> list[CaseRow]:
        rows = self.store.fetchall(
            f"SELECT {_CASE_COLS} FROM cases WHERE ({_OPT} IS NULL OR org = ?) "
            f"AND ({_OPT} IS NULL OR status = ?) ORDER BY opened_at, case_id",
            [org, org, status, status])
        return [CaseRow(*r) for r in rows]

    def members(self, case_id: str | None = None) -> dict[str, tuple[str, ...]]:
        """Current members of ``case_id`` (default: of every case), earliest first."""
        out: dict[str, list[str]] = {}
        for cid, member, _ in self.store.fetchall(_MEMBERS, [case_id, case_id, case_id,
                                                             case_id]):
            if member not in out.setdefault(cid, []):
                out[cid].append(member)
        return {cid: tuple(ms) for cid, ms in out.items()}

    def insert_case(self, case_id: str, *, title: str, kind: str, org: str, by: str,
                    at: datetime) -> None:
        """A new open case, with its opener as its first member."""
        with self.store.transaction():
            self.store.execute(
                f"INSERT INTO cases ({_CASE_COLS}) VALUES (?, ?, 'open', ?, ?, ?, ?)",
                [case_id, title, kind, org, by, at])
            self.add_member(case_id, by, by=by, at=at)

    def close_case(self, case_id: str, *, by: str, at: datetime) -> None:
        self.store.execute(
            "UPDATE cases SET status = 'closed', closed_by = ?, closed_at = ? WHERE case_id = ?",
            [by, at, case_id])

    def membership_history(self, case_id: str) -> list[MembershipRow]:
        """Every assignment of ``case_id``, oldest first (the opener's implicit one too)."""
        rows = self.store.fetchall(
            "SELECT case_id, member, added_by, added_at, removed_by, removed_at "
            "FROM case_members WHERE case_id = ? UNION ALL SELECT c.case_id, c.opened_by, "
            "c.opened_by, c.opened_at, NULL, NULL FROM cases c WHERE c.case_id = ? "
            "AND c.opened_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM case_members m "
            "WHERE m.case_id = c.case_id AND m.member = c.opened_by) ORDER BY 4, 2",
            [case_id, case_id])
        return [MembershipRow(*r) for r in rows]

    def has_member_row(self, case_id: str, member: str) -> bool:
        return self.store.fetchone(
            "SELECT 1 FROM case_members WHERE case_id = ? AND member = ?",
            [case_id, member]) is not None

    def add_member(self, case_id: str, member: str, *, by: str, at: datetime) -> None:
        self.store.execute(
            "INSERT INTO case_members (case_id, member, added_by, added_at) VALUES (?, ?, ?, ?)",
            [case_id, member, by, at])

    def end_membership(self, case_id: str, member: str, *, by: str, at: datetime) -> None:
        self.store.execute(
            "UPDATE case_members SET removed_by = ?, removed_at = ? "
            "WHERE case_id = ? AND member = ? AND removed_at IS NULL",
            [by, at, case_id, member])

    # -- case material ------------------------------------------------------
    def is_subject(self, case_id: str, identity_id: str) -> bool:
        return self.store.fetchone(
            "SELECT 1 FROM case_subjects WHERE case_id = ? AND identity_id = ?",
            [case_id, identity_id]) is not None

    def insert_subject(self, row: SubjectRow) -> None:
        self.store.execute(
            "INSERT INTO case_subjects (case_id, identity_id, added_by, added_at) "
            "VALUES (?, ?, ?, ?)", list(row))

    def subjects(self, case_id: str) -> list[SubjectRow]:
        rows = self.store.fetchall(
            "SELECT case_id, identity_id, added_by, added_at FROM case_subjects "
            "WHERE case_id = ? ORDER BY added_at, identity_id", [case_id])
        return [SubjectRow(*r) for r in rows]

    def note_count(self, case_id: str) -> int:
        return int(self.store.scalar("SELECT count(*) FROM case_notes WHERE case_id = ?",
                                     [case_id]))

    def insert_note(self, row: NoteRow) -> None:
        self.store.execute(
            "INSERT INTO case_notes (note_id, case_id, identity_id, author, noted_at, text) "
            "VALUES (?, ?, ?, ?, ?, ?)", list(row))

    def notes(self, case_id: str) -> list[NoteRow]:
        rows = self.store.fetchall(
            "SELECT note_id, case_id, identity_id, author, noted_at, text FROM case_notes "
            "WHERE case_id = ? ORDER BY noted_at, note_id", [case_id])
        return [NoteRow(*r) for r in rows]

    # -- case activity (which audit entries name which case) ----------------
    def catch_up_activity(self) -> None:
        """Note the case of every audit entry appended since the last call (each entry
        once; processes sharing a database queue on the ``case_activity`` lock)."""
        upto = self.store.scalar("SELECT upto FROM case_activity_upto WHERE id = 1")
        last = self.store.scalar("SELECT max(seq) FROM audit_log")
        if last is None or (upto is not None and last <= upto):
            return
        with self.store.transaction():
            self.store.lock("case_activity")
            upto = self.store.scalar("SELECT upto FROM case_activity_upto WHERE id = 1")
            last = self.store.scalar("SELECT max(seq) FROM audit_log")
            if last is None or (upto is not None and last <= upto):
                return
            start = -1 if upto is None else int(upto)
            if self.pg:
                self._note_cases_in_python(start, int(last))
            else:
                case_of = "json_extract_string(entry, '$.case_id')"
                self.store.execute(
                    f"INSERT INTO case_activity SELECT {case_of}, seq, {_LISTED} FROM audit_log "
                    f"WHERE seq > ? AND seq <= ? AND {case_of} IS NOT NULL", [start, last])
            self.store.execute(
                "INSERT INTO case_activity_upto (id, upto) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET upto = excluded.upto", [last])

    def _note_cases_in_python(self, start: int, last: int) -> None:
        """PostgreSQL: the entries are parsed here, not by ``::json`` (which refuses a whole
        entry holding a ``\\u0000`` escape anywhere, and with it the case's activity)."""
        for lo in range(start, last, _ACTIVITY_CHUNK):
            hi = min(lo + _ACTIVITY_CHUNK, last)
            noted: list[tuple[str, int, bool]] = []
            for seq, text in self.store.fetchall(
                    "SELECT seq, entry FROM audit_log WHERE seq > ? AND seq <= ?", [lo, hi]):
                try:
                    entry = json.loads(text)
                except ValueError:
                    continue
                case_id = entry.get("case_id") if isinstance(entry, dict) else None
                if case_id is None:
                    continue
                # the gate's per-source permits are not listed (the read's own entry
                # stands for them)
                listed = not (entry.get("action") == "policy.decide"
                              and entry.get("outcome") == "permit")
                noted.append((_json_text_of(case_id), int(seq), listed))
            self.store.executemany(
                "INSERT INTO case_activity (case_id, seq, listed) VALUES (?, ?, ?)", noted)

    def activity_total(self, case_id: str) -> int:
        return int(self.store.scalar(
            "SELECT count(*) FROM case_activity WHERE case_id = ? AND listed", [case_id]))

    def activity_entries(self, case_id: str, *, limit: int, offset: int) -> list[tuple[int, str]]:
        """(seq, entry JSON) of the listed entries under ``case_id``, newest first."""
        rows = self.store.fetchall(
            "SELECT l.seq, l.entry FROM (SELECT seq FROM case_activity WHERE case_id = ? AND "
            "listed ORDER BY seq DESC LIMIT ? OFFSET ?) a JOIN audit_log l ON l.seq = a.seq "
            "ORDER BY l.seq DESC", [case_id, limit, offset])
        return [(int(r[0]), str(r[1])) for r in rows]

    def case_entries(self, case_id: str, actions: Sequence[str], outcome: str) -> list[str]:
        """The JSON of the audit entries under ``case_id`` of ``actions`` with ``outcome``."""
        if self.pg:  # through case_activity (see _note_cases_in_python)
            self.catch_up_activity()
            out: list[str] = []
            for (text,) in self.store.fetchall(
                    "SELECT l.entry FROM case_activity a JOIN audit_log l ON l.seq = a.seq "
                    "WHERE a.case_id = ? ORDER BY l.seq", [case_id]):
                entry = json.loads(text)
                if entry.get("action") in actions and entry.get("outcome") == outcome:
                    out.append(str(text))
            return out
        rows = self.store.fetchall(
            "SELECT entry FROM audit_log WHERE json_extract_string(entry, '$.case_id') = ? "
            "AND list_contains(?::VARCHAR[], json_extract_string(entry, '$.action')) "
            "AND json_extract_string(entry, '$.outcome') = ?",
            [case_id, list(actions), outcome])
        return [str(r[0]) for r in rows]

    # -- supplements owed to subject-access requests ------------------------
    def flag_supplement(self, row: SupplementRow) -> None:
        self.store.execute(
            "INSERT INTO sar_supplements (sar_id, case_id, identity_id, org, released, "
            "flagged_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", list(row[:6]))

    def supplements_due(self, org: str | None) -> list[SupplementRow]:
        rows = self.store.fetchall(
            "SELECT sar_id, case_id, identity_id, org, released, flagged_at, sent_at "
            f"FROM sar_supplements WHERE sent_at IS NULL AND ({_OPT} IS NULL OR org = ?) "
            "ORDER BY flagged_at, sar_id", [org, org])
        return [SupplementRow(*r) for r in rows]

    def supplement_sent_at(self, sar_id: str, case_id: str, org: str
                           ) -> tuple[datetime | None] | None:
        """(sent_at,) of ``org``'s supplement, or ``None`` when there is none."""
        row = self.store.fetchone(
            "SELECT sent_at FROM sar_supplements WHERE sar_id = ? AND case_id = ? AND org = ?",
            [sar_id, case_id, org])
        return None if row is None else (row[0],)

    def mark_supplement_sent(self, sar_id: str, case_id: str, *, by: str,
                             at: datetime) -> None:
        self.store.execute(
            "UPDATE sar_supplements SET sent_by = ?, sent_at = ? "
            "WHERE sar_id = ? AND case_id = ?", [by, at, sar_id, case_id])

    # -- notices ------------------------------------------------------------
    def insert_notice(self, notice_id: str, *, identity_id: str, org: str, principal: str,
                      case_id: str | None, sources: Sequence[str], rule: str, duty: str,
                      at: datetime, due: date) -> None:
        self.store.execute(
            "INSERT INTO notices (notice_id, identity_id, org, principal, case_id, sources, "
            "rule, duty, created_at, due_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [notice_id, identity_id, org, principal, case_id, list(sources), rule, duty, at,
             due])

    def unsent_notices(self) -> list[NoticeRow]:
        rows = self.store.fetchall(
            "SELECT notice_id, identity_id, org, case_id, sources, rule, duty, due_date, "
            "sent_at FROM notices WHERE sent_at IS NULL ORDER BY due_date, notice_id")
        return [NoticeRow(r[0], r[1], r[2], r[3], tuple(r[4] or ()), *r[5:]) for r in rows]

    def notice(self, notice_id: str) -> NoticeRow | None:
        row = self.store.fetchone(
            "SELECT notice_id, identity_id, org, case_id, sources, rule, duty, due_date, "
            "sent_at FROM notices WHERE notice_id = ?", [notice_id])
        if row is None:
            return None
        return NoticeRow(row[0], row[1], row[2], row[3], tuple(row[4] or ()), *row[5:])

    def notice_records(self, identity_id: str | None = None) -> list[NoticeRecord]:
        """Every notice (of ``identity_id``, or all), oldest first, sent or not."""
        rows = self.store.fetchall(
            "SELECT notice_id, identity_id, org, principal, case_id, sources, rule, duty, "
            f"created_at, due_date, sent_at, sent_by FROM notices WHERE {_OPT} IS NULL "
            "OR identity_id = ? ORDER BY created_at, notice_id", [identity_id, identity_id])
        return [NoticeRecord(r[0], r[1], r[2], r[3], r[4], tuple(r[5] or ()), r[6], r[7],
                             r[8], r[9], r[10], r[11]) for r in rows]

    def mark_notice_sent(self, notice_id: str, *, by: str, at: datetime) -> None:
        self.store.execute("UPDATE notices SET sent_at = ?, sent_by = ? WHERE notice_id = ?",
                           [at, by, notice_id])

    # -- subject-access requests --------------------------------------------
    def sar(self, sar_id: str) -> SarRow | None:
        row = self.store.fetchone(
            f"SELECT {_SAR_COLS} FROM subject_access_requests WHERE sar_id = ?", [sar_id])
        return None if row is None else SarRow(*row)

    def sars(self, *, org: str | None = None, status: str | None = None) -> list[SarRow]:
        """Requests, optionally of one organisation and one status, oldest first."""
        rows = self.store.fetchall(
            f"SELECT {_SAR_COLS} FROM subject_access_requests "
            f"WHERE ({_OPT} IS NULL OR org = ?) AND ({_OPT} IS NULL OR status = ?) "
            "ORDER BY opened_at, sar_id", [org, org, status, status])
        return [SarRow(*r) for r in rows]

    def insert_sar(self, row: SarRow) -> None:
        self.store.execute(
            f"INSERT INTO subject_access_requests ({_SAR_COLS}) VALUES ({', '.join('?' * 9)})",
            list(row))

    def close_sar(self, sar_id: str, *, by: str, at: datetime) -> None:
        self.store.execute(
            "UPDATE subject_access_requests SET status = 'closed', closed_by = ?, "
            "closed_at = ? WHERE sar_id = ?", [by, at, sar_id])

    # -- policy sets --------------------------------------------------------
    def current_policy_set(self) -> PolicySetRow | None:
        row = self.store.fetchone(
            "SELECT seq, digest, ids, files, folder, recorded_at, recorded_by, how "
            "FROM policy_sets ORDER BY seq DESC LIMIT 1")
        if row is None:
            return None
        return PolicySetRow(int(row[0]), row[1], tuple(row[2] or ()), tuple(row[3] or ()),
                            row[4], row[5], row[6], row[7])

    def lock_policy_sets(self) -> None:
        """Inside a transaction: queue behind other processes recording a policy set."""
        self.store.lock("policy_sets")

    def insert_policy_set(self, *, digest: str, ids: Sequence[str], files: Sequence[str],
                          folder: str | None, at: datetime, by: str, how: str) -> int:
        """Record a set as the one in force (the next seq); the seq."""
        with self.store.transaction():
            self.store.lock("policy_sets")
            seq = int(self.store.scalar("SELECT coalesce(max(seq), 0) + 1 FROM policy_sets"))
            self.store.execute(
                "INSERT INTO policy_sets (seq, digest, ids, files, folder, recorded_at, "
                "recorded_by, how) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [seq, digest, list(ids), list(files), folder, at, by, how])
        return seq

    def registry_generation(self) -> tuple[int, int]:
        """(generation, policies): on PostgreSQL triggers move the first with every change
        of the tables decisions read, the second with every policy set recorded (migration
        0002); an embedded store keeps (0, 0): its one process refreshes after its acts."""
        row = self.store.fetchone(
            "SELECT generation, policies FROM registry_generation WHERE id = 0")
        return (int(row[0]), int(row[1])) if row else (0, 0)

    # -- sources as decisions see them --------------------------------------
    def sources(self) -> list[SourceRow]:
        rows = self.store.fetchall(
            "SELECT source_id, kind, jurisdiction, regimes, retention_days FROM sources")
        return [SourceRow(r[0], r[1], r[2], tuple(r[3] or ()), r[4]) for r in rows]

    # -- records as decisions read them ------------------------------------
    def current_segments_of(self, record_ids: Sequence[str]
                            ) -> list[tuple[str, str, str | None]]:
        """(record id, source id, origin jurisdiction) of the current ``record_ids``."""
        if not record_ids:
            return []
        marks = ", ".join("?" * len(record_ids))
        rows = self.store.fetchall(
            "SELECT record_id, source_id, origin_jurisdiction FROM records "
            f"WHERE is_current AND record_id IN ({marks})", list(record_ids))
        return [(r[0], r[1], r[2]) for r in rows]

    def record_columns(self, record_ids: Sequence[str], columns: Sequence[str]
                       ) -> list[tuple[Any, ...]]:
        """``columns`` of every version of ``record_ids`` (point look-ups by id)."""
        bad = [c for c in columns if c not in RECORD_COLUMNS]
        if bad:
            raise ValueError(f"not record columns: {bad}")
        if not record_ids:
            return []
        marks = ", ".join("?" * len(record_ids))
        return self.store.fetchall(
            f"SELECT {', '.join(columns)} FROM records WHERE record_id IN ({marks})",
            list(record_ids))

    # -- retention ----------------------------------------------------------
    def retention_runs(self) -> list[RetentionRunRow]:
        rows = self.store.fetchall(
            "SELECT run_id, as_of, removed, by_source, ran_at, actor FROM retention_runs "
            "ORDER BY ran_at, run_id")
        return [RetentionRunRow(r[0], r[1], int(r[2]), r[3], r[4], r[5]) for r in rows]

    def expired(self, as_of: datetime) -> list[tuple[str, str]]:
        """(record_id, source_id) of current records past their source's retention."""
        held = ("CAST(? AS TIMESTAMP) - make_interval(days => s.retention_days)" if self.pg
                else "?::TIMESTAMP - to_days(s.retention_days)")
        rows = self.store.fetchall(
            "SELECT r.record_id, r.source_id FROM records r JOIN sources s USING (source_id) "
            "WHERE r.is_current AND s.retention_days IS NOT NULL "
            f"AND r.ingested_at < {held} ORDER BY r.record_id", [as_of])
        return [(r[0], r[1]) for r in rows]

    def tombstoned(self, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (record_id, row_hash) pairs retention removed."""
        if not pairs:
            return set()
        wanted = ("SELECT * FROM unnest(CAST(? AS VARCHAR[]), CAST(? AS VARCHAR[])) "
                  "AS p(record_id, row_hash)" if self.pg
                  else "SELECT unnest(?) AS record_id, unnest(?) AS row_hash")
        rows = self.store.fetchall(
            "SELECT DISTINCT t.record_id, t.row_hash FROM retention_tombstones t "
            f"JOIN ({wanted}) p USING (record_id, row_hash)",
            [[p[0] for p in pairs], [p[1] for p in pairs]])
        return {(r[0], r[1]) for r in rows}

    def remove_records(self, record_ids: Sequence[str], *, run_id: str, at: datetime) -> None:
        """Tombstone and delete every version of ``record_ids`` (call inside the run's
        transaction; the identity graph forgets them through its own repository)."""
        ids = list(record_ids)
        self.store.execute(
            "INSERT INTO retention_tombstones (record_id, row_hash, source_id, removed_at, "
            f"run_id) SELECT record_id, row_hash, source_id, ?, ? FROM records "
            f"WHERE {self._in('record_id')}", [at, run_id, ids])
        self.store.execute(f"DELETE FROM records WHERE {self._in('record_id')}", [ids])

    def insert_retention_run(self, run_id: str, *, ran_at: datetime, as_of: datetime,
                             actor: str | None, removed: int, by_source: str,
                             hashes: Sequence[str]) -> None:
        self.store.execute(
            "INSERT INTO retention_runs (run_id, ran_at, as_of, actor, removed, by_source, "
            "record_id_hashes) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [run_id, ran_at, as_of, actor, removed, by_source, list(hashes)])


def _user(row: Sequence[Any]) -> UserRow:
    return UserRow(row[0], row[1], row[2], row[3], bool(row[4]), bool(row[5]), row[6])


__all__ = [
    "LEGAL_COLS", "CaseRow", "LegalRow", "MembershipRow", "NoteRow", "NoticeRecord",
    "NoticeRow", "PolicySetRow", "RegistryRepo", "RetentionRunRow", "SarRow", "SessionRow",
    "SourceRow", "SubjectRow", "SupplementRow", "TokenRow", "UserRow",
]
