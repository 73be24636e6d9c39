"""Authentication as specified: passwords, sessions (lifetime, idle, logout, purpose) and
API tokens (format, listing, revocation, audit)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from auth_fixtures import (
    PASSWORD,
    ROOT_PASSWORD,
    audit_rows,
    caller,
    give_password,
    new_env,
)

from idgraph import clock
from idgraph.app import auth
from idgraph.app.context import Env
from idgraph.app.errors import (
    AppError,
    Denied,
    Invalid,
    NotFound,
    TooManyAttempts,
    Unauthenticated,
)
from idgraph.policy import credentials as creds

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    e = new_env(tmp_path)
    for name in ("gov", "off", "pi"):
        give_password(e, name)
    return e


# -- passwords -------------------------------------------------------------------------
PASSWORD_CASES = [
    # (actor, target, password, expected error or None)
    ("gov", "gov", "a long enough passphrase", None),
    ("root", "gov", "set by the admin for gov", None),
    ("root", "root", ROOT_PASSWORD, None),
    ("off", "gov", "off tries gov's password", Denied),
    ("gov", "gov", "short", Invalid),
    ("gov", "gov", "aaaaaaaaaaaaaaaa", Invalid),  # too few different characters
    ("gov", "gov", "x" * 1025, Invalid),
    ("root", "nobody", "a long enough passphrase", NotFound),
    ("ghost", "ghost", "a long enough passphrase", Denied),
]


@pytest.mark.parametrize(("actor", "target", "password", "error"), PASSWORD_CASES)
def test_set_password(
    env: Env, actor: str, target: str, password: str, error: type[AppError] | None
) -> None:
    current = PASSWORD if actor == target else None  # root has no password yet
    if error is None:
        auth.set_password(env, caller(actor), target, password, current=current)
        assert auth.login(env, target, password, client="c").user.name == target
        entry = audit_rows(env, "users.passwd")[-1]
        assert entry["outcome"] == "ok" and entry["principal"] == actor
        assert entry["detail"]["user"] == target
    else:
        with pytest.raises(error):
            auth.set_password(env, caller(actor), target, password, current=current)
        assert audit_rows(env, "users.passwd")[-1]["outcome"] in ("deny", "error")
    assert password not in str(audit_rows(env))


def test_password_is_stored_as_argon2id(env: Env) -> None:
    auth.set_password(env, caller("gov"), "gov", "a long enough passphrase", current=PASSWORD)
    stored = creds.password_hash(env.store, "gov")
    assert stored is not None and stored.startswith("$argon2id$")


def test_password_change_ends_sessions(env: Env) -> None:
    grant = auth.login(env, "gov", PASSWORD, client="c")
    auth.set_password(env, caller("gov"), "gov", "the next passphrase", current=PASSWORD)
    with pytest.raises(Unauthenticated):
        auth.session_of(env, grant.session_id)
    with pytest.raises(Unauthenticated):
        auth.login(env, "gov", PASSWORD, client="c")


NEW = "the next passphrase"


@pytest.mark.parametrize(("current", "error", "outcome"), [
    (None, Invalid, "error"),
    ("", Invalid, "error"),
    ("not the current one", Denied, "deny"),
])
def test_own_password_change_needs_the_current_one(
    env: Env, current: str | None, error: type[AppError], outcome: str
) -> None:
    """ASVS 2.1.6: whoever holds gov's session or token cannot take the account over."""
    grant = auth.login(env, "gov", PASSWORD, client="c")
    with pytest.raises(error) as exc:
        auth.set_password(env, caller("gov", via="web"), "gov", NEW, current=current)
    assert exc.value.field == "current"
    entry = audit_rows(env, "users.passwd")[-1]
    assert entry["outcome"] == outcome and entry["detail"]["user"] == "gov"
    assert auth.session_of(env, grant.session_id).user.name == "gov"  # nothing changed
    assert auth.login(env, "gov", PASSWORD, client="c").user.name == "gov"
    assert NEW not in str(audit_rows(env)) and (current or NEW) not in str(audit_rows(env))


