"""The authorisation table of every act: each act × every role, the local operator (on
the CLI and over the API), a disabled user and an unknown name -> allowed or denied, and
the audit entry the gate writes (outcome, the deciding rules, the policy-set digest, via).

The table below is the contract of docs/policy.md § 4c; `policies/acts.cedar` must
decide exactly this, and `idgraph.app.gate.authorise_and_audit` must audit it."""

from __future__ import annotations

from pathlib import Path

import pytest
from admin_fixtures import DISABLED, OPERATOR, UNKNOWN, entries, env_over, seeded_store

from idgraph.app import Caller, Denied, Env
from idgraph.app.gate import authorise_and_audit
from idgraph.policy.acts import ACTS
from idgraph.policy.users import ROLES

ALL_ROLES = frozenset(ROLES)
READERS = frozenset({"investigator", "supervisor", "counsel", "records_officer", "overseer"})
DATA_OPS = frozenset({"admin", "records_officer", "operator"})
INSPECT = frozenset({"admin", "records_officer", "supervisor", "overseer", "operator"})

# act -> (variant, roles permitted, the permit's rule id); "operator": the local operator
# on the command line (over the API it is always refused: act.operator_cli_only)
TABLE: list[tuple[str, str, frozenset[str], str]] = [
    ("audit.read", "", frozenset({"overseer"}), "act.audit_read"),
    ("audit.verify", "", ALL_ROLES | {"operator"}, "act.audit_verify"),
    ("audit.checkpoint", "", frozenset({"admin"}), "act.audit_operate"),
    ("audit.keys", "", frozenset({"admin"}), "act.audit_operate"),
    ("legal.add", "", frozenset({"investigator", "supervisor", "counsel"}), "act.legal_add"),
    ("legal.verify", "", frozenset({"supervisor", "counsel"}), "act.legal_verify"),
    ("legal.list", "", READERS, "act.registry_list"),
    ("cases.list", "", READERS, "act.registry_list"),
    ("sar.open", "", frozenset({"records_officer"}), "act.sar_open"),
    ("sar.close", "", frozenset({"records_officer"}), "act.sar_open"),
    ("sar.list", "", frozenset({"records_officer", "overseer"}), "act.sar_list"),
    ("users.list", "", frozenset({"admin", "supervisor", "overseer"}), "act.users_list"),
    ("notices.list", "", frozenset({"records_officer", "supervisor", "overseer", "admin"}),
     "act.notices_list"),
    ("notices.send", "", frozenset({"records_officer", "supervisor"}), "act.notices_send"),
    ("policy.install", "", frozenset({"admin"}), "act.policy_install"),
    ("users.manage", "", frozenset({"admin"}), "act.users_manage"),
    ("users.passwd", "", ALL_ROLES, "act.users_passwd"),
    ("cases.open", "", frozenset({"investigator", "supervisor", "records_officer", "overseer"}),
     "act.cases_open_close"),
    ("cases.close", "", frozenset({"investigator", "supervisor", "records_officer", "overseer"}),
     "act.cases_open_close"),
    ("cases.assign", "", frozenset({"supervisor"}), "act.cases_assign"),
    ("retention.apply", "", frozenset({"records_officer", "admin", "operator"}),
     "act.retention_apply"),
    ("retention.list", "", frozenset({"records_officer", "admin", "overseer"}),
     "act.retention_list"),
    ("link.judge", "", frozenset({"supervisor", "records_officer"}), "act.link_judge"),
    ("report.subject", "subject", frozenset({"records_officer", "overseer"}),
     "act.report_subject"),
    ("report.subject", "overseer", frozenset({"overseer"}), "act.report_subject"),
    ("report.oversight", "", frozenset({"overseer"}), "act.report_oversight"),
    ("report.corrections", "", frozenset({"records_officer", "overseer"}),
     "act.report_corrections"),
    ("ingest.run", "", DATA_OPS, "act.data_operate"),
    ("resolve.run", "", DATA_OPS, "act.data_operate"),
    ("index.rebuild", "", DATA_OPS, "act.data_operate"),
    ("index.check", "", DATA_OPS, "act.data_operate"),
    ("sources.list", "", INSPECT, "act.data_inspect"),
    ("quarantine.read", "", INSPECT, "act.data_inspect"),
    ("tokens.manage", "", ALL_ROLES, "act.own_credentials"),
    ("session.purpose", "", ALL_ROLES, "act.own_credentials"),
    ("feeds.manage", "", frozenset({"admin"}), "act.feeds_manage"),
    ("feeds.status", "", INSPECT, "act.feeds_status"),
    ("watch.create", "", frozenset({"investigator", "supervisor"}), "act.watch_manage"),
    ("watch.cancel", "", frozenset({"investigator", "supervisor"}), "act.watch_manage"),
    ("alerts.read", "", frozenset({"investigator", "supervisor"}), "act.watch_manage"),
    ("watch.list", "", frozenset({"investigator", "supervisor", "overseer"}),
     "act.watch_list"),
    ("cases.read", "", frozenset({"investigator", "supervisor", "records_officer", "overseer"}),
     "act.cases_read"),
    ("cases.material", "", frozenset({"investigator", "supervisor", "records_officer"}),
     "act.cases_material"),
]

