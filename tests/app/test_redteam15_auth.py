"""Red team (issue 15, helper F): attacks on the application layer's authentication,
session purpose and act gate.

Each test is one attack. A passing test is a regression guard (the system held); a
failing one names, in its docstring, the fix it needs. Synthetic data only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from admin_fixtures import ROLE_USERS, env_over, seeded_store
from auth_fixtures import (
    PASSWORD,
    audit_rows,
    audit_text,
    caller,
    give_password,
    new_env,
)

from idgraph import cases as cases_mod
from idgraph import clock
from idgraph.app import admin, audit, auth, reports
from idgraph.app import cases as app_cases
from idgraph.app.context import Caller, Env
from idgraph.app.errors import AppError, Denied, TooManyAttempts, Unauthenticated


@pytest.fixture
def env(tmp_path: Path) -> Env:
    e = new_env(tmp_path)
    for name in ("gov", "off", "pi", "root", "chief"):
        give_password(e, name)
    return e


def _add_case(env: Env, case_id: str, kind: str, org: str) -> None:
    env.store.execute(
        "INSERT INTO cases (case_id, title, status, kind, org, opened_by, opened_at) "
        "VALUES (?, ?, 'open', ?, ?, 'test', ?)",
        [case_id, case_id, kind, org, clock.now_naive()])
    env.refresh()


# -- the purpose screen --------------------------------------------------------------------

def test_purpose_that_does_not_fit_its_case_is_refused_on_the_purpose_screen(env: Env) -> None:
    """gov (ice) chooses civil immigration enforcement under C1, a *criminal* case. The
    screen accepts and audits it as a valid session purpose; every later read is then
    refused by base.purpose_case_kind, so no data leaks, but the session carries (and
    the audit log records, outcome ok) a purpose/case pairing that can never be lawful.
    Fix needed: auth._check_purpose should also refuse when
    not catalogue.fits(purpose, case.kind) (field "case_id"), as the gate does."""
    grant = auth.login(env, "gov", PASSWORD, client="10.0.0.1")
    with pytest.raises(AppError) as caught:
        auth.set_session_purpose(env, grant.session_id, purpose="civil_immigration_enforcement",
                                 case_id="C1")
    assert caught.value.field == "case_id"
    assert auth.session_of(env, grant.session_id).caller.purpose is None


def test_government_only_purpose_is_refused_to_a_private_org(env: Env) -> None:
    """pi (acme, a private company) chooses civil immigration enforcement (org_types:
    [government]) under its own open immigration case. Fix needed: auth._check_purpose
    should refuse a purpose whose catalogue org_types exclude the user's org_type
    (catalogue.org_type_fits), as the gate does."""
    _add_case(env, "P-IMM", "immigration", "acme")
    grant = auth.login(env, "pi", PASSWORD, client="10.0.0.2")
    with pytest.raises(AppError):
        auth.set_session_purpose(env, grant.session_id, purpose="civil_immigration_enforcement",
                                 case_id="P-IMM")
    assert auth.session_of(env, grant.session_id).caller.purpose is None


@pytest.mark.parametrize("case_id", ["C1 ", " C1", "c1", "C1\u200b", "C2", "P1"])
def test_case_id_variants_do_not_pass_the_purpose_screen(env: Env, case_id: str) -> None:
    """Near-spellings of gov's open case, its closed case C2 and acme's case P1."""
    grant = auth.login(env, "gov", PASSWORD, client="10.0.0.3")
    try:
        state = auth.set_session_purpose(env, grant.session_id,
                                         purpose="criminal_investigation", case_id=case_id)
    except AppError:
        return
    # accepted: only if it was normalised to gov's own open case
    assert state.caller.case_id == "C1", state.caller


def test_purpose_of_a_session_cannot_be_set_with_another_users_session(env: Env) -> None:
    a = auth.login(env, "gov", PASSWORD, client="10.0.0.4")
    b = auth.login(env, "pi", PASSWORD, client="10.0.0.5")
    assert a.csrf != b.csrf and a.session_id != b.session_id
    auth.set_session_purpose(env, b.session_id, purpose="fraud_investigation", case_id="P1")
    assert auth.session_of(env, a.session_id).caller.purpose is None


# -- login ----------------------------------------------------------------------------------

def test_every_login_issues_a_new_session_id(env: Env) -> None:
    ids = {auth.login(env, "gov", PASSWORD, client="10.0.1.1").session_id for _ in range(3)}
    assert len(ids) == 3


@pytest.mark.parametrize("variant", ["GOV", "Gov", " gov", "gov ", "gov\u200b", "ｇｏｖ"])
def test_name_variants_neither_log_in_nor_escape_the_lock(env: Env, variant: str) -> None:
    """After 5 failures lock 'gov', a variant of the name with the right password must
    not give a session (it is another, unknown name, or locked too)."""
    for _ in range(5):
        with pytest.raises((Unauthenticated, TooManyAttempts)):
            auth.login(env, "gov", "wrong password here", client=f"10.9.{len(variant)}.1")
    with pytest.raises((Unauthenticated, TooManyAttempts)):
        auth.login(env, variant, PASSWORD, client="10.9.9.9")
    with pytest.raises(TooManyAttempts):
        auth.login(env, "gov", PASSWORD, client="10.9.9.8")


def test_login_does_not_accept_an_overlong_password_as_a_cpu_sink(env: Env) -> None:
    """A 1 MB password must be refused cheaply (not hashed)."""
    with pytest.raises((Unauthenticated, TooManyAttempts, AppError)):
        auth.login(env, "gov", "x" * 1_000_000, client="10.0.2.1")


# -- privilege escalation through users.manage -----------------------------------------------

def test_non_admin_cannot_set_anothers_password_and_it_is_audited(env: Env) -> None:
    with pytest.raises(Denied):
        auth.set_password(env, caller("chief"), "gov", "chief's chosen passphrase")
    auth.login(env, "gov", PASSWORD, client="10.0.3.1")  # unchanged
    entry = audit_rows(env)[-2] if audit_rows(env)[-1]["action"] == "auth.login" else None
    assert any(e["action"] in ("users.passwd", "users.manage") and e["outcome"] == "deny"
               for e in audit_rows(env)), entry
    assert "chief's chosen passphrase" not in audit_text(env)


def test_admin_minted_token_for_another_user_is_audited_as_the_admins_act(env: Env) -> None:
    grant = auth.create_token(env, caller("root"), user="gov", name="minted")
    entry = [e for e in audit_rows(env) if e["action"] == "tokens.create"][-1]
    assert entry["principal"] == "root" if "principal" in entry else entry, entry
    assert "gov" in str(entry) and grant.secret not in audit_text(env)
    who = auth.token_caller(env, grant.secret, purpose="criminal_investigation")
    assert who.actor == "gov"


def test_non_admin_cannot_mint_a_token_for_another_user(env: Env) -> None:
    with pytest.raises(Denied):
        auth.create_token(env, caller("chief"), user="gov", name="mine-now")


def test_a_token_of_x_cannot_revoke_or_list_ys_tokens(env: Env) -> None:
    theirs = auth.create_token(env, caller("gov"), name="gov's")
    with pytest.raises((Denied, AppError)):
        auth.revoke_token(env, caller("off"), theirs.token_id)
    assert all(t.user == "off" for t in auth.list_tokens(env, caller("off")))
    assert auth.token_caller(env, theirs.secret).actor == "gov"


# -- role ceiling through a deployment policy folder --------------------------------------

PERMIT_ALL = '@id("county.open_everything")\npermit (principal, action, resource);\n'
CEILING_AS_PERMIT = '@id("act.role_ceiling")\npermit (principal, action, resource);\n'

ESCALATIONS: dict[str, Callable[[Env, Caller], Any]] = {
    "users.manage": lambda e, c: admin.add_user(e, c, "mallory", "admin", "ice",
                                                org_type="government"),
    "audit.read": lambda e, c: audit.audit_export(e, c),
    "report.oversight": lambda e, c: reports.oversight_report(
        e, c, start=clock.today(), end=clock.today()),
    "audit.keys": lambda e, c: audit.audit_rotate_key(e, c),
}


@pytest.mark.parametrize("text", [PERMIT_ALL, CEILING_AS_PERMIT],
                         ids=["permit-all", "ceiling-id-reused"])
@pytest.mark.parametrize("act", sorted(ESCALATIONS))
def test_deployment_policy_cannot_lift_the_role_ceiling(tmp_path: Path, text: str,
                                                        act: str) -> None:
    store = seeded_store()
    env = env_over(store, tmp_path / "data")
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "open.cedar").write_text(text)
    try:
        admin.policy_install(env, Caller("admin"), evil)
    except AppError:
        return  # the folder itself was refused: held
    investigator = Caller(ROLE_USERS["investigator"])
    with pytest.raises(Denied) as caught:
        ESCALATIONS[act](env, investigator)
    assert "act.role_ceiling" in caught.value.rules or caught.value.rules, caught.value


def test_investigator_cannot_install_a_policy_folder(tmp_path: Path) -> None:
    store = seeded_store()
    env = env_over(store, tmp_path / "data")
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "open.cedar").write_text(PERMIT_ALL)
    with pytest.raises(Denied):
        admin.policy_install(env, Caller(ROLE_USERS["investigator"]), evil)


def test_operator_principal_only_on_the_command_line(tmp_path: Path) -> None:
    """The local operator's name sent by a web or API shell is refused."""
    store = seeded_store()
    env = env_over(store, tmp_path / "data")
    for via in ("api", "web"):
        with pytest.raises(Denied):
            admin.apply_retention(env, Caller("operator:tester", via=via))


def test_closed_case_cannot_be_reopened_by_opening_it_again(env: Env) -> None:
    """Opening a case id that exists (closed) must not reopen it for reads."""
    with contextlib.suppress(AppError):
        app_cases.open_case(env, caller("gov"), "C2", title="again", kind="criminal")
    case = cases_mod.get_case(env.store, "C2")
    assert case is not None and not case.is_open


def test_the_last_active_admin_cannot_disable_themselves(tmp_path: Path) -> None:
    """The only admin disables their own account (a slip, or an attacker holding the
    admin's session): nobody is left to add users, reset passwords or install policy,
    short of editing the database. Fix needed: app.admin.disable_user refuses to disable
    the last active admin (Conflict), at least when the caller is that admin."""
    store = seeded_store()
    env = env_over(store, tmp_path / "data")
    with pytest.raises(AppError):
        admin.disable_user(env, Caller("admin"), "admin")
