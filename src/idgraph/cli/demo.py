"""The demo's last step: a lawful search from partial facts and the profile of its first hit.

The demo data dir gets two clearly named users when it has none yet (``demo_admin``, the
first user, and ``demo_det``, an investigator of ``demo-pd``) and a criminal case
``DEMO-1`` (:func:`idgraph.app.demo.ensure_demo_users`); both acts are audited like any
other. The person searched for is one of the synthetic population's (the first New York
DMV record with a birth date), asked for the way an investigator would: surname first,
with the birth year only. The search and the profile go through the same gate, scope,
minimisation and audit as the CLI commands.
"""

from __future__ import annotations

from rich.markup import escape

from idgraph.app import reads
from idgraph.app.context import Caller, Env
from idgraph.app.demo import (
    CASE,
    CLAIMS,
    INVESTIGATOR,
    PURPOSE,
    demo_logins,
    ensure_demo_users,
)
from idgraph.app.errors import AppError, Denied
from idgraph.cli.access import render_profile
from idgraph.cli.common import console
from idgraph.cli.search import render_search
from idgraph.cli.shell import app_exit


def run_example_search(env: Env) -> None:
    """Search for one person of the demo population and print the first hit's profile."""
    person = reads.example_person(env)
    if person is None:
        console.print("no New York DMV record with a birth date: no example search")
        return
    try:
        ready = ensure_demo_users(env)
    except AppError as exc:
        raise app_exit(exc) from exc
    if not ready:
        console.print(f"this data dir has users but no {INVESTIGATOR!r}: search with "
                      "`idgraph search` as one of yours (see the README)")
        return
    name, year = person
    caller = Caller(INVESTIGATOR, purpose=PURPOSE, claims=CLAIMS, case_id=CASE, via="cli")
    command = (f'idgraph search "{name}" --dob {year} --as {INVESTIGATOR} '
               f"--purpose {PURPOSE} --claims {','.join(CLAIMS)} --case {CASE}")
    console.print(escape(command), soft_wrap=True, highlight=False)
    try:
        result = reads.search(env, caller, name=name, dob=str(year), limit=5)
    except AppError as exc:
        raise app_exit(exc) from exc
    render_search(result)
    if not result.hits:
        return
    first = result.hits[0].identity_id
    console.print(escape(f"idgraph profile {first} --as {INVESTIGATOR} --purpose {PURPOSE} "
                         f"--claims {','.join(CLAIMS)} --case {CASE}"),
                  soft_wrap=True, highlight=False)
    try:
        render_profile(reads.profile(env, caller, first), console)
    except Denied as exc:
        console.print(escape(f"profile refused: {', '.join(exc.rules)}"))
    except AppError as exc:
        raise app_exit(exc) from exc


def login_banner(env: Env, url: str) -> list[str]:
    """The lines printed before the demo serves its UI: the URL and one login per role."""
    try:
        ready = ensure_demo_users(env)
        logins = demo_logins(env) if ready else []
    except AppError as exc:
        raise app_exit(exc) from exc
    if not logins:
        return [f"open {url} and log in as one of this data dir's users"]
    width = max(len(x.name) for x in logins)
    lines = [f"open {url} and log in as one of these demo users (one per role):"]
    for x in logins:
        shown = "(changed since; not shown)" if x.changed else x.password
        lines.append(f"  {x.name:<{width}}  {shown:<26}  {x.role} of {x.org}")
    lines.append(f"then choose a purpose ({PURPOSE} under case {CASE}, claims "
                 f"{', '.join(CLAIMS)}) and search; the passwords come from "
                 "a key beside the store (the same on every run of this data dir)")
    return lines
