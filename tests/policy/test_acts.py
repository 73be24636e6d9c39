"""Acts other than reads are decided by Cedar (policies/acts.cedar) and audited."""

from __future__ import annotations

import pytest
from policy_fixtures import audit_rows, new_store, seed

from idgraph.policy.acts import ACTS, ActDenied, authorise_act, decide_act
from idgraph.policy.registry import Registry
from idgraph.policy.users import add_user, disable_user
from idgraph.store import Store


@pytest.fixture
def store() -> Store:
    s = new_store()
    seed(s)
    add_user(s, "sup", "supervisor", "ice", org_type="government", actor="root")
    return s


# (actor, act, permitted): who may do what under the shipped acts.cedar
CASES = [
    ("ovs", "audit.read", True),
    ("rec", "audit.read", False),  # answers subjects through `report subject`, not the log
    ("root", "audit.read", False),  # the operator signs and rotates; it does not read entries
    ("gov", "audit.read", False),  # an investigator reads records, not the log
    ("pi", "audit.read", False),
    ("nobody", "audit.read", False),  # an unknown name gets nothing
    ("gov", "audit.verify", True),
    ("nobody", "audit.verify", False),
    ("root", "audit.checkpoint", True),
    ("ovs", "audit.checkpoint", False),
    ("gov", "audit.keys", False),
    ("gov", "legal.add", True),
    ("gov", "legal.verify", False),  # the investigator who wants the data
    ("sup", "legal.verify", True),
    ("rec", "sar.open", True),
    ("gov", "sar.open", False),
    ("root", "users.list", True),
    ("gov", "users.list", False),
    ("gov", "cases.list", True),
    ("root", "cases.list", False),  # admins manage users, not cases
    ("rec", "notices.list", True),
    ("gov", "notices.list", False),
    ("root", "policy.install", True),
    ("sup", "policy.install", False),
    ("root", "no.such.act", False),
]


@pytest.mark.parametrize(("actor", "act", "permitted"), CASES)
def test_who_may_do_what(store: Store, actor: str, act: str, permitted: bool) -> None:
    ok, rules = decide_act(Registry(store), actor, act)
    assert ok is permitted, rules
    assert rules  # a decision always names the rule(s) that decided


def test_every_act_has_a_permit_for_someone(store: Store) -> None:
    reg = Registry(store)
    users = ["root", "gov", "sup", "rec", "ovs"]
    for act in ACTS:
        assert any(decide_act(reg, u, act)[0] for u in users), act


def test_refusal_is_audited_and_raised(store: Store) -> None:
    with pytest.raises(ActDenied) as exc:
        authorise_act(store, "nobody", "audit.read", target="export")
    assert exc.value.rules == ("act.principal_known",)
    entry = audit_rows(store, "audit.read")[-1]
    assert entry["outcome"] == "deny" and entry["principal"] == "nobody"
    assert entry["detail"]["policy_set"] == Registry(store).policies.digest


def test_disabled_user_is_refused(store: Store) -> None:
    disable_user(store, "ovs", actor="root")
    with pytest.raises(ActDenied) as exc:
        authorise_act(store, "ovs", "audit.read")
    assert "act.principal_active" in exc.value.rules


def test_permit_builds_the_entry_with_rules_and_policy_set(store: Store) -> None:
    dec = authorise_act(store, "ovs", "audit.read", target="export")
    entry = dec.entry("ok", detail={"entries": 3})
    assert entry.action == "audit.read" and entry.rules == ("act.audit_read",)
    assert entry.organisation == "ice" and entry.role == "overseer"
    assert entry.detail == {
        "target": "export",
        "entries": 3,
        "policy_set": Registry(store).policies.digest,
        "via": "cli",
    }
