"""Acts other than reading records, decided by Cedar like every read.

An *act* is something a user does to the system rather than a read of records:
reading the audit log, registering or verifying legal process, listing registries,
opening a subject-access request, installing a policy set, managing users, running an
ingest. :func:`decide_act` is the one place such an act is decided: it asks Cedar
(``policies/acts.cedar``; the action is a child of ``Action::"act"``, the resource an
``Area``). :func:`authorise_act` audits a refusal itself, and on a permit hands back an
:class:`ActDecision` whose :meth:`~ActDecision.entry` builds the act's audit entry
(rules and policy-set digest included), which the caller appends in the act's own
transaction. The application layer (``idgraph.app.gate``)
wraps both in ``authorise_and_audit`` and hands the library an :class:`ActRecord`.

The local operator: a CLI user who names no ``--as`` acts as ``operator:<os user>``
(:data:`OPERATOR_PREFIX`), a principal with role ``operator`` that is in no users
table; Cedar permits it the data acts (ingest, resolve, index, sources, quarantine,
retention) only when ``context.via == "cli"`` (a shell user with the data folder can
rewrite the store file anyway; the act is still decided and audited).

Object-level conditions (the same organisation, a second person, the owner of a
case) stay with the module that owns the object; they run after this decision.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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
    # issue 15: every admin and data act of the application layer (idgraph.app)
    "users.manage",
    "users.passwd",
    "cases.open",
    "cases.close",
    "cases.assign",
    "retention.apply",
    "retention.list",
    "link.judge",
    "report.subject",
    "report.oversight",
    "report.corrections",
    "ingest.run",
    "resolve.run",
    "index.rebuild",
    "index.check",
    "sources.list",
    "quarantine.read",
    "tokens.manage",
    "session.purpose",
    # issue 16: live feeds (idgraph.app.feeds)
    "feeds.manage",
    "feeds.status",
    # issue 16: watches and alerts (idgraph.app.watches)
    "watch.create",
    "watch.list",
    "watch.cancel",
    "alerts.read",
    # issue 16: case management (idgraph.app.cases)
    "cases.read",
    "cases.material",
)
VIAS: Final[tuple[str, ...]] = ("cli", "api", "web")
# A CLI user acting without --as: ``operator:<os user>``, role ``operator`` (see above).
OPERATOR_PREFIX: Final[str] = "operator:"
OPERATOR_ROLE: Final[str] = "operator"
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


@dataclass
class ActDecision:
    """A permitted act: who, which rules permitted it, under which policy set."""

    act: str
    actor: str
    user: User
    rules: tuple[str, ...]
    policy_set: str
    target: str = ""
    via: str = "cli"

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
            {"target": self.target, **(detail or {}), "policy_set": self.policy_set,
             "via": self.via},
            case_id=case_id,
            basis=basis,
            identity_ids=tuple(identity_ids),
            sources=tuple(sources),
            record_ids=tuple(record_ids),
        )


@dataclass
class ActRecord(ActDecision):
    """A permitted act under way (``idgraph.app.gate.authorise_and_audit`` yields it).

    The act's body sets :attr:`detail`, :attr:`identity_ids`, :attr:`record_ids`,
    :attr:`sources` (and :attr:`outcome`, :attr:`action`); on normal exit the gate
    appends the entry. A library function that appends the entry itself (inside its own
    transaction, with what only it knows) builds it with :meth:`entry`, which marks the
    record :attr:`written`: the gate then appends nothing more.
    """

    action: str = ""  # the entry's action name (default: the act)
    case_id: str | None = None
    basis: str | None = None
    outcome: str = "ok"
    detail: dict[str, Any] = field(default_factory=dict)
    identity_ids: list[str] = field(default_factory=list)
    record_ids: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    written: bool = False

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
        """The act's entry: the record's own fields plus these (an outcome other than a
        refusal marks the record written)."""
        made = super().entry(
            outcome,
            detail={**self.detail, **(detail or {})},
            case_id=case_id or self.case_id,
            basis=basis or self.basis,
            identity_ids=tuple(dict.fromkeys([*self.identity_ids, *identity_ids])),
            sources=tuple(dict.fromkeys([*self.sources, *sources])),
            record_ids=tuple(dict.fromkeys([*self.record_ids, *record_ids])),
        )
        if self.action and self.action != made.action:
            made = made.model_copy(update={"action": self.action})
        if outcome not in ("deny", "error"):
            self.written = True
        return made


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
        organisation=(user.org or None) if user else None,
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


def is_operator(actor: str) -> bool:
    """Whether ``actor`` names the local operator (``operator:<os user>``)."""
    return actor.startswith(OPERATOR_PREFIX) and len(actor) > len(OPERATOR_PREFIX)


def operator_user(actor: str) -> User:
    """The principal of the local operator: role ``operator``, in no organisation."""
    return User(actor, OPERATOR_ROLE, "", "none")


def principal_of(reg: Registry, actor: str, user: User | None = None) -> User | None:
    """The user ``actor`` (``user`` when the caller read it afresh), the operator's
    principal, or ``None`` for an unknown name."""
    if is_operator(actor):
        return operator_user(actor)
    return user if user is not None else reg.users.get(actor)


def decide_act(
    reg: Registry,
    actor: str,
    act: str,
    target: str = "",
    *,
    via: str = "cli",
    variant: str = "",
    user: User | None = None,
    case_member: bool = True,
) -> tuple[bool, tuple[str, ...]]:
    """Whether ``actor`` may do ``act`` (pure: no audit), and the rules that decided.

    ``via`` is the shell the act came through (``cli``, ``api``, ``web``); ``variant``
    the form of the act where its rules differ (``report.subject``: the copy); ``user``
    the actor as just read from the store (default: the registry's, read earlier);
    ``case_member`` whether the actor is a member of the case the act names (true when
    it names none: ``act.case_need_to_know`` reads it)."""
    if act not in ACTS:
        return False, (UNKNOWN_ACT,)
    if via not in VIAS:
        return False, ("act.via_unknown",)
    who = principal_of(reg, actor, user)
    principal = {
        "uid": {"type": "User", "id": actor},
        "attrs": {
            "role": who.role if who else "none",
            "org": who.org if who else "",
            "org_type": who.org_type if who else "none",
            "active": bool(who and who.active),
            "immigration_agency": bool(who and who.immigration_agency),
        },
        "parents": [],
    }
    area = {"uid": {"type": "Area", "id": act.split(".", 1)[0]}, "attrs": {}, "parents": []}
    entities = cedarpy.Entities.from_json_str(json.dumps([*_ACTION_ENTITIES, principal, area]))
    request = {
        "principal": principal["uid"],
        "action": {"type": "Action", "id": act},
        "resource": area["uid"],
        "context": {"target": target, "via": via, "variant": variant,
                    "case_member": case_member},
    }
    result = cedarpy.is_authorized_batch([request], reg.policies.policy_set, entities)[0]
    if result.diagnostics.errors:
        return False, (POLICY_ERROR,)
    if who is None:  # unknown principals are denied whatever a policy says
        return False, ("act.principal_known",)
    return result.allowed, _ids(result) or ((DEFAULT_DENY,) if not result.allowed else ())


def deny_entry(
    reg: Registry,
    actor: str,
    act: str,
    rules: tuple[str, ...],
    *,
    target: str = "",
    via: str = "cli",
    case_id: str | None = None,
    action: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """The audit entry of a refused act (principal ``anonymous`` for an empty name)."""
    who = principal_of(reg, actor)
    full = {"target": target, **(detail or {}), "policy_set": reg.policies.digest, "via": via}
    return _entry(action or act, actor or "anonymous", who, "deny", rules, full,
                  case_id=case_id)


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
    user = principal_of(reg, name)
    if not allowed or user is None:
        with store.transaction():
            record(store, deny_entry(reg, name, act, rules, target=target, case_id=case_id))
        raise ActDenied(act, name or "anonymous", rules)
    return ActDecision(act, name, user, rules, reg.policies.digest, target)
