"""Attacks on authentication, written first: each test is what an attacker tries.

* a stolen session id (or token) used after its user was disabled;
* a token used after it expired or was revoked;
* a brute force of six passwords against one name, and a spray of names from one client;
* telling unknown names from known ones by the answer or its timing;
* a password, session id or token secret in an audit entry, a log line, an exception,
  or anywhere in the database.
"""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest
from argon2 import PasswordHasher
from auth_fixtures import (
    PASSWORD,
    audit_rows,
    audit_text,
    caller,
    disable,
    enable,
    every_cell,
    give_password,
    new_env,
)

from idgraph import clock
from idgraph.app import admin, auth
from idgraph.app.context import Caller, Env
from idgraph.app.errors import (
    AppError,
    Conflict,
    Denied,
    Invalid,
    TooManyAttempts,
    Unauthenticated,
)
from idgraph.policy.users import get_user

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    e = new_env(tmp_path)
    for name in ("gov", "off", "pi", "root", "chief"):
        give_password(e, name)
    return e


# -- a stolen session or token after the user is disabled ------------------------------
def test_stolen_session_stops_when_user_disabled(env: Env) -> None:
    grant = auth.login(env, "gov", PASSWORD, client="10.0.0.1")
    assert auth.session_of(env, grant.session_id).user.name == "gov"
    disable(env, "gov")
    with pytest.raises(Unauthenticated):
        auth.session_of(env, grant.session_id)
    # and it stays ended, even were the user enabled again
    enable(env, "gov")
    with pytest.raises(Unauthenticated):
        auth.session_of(env, grant.session_id)
    denied = audit_rows(env, "auth.session")
    assert denied and denied[-1]["outcome"] == "deny" and denied[-1]["principal"] == "gov"


def test_stolen_token_stops_when_user_disabled(env: Env) -> None:
    grant = auth.create_token(env, caller("gov"), name="script")
    assert auth.token_caller(env, grant.secret).actor == "gov"
    disable(env, "gov")
    with pytest.raises(Unauthenticated):
        auth.token_caller(env, grant.secret, purpose="criminal_investigation")


def test_disabled_user_cannot_set_purpose_with_an_old_session(env: Env) -> None:
    grant = auth.login(env, "gov", PASSWORD, client="c")
    disable(env, "gov")
    with pytest.raises(Unauthenticated):
        auth.set_session_purpose(env, grant.session_id, purpose="criminal_investigation",
                                 case_id="C1")


def test_credentials_issued_before_a_disable_never_work_again(env: Env) -> None:
    """Even were the user enabled again (no command does that today), a session or token
    issued before the disable stays dead, whether or not it was tried meanwhile."""
    with clock.frozen(T0):
        grant = auth.login(env, "gov", PASSWORD, client="c")
        token = auth.create_token(env, caller("gov"), name="old")
    with clock.frozen(T0 + timedelta(minutes=1)):
        disable(env, "gov")
        enable(env, "gov")
    with clock.frozen(T0 + timedelta(minutes=2)):
        with pytest.raises(Unauthenticated):
            auth.session_of(env, grant.session_id)
        with pytest.raises(Unauthenticated):
            auth.token_caller(env, token.secret)
        # new credentials work
        fresh = auth.login(env, "gov", PASSWORD, client="c")
        assert auth.session_of(env, fresh.session_id).user.name == "gov"


# -- tokens after expiry / revocation --------------------------------------------------
def test_token_after_expiry(env: Env) -> None:
    with clock.frozen(T0):
        grant = auth.create_token(env, caller("gov"), name="short", days=1)
        assert auth.token_caller(env, grant.secret).via == "api"
    with clock.frozen(T0 + timedelta(days=1, seconds=1)), pytest.raises(Unauthenticated) as exc:
        auth.token_caller(env, grant.secret)
    assert grant.secret not in str(exc.value)


def test_token_after_revocation(env: Env) -> None:
    grant = auth.create_token(env, caller("gov"), name="ci")
    auth.revoke_token(env, caller("gov"), grant.token_id)
    with pytest.raises(Unauthenticated):
        auth.token_caller(env, grant.secret)
    assert audit_rows(env, "auth.token")[-1]["detail"]["reason"] == "token revoked"