# principal -> (caller, role as the table names it, the rule that refuses it when no
# permit applies)
PRINCIPALS: list[tuple[Caller, str | None, str]] = [
    *((Caller(role), role, "act.role_ceiling") for role in ROLES),
    (Caller(OPERATOR, via="cli"), "operator", "act.role_ceiling"),
    (Caller(OPERATOR, via="api"), None, "act.operator_cli_only"),
    (Caller(OPERATOR, via="web"), None, "act.operator_cli_only"),
    (Caller("admin", via="api"), "admin", "act.role_ceiling"),
    (Caller(DISABLED), None, "act.principal_active"),
    (Caller(UNKNOWN), None, "act.principal_known"),
    (Caller(""), None, "act.principal_known"),
]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    return env_over(seeded_store(), tmp_path_factory.mktemp("data"))


def test_the_table_names_every_act() -> None:
    assert {act for act, *_ in TABLE} == set(ACTS)


def _ids(table: list[tuple[str, str, frozenset[str], str]]) -> list[str]:
    return [f"{act}{'/' + variant if variant else ''}" for act, variant, *_ in table]


@pytest.mark.parametrize(("act", "variant", "roles", "permit"), TABLE, ids=_ids(TABLE))
def test_act_by_every_principal(
    env: Env, act: str, variant: str, roles: frozenset[str], permit: str
) -> None:
    digest = env.registry().policies.digest
    for caller, role, refusal in PRINCIPALS:
        allowed = role is not None and role in roles
        before = len(entries(env.store))
        try:
            with authorise_and_audit(env, caller, act, target="t", variant=variant) as rec:
                assert allowed, f"{caller} was permitted {act}"
                assert permit in rec.rules
        except Denied as exc:
            assert not allowed, f"{caller} was refused {act}: {exc.rules}"
            assert refusal in exc.rules, (caller, act, exc.rules)
        after = entries(env.store)
        assert len(after) == before + 1, "one entry per decision"
        e = after[-1]
        assert (e["action"], e["principal"]) == (act, caller.actor or "anonymous")
        assert e["outcome"] == ("ok" if allowed else "deny")
        assert (permit if allowed else refusal) in e["rules"]
        assert e["detail"]["policy_set"] == digest
        assert e["detail"]["via"] == caller.via
        assert e["detail"]["target"] == "t"
        if role not in (None, "operator"):
            assert (e["role"], e["organisation"]) == (role, "ice")


def test_unknown_act_is_refused(env: Env) -> None:
    with pytest.raises(Denied) as exc, authorise_and_audit(env, Caller("admin"), "no.such.act"):
        pass
    assert exc.value.rules == ("act.unknown",)


def test_a_failing_body_is_rolled_back_and_audited_as_error(env: Env) -> None:
    with pytest.raises(RuntimeError), authorise_and_audit(
        env, Caller("admin"), "retention.list", target="x"
    ) as rec:
        rec.detail["step"] = 1
        env.store.execute("CREATE TABLE rolled_back (x INT)")
        raise RuntimeError("disk on fire")
    e = entries(env.store)[-1]
    assert (e["action"], e["outcome"]) == ("retention.list", "error")
    assert e["detail"]["reason"] == "disk on fire" and e["detail"]["step"] == 1
    assert "act.retention_list" in e["rules"]
    assert not env.store.has_table("rolled_back")


def test_a_disabled_user_is_refused_at_once_even_by_a_stale_registry(tmp_path: Path) -> None:
    from idgraph.policy.users import disable_user

    env = env_over(seeded_store(), tmp_path)
    env.registry()  # read once: supervisor active
    disable_user(env.store, "supervisor", actor="admin")  # another process, say
    with pytest.raises(Denied) as exc, authorise_and_audit(env, Caller("supervisor"),
                                                           "cases.open"):
        pass
    assert "act.principal_active" in exc.value.rules


def test_entry_names_the_command_under_a_broader_act(env: Env) -> None:
    with authorise_and_audit(env, Caller("admin"), "users.manage", action="users.add",
                             target="someone") as rec:
        rec.detail["user"] = "someone"
    e = entries(env.store)[-1]
    assert (e["action"], e["outcome"], e["rules"]) == ("users.add", "ok", ["act.users_manage"])
    with pytest.raises(Denied), authorise_and_audit(env, Caller("counsel"), "users.manage",
                                                    action="users.disable"):
        pass
    e = entries(env.store)[-1]
    assert (e["action"], e["outcome"]) == ("users.disable", "deny")


# how far a listing reaches: every organisation's rows, or the reader's own
EVERY_ORG = [
    ("users.list", frozenset({"admin", "overseer"})),
    ("cases.list", frozenset({"overseer"})),
    ("legal.list", frozenset({"overseer"})),
    ("notices.list", frozenset({"overseer"})),
]


@pytest.mark.parametrize(("act", "every"), EVERY_ORG)
def test_listing_reach_is_decided_by_cedar(env: Env, act: str, every: frozenset[str]) -> None:
    from idgraph.policy.acts import decide_act

    reg = env.registry()
    for role in ROLES:
        listed, _ = decide_act(reg, role, act)
        reach, rules = decide_act(reg, role, act, variant="every_org")
        assert reach is (role in every), (role, rules)
        if listed and not reach:
            assert "act.registry_every_org" in rules


def test_the_api_token_is_named_in_the_entry(env: Env) -> None:
    caller = Caller("overseer", via="api", token_id="tok123")
    with authorise_and_audit(env, caller, "sar.list"):
        pass
    assert entries(env.store)[-1]["detail"]["token_id"] == "tok123"
    with pytest.raises(Denied), authorise_and_audit(env, caller, "users.manage"):
        pass
    assert entries(env.store)[-1]["detail"]["token_id"] == "tok123"
