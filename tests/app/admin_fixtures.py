"""Fixtures of the admin-act tests: one user per role of one organisation (synthetic)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app_backend import new_store

from idgraph.app import Env
from idgraph.policy.users import ROLES, add_user, disable_user
from idgraph.settings import Settings
from idgraph.store import Store

ORG = "ice"
# one active user per role, named after it
ROLE_USERS: dict[str, str] = {role: role for role in ROLES}
DISABLED = "gone"  # an investigator, disabled
UNKNOWN = "ghost"  # in no users table
OPERATOR = "operator:tester"  # the local operator (role "operator", CLI only)


def seeded_store() -> Store:
    """An in-memory store with a user per role, a disabled user and a second org's user."""
    store = new_store()
    add_user(store, "admin", "admin", ORG, org_type="government")  # bootstrap
    for role, name in ROLE_USERS.items():
        if name != "admin":
            add_user(store, name, role, ORG, org_type="government", actor="admin")
    add_user(store, DISABLED, "investigator", ORG, org_type="government", actor="admin")
    disable_user(store, DISABLED, actor="admin")
    add_user(store, "pi", "investigator", "acme", actor="admin")
    return store


def env_over(store: Store, folder: Path) -> Env:
    """An environment over ``store`` with ``folder`` as its data dir (audit key, policies)."""
    return Env(store=store, settings=Settings(data_dir=folder))


def entries(store: Store) -> list[dict[str, Any]]:
    """Every audit entry, in log order."""
    return [json.loads(r[0]) for r in store.fetchall("SELECT entry FROM audit_log ORDER BY seq")]


def last_entry(store: Store) -> dict[str, Any]:
    return entries(store)[-1]
