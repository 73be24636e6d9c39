"""Credentials at rest: password hashes, web sessions, API tokens and failed logins.

The narrow functions authentication calls (their SQL is in
:class:`idgraph.store.registry.RegistryRepo`); the rules (who may do what, how long a
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

from idgraph.store import Store
from idgraph.store.registry import RegistryRepo, SessionRow, TokenRow


def ensure(store: Store) -> None:
    """Kept for callers of other packages: the tables are made by the store's migrations."""


def digest(secret: str) -> str:
    """The SHA-256 (hex) of a session id or token secret: what is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def keyed(store: Store, kind: str, value: str) -> str:
    """The HMAC (hex) of a login name or client under the deployment's ``auth`` key."""
    mac = hmac.new(store.secret("auth"), f"{kind}\x00{value}".encode(), hashlib.sha256)
    return mac.hexdigest()


# -- passwords ------------------------------------------------------------------------
def password_hash(store: Store, name: str) -> str | None:
    return RegistryRepo(store).password_hash(name)


def put_password_hash(store: Store, name: str, hashed: str, *, by: str, at: datetime) -> None:
    RegistryRepo(store).put_password_hash(name, hashed, by=by, at=at)


def disabled_at(store: Store, name: str) -> datetime | None:
    """When ``name`` was last disabled (``users.disabled_at``), if ever: a session or token
    issued before that never works again, even should the user be enabled later."""
    user = RegistryRepo(store).user(name)
    return None if user is None else user.disabled_at


# -- sessions -------------------------------------------------------------------------
def insert_session(
    store: Store, session_digest: str, name: str, *, at: datetime, expires_at: datetime,
    client: str, via: str,
) -> None:
    RegistryRepo(store).insert_session(session_digest, name, at=at, expires_at=expires_at,
                                       client=client, via=via)


def session_row(store: Store, session_digest: str) -> SessionRow | None:
    return RegistryRepo(store).session(session_digest)


def touch_session(store: Store, session_digest: str, at: datetime) -> None:
    RegistryRepo(store).touch_session(session_digest, at)


def revoke_session(store: Store, session_digest: str, at: datetime) -> None:
    RegistryRepo(store).revoke_session(session_digest, at)


def revoke_sessions_of(store: Store, name: str, at: datetime) -> int:
    """Revoke every live session of ``name``; the number revoked."""
    return RegistryRepo(store).revoke_sessions_of(name, at)


def set_session_purpose(
    store: Store, session_digest: str, *, purpose: str, claims: tuple[str, ...],
    basis: str | None, case_id: str | None,
) -> None:
    RegistryRepo(store).set_session_purpose(session_digest, purpose=purpose, claims=claims,
                                            basis=basis, case_id=case_id)


def drop_stale_sessions(store: Store, before: datetime) -> None:
    """Delete sessions that ended (expired or revoked) before ``before``."""
    RegistryRepo(store).drop_stale_sessions(before)


# -- API tokens -----------------------------------------------------------------------
def insert_token(
    store: Store, token_id: str, name: str, label: str, token_digest: str, *, by: str,
    at: datetime, expires_at: datetime,
) -> None:
    RegistryRepo(store).insert_token(token_id, name, label, token_digest, by=by, at=at,
                                     expires_at=expires_at)


def token_row(store: Store, token_id: str) -> TokenRow | None:
    return RegistryRepo(store).token(token_id)


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
    row = RegistryRepo(store).user(name)
    return None if row is None else Holder(*row)


def token_rows(store: Store, name: str | None = None) -> list[TokenRow]:
    """Tokens of ``name`` (every token when ``None``), newest first."""
    return RegistryRepo(store).tokens(name)


def revoke_token(store: Store, token_id: str, *, by: str, at: datetime) -> None:
    RegistryRepo(store).revoke_token(token_id, by=by, at=at)


def note_token_use(store: Store, token_id: str, at: datetime) -> None:
    RegistryRepo(store).note_token_use(token_id, at)


# -- failed logins and lock-outs ------------------------------------------------------
def add_failure(store: Store, kind: str, key: str, at: datetime) -> None:
    RegistryRepo(store).add_failure(kind, key, at)


def failures_since(store: Store, kind: str, key: str, since: datetime) -> int:
    return RegistryRepo(store).failures_since(kind, key, since)


def clear_failures(store: Store, kind: str, key: str) -> None:
    RegistryRepo(store).clear_failures(kind, key)


def drop_old_failures(store: Store, before: datetime) -> None:
    RegistryRepo(store).drop_old_failures(before)


def lock(store: Store, kind: str, key: str, until: datetime) -> None:
    RegistryRepo(store).lock_login(kind, key, until)


def locked_until(store: Store, kind: str, key: str, now: datetime) -> datetime | None:
    """When the lock on ``(kind, key)`` ends, if it is in force at ``now``."""
    return RegistryRepo(store).locked_until(kind, key, now)


__all__ = [
    "Holder", "SessionRow", "TokenRow", "add_failure", "clear_failures", "digest",
    "disabled_at", "drop_old_failures", "drop_stale_sessions", "ensure", "failures_since",
    "holder", "insert_session", "insert_token", "keyed", "lock", "locked_until",
    "note_token_use", "password_hash", "put_password_hash", "revoke_session",
    "revoke_sessions_of", "revoke_token", "session_row", "set_session_purpose",
    "token_row", "token_rows", "touch_session",
]
