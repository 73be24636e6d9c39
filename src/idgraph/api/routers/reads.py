"""Lawful reads: search, profile, explain, associates (each decided and audited in app/)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from idgraph.api.deps import get_env, locked, read_caller
from idgraph.api.models import AssociatesOut, ExplainOut, ProfileOut, SearchOut
from idgraph.app import reads
from idgraph.app.context import Caller

router = APIRouter(tags=["reads"])


def _where(items: list[str]) -> dict[str, str]:
    """FIELD=VALUE pairs taken as written (the gate decides, and audits, every one)."""
    out: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key.strip()] = value.strip()
    return out


SEARCH_PARAMS = frozenset({"purpose", "claims", "basis", "case_id", "name", "dob", "address",
                           "zip", "phone", "identifier", "plate", "where", "limit"})


def _undeclared(request: Request) -> dict[str, str]:
    """Query parameters the search does not declare (``?race=x``), as ``where`` criteria:
    the gate decides them (a protected attribute refuses the search; one the search cannot
    use is refused too), and the refusal is audited. Dropped silently, they would let an
    attempt to search by race pass without a trace."""
    return {k: v for k, v in request.query_params.items() if k not in SEARCH_PARAMS}


@router.get("/search", response_model=SearchOut, summary="Find identities from partial facts")
def search(
    request: Request,
    caller: Caller = Depends(read_caller),
    name: str | None = Query(None, examples=["maria garcia"], max_length=500),
    dob: str | None = Query(None, examples=["1984-03"], max_length=40),
    address: str | None = Query(None, max_length=500),
    zip: str | None = Query(None, max_length=20),
    phone: str | None = Query(None, max_length=40),
    identifier: str | None = Query(None, description="SSN or licence (CA:A123...).",
                                   max_length=100),
    plate: str | None = Query(None, max_length=20),
    where: list[str] = Query([], description="Another criterion as FIELD=VALUE; the gate "
                             "decides it (a protected attribute refuses the search). Any "
                             "other query parameter is taken as one too."),
    limit: int = Query(10, ge=1, le=1000),
) -> Any:
    """Ranked identities with a per-field explanation. The purpose (and claims, basis,
    case) decide which sources may be searched; every search is audited."""
    env = get_env(request)
    criteria = {**_where(where), **_undeclared(request)}
    with locked(env):
        result = reads.search(env, caller, name=name, dob=dob, address=address, zip=zip,
                              phone=phone, identifier=identifier, plate=plate,
                              where=criteria or None, limit=limit)
    return result.to_dict()


@router.get("/identities/{identity_id}", response_model=ProfileOut,
            summary="The profile of one identity")
def profile(
    request: Request,
    identity_id: str,
    caller: Caller = Depends(read_caller),
    anchor: str | None = Query(None, description="A record id the identity must hold.",
                               max_length=300),
) -> Any:
    """Records by source with provenance; a withheld source is named with its rule."""
    env = get_env(request)
    with locked(env):
        result = reads.profile(env, caller, identity_id, anchor=anchor)
    return result.to_dict()


@router.get("/identities/{identity_id}/associates", response_model=AssociatesOut,
            summary="Identities sharing an address, a phone or a plate")
def associates(request: Request, identity_id: str,
               caller: Caller = Depends(read_caller)) -> Any:
    env = get_env(request)
    with locked(env):
        result = reads.associates(env, caller, identity_id)
    return result.to_dict()


@router.get("/explain", response_model=ExplainOut, summary="Why two records link (or not)")
def explain(
    request: Request,
    record_a: str = Query(..., min_length=1, max_length=300, examples=["ny_dmv/991"]),
    record_b: str = Query(..., min_length=1, max_length=300, examples=["court/12"]),
    caller: Caller = Depends(read_caller),
) -> Any:
    env = get_env(request)
    with locked(env):
        return reads.explain(env, caller, record_a, record_b)
