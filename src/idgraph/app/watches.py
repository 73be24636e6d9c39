"""Watches and alerts: the acts (``watch.create``, ``watch.list``, ``watch.cancel``,
``alerts.read``), each decided by Cedar and audited (:func:`authorise_and_audit`).

Creating a watch is also checked against the case it names, as a read would be at the
gate: the case is open and the caller's organisation's, the purpose is catalogued and
fits the case's kind and the organisation's type, the claimed codes are known, the
legal process (if named) is the organisation's, registered to this case and in force,
the criteria (if any) are attributes a search may use. A misfit is refused (``Denied``,
audited) or invalid (``Invalid``). The alerts themselves are decided per record by the
read gate when records arrive (:mod:`idgraph.monitor.alerts`).

Importing this module registers the alert listener on
:func:`idgraph.monitor.events.record_joined`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import Any, Final

from idgraph import clock
from idgraph.app.context import Caller, Env
from idgraph.app.errors import Conflict, Denied, Invalid, NotFound
from idgraph.app.gate import authorise_and_audit
from idgraph.audit import AuditEntry, record
from idgraph.cases import get_case
from idgraph.monitor import alerts as alerts_mod
from idgraph.monitor import delivery
from idgraph.monitor import watches as watches_mod
from idgraph.monitor.alerts import Alert, DeadLetter
from idgraph.monitor.watches import Deconfliction, Watch
from idgraph.policy import credentials as creds
from idgraph.policy.fields import filter_name, refused_filters
from idgraph.policy.legal import get_legal

MAX_DAYS: Final[int] = 365  # a watch is renewed, not left standing for ever
# A criteria watch is a standing read about someone: at least one criterion must narrow
# it to a person (a sex, a state, a city or a first name alone is everyone: a dragnet,
# as a match row must name someone too: search.match._USABLE).
PERSON_CRITERIA: Final[frozenset[str]] = frozenset({
    "last_name", "full_name", "dob", "ssn", "dl_number", "plate", "phone", "email",
    "case_number",
})
CRITERIA_RULE: Final[str] = "watch.criteria_names_a_person"
RECHECK_SECONDS: Final[float] = 5.0  # an open stream's credential is checked this often

__all__ = [
    "Alert",
    "DeadLetter",
    "Deconfliction",
    "Watch",
    "alert_stream",
    "cancel_watch",
    "create_watch",
    "list_alerts",
    "list_dead_letters",
    "list_deconflictions",
    "list_watches",
    "listen",
    "stream_standing",
]


def listen() -> None:
    """Have new records tested against the watches (the alert listener on
    ``monitor.events``; idempotent). Importing this module does it too; a shell that
    serves feeds calls it again, so nothing that unregistered the listener in the same
    process leaves a server that stores records but raises no alerts."""
    alerts_mod.install()


listen()


def _org_role(env: Env, caller: Caller) -> tuple[str, str, str]:
    user = env.registry().users.get(caller.actor)
    if user is None:  # the gate refused unknown principals already
        raise Denied(f"{caller.actor!r} is not a user")
    return user.org, user.role, user.org_type


def _check(env: Env, caller: Caller, *, case_id: str, purpose: str, claims: Sequence[str],
           basis: str | None, expires: date, criteria: Mapping[str, str] | None) -> None:
    """The watch's reading context must hold as a read's would (see module doc)."""
    reg = env.registry()
    org, _, org_type = _org_role(env, caller)
    case = get_case(env.store, case_id)
    if case is None or case.org != org:
        raise NotFound(f"no case {case_id!r} in {org!r}")
    if not case.is_open:
        raise Conflict(f"case {case_id!r} is closed")
    if reg.catalogue.purpose(purpose) is None:
        raise Invalid(f"unknown purpose {purpose!r}", field="purpose")
    if not reg.catalogue.fits(purpose, case.kind):
        raise Denied(f"purpose {purpose!r} does not fit a {case.kind} case",
                     rules=("base.case_kind_fits",))
    if not reg.catalogue.org_type_fits(purpose, org_type):
        raise Denied(f"a {org_type} organisation may not declare {purpose!r}",
                     rules=("base.purpose_org_type",))
    unknown = reg.catalogue.unknown_codes(tuple(claims))
    if unknown:
        raise Invalid(f"unknown claimed codes: {', '.join(unknown)}", field="claims")
    today = clock.today()
    if expires <= today:
        raise Invalid("a watch expires after today", field="expires")
    if expires > today + timedelta(days=MAX_DAYS):
        raise Invalid(f"a watch runs at most {MAX_DAYS} days", field="expires")
    if basis is not None:
        doc = get_legal(env.store, basis)
        if doc is None or doc.org != org:
            raise NotFound(f"no document {basis!r} in {org!r}")
        if doc.case_id != case_id:
            raise Denied(f"document {basis!r} is not registered to case {case_id!r}",
                         rules=("base.basis_registered",))
        if not doc.in_force(today):
            raise Conflict(f"document {basis!r} is not in force")
    if criteria is not None:
        if not criteria or not all(str(v).strip() for v in criteria.values()):
            raise Invalid("criteria need at least one non-empty value", field="criteria")
        if not all(any(ch.isalnum() for ch in str(v)) for v in criteria.values()):
            # compared with punctuation folded away: "---" would match every empty field
            raise Invalid("each criterion needs a letter or digit", field="criteria")
        refused = refused_filters(list(criteria))
        if refused:
            raise Denied(f"not a search criterion: {', '.join(refused)}",
                         rules=("base.filters_allowed",))
        if not PERSON_CRITERIA & {filter_name(k) for k in criteria}:
            raise Denied("the criteria names no person: give a last or full name or an "
                         f"identifier ({', '.join(sorted(PERSON_CRITERIA))})",
                         rules=(CRITERIA_RULE,))


def _criteria(criteria: Mapping[str, str] | None) -> dict[str, str] | None:
    """The criteria keyed by the field each names (``Last-Name`` -> ``last_name``), as
    they are checked: stored and matched so, never as given."""
    if criteria is None:
        return None
    out: dict[str, str] = {}
    for key, value in criteria.items():
        name = filter_name(key)
        if name in out:
            raise Invalid(f"criteria name {name!r} twice", field="criteria")
        out[name] = value
    return out


def create_watch(
    env: Env,
    caller: Caller,
    *,
    identity_id: str | None = None,
    criteria: Mapping[str, str] | None = None,
    case_id: str,
    purpose: str,
    claims: Sequence[str] = (),
    basis: str | None = None,
    expires: date,
    webhook_url: str | None = None,
) -> Watch:
    """A standing read on an identity (or criteria) for ``case_id`` under ``purpose``;
    returned with its webhook secret (shown once). Tells every other organisation's
    standing watch on the identity, both ways (deconfliction, audited)."""
    target = identity_id or "criteria"
    with authorise_and_audit(env, caller, "watch.create", target=target,
                             case_id=case_id) as rec:
        criteria = _criteria(criteria)
        _check(env, caller, case_id=case_id, purpose=purpose, claims=claims, basis=basis,
               expires=expires, criteria=criteria)
        org, _, _ = _org_role(env, caller)
        # one watch made at a time across the processes sharing a PostgreSQL database:
        # two agencies' watches on one person made at once each see the other (deconflicted)
        env.store.lock("watches")
        try:
            watch = watches_mod.create_watch(
                env.store, owner=caller.actor, org=org, identity_id=identity_id,
                criteria=criteria, case_id=case_id, purpose=purpose, claims=claims,
                basis=basis, expires=expires, webhook_url=webhook_url,
            )
        except watches_mod.WatchError as exc:
            raise Invalid(str(exc)) from exc
        notes = watches_mod.deconflict(env.store, watch)
        rec.basis = basis
        rec.identity_ids = [identity_id] if identity_id else []
        rec.detail.update({
            "watch_id": watch.watch_id, "purpose": purpose, "claims": list(claims),
            "expires": expires.isoformat(), "webhook": bool(webhook_url),
            "criteria": sorted(criteria) if criteria else [],
            "deconflicted": sorted({n.other_watch_id for n in notes
                                    if n.watch_id == watch.watch_id}),
        })
        _audit_deconfliction(env, caller, notes)
    for note in notes:
        alerts_mod.BUS.publish(note.recipient, {"event": "deconfliction", "data": note.to_dict()},
                               key=note.notice_id)
    return watch


def _audit_deconfliction(env: Env, caller: Caller, notes: Sequence[Deconfliction]) -> None:
    """One entry per pair of watches told of each other: who was told, which orgs."""
    pairs: dict[frozenset[str], list[Deconfliction]] = {}
    for n in notes:
        pairs.setdefault(frozenset({n.watch_id, n.other_watch_id}), []).append(n)
    org, role, _ = _org_role(env, caller)
    for group in pairs.values():
        first = group[0]
        record(env.store, AuditEntry(
            principal=caller.actor, organisation=org, role=role,
            action=alerts_mod.DECONFLICT_ACTION, outcome="ok",
            identity_ids=(first.identity_id,),
            detail={
                "watches": sorted({first.watch_id, first.other_watch_id}),
                "orgs": sorted({n.org for n in group}),
                "recipients": sorted({n.recipient for n in group}),
                "notices": [n.notice_id for n in group],
                "via": caller.via,
            },
        ))


def list_watches(env: Env, caller: Caller, *, status: str | None = None) -> list[Watch]:
    """Watches the caller may see: an investigator their own, a supervisor their
    organisation's, an overseer every organisation's."""
    with authorise_and_audit(env, caller, "watch.list") as rec:
        org, role, _ = _org_role(env, caller)
        if role == "overseer":
            found = watches_mod.list_watches(env.store, status=status)
        elif role == "supervisor":
            found = watches_mod.list_watches(env.store, org=org, status=status)
        else:
            found = watches_mod.list_watches(env.store, owner=caller.actor, status=status)
        rec.detail["count"] = len(found)
    return found


def cancel_watch(env: Env, caller: Caller, watch_id: str) -> Watch:
    """Stop a watch (its owner or a supervisor of its organisation)."""
    with authorise_and_audit(env, caller, "watch.cancel", target=watch_id) as rec:
        org, role, _ = _org_role(env, caller)
        try:
            watch = watches_mod.cancel_watch(env.store, watch_id, actor=caller.actor, org=org,
                                             role=role)
        except watches_mod.WatchRefused as exc:
            raise Denied(str(exc), rules=("watch.owner_or_supervisor",)) from exc
        except watches_mod.WatchError as exc:
            text = str(exc)
            raise (NotFound(text) if text.startswith("no watch") else Conflict(text)) from exc
        rec.case_id = watch.case_id
        rec.detail["watch_id"] = watch_id
    return watch


def list_alerts(env: Env, caller: Caller, *, limit: int = 100) -> list[Alert]:
    """The caller's own alerts, newest first (each was audited as a disclosure when it
    was raised; this listing is audited too)."""
    if not 1 <= limit <= 1000:
        raise Invalid("limit must be between 1 and 1000", field="limit")
    with authorise_and_audit(env, caller, "alerts.read") as rec:
        found = alerts_mod.list_alerts(env.store, caller.actor, limit=limit)
        rec.detail.update({"count": len(found), "alerts": [a.alert_id for a in found]})
    return found


def alert_stream(env: Env, caller: Caller, *, timeout: float = 15.0,
                 stop: threading.Event | None = None,
                 still_valid: Callable[[], bool] | None = None,
                 recheck: float = RECHECK_SECONDS) -> Iterator[dict[str, Any] | None]:
    """The caller's alerts and deconfliction notices as they are raised: items
    ``{"event": "alert"|"deconfliction", "data": {...}}``, ``None`` after ``timeout``
    seconds of quiet (a keep-alive). Opening the stream is the act ``alerts.read``
    (decided and audited once, now); each alert was audited when raised.

    ``still_valid`` (the shell's check of the credential the stream was opened with,
    under its lock: e.g. :func:`stream_standing` is None) is asked before every item
    and on a keep-alive at least every ``recheck`` seconds: once it answers False the
    stream ends, so a stolen token revoked (or expired, or its user disabled) stops
    receiving at once, not when the client hangs up."""
    with authorise_and_audit(env, caller, "alerts.read", variant="stream"):
        pass
    items = alerts_mod.BUS.stream(caller.actor, timeout=timeout, stop=stop)
    # PostgreSQL: the alerts other processes of the deployment raise reach it too
    alerts_mod.relay(env.store)
    if still_valid is None:
        return items
    return _checked(items, still_valid, recheck)


def _checked(items: Iterator[dict[str, Any] | None], still_valid: Callable[[], bool],
             recheck: float) -> Iterator[dict[str, Any] | None]:
    last = time.monotonic()
    try:
        for item in items:
            now = time.monotonic()
            if item is not None or now - last >= recheck:
                last = now
                try:
                    valid = still_valid()
                except Exception:  # the store closed under the stream: it ends
                    valid = False
                if not valid:
                    return
            yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()  # unsubscribes from the bus


def stream_standing(env: Env, caller: Caller) -> str | None:
    """Why a stream opened by ``caller`` must end now (None: it may go on): the user
    unknown, disabled (since) or moved, or the API token it was opened with revoked,
    expired or gone. Read fresh from the store (call under the shell's lock)."""
    held = creds.holder(env.store, caller.actor)
    if held is None or held.disabled:
        return "user unknown or disabled"
    if caller.token_id is not None:
        row = creds.token_row(env.store, caller.token_id)
        if row is None or row.name != caller.actor:
            return "token unknown"
        if row.revoked_at is not None:
            return "token revoked"
        if clock.now_naive() >= row.expires_at:
            return "token expired"
        if held.disabled_at is not None and held.disabled_at >= row.created_at:
            return "user disabled since the token was made"
    return None


def list_deconflictions(env: Env, caller: Caller) -> list[Deconfliction]:
    """Deconfliction notices addressed to the caller."""
    with authorise_and_audit(env, caller, "watch.list", variant="deconflictions") as rec:
        found = watches_mod.deconflictions_for(env.store, caller.actor)
        rec.detail["count"] = len(found)
    return found


def list_dead_letters(env: Env, caller: Caller) -> list[DeadLetter]:
    """Webhook deliveries that failed every attempt: the caller's (a supervisor: the
    organisation's; an overseer: all)."""
    with authorise_and_audit(env, caller, "watch.list", variant="dead_letters") as rec:
        org, role, _ = _org_role(env, caller)
        if role == "overseer":
            found = alerts_mod.list_dead_letters(env.store)
        elif role == "supervisor":
            found = alerts_mod.list_dead_letters(env.store, org=org)
        else:
            found = alerts_mod.list_dead_letters(env.store, owner=caller.actor)
        rec.detail["count"] = len(found)
    return found


def resume_deliveries(env: Env) -> int:
    """Resume the webhook deliveries a previous process left pending (serve start; call
    under the shell's lock): how many were queued again."""
    return delivery.resume_pending(env.store)
