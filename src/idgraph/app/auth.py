"""Authentication: passwords, web sessions and API tokens.

The shells authenticate a user here and get back who they are; what that user may do is
decided afterwards, by the gate, like every other act. The rules:

* **Passwords** are hashed with Argon2id (argon2-cffi's :class:`PasswordHasher`, RFC 9106
  low-memory profile), at least :attr:`AuthLimits.min_password` characters. A user sets
  their own (act ``users.passwd``) presenting the current one (a wrong one counts as a
  failed login); another user's needs an admin (act ``users.manage``). Changing a
  password ends the user's web sessions.
* **Login** answers an unknown name, a disabled user, a user without a password and a
  wrong password with the same :class:`Unauthenticated` and the same work (an unknown
  name is checked against a dummy hash), so neither the answer nor its timing tells
  which names exist. Every failure is audited (``auth.login``, deny, the reason, never
  the password). :attr:`AuthLimits.max_failures` failures for one name or from one client
  within :attr:`AuthLimits.window_minutes` lock that name (or client) for
  :attr:`AuthLimits.lockout_minutes`: every attempt then gets :class:`TooManyAttempts`
  (audited) without a password being checked.
* **Sessions** are 32 random bytes (``secrets.token_urlsafe(32)``) held only as their
  SHA-256 digest; they end after :attr:`AuthLimits.session_hours` (absolute) or
  :attr:`AuthLimits.idle_minutes` without use, on logout, on a password change, and at
  once when the user is disabled (checked on every use). The CSRF token is an HMAC of the
  session id under the deployment's ``auth`` key.
* **API tokens** read ``idg_<id>_<secret>``; the secret is held only as its SHA-256
  digest and compared in constant time. They expire (1 to :attr:`AuthLimits.token_days_max`
  days), can be revoked, and stop at once when their user is disabled. The caller a
  token acts as names it (``Caller.token_id``: audited with every entry). A token made
  with a token ends no later than it; one made with a web session needs the password.

No secret (password, session id, token) is ever put into an audit entry, an exception
or a log line.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from idgraph import cases as cases_mod
from idgraph import clock
from idgraph.app.context import VIAS, Caller, Env
from idgraph.app.errors import Denied, Invalid, NotFound, TooManyAttempts, Unauthenticated
from idgraph.app.gate import authorise_and_audit
from idgraph.audit import AuditEntry, record
from idgraph.policy import credentials as creds
from idgraph.policy import legal as legal_mod
from idgraph.policy.acts import ActRecord, decide_act
from idgraph.policy.names import name_problem
from idgraph.policy.users import User, get_user


@dataclass(frozen=True, slots=True)
class AuthLimits:
    """The tunables of authentication (one typed object; defaults follow OWASP ASVS 5)."""

    session_hours: float = 8.0  # absolute session lifetime
    idle_minutes: float = 30.0  # a session unused this long has ended
    max_failures: int = 5  # failed logins per name, or per client, ...
    window_minutes: float = 15.0  # ... within this window lock it ...
    lockout_minutes: float = 15.0  # ... for this long
    min_password: int = 12
    max_password: int = 1024  # Argon2 hashes any length; a cap keeps a login cheap
    token_days_max: int = 365


LIMITS: Final[AuthLimits] = AuthLimits()

# RFC 9106 "second recommended" (low-memory) profile: argon2id, t=3, m=64 MiB, p=4.
_HASHER: Final[PasswordHasher] = PasswordHasher()
_TOKEN = re.compile(r"idg_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
_SECRET_MAX = 256  # a session id or bearer longer than this is not one of ours
_TOUCH_EVERY = timedelta(seconds=30)  # write a session's last_seen at most this often
# write a token's last_used at most this often: an UPDATE and a commit per request would
# cost every bearer request a write (last_used is shown to its owner, to the minute)
_TOKEN_TOUCH_EVERY = timedelta(seconds=60)
_CLIENT_MAX = 100  # a client (address) as recorded and counted
_FAILED = "invalid user name or password"
_CASE_KIND_RULE = "base.purpose_case_kind"  # the read gate's rules the purpose screen asks too
_ORG_TYPE_RULE = "base.purpose_org_type"
_CURRENT_RULE = "auth.current_password"  # one's own password change presents the current one


@dataclass(frozen=True, slots=True)
class SessionGrant:
    """A new web session: ``session_id`` is the secret for the cookie (shown once)."""

    session_id: str
    csrf: str
    user: User
    expires: datetime


@dataclass(frozen=True, slots=True)
class SessionState:
    """A live session: its user, the caller its reads act as (via "web"), its CSRF token."""

    user: User
    caller: Caller
    csrf: str
    expires: datetime


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """A new API token: ``secret`` is the whole bearer value ``idg_<id>_<secret>`` (once)."""

    token_id: str
    secret: str
    user: str
    expires: datetime


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What may be shown about a token (never its secret)."""

    token_id: str
    user: str
    name: str
    created: datetime
    created_by: str
    expires: datetime
    revoked: datetime | None
    last_used: datetime | None