@pytest.mark.parametrize("forge", [
    lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),  # right id, wrong secret
    lambda s: s.replace("idg_", "idg_0", 1),  # malformed id
    lambda s: "idg_" + "0" * 16 + s[20:],  # unknown id, a real secret
    lambda s: s + "x",  # too long
    lambda s: "",
])
def test_forged_tokens_are_refused(env: Env, forge: object) -> None:
    grant = auth.create_token(env, caller("gov"), name="ci")
    assert callable(forge)
    with pytest.raises(Unauthenticated) as exc:
        auth.token_caller(env, forge(grant.secret))
    assert str(exc.value) == "invalid token"


def test_other_users_cannot_revoke_or_see_my_token(env: Env) -> None:
    grant = auth.create_token(env, caller("gov"), name="mine")
    with pytest.raises(AppError):
        auth.revoke_token(env, caller("off"), grant.token_id)
    assert auth.token_caller(env, grant.secret).actor == "gov"
    assert [t.token_id for t in auth.list_tokens(env, caller("off"))] == []


def test_token_for_another_user_needs_admin(env: Env) -> None:
    with pytest.raises(AppError) as exc:
        auth.create_token(env, caller("off"), user="gov", name="steal")
    assert exc.value.status == 403
    grant = auth.create_token(env, caller("root"), user="gov", name="given")
    assert auth.token_caller(env, grant.secret).actor == "gov"


def test_an_admin_minted_token_names_itself_in_every_entry(env: Env) -> None:
    """root mints a token for gov: every act done with it names the token, so it can be
    tied to the tokens.create entry that names root."""
    grant = auth.create_token(env, caller("root"), user="gov", name="given")
    who = auth.token_caller(env, grant.secret, purpose="criminal_investigation",
                            case_id="C1")
    assert (who.actor, who.via, who.token_id) == ("gov", "api", grant.token_id)
    auth.list_tokens(env, who)
    entry = audit_rows(env, "tokens.list")[-1]
    assert entry["principal"] == "gov" and entry["detail"]["token_id"] == grant.token_id
    minted = audit_rows(env, "tokens.create")[-1]
    assert minted["principal"] == "root" and minted["detail"]["token_id"] == grant.token_id


def test_a_token_minted_with_a_token_ends_no_later(env: Env) -> None:
    """A stolen one-day token cannot be turned into a year-long one."""
    with clock.frozen(T0):
        short = auth.create_token(env, caller("root"), user="gov", name="short", days=1)
        who = auth.token_caller(env, short.secret)
        child = auth.create_token(env, who, name="persist", days=365)
        assert child.expires == short.expires
        assert audit_rows(env, "tokens.create")[-1]["detail"]["capped_by"] == short.token_id
        shorter = auth.create_token(env, who, name="brief", days=1)
        assert shorter.expires == short.expires
    with clock.frozen(T0 + timedelta(days=1, seconds=1)), pytest.raises(Unauthenticated):
        auth.token_caller(env, child.secret)


@pytest.mark.parametrize("via", ["web", "api"])
def test_a_token_minted_with_a_session_needs_the_password(env: Env, via: str) -> None:
    """A stolen 8-hour session (on the web UI, or its cookie on the API: via api, no
    token) cannot mint a year-long token without the password."""
    who = auth.session_of(env, auth.login(env, "gov", PASSWORD, client="c").session_id).caller
    who = replace(who, via=via)
    with pytest.raises(Invalid) as missing:
        auth.create_token(env, who, name="persist", days=365)
    assert missing.value.field == "password"
    with pytest.raises(Denied) as wrong:
        auth.create_token(env, who, name="persist", days=365, password="a wrong guess")
    assert wrong.value.field == "password"
    assert [e["outcome"] for e in audit_rows(env, "tokens.create")] == ["error", "deny"]
    assert auth.list_tokens(env, caller("gov")) == []
    grant = auth.create_token(env, who, name="persist", days=365, password=PASSWORD)
    assert auth.token_caller(env, grant.secret).actor == "gov"
    assert "a wrong guess" not in audit_text(env) and PASSWORD not in audit_text(env)


