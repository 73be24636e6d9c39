"""The demo's last step: a lawful search from partial facts and the profile of its first hit.

The demo data dir gets two clearly named users when it has none yet (``demo_admin``, the
first user, and ``demo_det``, an investigator of ``demo-pd``) and a criminal case
``DEMO-1``; both acts are audited like any other. The person searched for is one of the
synthetic population's (the first New York DMV record with a birth date), asked for the
way an investigator would: surname first, with the birth year only. The search and the
profile go through the same gate, scope, minimisation and audit as the CLI commands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from rich.markup import escape

from idgraph.cases import get_case, open_case
from idgraph.cli.access import render_profile
from idgraph.cli.common import console
from idgraph.cli.search import render_search
from idgraph.policy import users as users_lib
from idgraph.policy.profile import AccessDenied, read_profile
from idgraph.policy.registry import Registry
from idgraph.schema import Query
from idgraph.search.criteria import parse_criteria
from idgraph.search.find import find
from idgraph.settings import Settings
from idgraph.store import Store

ADMIN: Final = "demo_admin"
INVESTIGATOR: Final = "demo_det"
CASE: Final = "DEMO-1"
PURPOSE: Final = "criminal_investigation"
CLAIMS: Final = ("DPPA-b1", "GLBA-e8")


@dataclass(frozen=True, slots=True)
class Example:
    name: str  # as typed: surname first
    birth_year: int


def example_person(store: Store) -> Example | None:
    """A person to look for: the first New York DMV record (by record id) with a name and
    a birth date, read surname first with the year only."""
    row = store.fetchone(
        """SELECT last_name, first_name, year(dob) FROM records
           WHERE is_current AND source_id = 'ny_dmv' AND dob IS NOT NULL
             AND first_name IS NOT NULL AND last_name IS NOT NULL
           ORDER BY record_id LIMIT 1"""
    )
    if row is None:
        return None
    return Example(f"{row[0]} {row[1]}", int(row[2]))


def ensure_demo_users(store: Store) -> bool:
    """Make the demo's users and case when the data dir has no users; False when it has
    users but not the demo's (the example search is then left to the reader)."""
    known = {u.name for u in users_lib.list_users(store)}
    if not known:
        users_lib.add_user(store, ADMIN, "admin", "demo-ops", org_type="government")
        known.add(ADMIN)
    if INVESTIGATOR not in known:
        if ADMIN not in known:
            return False
        users_lib.add_user(store, INVESTIGATOR, "investigator", "demo-pd",
                           org_type="government", actor=ADMIN)
    if get_case(store, CASE) is None:
        open_case(store, CASE, title="demo: burglary series", kind="criminal",
                  actor=INVESTIGATOR)
    return True


def run_example_search(store: Store, settings: Settings) -> None:
    """Search for one person of the demo population and print the first hit's profile."""
    person = example_person(store)
    if person is None:
        console.print("no New York DMV record with a birth date: no example search")
        return
    if not ensure_demo_users(store):
        console.print(f"this data dir has users but no {INVESTIGATOR!r}: search with "
                      "`idgraph search` as one of yours (see the README)")
        return
    query = Query(principal=INVESTIGATOR, purpose=PURPOSE, claims=CLAIMS, case_id=CASE)
    command = (f'idgraph search "{person.name}" --dob {person.birth_year} --as {INVESTIGATOR} '
               f"--purpose {PURPOSE} --claims {','.join(CLAIMS)} --case {CASE}")
    console.print(escape(command), soft_wrap=True, highlight=False)
    registry = Registry(store, settings=settings)
    criteria = parse_criteria(name=person.name, dob=str(person.birth_year))
    result = find(store, query, criteria, registry=registry, limit=5)
    render_search(result)
    if not result.hits:
        return
    first = result.hits[0].identity_id
    console.print(escape(f"idgraph profile {first} --as {INVESTIGATOR} --purpose {PURPOSE} "
                         f"--claims {','.join(CLAIMS)} --case {CASE}"),
                  soft_wrap=True, highlight=False)
    try:
        render_profile(read_profile(store, query, first, registry=registry), console)
    except AccessDenied as exc:
        console.print(escape(f"profile refused: {', '.join(exc.rules)}"))
