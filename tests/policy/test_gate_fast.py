"""Issue 14 item 6: the planned gate (policy/plan.py) decides exactly as Cedar asked
three times per segment (``engine._allowed_reference``) -- permit, rules, duties and
fields of every segment -- on a broad table of queries, and on deployment policy sets
written to break each step of the plan: policies that read the action (no plan),
policies that raise errors before, behind and instead of a resource test, scopes of
one action only, a named source and a named user, an ``unless`` on the resource,
extension calls, and the whole context.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cedarpy
import pytest
from gate_table import QueryRow, outcomes, queries, registry, world

from idgraph.policy import plan as plan_mod
from idgraph.policy.cedar import schema_text
from idgraph.policy.engine import _allowed_reference, _context, _principal_entity, allowed
from idgraph.policy.legal import NO_BASIS
from idgraph.policy.registry import Registry
from idgraph.schema import Query
from idgraph.store import Store


def _planned(reg: Registry, q: Query, ids: Any, filters: Any) -> Any:
    return allowed(reg, q, identity_ids=ids, filters=filters)


def _reference(reg: Registry, q: Query, ids: Any, filters: Any) -> Any:
    return _allowed_reference(reg, q, identity_ids=ids, filters=filters)


@pytest.fixture(scope="module")
def shipped() -> tuple[Registry, list[QueryRow]]:
    store, ids = world()
    return registry(store), queries(ids)


def test_the_shipped_set_is_planned_and_pruned(shipped: tuple[Registry, list[QueryRow]]) -> None:
    """The fast path is the one under test: a plan exists, the policies that do not read
    the source are shared, and a segment no regime names carries few policies."""
    reg, _ = shipped
    assert reg.plan is not None
    assert "base.case_open" in reg.plan.shared.pids.values()
    assert len(reg.segment_rules["utility"]) < len(reg.segment_rules["ny_dmv"])
    assert "claim.DPPA-b1" not in reg.segment_rules["utility"]
    assert "claim.DPPA-b1" in reg.segment_rules["ny_dmv"]


def test_planned_decisions_equal_three_requests(
    shipped: tuple[Registry, list[QueryRow]],
) -> None:
    reg, rows = shipped
    reg.decision_cache.clear()
    kinds: set[tuple[bool, str]] = set()
    for row in rows:
        want = outcomes(_reference, reg, row)
        assert outcomes(_planned, reg, row) == want, row
        assert outcomes(_planned, reg, row) == want, row  # from the cache
        kinds |= {(v[0], v[1][0] if v[1] else "") for v in want.values()}
    # the table reaches the rules beyond the base ones, permits with duties and cuts
    assert {(True, "grant.investigator"), (False, "ny.vtl201.basis"), (False, "il.sos.basis"),
            (False, "ca.dmv.immigration"), (False, "sca.government_process"),
            (False, "base.filters_allowed"), (True, "grant.records_officer_subject_access"),
            (False, "claim.DPPA-b1")} <= kinds


def test_requests_fit_the_schema(shipped: tuple[Registry, list[QueryRow]]) -> None:
    """The plan leaves a policy out only behind conjuncts that cannot raise an error on a
    request that fits the schema: the entities and contexts the engine builds must fit."""
    reg, rows = shipped
    for q, ids, filters in rows[:10]:
        user = reg.users.get(q.principal)
        _, principal = _principal_entity(q, user)
        entities = [*plan_mod.ACTION_ENTITIES, *(s.cedar() for s in reg.segments.values()),
                    principal]
        cedarpy.Entities.from_json_str(json.dumps(entities), schema=schema_text())
        ctx = {**_context(reg, q, user, filters, ids), "legal": NO_BASIS}
        for action in plan_mod.READ_ACTIONS:
            r = cedarpy.is_authorized(
                {"principal": {"type": "User", "id": q.principal},
                 "action": {"type": "Action", "id": action},
                 "resource": {"type": "Source", "id": "ny_dmv"}, "context": ctx},
                reg.policies.policy_set, json.dumps(entities), schema=schema_text(),
            )
            assert not r.diagnostics.errors, r.diagnostics.errors


# Deployment policy sets, each written to break one step of the plan.
DEPLOYMENTS: dict[str, tuple[str, bool]] = {  # name -> (policies, planned)
    "scopes-and-names": ("""
@id("dep.full_only_forbid")
forbid (principal, action == Action::"read_full", resource)
when { context.purpose == "fraud_investigation" && resource.kind == "court" };

@id("dep.restricted_permit") @duty("notice:5d")
permit (principal, action in [Action::"read_restricted"], resource)
when { ["investigator"].contains(principal.role) && resource.kind == "booking" };