def test_wrong_current_passwords_lock_the_name(env: Env) -> None:
    """Guessing the current password through a stolen session is a login attempt."""
    with clock.frozen(T0):
        for _ in range(auth.LIMITS.max_failures):
            with pytest.raises(Denied):
                auth.set_password(env, caller("gov"), "gov", NEW, current="a wrong guess")
        with pytest.raises(TooManyAttempts):
            auth.set_password(env, caller("gov"), "gov", NEW, current=PASSWORD)
        with pytest.raises(TooManyAttempts):
            auth.login(env, "gov", PASSWORD, client="c")
    later = T0 + timedelta(minutes=auth.LIMITS.lockout_minutes + 1)
    with clock.frozen(later):
        auth.set_password(env, caller("gov"), "gov", NEW, current=PASSWORD)
        assert auth.login(env, "gov", NEW, client="c").user.name == "gov"


def test_admin_sets_anothers_password_without_theirs_but_own_needs_own(env: Env) -> None:
    give_password(env, "root", ROOT_PASSWORD)
    auth.set_password(env, caller("root"), "gov", NEW)  # no current: not root's own
    assert auth.login(env, "gov", NEW, client="c").user.name == "gov"
    with pytest.raises(Invalid):
        auth.set_password(env, caller("root"), "root", NEW)
    with pytest.raises(Denied):  # gov's password is no key to root's account
        auth.set_password(env, caller("root"), "root", NEW, current=NEW)
    auth.set_password(env, caller("root"), "root", NEW, current=ROOT_PASSWORD)


def test_first_own_password_needs_no_current(env: Env) -> None:
    """root has no password yet (set up from the command line): none to present."""
    auth.set_password(env, caller("root"), "root", ROOT_PASSWORD)
    assert auth.login(env, "root", ROOT_PASSWORD, client="c").user.name == "root"


# -- sessions --------------------------------------------------------------------------
def test_login_and_session(env: Env) -> None:
    with clock.frozen(T0):
        grant = auth.login(env, "gov", PASSWORD, client="10.1.1.1", via="web")
        assert len(grant.session_id) >= 43 and grant.csrf and grant.csrf != grant.session_id
        assert grant.expires == T0 + timedelta(hours=8)
        state = auth.session_of(env, grant.session_id)
    assert state.user.name == "gov" and state.csrf == grant.csrf
    assert state.caller.actor == "gov" and state.caller.via == "web"
    assert state.caller.purpose is None
    ok = audit_rows(env, "auth.login")[-1]
    assert ok["outcome"] == "ok" and ok["detail"]["client"] == "10.1.1.1"
    stored = env.store.fetchall("SELECT digest FROM sessions")
    assert stored == [(creds.digest(grant.session_id),)]


def test_session_idle_and_absolute_expiry(env: Env) -> None:
    with clock.frozen(T0):
        grant = auth.login(env, "gov", PASSWORD, client="c")
    # used every 25 minutes it lives until the absolute end
    t = T0
    while t + timedelta(minutes=25) < T0 + timedelta(hours=8):
        t += timedelta(minutes=25)
        with clock.frozen(t):
            auth.session_of(env, grant.session_id)
    with clock.frozen(T0 + timedelta(hours=8)), pytest.raises(Unauthenticated):
        auth.session_of(env, grant.session_id)
    with clock.frozen(T0):
        idle = auth.login(env, "off", PASSWORD, client="c")
    with clock.frozen(T0 + timedelta(minutes=29)):
        auth.session_of(env, idle.session_id)
    with clock.frozen(T0 + timedelta(minutes=60)), pytest.raises(Unauthenticated):
        auth.session_of(env, idle.session_id)


