"""The demo's principals: one clearly named user for each role and a case, made when a
data dir has no users yet (``idgraph demo``), each by an audited act like any other; and
their logins for the web UI the demo serves.

The demo's passwords are derived from a secret key kept beside the store
(``Store.secret("demo-passwords")``, a 0600 file): the same data dir prints the same
logins on every run, and nothing but the digest of each is stored. A password is set
only while its user has none (a user who changed theirs keeps it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from idgraph.app.context import Caller, Env
from idgraph.policy.credentials import password_hash

ADMIN: Final = "demo_admin"
INVESTIGATOR: Final = "demo_det"
CASE: Final = "DEMO-1"
PURPOSE: Final = "criminal_investigation"
CLAIMS: Final = ("DPPA-b1", "GLBA-e8")

# (name, role, organisation): one user for each role, in two organisations plus an
# inspector general's office, so the UI shows each role's pages.
USERS: Final[tuple[tuple[str, str, str], ...]] = (
    (ADMIN, "admin", "demo-ops"),
    (INVESTIGATOR, "investigator", "demo-pd"),
    ("demo_sup", "supervisor", "demo-pd"),
    ("demo_records", "records_officer", "demo-pd"),
    ("demo_counsel", "counsel", "demo-pd"),
    ("demo_overseer", "overseer", "demo-oig"),
)


@dataclass(frozen=True, slots=True)
class Login:
    """A demo user's login as printed by ``idgraph demo`` (the password may have been
    changed since: ``changed`` is then True and ``password`` is not shown)."""

    name: str
    role: str
    org: str
    password: str
    changed: bool


def ensure_demo_users(env: Env) -> bool:
    """Make the demo's users and case when the data dir has no users; False when it has
    users but not the demo's (the example search is then left to the reader)."""
    from idgraph.app import admin  # admin acts are above the data acts this module serves
    from idgraph.app import cases as app_cases

    known = set(env.registry().users)
    if not known:
        admin.add_user(env, Caller(ADMIN), ADMIN, "admin", "demo-ops", org_type="government")
        known.add(ADMIN)
    if ADMIN not in known:
        return False
    for name, role, org in USERS:
        if name not in known:
            admin.add_user(env, Caller(ADMIN), name, role, org, org_type="government")
    env.refresh()
    if CASE not in env.registry().cases:
        app_cases.open_case(env, Caller(INVESTIGATOR), CASE, title="demo: burglary series",
                        kind="criminal")
    return True


def _password(env: Env, name: str) -> str:
    key = env.store.secret("demo-passwords")
    digest = hmac.new(key, name.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:15]).decode().lower()  # 24 letters and digits


def demo_logins(env: Env) -> list[Login]:
    """The demo users' logins, setting each password that is not set yet (as
    ``demo_admin``, an audited ``users.passwd`` act); users who changed theirs keep it."""
    from idgraph.app import auth

    logins: list[Login] = []
    users = env.registry().users
    for name, role, org in USERS:
        if name not in users:
            continue
        password = _password(env, name)
        stored = password_hash(env.store, name)
        if stored is None:
            auth.set_password(env, Caller(ADMIN, via="cli"), name, password)
        changed = stored is not None and not _same(stored, password)
        logins.append(Login(name, role, org, "" if changed else password, changed))
    return logins


def _same(stored: str, password: str) -> bool:
    try:
        return PasswordHasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
