"""Acts other than reading records, decided by Cedar like every read.

An *act* is something a user does to the system rather than a read of records:
reading the audit log, registering or verifying legal process, listing registries,
opening a subject-access request, installing a policy set. :func:`authorise_act` is
the one place such an act is decided: it asks Cedar (``policies/acts.cedar``; the
action is a child of ``Action::"act"``, the resource an ``Area``), audits a refusal
itself, and on a permit hands back an :class:`ActDecision` whose :meth:`~ActDecision.entry`
builds the act's audit entry (rules and policy-set digest included), which the caller
appends in the act's own transaction.

Object-level conditions (the same organisation, a second person, the owner of a
case) stay with the module that owns the object; they run after this decision.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import cedarpy

from idgraph.audit import AuditEntry, record
from idgraph.policy.registry import Registry
from idgraph.policy.users import User
from idgraph.store import Store

ACTS: Final[tuple[str, ...]] = (
    "audit.read",
    "audit.verify",
    "audit.checkpoint",
    "audit.keys",
    "legal.add",
    "legal.verify",
    "legal.list",
    "sar.open",
    "sar.close",
    "sar.list",
    "cases.list",
    "users.list",
    "notices.list",
    "notices.send",
    "policy.install",
)
DEFAULT_DENY: Final[str] = "default.deny"
POLICY_ERROR: Final[str] = "policy.error"
UNKNOWN_ACT: Final[str] = "act.unknown"

_GROUP = {"type": "Action", "id": "act"}
_ACTION_ENTITIES: Final[list[dict[str, Any]]] = [
    {"uid": _GROUP, "attrs": {}, "parents": []},
    *({"uid": {"type": "Action", "id": a}, "attrs": {}, "parents": [_GROUP]} for a in ACTS),
]


class ActDenied(PermissionError):
    """The act is not permitted; ``rules`` name why (the refusal is already audited)."""

    def __init__(self, act: str, actor: str, rules: tuple[str, ...]) -> None:
        super().__init__(f"{actor!r} may not {act}: denied by {', '.join(rules)}")
        self.act = act
        self.actor = actor
        self.rules = rules


@dataclass(frozen=True)
class ActDecision:
    """A permitted act: who, which rules permitted it, under which policy set."""

    act: str
    actor: str
    user: User
    rules: tuple[str, ...]
    policy_set: str
    target: str = ""

    def entry(
        self,
        outcome: str = "ok",
        *,
        detail: dict[str, Any] | None = None,
        case_id: str | None = None,
        basis: str | None = None,
        identity_ids: tuple[str, ...] | list[str] = (),
        sources: tuple[str, ...] | list[str] = (),
        record_ids: tuple[str, ...] | list[str] = (),
    ) -> AuditEntry:
        """The audit entry of this act (append it in the act's transaction)."""
        return _entry(
            self.act,
            self.actor,
            self.user,
            outcome,
            self.rules,
            {"target": self.target, **(detail or {}), "policy_set": self.policy_set},
            case_id=case_id,
            basis=basis,
            identity_ids=tuple(identity_ids),
            sources=tuple(sources),
            record_ids=tuple(record_ids),
        )


def _entry(
    act: str,
    actor: str,
    user: User | None,
    outcome: str,
    rules: tuple[str, ...],
    detail: dict[str, Any],
    **fields: Any,
) -> AuditEntry:
    return AuditEntry(
        principal=actor,
        organisation=user.org if user else None,
        role=user.role if user else None,
        action=act,
        outcome=outcome,
        rules=rules,
        detail=detail,
        **fields,
    )


def _ids(result: cedarpy.AuthzResult) -> tuple[str, ...]:
    ann = result.diagnostics.id_annotations_by_reason
    return tuple(sorted(ann.get(r, r) for r in result.diagnostics.reasons))


def decide_act(
    reg: Registry, actor: str, act: str, target: str = ""
) -> tuple[bool, tuple[str, ...]]:
    """Whether ``actor`` may do ``act`` (pure: no audit), and the rules that decided."""
    if act not in ACTS:
        return False, (UNKNOWN_ACT,)
    user = reg.users.get(actor)
    principal = {
        "uid": {"type": "User", "id": actor},
        "attrs": {
            "role": user.role if user else "none",
            "org": user.org if user else "",
            "org_type": user.org_type if user else "none",
            "active": bool(user and user.active),
            "immigration_agency": bool(user and user.immigration_agency),
        },
        "parents": [],
    }
    area = {"uid": {"type": "Area", "id": act.split(".", 1)[0]}, "attrs": {}, "parents": []}
    entities = cedarpy.Entities.from_json_str(json.dumps([*_ACTION_ENTITIES, principal, area]))
    request = {
        "principal": principal["uid"],
        "action": {"type": "Action", "id": act},
        "resource": area["uid"],
        "context": {"target": target},
    }
    result = cedarpy.is_authorized_batch([request], reg.policies.policy_set, entities)[0]
    if result.diagnostics.errors:
        return False, (POLICY_ERROR,)
    if user is None:  # unknown principals are denied whatever a policy says
        return False, ("act.principal_known",)
    return result.allowed, _ids(result) or ((DEFAULT_DENY,) if not result.allowed else ())


def authorise_act(
    store: Store,
    actor: str | None,
    act: str,
    *,
    registry: Registry | None = None,
    target: str = "",
    case_id: str | None = None,
) -> ActDecision:
    """Decide ``act`` by ``actor``; on refusal audit it and raise :class:`ActDenied`."""
    reg = registry or Registry(store)
    name = actor or ""
    allowed, rules = decide_act(reg, name, act, target)
    user = reg.users.get(name)
    if not allowed or user is None:
        detail = {"target": target, "policy_set": reg.policies.digest}
        with store.transaction():
            record(
                store,
                _entry(act, name or "anonymous", user, "deny", rules, detail, case_id=case_id),
            )
        raise ActDenied(act, name or "anonymous", rules)
    return ActDecision(act, name, user, rules, reg.policies.digest, target)