def test_logout(env: Env) -> None:
    grant = auth.login(env, "gov", PASSWORD, client="c")
    auth.logout(env, grant.session_id)
    auth.logout(env, grant.session_id)  # twice: nothing more
    auth.logout(env, "not a session")
    with pytest.raises(Unauthenticated):
        auth.session_of(env, grant.session_id)
    assert len(audit_rows(env, "auth.logout")) == 1


@pytest.mark.parametrize("session_id", ["", "x", "a" * 43, "b" * 5000])
def test_unknown_sessions(env: Env, session_id: str) -> None:
    with pytest.raises(Unauthenticated):
        auth.session_of(env, session_id)


PURPOSE_CASES = [
    # (user, purpose, claims, basis, case, expected error field or None)
    ("gov", "criminal_investigation", (), None, "C1", None),
    ("gov", "criminal_investigation", (), "L-ICE", "C1", None),
    ("gov", "no_such_purpose", (), None, "C1", "purpose"),
    ("gov", "criminal_investigation", ("DPPA-X9",), None, "C1", "claims"),
    ("gov", "criminal_investigation", (), None, "C2", "case_id"),  # closed
    ("gov", "criminal_investigation", (), None, "P1", "case_id"),  # another org's
    ("gov", "criminal_investigation", (), None, "NOPE", "case_id"),
    ("gov", "criminal_investigation", (), "L-ACME", "C1", "basis"),  # another org's
    ("gov", "civil_immigration_enforcement", (), None, "C1", "case_id"),  # criminal case
    ("gov", "fraud_investigation", (), None, "C1", None),  # fits criminal cases too
    ("pi", "criminal_investigation", (), None, "P1", "purpose"),  # government only
    ("pi", "journalism", (), None, None, "purpose"),  # the press only, case or not
    ("gov", "criminal_investigation", (), "L-NONE", "C1", "basis"),
    ("pi", "fraud_investigation", (), "L-ACME", "P1", None),
]


@pytest.mark.parametrize(("user", "purpose", "claims", "basis", "case_id", "field"),
                         PURPOSE_CASES)
def test_session_purpose(
    env: Env, user: str, purpose: str, claims: tuple[str, ...], basis: str | None,
    case_id: str | None, field: str | None,
) -> None:
    grant = auth.login(env, user, PASSWORD, client="c")
    if field is None:
        state = auth.set_session_purpose(env, grant.session_id, purpose=purpose, claims=claims,
                                         basis=basis, case_id=case_id)
        again = auth.session_of(env, grant.session_id)
        assert state.caller == again.caller
        assert (again.caller.purpose, again.caller.basis, again.caller.case_id) == (
            purpose, basis, case_id)
        entry = audit_rows(env, "session.purpose")[-1]
        assert entry["outcome"] == "ok" and entry["case_id"] == case_id
        assert entry["detail"]["purpose"] == purpose and entry["detail"]["via"] == "web"
    else:
        with pytest.raises(Invalid) as exc:
            auth.set_session_purpose(env, grant.session_id, purpose=purpose, claims=claims,
                                     basis=basis, case_id=case_id)
        assert exc.value.field == field
        assert auth.session_of(env, grant.session_id).caller.purpose is None
        assert audit_rows(env, "session.purpose")[-1]["outcome"] == "error"
        rule = {"case_id": "base.purpose_case_kind", "purpose": "base.purpose_org_type"}
        if purpose in ("civil_immigration_enforcement", "journalism") or user == "pi":
            assert exc.value.rules == (rule[field],)


def test_known_claims_are_kept(env: Env) -> None:
    catalogue = env.registry().catalogue
    code = sorted(catalogue.codes)[0]
    grant = auth.login(env, "gov", PASSWORD, client="c")
    state = auth.set_session_purpose(env, grant.session_id, purpose="criminal_investigation",
                                     claims=[code, code], case_id="C1")
    assert state.caller.claims == (code,)