def test_wrong_passwords_at_token_creation_lock_the_name(env: Env) -> None:
    who = Caller("gov", via="web")
    with clock.frozen(T0):
        for _ in range(auth.LIMITS.max_failures):
            with pytest.raises(Denied):
                auth.create_token(env, who, name="x", password="a wrong guess")
        with pytest.raises(TooManyAttempts):
            auth.create_token(env, who, name="x", password=PASSWORD)
        with pytest.raises(TooManyAttempts):
            auth.login(env, "gov", PASSWORD, client="c")


# -- the last admin --------------------------------------------------------------------
def test_the_last_active_admin_is_not_disabled(env: Env) -> None:
    """root is the only admin: neither root nor anyone may disable root (Conflict,
    audited); once a second admin exists, root may be disabled."""
    with pytest.raises(Conflict) as exc:
        admin.disable_user(env, caller("root"), "root")
    assert exc.value.status == 409
    entry = audit_rows(env, "users.disable")[-1]
    assert entry["outcome"] == "error" and entry["detail"]["user"] == "root"
    assert (get_user(env.store, "root") or pytest.fail("root gone")).active
    admin.disable_user(env, caller("root"), "gov")  # others still can be
    admin.add_user(env, caller("root"), "root2", "admin", "ops", org_type="government")
    disable(env, "root2")  # a disabled admin does not count
    with pytest.raises(Conflict):
        admin.disable_user(env, caller("root"), "root")
    admin.add_user(env, caller("root"), "root3", "admin", "ops", org_type="government")
    admin.disable_user(env, caller("root3"), "root")
    assert not (get_user(env.store, "root") or pytest.fail("root gone")).active
    with pytest.raises(Conflict):  # root3 is now the last one
        admin.disable_user(env, caller("root3"), "root3")


# -- brute force -----------------------------------------------------------------------
def test_six_passwords_against_one_name(env: Env) -> None:
    with clock.frozen(T0):
        for i in range(5):
            with pytest.raises(Unauthenticated):
                auth.login(env, "gov", f"guess number {i:04d}", client=f"10.0.0.{i}")
        # the sixth, even the right one, is refused without being checked
        with pytest.raises(TooManyAttempts):
            auth.login(env, "gov", PASSWORD, client="10.0.9.9")
    with clock.frozen(T0 + timedelta(minutes=14)), pytest.raises(TooManyAttempts):
        auth.login(env, "gov", PASSWORD, client="10.0.9.9")
    with clock.frozen(T0 + timedelta(minutes=16)):
        assert auth.login(env, "gov", PASSWORD, client="10.0.9.9").user.name == "gov"
    entries = audit_rows(env, "auth.login")
    denies = [e for e in entries if e["outcome"] == "deny"]
    assert len(denies) == 7
    assert "locked" in denies[4]["detail"]  # the fifth failure locked the name
    assert denies[5]["detail"]["reason"].startswith("locked out")


def test_spray_of_names_from_one_client(env: Env) -> None:
    with clock.frozen(T0):
        for name in ("gov", "off", "pi", "nobody", "chief"):
            with pytest.raises(Unauthenticated):
                auth.login(env, name, "Spring2026!spring", client="203.0.113.7")
        with pytest.raises(TooManyAttempts):
            auth.login(env, "root", PASSWORD, client="203.0.113.7")
        # another client is not locked out by this one
        assert auth.login(env, "root", PASSWORD, client="198.51.100.1").user.name == "root"


def test_unknown_names_are_limited_like_known_ones(env: Env) -> None:
    with clock.frozen(T0):
        for i in range(5):
            with pytest.raises(Unauthenticated):
                auth.login(env, "ghost", f"guess number {i:04d}", client=f"c{i}")
        with pytest.raises(TooManyAttempts):
            auth.login(env, "ghost", "guess number 9999", client="c9")


