"""Principals: users with a role and an organisation, stored in the ``users`` table.

A user who is unknown or disabled is denied everything (the decision point sees an
inactive principal). The first user may be added without an actor (bootstrap);
after that adding or disabling a user is the act ``users.manage``, decided by Cedar
(an active admin: ``policies/acts.cedar``) in ``idgraph.app.admin``, which hands the
decision in here. Every change is audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from idgraph import clock
from idgraph.audit import AuditEntry, record
from idgraph.policy.names import name_problem
from idgraph.store import Store
from idgraph.store.registry import RegistryRepo

if TYPE_CHECKING:
    from idgraph.policy.acts import ActDecision

ROLES: Final[tuple[str, ...]] = (
    "investigator",
    "supervisor",
    "overseer",
    "admin",
    "records_officer",
    "counsel",  # an organisation's legal officer: verifies legal process, reads nothing
)
ORG_TYPES: Final[tuple[str, ...]] = ("government", "private", "press", "academic")
# Principals the system itself writes into the audit log (policy.change, bootstrap,
# refusals of an act without --as): no user may take these names.
RESERVED: Final[frozenset[str]] = frozenset({"system", "bootstrap", "anonymous"})
# ``operator:<os user>`` is the local operator's principal (policy/acts.py): no user
# may take a name that would pass for it.
RESERVED_PREFIX: Final[str] = "operator:"
# A user name is shown in every listing and audit report and addressed in URLs
# (/api/v1/users/{name}/disable): lower-case letters, digits, '.', '_', '-' only, so
# that no name passes for another ("Root", "r\u200boot"), carries markup, or has a '/'.
USER_NAME: Final[re.Pattern[str]] = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")

class UserError(ValueError):
    """A user operation that may not proceed."""


class UserRefused(UserError):
    """The actor may not manage users (a refusal by the policy layer; CLI exit 3)."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    org: str
    org_type: str
    disabled: bool = False
    immigration_agency: bool = False  # the organisation primarily enforces immigration law

    @property
    def active(self) -> bool:
        return not self.disabled


def ensure(store: Store) -> None:
    """Kept for callers of other packages: the tables are made by the store's migrations."""


def get_user(store: Store, name: str) -> User | None:
    """The stored user ``name`` (disabled or not), or ``None``."""
    row = RegistryRepo(store).user(name)
    if row is None:
        return None
    return User(row.name, row.role, row.org, row.org_type, row.disabled, row.immigration_agency)


def list_users(store: Store) -> list[User]:
    return [User(r.name, r.role, r.org, r.org_type, r.disabled, r.immigration_agency)
            for r in RegistryRepo(store).users()]


def count(store: Store) -> int:
    """How many users exist (none: the first may be added without an actor)."""
    return RegistryRepo(store).user_count()


def _entry(store: Store, actor: str | None, action: str, detail: dict[str, object],
           org: str | None = None) -> AuditEntry:
    """The entry of a change made without a decision: the bootstrap (no actor), or a
    caller that decided already (tests, fixtures)."""
    who = get_user(store, actor) if actor else None
    return AuditEntry(
        principal=actor or "bootstrap", organisation=who.org if who else org,
        role=who.role if who else None, action=action, outcome="ok", detail=detail,
    )


def add_user(
    store: Store,
    name: str,
    role: str,
    org: str,
    *,
    org_type: str = "private",
    actor: str | None = None,
    immigration_agency: bool = False,
    decision: ActDecision | None = None,
) -> User:
    """Add a user under ``decision`` (the act ``users.manage`` permitted to ``actor``).

    This module decides nothing: ``idgraph.app.admin.add_user`` decides the act with
    Cedar, or lets the first user be added by no one (bootstrap: an empty table)."""
    for what, value in (("user name", name), ("organisation", org)):
        problem = name_problem(what, value)
        if problem:
            raise UserError(problem)
    if name.lower() in RESERVED:  # audit entries name these as the system itself
        raise UserError(f"user name {name!r} is reserved for the system's own audit entries")
    if name.lower().startswith(RESERVED_PREFIX):
        raise UserError(f"user name {name!r} would pass for the local operator "
                        f"({RESERVED_PREFIX}<os user>)")
    if not USER_NAME.fullmatch(name):
        raise UserError(f"user name {name!r}: 1 to 64 lower-case letters, digits, '.', '_' "
                        "or '-', starting with a letter or digit")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if org_type not in ORG_TYPES:
        raise UserError(f"unknown org type {org_type!r}; one of {', '.join(ORG_TYPES)}")
    if decision is not None:
        actor = decision.actor
    elif actor is None and count(store) > 0:
        # by no one: only the first user (bootstrap); every later one is an act
        raise UserRefused("only the first user is added without an actor; after that the "
                          "act users.manage (an admin) adds users")
    repo = RegistryRepo(store)
    with store.transaction():
        # workers sharing a PostgreSQL database queue here: the checks below see every
        # user added before (an organisation stays of one type)
        store.lock("users")
        if get_user(store, name) is not None:
            raise UserError(f"user {name!r} exists")
        other = repo.user_named_alike(name)
        if other is not None:  # a name made before names were lower-case only
            raise UserError(f"user {name!r} would pass for the existing user {other!r}")
        # An organisation is of one type: the rules that read org_type (DPPA (b)(1), GLBA
        # (e)(5), FCRA (a)(4)-(6), 1681f: government only) would otherwise follow whichever
        # user of a private company was added as "government".
        known = repo.org_type_other_than(org, org_type)
        if known is not None:
            raise UserError(f"organisation {org!r} is {known!r}, not {org_type!r}")
        if repo.org_immigration_differs(org, immigration_agency):
            what = "is" if not immigration_agency else "is not"
            raise UserError(f"organisation {org!r} {what} an immigration agency "
                            "(--immigration-agency must match its other users)")
        repo.insert_user(name, role, org, org_type, at=clock.now_naive(), by=actor,
                         immigration_agency=immigration_agency)
        detail = {"user": name, "role": role, "org": org, "org_type": org_type,
                  "immigration_agency": immigration_agency}
        record(
            store,
            decision.entry("ok", detail=detail) if decision is not None
            else _entry(store, actor, "users.add", detail, org),
        )
    return User(name, role, org, org_type, immigration_agency=immigration_agency)


def disable_user(
    store: Store, name: str, *, actor: str | None = None, decision: ActDecision | None = None
) -> None:
    """Disable ``name`` under ``decision`` (``users.manage``): from now on every request
    they make is denied."""
    if decision is not None:
        actor = decision.actor
    with store.transaction():
        if get_user(store, name) is None:
            raise UserError(f"no user {name!r}")
        RegistryRepo(store).disable_user(name, at=clock.now_naive(), by=actor)
        record(store, decision.entry("ok", detail={"user": name}) if decision is not None
               else _entry(store, actor, "users.disable", {"user": name}))
