"""Reading the registries is an act: decided, scoped to the reader's organisation, audited.

The user, case, legal-process and notice registries say who is investigated, by whom
and on what paper. Listing one is decided by Cedar (acts ``users.list``,
``cases.list``, ``legal.list``, ``notices.list`` in ``policies/acts.cedar``); so is its
reach: asked again with ``context.variant == "every_org"`` (rule
``act.registry_every_org``), Cedar says whether the reader sees every organisation's
rows (an overseer; users: also an admin, who manages every organisation's accounts) or
only their own's. The listing is audited with the ids of what was shown: nothing is
returned before its entry is appended.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Final

import idgraph.cases as cases_mod
from idgraph import clock
from idgraph.audit import record
from idgraph.policy import legal as legal_mod
from idgraph.policy import notices as notices_mod
from idgraph.policy import users as users_mod
from idgraph.policy.acts import ActDecision, authorise_act, decide_act
from idgraph.policy.registry import Registry
from idgraph.store import Store
from idgraph.store.registry import RegistryRepo

EVERY_ORG: Final[str] = "every_org"  # the variant asking for every organisation's rows


def _org_scope(dec: ActDecision, reg: Registry) -> str | None:
    """The organisation the reader is limited to, or ``None`` for every organisation
    (decided by Cedar: the act asked again with the variant :data:`EVERY_ORG`)."""
    every, _ = decide_act(reg, dec.actor, dec.act, dec.target, via=dec.via,
                          variant=EVERY_ORG, user=dec.user)
    return None if every else dec.user.org


def _audit(
    store: Store,
    dec: ActDecision,
    scope: str | None,
    shown: Sequence[str],
    filters: dict[str, Any],
    identity_ids: Sequence[str] = (),
    case_id: str | None = None,
) -> None:
    detail = {"shown": list(shown), "filters": filters, "org_scope": scope}
    entry = dec.entry(
        "ok", detail=detail, identity_ids=tuple(dict.fromkeys(identity_ids)), case_id=case_id
    )
    with store.transaction():
        record(store, entry)


def list_users(
    store: Store, actor: str = "", *, registry: Registry | None = None,
    decision: ActDecision | None = None,
) -> list[users_mod.User]:
    """Users the actor may see (``users.list``; ``decision``: already permitted);
    audited."""
    reg = registry or Registry(store)
    dec = decision or authorise_act(store, actor, "users.list", registry=reg)
    org = _org_scope(dec, reg)
    users = [u for u in users_mod.list_users(store) if org is None or u.org == org]
    _audit(store, dec, org, [u.name for u in users], {})
    return users


def list_cases(
    store: Store,
    actor: str = "",
    *,
    org: str | None = None,
    status: str | None = None,
    registry: Registry | None = None,
    decision: ActDecision | None = None,
) -> list[cases_mod.Case]:
    """Cases the actor may see (``cases.list``), optionally filtered; audited."""
    reg = registry or Registry(store)
    dec = decision or authorise_act(store, actor, "cases.list", registry=reg)
    scope = _org_scope(dec, reg)
    cases = [
        c
        for c in cases_mod.list_cases(store, org=org, status=status)
        if scope is None or c.org == scope
    ]
    _audit(store, dec, scope, [c.case_id for c in cases], {"org": org, "status": status})
    return cases


def visible_case(
    store: Store, case_id: str, *, decision: ActDecision, registry: Registry | None = None
) -> cases_mod.Case | None:
    """The case ``case_id`` if the actor may see it (``cases.list``: their own
    organisation's, an overseer's every one), else ``None``; audited."""
    scope = _org_scope(decision, registry or Registry(store))
    case = cases_mod.get_case(store, case_id)
    if case is not None and scope is not None and case.org != scope:
        case = None
    _audit(store, decision, scope, [case.case_id] if case else [], {"case": case_id},
           case_id=case.case_id if case else None)
    return case


def legal_orgs(store: Store) -> dict[str, str | None]:
    """Each document's organisation: the one recorded with it (its registrant's); for a
    row registered before that was recorded, its case's, else its registrant's."""
    return RegistryRepo(store).legal_orgs()


def list_legal(
    store: Store, actor: str = "", *, case_id: str | None = None,
    registry: Registry | None = None, decision: ActDecision | None = None,
) -> list[legal_mod.LegalProcess]:
    """Legal process the actor may see (``legal.list``); audited."""
    reg = registry or Registry(store)
    dec = decision or authorise_act(store, actor, "legal.list", registry=reg,
                                    case_id=case_id)
    scope = _org_scope(dec, reg)
    orgs = legal_orgs(store) if scope is not None else {}
    docs = [
        d
        for d in legal_mod.list_legal(store, case_id)
        if scope is None or orgs.get(d.legal_id) == scope
    ]
    _audit(
        store,
        dec,
        scope,
        [d.legal_id for d in docs],
        {"case": case_id},
        identity_ids=[i for d in docs for i in d.scope_identities],
        case_id=case_id,
    )
    return docs


def list_notices(
    store: Store,
    actor: str = "",
    *,
    today: date | None = None,
    overdue: bool = False,
    registry: Registry | None = None,
    decision: ActDecision | None = None,
) -> list[notices_mod.Notice]:
    """Unsent notices the actor may see (``notices.list``); audited with the identities."""
    reg = registry or Registry(store)
    dec = decision or authorise_act(store, actor, "notices.list", registry=reg)
    scope = _org_scope(dec, reg)
    day = today or clock.today()
    items = [
        n
        for n in notices_mod.list_notices(store, today=day, overdue=overdue)
        if scope is None or n.org == scope
    ]
    _audit(
        store,
        dec,
        scope,
        [n.notice_id for n in items],
        {"overdue": overdue, "today": day.isoformat()},
        identity_ids=[n.identity_id for n in items],
    )
    return items