# -- enumeration: same answer, similar timing -----------------------------------------
def test_unknown_disabled_and_wrong_password_look_the_same(env: Env) -> None:
    disable(env, "off")
    env.store.execute("DELETE FROM credentials WHERE name = 'chief'")  # no password set
    answers = []
    for i, (name, pw) in enumerate([("gov", "wrong password 1"), ("ghost", "wrong password 1"),
                                    ("off", PASSWORD), ("chief", PASSWORD)]):
        with pytest.raises(AppError) as exc:
            auth.login(env, name, pw, client=f"client-{i}")
        answers.append((type(exc.value), exc.value.status, str(exc.value), exc.value.field))
    assert len(set(answers)) == 1, answers
    assert answers[0][0] is Unauthenticated


def test_unknown_name_costs_a_password_check(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []

    class Spy(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            checked.append(str(hash)[:9])
            return super().verify(hash, password)

    monkeypatch.setattr(auth, "_HASHER", Spy())
    with pytest.raises(Unauthenticated):
        auth.login(env, "ghost", "some password!", client="a")
    with pytest.raises(Unauthenticated):
        auth.login(env, "gov", "some password!", client="b")
    assert checked == ["$argon2id", "$argon2id"]


def test_timing_of_unknown_and_known_names_is_similar(env: Env) -> None:
    def timed(name: str, i: int) -> float:
        start = time.perf_counter()
        with pytest.raises(Unauthenticated):
            auth.login(env, name, f"wrong password {i}", client=f"t-{name}-{i}")
        return time.perf_counter() - start

    auth.login(env, "pi", PASSWORD, client="warm")  # warm the dummy hash and the tables
    with pytest.raises(Unauthenticated):
        auth.login(env, "ghost0", "x" * 12, client="warm2")
    known: list[float] = []
    unknown: list[float] = []
    for i, name in enumerate(("gov", "off", "chief", "root", "gov", "off")):
        known.append(timed(name, i))  # interleaved: a load spike hits both alike
        unknown.append(timed(f"ghost{i}", i))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 < ratio < 2.0, (known, unknown)


# -- no secret anywhere ----------------------------------------------------------------
def test_no_secret_in_audit_logs_exceptions_or_tables(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets_seen: list[str] = [PASSWORD]
    new_pw = "a brand new passphrase 42"
    wrong = "definitely the wrong one"
    secrets_seen += [new_pw, wrong]
    auth.set_password(env, caller("gov"), "gov", new_pw, current=PASSWORD)
    for name in ("gov", "ghost"):
        with pytest.raises(Unauthenticated) as exc:
            auth.login(env, name, wrong, client="c1")
        assert wrong not in str(exc.value) and wrong not in repr(exc.value.args)
    with pytest.raises(AppError) as short:
        auth.set_password(env, caller("gov"), "gov", "short pw", current=new_pw)
    assert "short pw" not in str(short.value)
    secrets_seen.append("short pw")
    grant = auth.login(env, "gov", new_pw, client="c2")
    secrets_seen += [grant.session_id, grant.csrf]
    auth.set_session_purpose(env, grant.session_id, purpose="criminal_investigation",
                             case_id="C1")
    token = auth.create_token(env, caller("gov"), name="ci")
    secret_part = token.secret.split("_", 2)[2]
    secrets_seen += [token.secret, secret_part]
    auth.token_caller(env, token.secret)
    with pytest.raises(Unauthenticated):
        auth.token_caller(env, token.secret[:-2] + "zz")
    auth.logout(env, grant.session_id)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    audit = audit_text(env)
    stored = every_cell(env)
    assert audit_rows(env, "auth.login")  # the logins were audited
    for s in secrets_seen:
        assert s not in audit, "secret in the audit log"
        assert s not in logged, "secret in a log line"
        assert s not in stored, "secret stored in the clear"


def test_a_password_typed_as_the_name_is_not_audited(env: Env) -> None:
    with pytest.raises(Unauthenticated):
        auth.login(env, PASSWORD, "gov", client="c")
    assert PASSWORD not in audit_text(env)
    assert PASSWORD not in every_cell(env)
    entry = audit_rows(env, "auth.login")[-1]
    assert entry["principal"] == "anonymous" and entry["detail"]["reason"] == "unknown user"