# -- tokens ----------------------------------------------------------------------------
def test_token_lifecycle(env: Env) -> None:
    with clock.frozen(T0):
        grant = auth.create_token(env, caller("gov"), name="nightly", days=7)
    assert grant.secret.startswith(f"idg_{grant.token_id}_")
    assert grant.user == "gov" and grant.expires == T0 + timedelta(days=7)
    with clock.frozen(T0 + timedelta(days=1)):
        who = auth.token_caller(env, grant.secret, purpose="criminal_investigation",
                                claims=("a", "a"), basis="L-ICE", case_id="C1")
    assert (who.actor, who.via, who.purpose, who.claims, who.basis, who.case_id) == (
        "gov", "api", "criminal_investigation", ("a",), "L-ICE", "C1")
    [info] = auth.list_tokens(env, caller("gov"))
    assert (info.token_id, info.user, info.name, info.revoked) == (
        grant.token_id, "gov", "nightly", None)
    assert info.last_used == T0 + timedelta(days=1)
    auth.revoke_token(env, caller("gov"), grant.token_id)
    auth.revoke_token(env, caller("gov"), grant.token_id)  # again: nothing more
    [info] = auth.list_tokens(env, caller("gov"))
    assert info.revoked is not None
    actions = [e["action"] for e in audit_rows(env) if e["action"].startswith("tokens.")]
    assert actions == ["tokens.create", "tokens.list", "tokens.revoke", "tokens.revoke",
                       "tokens.list"]


def test_admin_lists_every_token(env: Env) -> None:
    auth.create_token(env, caller("gov"), name="a")
    auth.create_token(env, caller("off"), name="b")
    assert {t.user for t in auth.list_tokens(env, caller("root"))} == {"gov", "off"}
    assert {t.user for t in auth.list_tokens(env, caller("gov"))} == {"gov"}


@pytest.mark.parametrize(("kw", "error"), [
    ({"name": "x", "days": 0}, Invalid),
    ({"name": "x", "days": 366}, Invalid),
    ({"name": " x", "days": 1}, Invalid),
    ({"name": "", "days": 1}, Invalid),
    ({"name": "x", "days": 1, "user": "nobody"}, NotFound),
])
def test_token_input(env: Env, kw: dict[str, object], error: type[AppError]) -> None:
    actor = "root" if "user" in kw else "gov"
    with pytest.raises(error):
        auth.create_token(env, caller(actor), **kw)  # type: ignore[arg-type]


def test_revoke_unknown_token(env: Env) -> None:
    with pytest.raises(NotFound):
        auth.revoke_token(env, caller("gov"), "0123456789abcdef")


def test_token_for_disabled_user_refused(env: Env) -> None:
    env.store.execute("UPDATE users SET disabled = true WHERE name = 'off'")
    with pytest.raises(Invalid):
        auth.create_token(env, caller("root"), user="off", name="x")


def test_login_via(env: Env) -> None:
    assert auth.login(env, "gov", PASSWORD, client="c", via="api").user.name == "gov"
    with pytest.raises(Invalid):
        auth.login(env, "gov", PASSWORD, client="c", via="telnet")


def test_each_login_is_a_new_session(env: Env) -> None:
    one = auth.login(env, "gov", PASSWORD, client="c")
    two = auth.login(env, "gov", PASSWORD, client="c")
    assert one.session_id != two.session_id and one.csrf != two.csrf
    auth.logout(env, one.session_id)
    assert auth.session_of(env, two.session_id).user.name == "gov"


def test_a_success_clears_the_names_failures(env: Env) -> None:
    with clock.frozen(T0):
        for i in range(4):
            with pytest.raises(Unauthenticated):
                auth.login(env, "gov", f"typo number {i}!", client=f"c{i}")
        auth.login(env, "gov", PASSWORD, client="c9")
        for i in range(4):
            with pytest.raises(Unauthenticated):
                auth.login(env, "gov", f"typo again {i}!!", client=f"d{i}")
        assert auth.login(env, "gov", PASSWORD, client="d9").user.name == "gov"
