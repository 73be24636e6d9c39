"""Principals: users with a role and an organisation, stored in the ``users`` table.

A user who is unknown or disabled is denied everything (the decision point sees an
inactive principal). The first user may be added without an actor (bootstrap);
after that only an active admin may add or disable users. Every change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from idgraph import clock
from idgraph.audit import AuditEntry, record
from idgraph.policy.names import name_problem
from idgraph.store import Store

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


def _require_admin(store: Store, actor: str | None, action: str) -> User | None:
    """The acting admin; ``None`` only while the table is empty (bootstrap). A refusal
    is audited (``action``, deny) and raised as :class:`UserRefused`."""
    if store.scalar("SELECT count(*) FROM users") == 0 and actor is None:
        return None
    user = get_user(store, actor) if actor else None
    if user is None or not user.active or user.role != "admin":
        why = f"only an active admin may manage users (acting as {actor!r})"
        with store.transaction():
            record(store, AuditEntry(
                principal=actor or "anonymous", organisation=user.org if user else None,
                role=user.role if user else None, action=action, outcome="deny",
                detail={"reason": why},
            ))
        raise UserRefused(why)
    return user


def add_user(
    store: Store,
    name: str,
    role: str,
    org: str,
    *,
    org_type: str = "private",
    actor: str | None = None,
    immigration_agency: bool = False,
) -> User:
    """Add a user; ``actor`` must be an active admin unless no user exists yet."""
    ensure(store)
    for what, value in (("user name", name), ("organisation", org)):
        problem = name_problem(what, value)
        if problem:
            raise UserError(problem)
    if name.lower() in RESERVED:  # audit entries name these as the system itself
        raise UserError(f"user name {name!r} is reserved for the system's own audit entries")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if org_type not in ORG_TYPES:
        raise UserError(f"unknown org type {org_type!r}; one of {', '.join(ORG_TYPES)}")
    admin = _require_admin(store, actor, "users.add")
    with store.transaction():
        if get_user(store, name) is not None:
            raise UserError(f"user {name!r} exists")
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
        record(
            store,
            AuditEntry(
                principal=actor or "bootstrap",
                organisation=admin.org if admin else org,
                role=admin.role if admin else None,
                action="users.add",
                outcome="ok",
                detail={"user": name, "role": role, "org": org, "org_type": org_type,
                        "immigration_agency": immigration_agency},
            ),
        )
    return User(name, role, org, org_type, immigration_agency=immigration_agency)


def disable_user(store: Store, name: str, *, actor: str | None) -> None:
    """Disable ``name``: from now on every request they make is denied."""
    ensure(store)
    admin = _require_admin(store, actor, "users.disable")
    with store.transaction():
        if get_user(store, name) is None:
            raise UserError(f"no user {name!r}")
        store.execute(
            "UPDATE users SET disabled = true, disabled_at = ?, disabled_by = ? WHERE name = ?",
            [clock.now_naive(), actor, name],
        )
        record(
            store,
            AuditEntry(
                principal=actor or "bootstrap",
                organisation=admin.org if admin else None,
                role=admin.role if admin else None,
                action="users.disable",
                outcome="ok",
                detail={"user": name},
            ),
        )
