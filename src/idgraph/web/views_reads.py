"""Reads of records: search, profile, associates and the explain waterfall."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request, Response

from idgraph.api.deps import get_env, locked
from idgraph.app import reads
from idgraph.app.auth import SessionState
from idgraph.web.errors import WebRoute
from idgraph.web.graph import associates_svg, waterfall_peak, weight_bar
from idgraph.web.render import fragment, page
from idgraph.web.session import with_purpose

router = APIRouter(route_class=WebRoute)

CRITERIA: Final[tuple[tuple[str, str, str], ...]] = (
    # (parameter, label, hint)
    ("name", "Name", "Any order: maria garcia, GARCIA, MARIA"),
    ("dob", "Date of birth", "1984, 1984-03, 03/07/1984"),
    ("address", "Address", "One line: 12 Main St, New York"),
    ("zip", "ZIP code", ""),
    ("phone", "Phone", ""),
    ("identifier", "SSN or licence", "CA:A1234567 for a licence"),
    ("plate", "Plate", ""),
)


SEARCH_PARAMS: Final = frozenset({key for key, _, _ in CRITERIA}
                                 | {"other_field", "other_value", "limit"})


def undeclared(request: Request) -> dict[str, str]:
    """Query parameters the search form does not declare (``?race=x``), as ``where``
    criteria, as the API takes them: the gate decides each (a protected attribute refuses
    the whole search) and the refusal is audited. Dropped silently, they would let an
    attempt to search by race pass without a trace."""
    return {k.strip(): v.strip() for k, v in request.query_params.items()
            if k not in SEARCH_PARAMS}


def _is_htmx(request: Request) -> bool:
    return (request.headers.get("HX-Request") == "true"
            and request.headers.get("HX-History-Restore-Request") != "true")


@router.get("/search")
def search(
    request: Request,
    state: Annotated[SessionState, Depends(with_purpose)],
    name: str = "",
    dob: str = "",
    address: str = "",
    zip: str = "",
    phone: str = "",
    identifier: str = "",
    plate: str = "",
    other_field: str = "",
    other_value: str = "",
    limit: int = 10,
) -> Response:
    given = {"name": name, "dob": dob, "address": address, "zip": zip, "phone": phone,
             "identifier": identifier, "plate": plate}
    given = {k: v.strip() for k, v in given.items()}
    where = undeclared(request)
    if other_field.strip():
        where[other_field.strip()] = other_value.strip()
    result = None
    if any(given.values()) or where:
        env = get_env(request)
        with locked(env):
            result = reads.search(env, state.caller, where=where, limit=limit,
                                  **{k: v or None for k, v in given.items()})
    context: dict[str, Any] = {"result": result, "given": given, "other_field": other_field,
               "other_value": other_value, "criteria": CRITERIA}
    if _is_htmx(request):
        return fragment("search_results.html.j2", **context)
    return page(request, "search.html.j2", state, **context)


@router.get("/identities/{identity_id}")
def profile(
    request: Request,
    identity_id: str,
    state: Annotated[SessionState, Depends(with_purpose)],
    anchor: str | None = None,
) -> Response:
    env = get_env(request)
    with locked(env):
        result = reads.profile(env, state.caller, identity_id, anchor=anchor)
    withheld = {s: o for s, o in result.sources.items() if not o.included}
    shown = {s: o for s, o in result.sources.items() if o.included}
    return page(request, "profile.html.j2", state, p=result, withheld=withheld, shown=shown)


@router.get("/identities/{identity_id}/associates")
def associates(
    request: Request,
    identity_id: str,
    state: Annotated[SessionState, Depends(with_purpose)],
) -> Response:
    env = get_env(request)
    with locked(env):
        result = reads.associates(env, state.caller, identity_id)
    return page(request, "associates.html.j2", state, a=result, graph=associates_svg(result))


@router.get("/explain")
def explain(
    request: Request,
    state: Annotated[SessionState, Depends(with_purpose)],
    a: str = "",
    b: str = "",
) -> Response:
    ex = None
    if a.strip() and b.strip():
        env = get_env(request)
        with locked(env):
            ex = reads.explain(env, state.caller, a.strip(), b.strip())
    peak = waterfall_peak(ex["features"], ex.get("prior_weight")) if ex else 1.0
    return page(request, "explain.html.j2", state, ex=ex, a=a, b=b, peak=peak,
                bar=weight_bar)
