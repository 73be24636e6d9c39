"""Fixture builders for the authentication tests (synthetic users, cases, legal process).

Rows are written straight into the registry tables: these tests are about
authentication, not about the audited acts that would normally add them.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from app_backend import new_store

from idgraph import clock
from idgraph.app import auth
from idgraph.app.context import Caller, Env
from idgraph.policy import credentials as creds
from idgraph.settings import Settings
from idgraph.store import Store

# name -> (role, org, org_type)
USERS: dict[str, tuple[str, str, str]] = {
    "root": ("admin", "ops", "government"),
    "gov": ("investigator", "ice", "government"),
    "off": ("investigator", "ice", "government"),
    "pi": ("investigator", "acme", "private"),
    "chief": ("supervisor", "ice", "government"),
}
# case id -> (kind, org, status)
CASES: dict[str, tuple[str, str, str]] = {
    "C1": ("criminal", "ice", "open"),
    "C2": ("criminal", "ice", "closed"),
    "P1": ("civil", "acme", "open"),
}
# a legal-process document of ice under C1, and one of acme under P1
LEGAL: dict[str, tuple[str, str]] = {"L-ICE": ("C1", "ice"), "L-ACME": ("P1", "acme")}

PASSWORD = "correct horse battery staple"  # synthetic
ROOT_PASSWORD = "root's own long passphrase"  # synthetic


def new_env(tmp: Path) -> Env:
    store = new_store()
    seed(store)
    return Env(store=store, settings=Settings(data_dir=tmp))


def seed(store: Store) -> None:
    now = clock.now_naive()
    for name, (role, org, org_type) in USERS.items():
        store.execute(
            "INSERT INTO users (name, role, org, org_type, disabled, created_at, created_by) "
            "VALUES (?, ?, ?, ?, false, ?, 'test')",
            [name, role, org, org_type, now],
        )
    for case_id, (kind, org, status) in CASES.items():
        store.execute(
            "INSERT INTO cases (case_id, title, status, kind, org, opened_by, opened_at) "
            "VALUES (?, ?, ?, ?, ?, 'test', ?)",
            [case_id, case_id, status, kind, org, now],
        )
    for legal_id, (case_id, org) in LEGAL.items():
        store.execute(
            "INSERT INTO legal_process (legal_id, type, number, level, issuer, issued, case_id, "
            "org, registered_by) VALUES (?, 'court_order', ?, 'state', 'court', ?, ?, ?, 'test')",
            [legal_id, legal_id, date(2026, 1, 1), case_id, org],
        )


@cache
def _hash(password: str) -> str:
    return auth._HASHER.hash(password)


def give_password(env: Env, name: str, password: str = PASSWORD) -> None:
    """Store ``name``'s password hash directly (no act, no audit; one hash per password
    for the whole run, to keep the tests quick)."""
    creds.put_password_hash(env.store, name, _hash(password), by="test", at=clock.now_naive())


def disable(env: Env, name: str) -> None:
    env.store.execute("UPDATE users SET disabled = true, disabled_at = ? WHERE name = ?",
                      [clock.now_naive(), name])
    env.refresh()


def enable(env: Env, name: str) -> None:
    """What no command does today: enable a disabled user again."""
    env.store.execute("UPDATE users SET disabled = false WHERE name = ?", [name])
    env.refresh()


def caller(name: str, via: str = "cli") -> Caller:
    return Caller(actor=name, via=via)


def audit_rows(env: Env, action: str | None = None) -> list[dict[str, Any]]:
    rows = env.store.fetchall("SELECT entry FROM audit_log ORDER BY seq")
    entries = [json.loads(r[0]) for r in rows]
    return [e for e in entries if action is None or e["action"] == action]


def audit_text(env: Env) -> str:
    return "\n".join(r[0] for r in env.store.fetchall("SELECT entry FROM audit_log"))


def every_cell(env: Env) -> str:
    """Every value of every table of the store, as text (to look for stored secrets)."""
    out: list[str] = []
    for (table,) in env.store.fetchall(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    ):
        for row in env.store.fetchall(f'SELECT * FROM "{table}"'):
            out.append(" ".join(str(v) for v in row))
    return "\n".join(out)


def at(t: datetime) -> Any:
    return clock.frozen(t)
