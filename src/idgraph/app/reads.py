"""Reads of records: search, profile, explain, associates and bulk match.

Each read keeps its own gate in the library below (``policy.allowed`` before any record
is read, a response entry in the audit log for every outcome): these functions pass
the caller's :class:`~idgraph.schema.Query` (:meth:`Caller.query`, which needs a
purpose) and turn the library's exceptions into :mod:`idgraph.app.errors`:

- a refusal by the policy layer (already audited) -> :class:`Denied` with its rules and,
  in ``errors``, one row per source decided (``source``, ``permitted``, ``rules``);
- a criterion, a mapping or a list that cannot be used -> :class:`Invalid` naming the
  field (a bad criterion is still decided and audited first: an attempt to search by a
  protected attribute leaves a trace whatever else is wrong);
- an unknown record -> :class:`NotFound`;
- no identity graph, no search index, no model yet -> :class:`Conflict` (run
  ``resolve`` / ``index rebuild`` first).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from idgraph.app.context import Caller, Env
from idgraph.app.errors import AppError, Conflict, Denied, Invalid, NotFound
from idgraph.audit import record
from idgraph.cases import get_case
from idgraph.link.score import ModelError
from idgraph.policy.explain import read_explanation
from idgraph.policy.profile import AccessDenied, Profile, read_profile
from idgraph.policy.users import get_user
from idgraph.policy.view import GraphMissing
from idgraph.schema import Query
from idgraph.search.associates import AssociatesResult
from idgraph.search.associates import associates as find_associates
from idgraph.search.criteria import Criteria, CriteriaError, parse_criteria
from idgraph.search.demo import example_person as _example_person
from idgraph.search.find import (
    Engine,
    SearchIndexMissing,
    SearchResult,
    find,
    refuse_criteria,
)
from idgraph.search.index import SearchIndexError, store_markers
from idgraph.search.match import (
    OUTPUT_COLUMNS,
    THRESHOLD,
    MatchError,
    MatchResult,
    download_entry,
    load_mapping,
    match_list,
    refuse_mapping,
    row_dicts,
)
from idgraph.sources.readers import FileRejected

__all__ = [
    "MATCH_COLUMNS",
    "AssociatesResult",
    "MatchResult",
    "Profile",
    "SearchResult",
    "associates",
    "denied_from",
    "example_person",
    "explain",
    "match",
    "match_csv",
    "match_download",
    "match_rows",
    "profile",
    "search",
]


def _query(caller: Caller) -> Query:
    """The caller's query (a purpose is required), carrying the shell it came through
    and the API token it used into the read's audit entries (``detail.via``,
    ``detail.token_id``)."""
    query = caller.query()
    shell = {"via": caller.via, "token_id": caller.token_id}
    if all(getattr(query, k) == v for k, v in shell.items()):
        return query
    return query.model_copy(update=shell)


def denied_from(exc: AccessDenied) -> Denied:
    """The app's refusal for the policy layer's: its rules, and one row per source."""
    rows = [{"source": s, "permitted": ok, "rules": list(rules)}
            for s, ok, rules in exc.breakdown()]
    return Denied(f"denied by {', '.join(exc.rules)}", rules=exc.rules, errors=rows)


_STATE = (GraphMissing, SearchIndexMissing, SearchIndexError, ModelError)


@contextmanager
def _mapped() -> Iterator[None]:
    """Library exceptions of a read -> app errors (see module doc)."""
    try:
        yield
    except AppError:
        raise
    except AccessDenied as exc:
        raise denied_from(exc) from exc
    except CriteriaError as exc:
        raise Invalid(str(exc), field=exc.field) from exc
    except MatchError as exc:
        raise Invalid(str(exc), field="mapping",
                      errors=[{"field": f} for f in exc.fields]) from exc
    except FileRejected as exc:
        raise Invalid(str(exc), field="list") from exc
    except _STATE as exc:
        raise Conflict(str(exc)) from exc
    except (KeyError, LookupError) as exc:
        raise NotFound(str(exc.args[0]) if exc.args else str(exc)) from exc


# One engine (index reader and scorers) per store, reused while the store's markers
# (current records, batches, link runs, lineage, tombstones) are those it was made at:
# an ingest, resolve, attach or retention run makes the next search open a new one.
_ENGINES: dict[int, tuple[Any, dict[str, int], Engine]] = {}


def _engine(env: Env) -> tuple[Engine, dict[str, int]]:
    """The cached engine of ``env``'s store and the store's markers just read (the
    search passes them on, so the index's staleness check does not read them again)."""
    markers = store_markers(env.store)
    held = _ENGINES.get(id(env.store))
    if held is not None and held[0] is env.store and held[1] == markers:
        return held[2], markers
    engine = Engine.open(env.store)
    if len(_ENGINES) >= 8:  # stores of processes long gone (tests open many)
        _ENGINES.clear()
    _ENGINES[id(env.store)] = (env.store, markers, engine)
    return engine, markers


def forget_engine(env: Env) -> None:
    """Drop the engine cached for ``env`` (its store is closing, or its index changed)."""
    _ENGINES.pop(id(env.store), None)


def search(
    env: Env,
    caller: Caller,
    *,
    name: str | None = None,
    dob: str | None = None,
    address: str | None = None,
    zip: str | None = None,
    phone: str | None = None,
    identifier: str | None = None,
    plate: str | None = None,
    where: Mapping[str, str] | None = None,
    limit: int = 10,
) -> SearchResult:
    """Ranked identities for partial facts, as ``caller`` may see them; one audited
    act. ``where``: other criteria by field name, each decided by the gate (a protected
    attribute refuses the whole search; one the search cannot use is refused too)."""
    query = _query(caller)
    if not 1 <= limit <= 1000:
        raise Invalid("limit must be between 1 and 1000", field="limit")
    given = {"name": name, "dob": dob, "address": address, "zip": zip, "phone": phone,
             "identifier": identifier, "plate": plate}
    extra = dict(where or {})
    store, registry = env.store, env.registry()
    with _mapped():
        try:
            criteria = parse_criteria(name=name, dob=dob, address=address, zip=zip,
                                      phone=phone, identifier=identifier, plate=plate)
        except CriteriaError as exc:
            if not (extra and exc.field == "criteria"):
                # decided and audited all the same: a bad date beside where race=...
                # must not hide the attempt (raises Denied, or the criterion's error)
                refuse_criteria(store, query, [k for k, v in given.items() if v], extra, exc,
                                registry=registry)
            criteria = Criteria()  # the where criteria alone: the gate decides them
        engine, markers = (None, None) if extra else _engine_or_none(env)  # extra: refused
        return find(store, query, criteria, limit=limit, extra=extra, registry=registry,
                    engine=engine, markers=markers)


def _engine_or_none(env: Env) -> tuple[Engine | None, dict[str, int] | None]:
    """The cached engine and the markers; None when there is no index (``find`` then
    raises, audited)."""
    try:
        return _engine(env)
    except SearchIndexMissing:
        return None, None


def profile(env: Env, caller: Caller, identity_id: str, *, anchor: str | None = None) -> Profile:
    """The profile of an identity as ``caller`` may see it (records by source, withheld
    sources with their rules, notices owed); one audited act. ``anchor``: a record id
    whose component of the purpose-scoped view is read."""
    query = _query(caller)
    with _mapped():
        return read_profile(env.store, query, identity_id, registry=env.registry(),
                            anchor=anchor)


def explain(env: Env, caller: Caller, record_a: str, record_b: str) -> dict[str, Any]:
    """The waterfall of match weights for two records (a policy-checked read)."""
    query = _query(caller)
    with _mapped():
        return read_explanation(env.store, query, record_a, record_b, registry=env.registry())


def associates(env: Env, caller: Caller, identity_id: str) -> AssociatesResult:
    """Identities sharing an address (at overlapping dates), a phone or a plate."""
    query = _query(caller)
    with _mapped():
        return find_associates(env.store, query, identity_id, registry=env.registry())


def match(
    env: Env,
    caller: Caller,
    list_path: Path,
    mapping_path: Path,
    *,
    on_rows: Callable[[int], None] | None = None,
    threshold: float = THRESHOLD,
) -> MatchResult:
    """The best identity per row of a list (or none); one decision, one audited act.
    Needs an open case (``caller.case_id``). A mapping naming a protected attribute is
    decided and audited before it is refused."""
    query = _query(caller)
    if not 0.0 <= threshold <= 1.0:
        raise Invalid("threshold must be between 0 and 1", field="threshold")
    with _mapped():
        try:
            manifest = load_mapping(mapping_path, list_path)
        except MatchError as exc:
            if exc.fields:  # race, religion, ...: decided and audited before the refusal
                refuse_mapping(env.store, query, exc, registry=env.registry())
            raise
        if query.case_id is None:
            raise Invalid("a bulk match needs a case (--case)", field="case_id")
        return match_list(env.store, query, list_path, manifest, threshold=threshold,
                          registry=env.registry(), on_rows=on_rows,
                          engine=_engine_or_none(env)[0])


MATCH_COLUMNS: tuple[str, ...] = tuple(OUTPUT_COLUMNS)  # a match result's CSV columns


def match_rows(result: MatchResult) -> Iterator[dict[str, Any]]:
    """One row per input row of a match (:data:`MATCH_COLUMNS`), as the CSV holds it."""
    return row_dicts(result)


# Why a download of match results is refused (each audited as a deny naming the rule).
OWNER_RULE = "match.download_owner"  # only who ran the match
ACTIVE_RULE = "match.download_active"  # a user disabled since
CASE_RULE = "match.download_case_open"  # the match's case closed since


def _download_refusal(env: Env, caller: Caller, result: MatchResult) -> tuple[str, str] | None:
    """(rule, reason) refusing ``caller`` the results, or None."""
    if caller.actor != result.query.principal:
        return OWNER_RULE, "only the user who ran a match may download its results"
    user = get_user(env.store, caller.actor)
    if user is None or not user.active:
        return ACTIVE_RULE, f"{caller.actor!r} is not an active user"
    case_id = result.query.case_id
    case = get_case(env.store, case_id) if case_id else None
    if case is None or not case.is_open:
        return CASE_RULE, f"the match's case {case_id!r} is not open: its results are withheld"
    return None


def results_withheld(env: Env, caller: Caller, result: MatchResult) -> str | None:
    """Why ``caller`` may not see ``result``'s rows now (None: they may): the same
    refusals as :func:`match_download` (another user, a user disabled since, a closed
    case), for a shell that shows rows on a page rather than in a download."""
    refusal = _download_refusal(env, caller, result)
    return None if refusal is None else f"{refusal[1]} ({refusal[0]})"


def match_download(
    env: Env, caller: Caller, result: MatchResult, *, job: str | None = None,
) -> Iterator[dict[str, Any]]:
    """The rows of a match's results for a download, audited (``match.download``: the
    identities and records they disclose, ``via``, ``token_id``) before any row is
    handed out (``job``: the shell's job id, named in the entry). Refused (Denied,
    audited) to anyone but who ran the match, to a user disabled since, and once the
    match's case is closed."""
    detail = {k: v for k, v in (("via", caller.via), ("token_id", caller.token_id),
                                ("job", job)) if v}
    reg = env.registry()
    refusal = _download_refusal(env, caller, result)
    if refusal is not None:
        rule, reason = refusal
        denied = download_entry(reg, result, caller.actor, "deny", rules=(rule,),
                                detail={**detail, "reason": reason})
        with env.store.transaction():
            record(env.store, denied)
        raise Denied(reason, rules=(rule,))
    with env.store.transaction():
        record(env.store, download_entry(reg, result, caller.actor, detail=detail))
    return match_rows(result)


def match_csv(result: MatchResult, out: TextIO) -> None:
    """Write a match's results as CSV (a header, then one row per input row; formula
    cells made inert)."""
    writer = csv.DictWriter(out, fieldnames=list(MATCH_COLUMNS))
    writer.writeheader()
    writer.writerows(match_rows(result))


def example_person(env: Env) -> tuple[str, int] | None:
    """The demo's person to look for (a name, surname first, and a birth year); no gate:
    the demo's own synthetic data only, never shown to a user of a deployment."""
    return _example_person(env.store)