@id("dep.named_source")
forbid (principal, action in Action::"read", resource == Source::"court@US-NJ")
when { context.purpose == "criminal_investigation" };

@id("dep.named_user")
forbid (principal == User::"chief", action in Action::"read", resource);

@id("dep.unless_resource")
forbid (principal, action in Action::"read", resource)
when { context.purpose == "legal_proceeding" }
unless { resource.jurisdiction != "US-NY" };

@id("dep.resource_first")
forbid (principal, action == Action::"read", resource)
when { resource.regimes.contains("GLBA") && context.purpose == "locate_witness" };

@id("dep.extension_first")
forbid (principal, action in Action::"read", resource)
when { decimal("1.5").lessThan(decimal("2.0")) && resource.kind == "utility" &&
       context.purpose == "fraud_investigation" };

@id("dep.legal_not_source")
forbid (principal, action in Action::"read", resource)
when { context.legal.type == "court_order" && context.purpose == "civil_immigration_enforcement" &&
       context.claims.contains("DPPA-b1") };

@id("dep.whole_context")
forbid (principal, action in Action::"read", resource)
when { context == context && resource.kind == "court" && context.case_kind == "civil" };
""", True),
    "errors": ("""
@id("dep.error_full_only")
forbid (principal, action == Action::"read_full", resource)
when { resource.kind == "booking" && User::"nobody".role == "x" };

@id("dep.error_before_guard")
forbid (principal, action in Action::"read", resource)
when { context.purpose == "research" && User::"nobody".role == "x" &&
       resource.kind == "no_such_kind" };

@id("dep.overflow_before_guard")
permit (principal, action in Action::"read", resource)
when { context.claims.contains("GLBA-e5") && 9223372036854775807 + 1 > 0 &&
       resource.kind == "no_such_kind" };

@id("dep.error_behind_false_guard")
forbid (principal, action in Action::"read", resource)
when { resource.kind == "no_such_kind" && User::"nobody".role == "x" };
""", True),
    "reads-action": ("""
@id("dep.reads_action")
forbid (principal, action in Action::"read", resource)
when { action == Action::"read_full" && resource.kind == "court" };
""", False),
}


@pytest.mark.parametrize("name", list(DEPLOYMENTS))
def test_deployment_sets_decide_as_three_requests(tmp_path: Path, name: str) -> None:
    text, planned = DEPLOYMENTS[name]
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "deployment.cedar").write_text(text, encoding="utf-8")
    store: Store
    store, ids = world()
    reg = registry(store, folder)
    assert (reg.plan is not None) == planned
    if name == "scopes-and-names":  # asked once per legal basis as it counts per source
        assert reg.plan is not None
        assert "dep.legal_not_source" in reg.plan.shared.pids.values()
    rules: set[str] = set()
    for row in queries(ids, n=40 if planned else 5):
        want = outcomes(_reference, reg, row)
        assert outcomes(_planned, reg, row) == want, row
        rules |= {r for v in want.values() for r in v[1]}
    if name == "scopes-and-names":
        assert {"dep.legal_not_source", "dep.full_only_forbid", "dep.named_source",
                "dep.named_user", "dep.unless_resource"} <= rules
    if name == "errors":  # the errors are reached (else equality proves nothing of them)
        assert "policy.error" in rules


SAFE = [  # (Cedar condition, cannot raise an error on a request that fits the schema)
    ('context.claims.contains("DPPA-b1")', True),
    ("principal.role == \"investigator\" || !context.case_open", True),
    ('context.legal.type == "court_order" && context.legal has verified', True),
    ('["dmv", "id_card"].contains(resource.kind)', True),
    ('if context.case_open then resource.kind like "d*" else false', True),
    ('User::"nobody".role == "x"', False),
    ("1 + 1 == 2", False),
    ('decimal("1.0").lessThan(decimal("2.0"))', False),
]


@pytest.mark.parametrize(("condition", "safe"), SAFE)
def test_conjuncts_that_cannot_error(condition: str, safe: bool) -> None:
    text = f'@id("x") forbid (principal, action, resource) when {{ {condition} }};'
    est = json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"]["policy0"]
    assert plan_mod._safe(est["conditions"][0]["body"]) == safe


def test_context_keys_fall_back_to_the_whole_context() -> None:
    def keys(cond: str) -> frozenset[str] | None:
        text = f'@id("x") forbid (principal, action, resource) when {{ {cond} }};'
        return plan_mod._context_keys(
            [json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"]["policy0"]]
        )

    assert keys('context.purpose == "x" && context has legal') == {"purpose", "legal"}
    assert keys("context == context") is None
