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

DDL: Final[tuple[str, ...]] = (
    """CREATE TABLE IF NOT EXISTS users (
        name VARCHAR PRIMARY KEY, role VARCHAR NOT NULL, org VARCHAR NOT NULL,
        org_type VARCHAR NOT NULL, disabled BOOLEAN NOT NULL DEFAULT false,
        created_at TIMESTAMP, created_by VARCHAR, disabled_at TIMESTAMP, disabled_by VARCHAR)""",
    # An agency that primarily enforces immigration law (N.Y. VTL § 201(12), 625 ILCS
    # 5/6-110.3): the state rules follow the recipient, not only the declared purpose.
    "ALTER TABLE users ADD COLUMN IF NOT EXISTS immigration_agency BOOLEAN DEFAULT false",
)


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
    store.ensure("policy.users", DDL)


def get_user(store: Store, name: str) -> User | None:
    """The stored user ``name`` (disabled or not), or ``None``."""
    ensure(store)
    row = store.fetchone(
        "SELECT name, role, org, org_type, disabled, immigration_agency FROM users "
        "WHERE name = ?", [name]
    )
    if row is None:
        return None
    return User(row[0], row[1], row[2], row[3], bool(row[4]), bool(row[5]))


def list_users(store: Store) -> list[User]:
    ensure(store)
    rows = store.fetchall(
        "SELECT name, role, org, org_type, disabled, immigration_agency FROM users ORDER BY name"
    )
    return [User(r[0], r[1], r[2], r[3], bool(r[4]), bool(r[5])) for r in rows]


def count(store: Store) -> int:
    """How many users exist (none: the first may be added without an actor)."""
    ensure(store)
    return int(store.scalar("SELECT count(*) FROM users"))


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
    ensure(store)
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
    with store.transaction():
        if get_user(store, name) is not None:
            raise UserError(f"user {name!r} exists")
        other = store.scalar("SELECT name FROM users WHERE lower(name) = lower(?)", [name])
        if other is not None:  # a name made before names were lower-case only
            raise UserError(f"user {name!r} would pass for the existing user {other!r}")
        # An organisation is of one type: the rules that read org_type (DPPA (b)(1), GLBA
        # (e)(5), FCRA (a)(4)-(6), 1681f: government only) would otherwise follow whichever
        # user of a private company was added as "government".
        known = store.fetchone(
            "SELECT org_type FROM users WHERE org = ? AND org_type <> ? LIMIT 1", [org, org_type]
        )
        if known is not None:
            raise UserError(f"organisation {org!r} is {known[0]!r}, not {org_type!r}")
        if store.fetchone(
            "SELECT 1 FROM users WHERE org = ? AND coalesce(immigration_agency, false) <> ?",
            [org, immigration_agency],
        ):
            what = "is" if not immigration_agency else "is not"
            raise UserError(f"organisation {org!r} {what} an immigration agency "
                            "(--immigration-agency must match its other users)")
        store.execute(
            "INSERT INTO users (name, role, org, org_type, disabled, created_at, created_by, "
            "immigration_agency) VALUES (?, ?, ?, ?, false, ?, ?, ?)",
            [name, role, org, org_type, clock.now_naive(), actor, immigration_agency],
        )
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
    ensure(store)
    if decision is not None:
        actor = decision.actor
    with store.transaction():
        if get_user(store, name) is None:
            raise UserError(f"no user {name!r}")
        store.execute(
            "UPDATE users SET disabled = true, disabled_at = ?, disabled_by = ? WHERE name = ?",
            [clock.now_naive(), actor, name],
        )
        record(store, decision.entry("ok", detail={"user": name}) if decision is not None
               else _entry(store, actor, "users.disable", {"user": name}))
