"""Credentials at rest: password hashes, web sessions, API tokens and failed logins.

Every SQL statement of authentication lives here; the rules (who may do what, how long a
session lasts, when a name is locked out) live in :mod:`idgraph.app.auth`, which calls
these narrow functions. Nothing secret is stored in a form that opens the system:

* a password only as its Argon2id hash (argon2-cffi's PHC string);
* a session id and an API token's secret only as their SHA-256 digest (hex), so a copy
  of the database or a backup does not hold a usable session or token;
* a failed login under the HMAC of the name and of the client (keyed with the
  deployment's ``auth`` secret beside the database), so a password typed into the name
  field by mistake is never stored in the clear, and the rows cannot be read back into
  names without the key.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from idgraph.policy import users as users_mod
from idgraph.store import Store

DDL: Final[tuple[str, ...]] = (
    """CREATE TABLE IF NOT EXISTS credentials (
        name VARCHAR PRIMARY KEY, password_hash VARCHAR NOT NULL,
        changed_at TIMESTAMP NOT NULL, changed_by VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS sessions (
        digest VARCHAR PRIMARY KEY, name VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL, last_seen TIMESTAMP NOT NULL,
        expires_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP,
        purpose VARCHAR, claims VARCHAR[], basis VARCHAR, case_id VARCHAR,
        client VARCHAR, via VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS api_tokens (
        token_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, label VARCHAR NOT NULL,
        digest VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, created_by VARCHAR NOT NULL,
        expires_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP, revoked_by VARCHAR,
        last_used TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS login_failures (
        failed_at TIMESTAMP NOT NULL, kind VARCHAR NOT NULL, subject VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS login_locks (
        kind VARCHAR NOT NULL, subject VARCHAR NOT NULL, locked_until TIMESTAMP NOT NULL,
        PRIMARY KEY (kind, subject))""",
)


def ensure(store: Store) -> None:
    store.ensure("policy.credentials", DDL)


def digest(secret: str) -> str:
    """The SHA-256 (hex) of a session id or token secret: what is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def keyed(store: Store, kind: str, value: str) -> str:
    """The HMAC (hex) of a login name or client under the deployment's ``auth`` key."""
    mac = hmac.new(store.secret("auth"), f"{kind}\x00{value}".encode(), hashlib.sha256)
    return mac.hexdigest()


# -- passwords ------------------------------------------------------------------------
def password_hash(store: Store, name: str) -> str | None:
    ensure(store)
    row = store.fetchone("SELECT password_hash FROM credentials WHERE name = ?", [name])
    return None if row is None else str(row[0])


def put_password_hash(store: Store, name: str, hashed: str, *, by: str, at: datetime) -> None:
    ensure(store)
    store.execute(
        "INSERT INTO credentials (name, password_hash, changed_at, changed_by) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
        "password_hash = excluded.password_hash, changed_at = excluded.changed_at, "
        "changed_by = excluded.changed_by",
        [name, hashed, at, by],
    )


def disabled_at(store: Store, name: str) -> datetime | None:
    """When ``name`` was last disabled (``users.disabled_at``), if ever: a session or token
    issued before that never works again, even should the user be enabled later."""
    row = store.fetchone("SELECT disabled_at FROM users WHERE name = ?", [name])
    return None if row is None else row[0]


# -- sessions -------------------------------------------------------------------------
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


_SESSION_COLS = (
    "name, created_at, last_seen, expires_at, revoked_at, purpose, claims, basis, case_id"
)


def insert_session(
    store: Store, session_digest: str, name: str, *, at: datetime, expires_at: datetime,
    client: str, via: str,
) -> None:
    ensure(store)
    store.execute(
        "INSERT INTO sessions (digest, name, created_at, last_seen, expires_at, client, via) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [session_digest, name, at, at, expires_at, client, via],
    )


def session_row(store: Store, session_digest: str) -> SessionRow | None:
    ensure(store)
    row = store.fetchone(
        f"SELECT {_SESSION_COLS} FROM sessions WHERE digest = ?", [session_digest]
    )
    if row is None:
        return None
    return SessionRow(row[0], row[1], row[2], row[3], row[4], row[5], tuple(row[6] or ()),
                      row[7], row[8])


def touch_session(store: Store, session_digest: str, at: datetime) -> None:
    store.execute("UPDATE sessions SET last_seen = ? WHERE digest = ?", [at, session_digest])


def revoke_session(store: Store, session_digest: str, at: datetime) -> None:
    ensure(store)
    store.execute(
        "UPDATE sessions SET revoked_at = ? WHERE digest = ? AND revoked_at IS NULL",
        [at, session_digest],
    )


def revoke_sessions_of(store: Store, name: str, at: datetime) -> int:
    """Revoke every live session of ``name``; the number revoked."""
    ensure(store)
    n = store.scalar(
        "SELECT count(*) FROM sessions WHERE name = ? AND revoked_at IS NULL", [name]
    )
    store.execute(
        "UPDATE sessions SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", [at, name]
    )
    return int(n or 0)


def set_session_purpose(
    store: Store, session_digest: str, *, purpose: str, claims: tuple[str, ...],
    basis: str | None, case_id: str | None,
) -> None:
    store.execute(
        "UPDATE sessions SET purpose = ?, claims = ?, basis = ?, case_id = ? WHERE digest = ?",
        [purpose, list(claims), basis, case_id, session_digest],
    )


def drop_stale_sessions(store: Store, before: datetime) -> None:
    """Delete sessions that ended (expired or revoked) before ``before``."""
    ensure(store)
    store.execute(
        "DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ?", [before, before]
    )


# -- API tokens -----------------------------------------------------------------------
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


_TOKEN_COLS = (
    "token_id, name, label, digest, created_at, created_by, expires_at, revoked_at, "
    "revoked_by, last_used"
)


def _token(row: tuple[Any, ...]) -> TokenRow:
    return TokenRow(*row)


def insert_token(
    store: Store, token_id: str, name: str, label: str, token_digest: str, *, by: str,
    at: datetime, expires_at: datetime,
) -> None:
    ensure(store)
    store.execute(
        "INSERT INTO api_tokens (token_id, name, label, digest, created_at, created_by, "
        "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [token_id, name, label, token_digest, at, by, expires_at],
    )


def token_row(store: Store, token_id: str) -> TokenRow | None:
    ensure(store)
    row = store.fetchone(f"SELECT {_TOKEN_COLS} FROM api_tokens WHERE token_id = ?", [token_id])
    return None if row is None else _token(row)


@dataclass(frozen=True, slots=True)
class Holder:
    """The user a session or token acts as, with when they were last disabled (if ever),
    read in one statement."""

    name: str
    role: str
    org: str
    org_type: str
    disabled: bool
    immigration_agency: bool
    disabled_at: datetime | None


def holder(store: Store, name: str) -> Holder | None:
    """The user ``name`` and ``users.disabled_at`` in one statement (``None``: no such
    user): what every bearer request or session use checks, read fresh each time (no
    cache: a disabled user stops at once)."""
    users_mod.ensure(store)
    row = store.fetchone(
        "SELECT name, role, org, org_type, disabled, immigration_agency, disabled_at "
        "FROM users WHERE name = ?", [name])
    if row is None:
        return None
    return Holder(row[0], row[1], row[2], row[3], bool(row[4]), bool(row[5]), row[6])


def token_rows(store: Store, name: str | None = None) -> list[TokenRow]:
    """Tokens of ``name`` (every token when ``None``), newest first."""
    ensure(store)
    rows = store.fetchall(
        f"SELECT {_TOKEN_COLS} FROM api_tokens WHERE (? IS NULL OR name = ?) "
        "ORDER BY created_at DESC, token_id",
        [name, name],
    )
    return [_token(r) for r in rows]


def revoke_token(store: Store, token_id: str, *, by: str, at: datetime) -> None:
    store.execute(
        "UPDATE api_tokens SET revoked_at = ?, revoked_by = ? "
        "WHERE token_id = ? AND revoked_at IS NULL",
        [at, by, token_id],
    )


def note_token_use(store: Store, token_id: str, at: datetime) -> None:
    store.execute("UPDATE api_tokens SET last_used = ? WHERE token_id = ?", [at, token_id])


# -- failed logins and lock-outs ------------------------------------------------------
def add_failure(store: Store, kind: str, key: str, at: datetime) -> None:
    ensure(store)
    store.execute(
        "INSERT INTO login_failures (failed_at, kind, subject) VALUES (?, ?, ?)", [at, kind, key]
    )


def failures_since(store: Store, kind: str, key: str, since: datetime) -> int:
    ensure(store)
    n = store.scalar(
        "SELECT count(*) FROM login_failures WHERE kind = ? AND subject = ? AND failed_at > ?",
        [kind, key, since],
    )
    return int(n or 0)


def clear_failures(store: Store, kind: str, key: str) -> None:
    ensure(store)
    store.execute("DELETE FROM login_failures WHERE kind = ? AND subject = ?", [kind, key])


def drop_old_failures(store: Store, before: datetime) -> None:
    ensure(store)
    store.execute("DELETE FROM login_failures WHERE failed_at < ?", [before])
    store.execute("DELETE FROM login_locks WHERE locked_until < ?", [before])


def lock(store: Store, kind: str, key: str, until: datetime) -> None:
    ensure(store)
    store.execute(
        "INSERT INTO login_locks (kind, subject, locked_until) VALUES (?, ?, ?) "
        "ON CONFLICT (kind, subject) DO UPDATE SET locked_until = excluded.locked_until",
        [kind, key, until],
    )


def locked_until(store: Store, kind: str, key: str, now: datetime) -> datetime | None:
    """When the lock on ``(kind, key)`` ends, if it is in force at ``now``."""
    ensure(store)
    row = store.fetchone(
        "SELECT locked_until FROM login_locks "
        "WHERE kind = ? AND subject = ? AND locked_until > ?",
        [kind, key, now],
    )
    return None if row is None else row[0]