# -- helpers --------------------------------------------------------------------------
def _utc(t: datetime) -> datetime:
    """A stored (naive UTC) time as an aware one."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


@cache
def _dummy_hash() -> str:
    """A hash of a random password, verified against when the name has none: an unknown
    name costs what a known one does."""
    return _HASHER.hash(secrets.token_urlsafe(32))


def _verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (always doing one Argon2 verification)."""
    try:
        return _HASHER.verify(stored or _dummy_hash(), password[: LIMITS.max_password]) and (
            stored is not None and len(password) <= LIMITS.max_password
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _user_of(held: creds.Holder | None) -> User | None:
    return None if held is None else User(held.name, held.role, held.org, held.org_type,
                                          held.disabled, held.immigration_agency)


def _csrf(env: Env, session_id: str) -> str:
    mac = hmac.new(env.store.secret("auth"), b"csrf\x00" + session_id.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def _audit(
    env: Env, action: str, outcome: str, *, principal: str, user: User | None = None,
    detail: dict[str, Any], purpose: str | None = None, case_id: str | None = None,
) -> None:
    with env.store.transaction():
        record(env.store, AuditEntry(
            principal=principal, organisation=user.org if user else None,
            role=user.role if user else None, action=action, outcome=outcome,
            purpose=purpose, case_id=case_id, detail=detail,
        ))


def password_problem(name: str, password: str) -> str | None:
    """Why ``password`` may not be ``name``'s password (``None``: it may). The answer
    never quotes the password."""
    if len(password) < LIMITS.min_password:
        return f"a password needs at least {LIMITS.min_password} characters"
    if len(password) > LIMITS.max_password:
        return f"a password may have at most {LIMITS.max_password} characters"
    if password.strip().casefold() == name.casefold():
        return "a password may not be the user name"
    if len(set(password)) < 4:
        return "a password needs at least 4 different characters"
    return None


# -- passwords ------------------------------------------------------------------------
def set_password(
    env: Env, caller: Caller, name: str, password: str, *, current: str | None = None
) -> None:
    """Set ``name``'s password: one's own (``users.passwd``), or another's as an admin
    (``users.manage``). Ends the user's web sessions. Audited without either password.

    One's own password is changed only on presenting the ``current`` one (OWASP ASVS
    2.1.6: whoever holds an unlocked session or a token must not take the account over):
    none given is :class:`Invalid`, a wrong one :class:`Denied` (both ``field="current"``)
    and counts as a failed login for the name, so guesses through a stolen session are
    locked out as at the login form (:class:`TooManyAttempts` while locked). A user who
    has no password yet (the first one, set from the command line) has none to present.
    An admin setting another user's password needs none of theirs."""
    own = name == caller.actor
    act = "users.passwd" if own else "users.manage"
    store = env.store
    guessed = False
    try:
        with authorise_and_audit(env, caller, act, target=name,
                                 action="users.passwd") as rec:
            if get_user(store, name) is None:
                raise NotFound(f"no user {name!r}", field="name")
            rec.detail["user"] = name
            if own:
                guessed = _check_current(env, name, current)
            problem = password_problem(name, password)
            if problem:
                raise Invalid(problem, field="password")
            hashed = _HASHER.hash(password)
            now = clock.now_naive()
            with store.transaction():
                creds.put_password_hash(store, name, hashed, by=caller.actor, at=now)
                ended = creds.revoke_sessions_of(store, name, now)
            rec.detail.update({"sessions_ended": ended})
    except Denied as exc:
        if exc.field == "current":  # counted after the act's transaction rolled back
            _count_wrong_current(env, name)
        raise
    if guessed:  # the right current password: the name's failures start again
        with store.transaction():
            creds.clear_failures(store, "name", creds.keyed(store, "name", name))


def _check_current(env: Env, name: str, current: str | None) -> bool:
    """Raise unless ``current`` is ``name``'s password (or ``name`` has none yet);
    ``True`` when a password was checked."""
    if creds.password_hash(env.store, name) is None:
        return False
    _reauthenticate(env, name, current, field="current",
                    missing="changing one's own password needs the current password")
    return True


def _reauthenticate(env: Env, name: str, given: str | None, *, field: str,
                    missing: str) -> None:
    """Raise unless ``given`` is ``name``'s password: :class:`Invalid` when none is given,
    :class:`TooManyAttempts` while the name is locked out, :class:`Denied` when wrong (the
    caller counts it: :func:`_count_wrong_current`)."""
    store = env.store
    if not given:
        raise Invalid(missing, field=field)
    key = creds.keyed(store, "name", name)
    if creds.locked_until(store, "name", key, clock.now_naive()):
        raise TooManyAttempts("too many failed attempts; try again later")
    if not _verify(creds.password_hash(store, name), given):
        raise Denied(f"the {'current ' if field == 'current' else ''}password is wrong",
                     field=field, rules=(_CURRENT_RULE,))


def _count_wrong_current(env: Env, name: str) -> None:
    """A wrong current password: one failure against the name (locking it at the limit)."""
    store = env.store
    now = clock.now_naive()
    key = creds.keyed(store, "name", name)
    with store.transaction():
        creds.add_failure(store, "name", key, now)
        since = now - timedelta(minutes=LIMITS.window_minutes)
        if creds.failures_since(store, "name", key, since) >= LIMITS.max_failures:
            creds.lock(store, "name", key, now + timedelta(minutes=LIMITS.lockout_minutes))


# -- login ----------------------------------------------------------------------------
def _locked(env: Env, keys: Sequence[tuple[str, str]], now: datetime) -> list[str]:
    return [kind for kind, key in keys if creds.locked_until(env.store, kind, key, now)]


def _fail(
    env: Env, keys: Sequence[tuple[str, str]], now: datetime, *, principal: str,
    user: User | None, detail: dict[str, Any],
) -> list[str]:
    """Count a failure against every key; lock those that reached the limit. Audited.
    Returns the kinds locked now."""
    store = env.store
    since = now - timedelta(minutes=LIMITS.window_minutes)
    until = now + timedelta(minutes=LIMITS.lockout_minutes)
    locked: list[str] = []
    with store.transaction():
        for kind, key in keys:
            creds.add_failure(store, kind, key, now)
            if creds.failures_since(store, kind, key, since) >= LIMITS.max_failures:
                creds.lock(store, kind, key, until)
                locked.append(kind)
        if locked:
            detail = {**detail, "locked": locked, "locked_until": _utc(until).isoformat()}
        _audit(env, "auth.login", "deny", principal=principal, user=user, detail=detail)
    return locked


def login(env: Env, name: str, password: str, *, client: str, via: str = "web") -> SessionGrant:
    """Check ``name``'s password and open a web session (see the module docstring)."""
    if via not in VIAS:
        raise Invalid(f"via must be one of {', '.join(VIAS)}", field="via")
    store = env.store
    now = clock.now_naive()
    client = client[:_CLIENT_MAX]
    keys = (("name", creds.keyed(store, "name", name)),
            ("client", creds.keyed(store, "client", client)))
    creds.drop_old_failures(store, now - timedelta(minutes=LIMITS.window_minutes
                                                   + LIMITS.lockout_minutes))
    user = get_user(store, name)
    # an unknown name is audited as "anonymous": it may be a password typed in the
    # wrong field; the keyed digest still ties attempts on the same name together
    principal = user.name if user else "anonymous"
    base: dict[str, Any] = {"client": client, "via": via}
    if user is None:
        base["name_key"] = keys[0][1][:16]
    locked = _locked(env, keys, now)
    if locked:
        _audit(env, "auth.login", "deny", principal=principal, user=user,
               detail={**base, "reason": "locked out after too many failed logins",
                       "locked": locked})
        raise TooManyAttempts("too many failed logins; try again later")
    stored = creds.password_hash(store, name)
    good = _verify(stored if user else None, password)
    if not good or user is None or not user.active:
        reason = ("unknown user" if user is None else "no password set" if stored is None
                  else "wrong password" if not good else "user disabled")
        _fail(env, keys, now, principal=principal, user=user, detail={**base, "reason": reason})
        raise Unauthenticated(_FAILED)
    session_id = secrets.token_urlsafe(32)
    expires = now + timedelta(hours=LIMITS.session_hours)
    with store.transaction():
        creds.clear_failures(store, *keys[0])
        if stored is not None and _HASHER.check_needs_rehash(stored):
            creds.put_password_hash(store, name, _HASHER.hash(password), by=name, at=now)
        creds.drop_stale_sessions(store, now - timedelta(days=1))
        creds.insert_session(store, creds.digest(session_id), name, at=now,
                             expires_at=expires, client=client, via=via)
        _audit(env, "auth.login", "ok", principal=name, user=user, detail=base)
    return SessionGrant(session_id, _csrf(env, session_id), user, _utc(expires))


def logout(env: Env, session_id: str) -> None:
    """End the session (nothing happens for an unknown or ended one)."""
    if not session_id or len(session_id) > _SECRET_MAX:
        return
    store = env.store
    key = creds.digest(session_id)
    row = creds.session_row(store, key)
    if row is None or row.revoked_at is not None:
        return
    with store.transaction():
        creds.revoke_session(store, key, clock.now_naive())
        _audit(env, "auth.logout", "ok", principal=row.name, user=get_user(store, row.name),
               detail={"via": "web"})


# -- sessions -------------------------------------------------------------------------
def session_of(env: Env, session_id: str) -> SessionState:
    """The live session ``session_id``; :class:`Unauthenticated` when it is unknown,
    ended (expired, idle, logged out, revoked) or its user is unknown or disabled."""
    if not session_id or len(session_id) > _SECRET_MAX:
        raise Unauthenticated("not logged in")
    store = env.store
    key = creds.digest(session_id)
    row = creds.session_row(store, key)
    now = clock.now_naive()
    if (row is None or row.revoked_at is not None or now >= row.expires_at
            or now - row.last_seen >= timedelta(minutes=LIMITS.idle_minutes)):
        raise Unauthenticated("the session has ended; log in again")
    held = creds.holder(store, row.name)  # fresh on every use: disabling ends it at once
    user = _user_of(held)
    if (user is None or not user.active or held is None
            or (held.disabled_at is not None and held.disabled_at >= row.created_at)):
        with store.transaction():
            creds.revoke_session(store, key, now)
            _audit(env, "auth.session", "deny", principal=row.name, user=user,
                   detail={"reason": "user disabled", "via": "web"})
        raise Unauthenticated("the session has ended; log in again")
    if now - row.last_seen >= _TOUCH_EVERY:
        creds.touch_session(store, key, now)
    caller = Caller(actor=user.name, purpose=row.purpose, claims=row.claims, basis=row.basis,
                    case_id=row.case_id, via="web")
    return SessionState(user, caller, _csrf(env, session_id), _utc(row.expires_at))


def _check_purpose(
    env: Env, user: User, purpose: str, claims: tuple[str, ...], basis: str | None,
    case_id: str | None,
) -> None:
    """Raise :class:`Invalid` unless the purpose is catalogued and open to the user's
    organisation type, the claims known codes, the case open, of the user's organisation
    and of a kind the purpose may be declared under, the basis registered for it. The
    purpose and case checks are the catalogue's, as the read gate asks them
    (``base.purpose_org_type``, ``base.purpose_case_kind``: named in the error's rules)."""
    catalogue = env.registry().catalogue
    if catalogue.purpose(purpose) is None:
        raise Invalid(f"unknown purpose {purpose!r}", field="purpose")
    unknown = catalogue.unknown_codes(claims)
    if unknown:
        raise Invalid(f"unknown permissible-purpose code(s): {', '.join(unknown)}",
                      field="claims")
    if not catalogue.org_type_fits(purpose, user.org_type):
        # the read gate's base.purpose_org_type, asked here so that the screen does not
        # accept (and the log record as chosen) a purpose no read could be made under
        raise Invalid(f"an organisation of type {user.org_type!r} may not declare the "
                      f"purpose {purpose!r}", field="purpose", rules=(_ORG_TYPE_RULE,))
    if case_id is not None:
        case = cases_mod.get_case(env.store, case_id)
        if case is None or case.org != user.org:  # another organisation's: as unknown
            raise Invalid(f"no case {case_id!r} in your organisation", field="case_id")
        if not case.is_open:
            raise Invalid(f"case {case_id!r} is closed", field="case_id")
        if not catalogue.fits(purpose, case.kind):  # the read gate's base.purpose_case_kind
            raise Invalid(f"the purpose {purpose!r} may not be declared under case "
                          f"{case_id!r} (a {case.kind} case)", field="case_id",
                          rules=(_CASE_KIND_RULE,))
    if basis is not None:
        doc = legal_mod.get_legal(env.store, basis)
        if doc is None or (doc.org is not None and doc.org != user.org):
            raise Invalid(f"no legal process {basis!r} registered for your organisation",
                          field="basis")


def set_session_purpose(
    env: Env, session_id: str, *, purpose: str, claims: Sequence[str] = (),
    basis: str | None = None, case_id: str | None = None,
) -> SessionState:
    """Choose the purpose (and claims, legal basis, case) the session's reads carry;
    validated and audited (``session.purpose``)."""
    state = session_of(env, session_id)
    codes = tuple(dict.fromkeys(c.strip() for c in claims if c.strip()))
    basis = basis or None
    case_id = case_id or None
    caller = replace(state.caller, purpose=purpose, claims=codes, basis=basis, case_id=case_id)
    with authorise_and_audit(env, caller, "session.purpose", target=purpose,
                             case_id=case_id) as rec:
        rec.basis = basis
        _check_purpose(env, state.user, purpose, codes, basis, case_id)
        creds.set_session_purpose(env.store, creds.digest(session_id), purpose=purpose,
                                  claims=codes, basis=basis, case_id=case_id)
        rec.detail.update({"purpose": purpose, "claims": list(codes)})
    return replace(state, caller=caller)


# -- API tokens -----------------------------------------------------------------------
def _token_act(caller: Caller, owner: str) -> str:
    """One's own tokens: ``tokens.manage``; another user's: ``users.manage`` (admin)."""
    return "tokens.manage" if owner == caller.actor else "users.manage"


def _from_session(caller: Caller) -> bool:
    """Whether the caller came with a web session (the web UI, or its cookie on the API:
    an API caller without a token)."""
    return caller.via == "web" or (caller.via == "api" and caller.token_id is None)


def create_token(
    env: Env, caller: Caller, *, user: str | None = None, name: str, days: int = 30,
    password: str | None = None,
) -> TokenGrant:
    """A new API token for ``user`` (default: the caller), valid ``days`` days. The
    returned secret is shown once: only its digest is kept.

    A token outlives the session or token it is made with, so: made with a bearer token
    it ends no later than that token; made with a web session the caller's own
    ``password`` is asked again (none: :class:`Invalid`, wrong: :class:`Denied`, counted
    towards the name's lock-out). A stolen session or short-lived token cannot be turned
    into a long-lived one. The command line (trusted ``--as``) needs neither."""
    owner = user or caller.actor
    try:
        with authorise_and_audit(env, caller, _token_act(caller, owner), target=owner,
                                 action="tokens.create") as rec:
            if _from_session(caller):
                _reauthenticate(env, caller.actor, password, field="password",
                                missing="creating a token from a web session needs your "
                                        "password")
            grant = _mint(env, caller, rec, owner, name, days)
    except Denied as exc:
        if exc.field == "password":
            _count_wrong_current(env, caller.actor)
        raise
    return grant


def _mint(
    env: Env, caller: Caller, rec: ActRecord, owner: str, name: str, days: int
) -> TokenGrant:
    """The body of :func:`create_token` once the caller may create the token."""
    store = env.store
    problem = name_problem("token name", name)
    if problem or len(name) > 100:
        raise Invalid(problem or "a token name may have at most 100 characters",
                      field="name")
    if not 1 <= days <= LIMITS.token_days_max:
        raise Invalid(f"days must be 1 to {LIMITS.token_days_max}", field="days")
    account = get_user(store, owner)
    if account is None:
        raise NotFound(f"no user {owner!r}", field="user")
    if not account.active:
        raise Invalid(f"user {owner!r} is disabled", field="user")
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    now = clock.now_naive()
    expires = now + timedelta(days=days)
    if caller.token_id is not None:
        # minted with a bearer token: it ends no later than that token does, so a
        # stolen short-lived token cannot be turned into a long-lived one
        parent = creds.token_row(store, caller.token_id)
        if parent is None:
            raise Invalid("the token used is unknown", field="token")
        if parent.expires_at < expires:
            expires = parent.expires_at
            rec.detail["capped_by"] = caller.token_id
    creds.insert_token(store, token_id, owner, name, creds.digest(secret), by=caller.actor,
                       at=now, expires_at=expires)
    rec.detail.update({"token_id": token_id, "user": owner, "name": name,
                       "expires": _utc(expires).isoformat()})
    return TokenGrant(token_id, f"idg_{token_id}_{secret}", owner, _utc(expires))


def revoke_token(env: Env, caller: Caller, token_id: str) -> None:
    """Revoke a token: one's own, or any as an admin. Revoking a revoked token does
    nothing more."""
    store = env.store
    row = creds.token_row(store, token_id) if len(token_id) <= _SECRET_MAX else None
    owner = row.name if row else caller.actor
    with authorise_and_audit(env, caller, _token_act(caller, owner), target=owner,
                             action="tokens.revoke") as rec:
        if row is None:
            raise NotFound(f"no token {token_id!r}", field="token_id")
        if row.revoked_at is None:
            creds.revoke_token(store, token_id, by=caller.actor, at=clock.now_naive())
        rec.detail.update({"token_id": token_id, "user": row.name,
                           "already_revoked": row.revoked_at is not None})


def list_tokens(env: Env, caller: Caller) -> list[TokenInfo]:
    """The caller's tokens; every user's for an admin (who may ``users.manage``)."""
    with authorise_and_audit(env, caller, "tokens.manage", target=caller.actor,
                             action="tokens.list") as rec:
        every, _ = decide_act(env.registry(), caller.actor, "users.manage", via=caller.via,
                              user=get_user(env.store, caller.actor))
        rows = creds.token_rows(env.store, None if every else caller.actor)
        rec.detail.update({"scope": "all" if every else "own", "count": len(rows)})
    return [
        TokenInfo(r.token_id, r.name, r.label, _utc(r.created_at), r.created_by,
                  _utc(r.expires_at), r.revoked_at and _utc(r.revoked_at),
                  r.last_used and _utc(r.last_used))
        for r in rows
    ]


def token_caller(
    env: Env, bearer: str, *, purpose: str | None = None, claims: Sequence[str] = (),
    basis: str | None = None, case_id: str | None = None,
) -> Caller:
    """The caller a bearer token acts for (``via="api"``) with this request's purpose,
    claims, basis and case; :class:`Unauthenticated` on an unknown, malformed, expired
    or revoked token or a disabled user (audited as ``auth.token``, deny)."""
    store = env.store
    m = _TOKEN.fullmatch(bearer) if len(bearer) <= _SECRET_MAX else None
    row = creds.token_row(store, m.group(1)) if m else None
    # constant-time comparison of the digests (a missing token compares against itself
    # padded, so the work does not tell which ids exist)
    given = creds.digest(m.group(2)) if m else creds.digest(bearer[:_SECRET_MAX])
    good = hmac.compare_digest(row.digest if row else "0" * 64, given) and row is not None
    now = clock.now_naive()
    # the user and when they were last disabled in one statement, read fresh on every
    # request (no cache: a disabled user stops the very next request)
    held = creds.holder(store, row.name) if row is not None and good else None
    user = _user_of(held)
    disabled_since = (held is not None and row is not None and held.disabled_at is not None
                      and held.disabled_at >= row.created_at)
    reason = (
        "malformed token" if m is None
        else "unknown token" if row is None or not good
        else "token revoked" if row.revoked_at is not None
        else "token expired" if now >= row.expires_at
        else "user unknown or disabled" if (user is None or not user.active
                                            or disabled_since)
        else None
    )
    if reason is not None or row is None or user is None:
        detail: dict[str, Any] = {"reason": reason, "via": "api"}
        if m is not None:
            detail["token_id"] = m.group(1)
        _audit(env, "auth.token", "deny",
               principal=row.name if row is not None and good else "anonymous",
               user=user, detail=detail)
        shown = reason if reason in ("token revoked", "token expired") else "invalid token"
        raise Unauthenticated(shown)
    if row.last_used is None or now - row.last_used >= _TOKEN_TOUCH_EVERY:
        creds.note_token_use(store, row.token_id, now)
    return Caller(actor=user.name, purpose=purpose or None,
                  claims=tuple(dict.fromkeys(claims)), basis=basis or None,
                  case_id=case_id or None, via="api", token_id=row.token_id)


__all__ = [
    "LIMITS",
    "AuthLimits",
    "SessionGrant",
    "SessionState",
    "TokenGrant",
    "TokenInfo",
    "create_token",
    "list_tokens",
    "login",
    "logout",
    "password_problem",
    "revoke_token",
    "session_of",
    "set_password",
    "set_session_purpose",
    "token_caller",
]
