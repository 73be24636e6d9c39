"""The read path: :func:`read_profile` is the one function every later read path calls.

Order of work: decide (policy, before any record is read) -> purpose-scoped view ->
read only permitted records -> minimise per source -> notices for duties ->
audit the decision and the response in the same transaction -> return.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path, PurePath
from typing import Any

from idgraph import clock
from idgraph.audit import AuditEntry
from idgraph.policy.engine import AccessDecision, allowed, audit_decision, response_entry
from idgraph.policy.fields import ALL_FIELDS, FULL, NEVER, minimise
from idgraph.policy.notices import create_notices
from idgraph.policy.registry import Registry
from idgraph.policy.view import ScopedView, accepted_edges, cut, member_rows, record_segment
from idgraph.schema import RECORD_COLUMNS, Decision, Query
from idgraph.store import Store
from idgraph.store.records import source_manifest_paths

_READ_COLUMNS = [c for c in RECORD_COLUMNS if c not in NEVER]


class AccessDenied(PermissionError):
    """No source may be read for this query; ``rules`` say why, ``decisions`` per source."""

    def __init__(
        self, rules: Sequence[str], decisions: Mapping[str, Decision] | None = None
    ) -> None:
        super().__init__("access denied: " + ", ".join(rules))
        self.rules = tuple(rules)
        self.decisions: dict[str, Decision] = dict(decisions or {})

    def breakdown(self) -> list[tuple[str, bool, tuple[str, ...]]]:
        """(source, permitted, rules that decided it) for every source decided."""
        return [(s, d.permit, d.rules) for s, d in self.decisions.items()]


@dataclass(frozen=True)
class SourceOutcome:
    source_id: str
    included: bool
    rules: tuple[str, ...]
    duties: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    records: int = 0


@dataclass(frozen=True)
class Profile:
    identity_id: str
    query: Query
    records: dict[str, list[dict[str, Any]]]
    addresses: list[dict[str, Any]]
    phones: list[dict[str, Any]]
    vehicles: list[dict[str, Any]]
    events: list[dict[str, Any]]
    sources: dict[str, SourceOutcome]
    edges: tuple[tuple[str, str], ...] = ()
    notices: tuple[str, ...] = field(default=())

    @property
    def record_ids(self) -> tuple[str, ...]:
        return tuple(r["record_id"] for rows in self.records.values() for r in rows)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (what ``--json`` prints and an API returns)."""
        return {
            "identity_id": self.identity_id,
            "purpose": self.query.purpose,
            "case_id": self.query.case_id,
            "records": self.records,
            "addresses": self.addresses,
            "phones": self.phones,
            "vehicles": self.vehicles,
            "events": self.events,
            "links": [list(e) for e in self.edges],
            "sources": {
                s: {
                    "included": o.included,
                    "rules": list(o.rules),
                    "duties": list(o.duties),
                    "fields": list(o.fields),
                    "records": o.records,
                }
                for s, o in self.sources.items()
            },
            "notices": list(self.notices),
        }


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


def _sections(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {
        "addresses": [],
        "phones": [],
        "vehicles": [],
        "events": [],
    }
    for r in rows:
        ref = {"source_id": r["source_id"], "record_id": r["record_id"]}
        seen = r.get("observed_at") or r.get("ingested_at")
        dated_by = "observed_at" if r.get("observed_at") else "ingested_at"
        if r.get("address"):
            out["addresses"].append(
                {"address": r["address"], "seen": seen, "dated_by": dated_by, **ref}
            )
        if r.get("phone"):
            out["phones"].append({"phone": r["phone"], "seen": seen, **ref})
        if r.get("plate"):
            out["vehicles"].append(
                {"plate": r["plate"], "state": r.get("state"), "seen": seen, **ref}
            )
        if r.get("booked_at") or r.get("facility"):
            out["events"].append(
                {
                    "kind": "booking",
                    "booked_at": r.get("booked_at"),
                    "released_at": r.get("released_at"),
                    "facility": r.get("facility"),
                    **ref,
                }
            )
        elif r.get("case_number"):
            out["events"].append(
                {"kind": "court_case", "case_number": r["case_number"], "seen": seen, **ref}
            )
    out["addresses"].sort(key=lambda a: str(a["seen"]), reverse=True)
    out["events"].sort(key=lambda e: str(e.get("booked_at") or e.get("seen")), reverse=True)
    return {k: [{kk: _jsonable(vv) for kk, vv in d.items()} for d in v] for k, v in out.items()}


def _outcomes(decision: AccessDecision, counts: Mapping[str, int]) -> dict[str, SourceOutcome]:
    return {
        sid: SourceOutcome(
            sid,
            d.permit,
            d.rules,
            d.duties if counts.get(sid) else (),
            tuple(d.fields or ()),
            counts.get(sid, 0),
        )
        for sid, d in decision.decisions.items()
    }


def _response_entry(
    decision: AccessDecision,
    identity_id: str,
    outcome: str,
    sources: Sequence[str],
    record_ids: Sequence[str],
    detail: dict[str, Any],
) -> AuditEntry:
    return response_entry(decision, "profile.read", outcome, identity_ids=(identity_id,),
                          sources=sources, record_ids=record_ids, detail=detail)


def source_folders(store: Store, source_ids: set[str]) -> dict[str, Path]:
    """Each source's manifest folder (what ``source_file`` is shown relative to)."""
    if not source_ids:
        return {}
    paths = source_manifest_paths(store, sorted(source_ids))
    return {sid: Path(path).parent for sid, path in paths.items() if path}


def shown_path(source_file: str, folder: Path | None) -> str:
    """``source_file`` as a response may show it: relative to the source's manifest folder
    when under it, else the file name alone (never an absolute server path)."""
    path = PurePath(source_file)
    if not path.is_absolute() and ".." not in path.parts:
        return source_file
    if folder is not None:
        try:
            return Path(source_file).resolve().relative_to(folder.resolve()).as_posix()
        except ValueError:
            pass
    return path.name


def _visible(
    store: Store, decision: AccessDecision, identity_id: str, anchor: str | None
) -> tuple[ScopedView, list[dict[str, Any]]]:
    """The purpose-scoped view and its records (permitted segments only, current versions).

    Records are cut by segment (``view.record_segment``): a California record of a
    US-wide compilation is read only if the segment ``<source>@US-CA`` is permitted.
    """
    members = member_rows(store, identity_id, decision.permitted, _READ_COLUMNS)
    ids = [r["record_id"] for r in members]
    view = cut(identity_id, ids, accepted_edges(store, ids), anchor)
    visible = set(view.record_ids)
    return view, [r for r in members if r["record_id"] in visible]


def _commit(
    store: Store,
    reg: Registry,
    decision: AccessDecision,
    identity_id: str,
    view: ScopedView,
    outcomes: Mapping[str, SourceOutcome],
    sources: Sequence[str],
) -> list[str]:
    """Notices for duties of sources that disclosed, then the audit entries: one transaction."""
    query, user = decision.query, decision.principal
    at = (query.at or clock.now()).astimezone(UTC).replace(tzinfo=None)
    duties = [
        (s, rule, duty)
        for s, o in outcomes.items()
        if o.records
        for rule in o.rules
        for duty in reg.policies.duties.get(rule, ())
    ]
    with store.transaction():
        notices = create_notices(
            store,
            identity_id=identity_id,
            org=user.org if user else "",
            principal=query.principal,
            case_id=query.case_id,
            duties=duties,
            at=at,
            jurisdictions=reg.policies.jurisdictions,
        )
        detail = {"notices": notices, "withheld": list(decision.denied)}
        response = _response_entry(decision, identity_id, "ok", sources, view.record_ids, detail)
        audit_decision(store, decision, response)
    return notices


def _fold(value: object) -> str:
    return "".join(ch for ch in str(value).upper() if ch.isalnum())


def shown_ids(
    rows: Sequence[Mapping[str, Any]], segments: Sequence[str], decision: AccessDecision
) -> dict[str, str]:
    """Record ids that may not leave as they are, each with the pseudonym shown instead.

    A source's own record id is often an identifier of the person: a DMV file is keyed
    by licence number, a court file by case number. Provenance passes every decision,
    so a read that may not see those fields (``research``, ``locate_witness``, FCRA
    § 1681f's identifying information) would get them back in ``record_id`` and
    ``source_record_id``. Such a record is shown as ``<source>/~<pseudonym>``: a keyed
    hash under a key drawn for this response only, the same for the record throughout
    the response (links, sections), different in every other (its file line is
    dropped too, for the same reason). The audit log keeps the
    real ids. A record keeps its id only when its segment may disclose every full field
    and its id equals no value of a field withheld from it (an SSN-keyed file)."""
    key = secrets.token_bytes(16)
    out: dict[str, str] = {}
    for r, g in zip(rows, segments, strict=True):
        allowed = set(decision.fields_for(g))
        own = _fold(r.get("source_record_id") or str(r["record_id"]).split("/", 1)[-1])
        withheld_values = {_fold(v) for f, v in r.items() if f in ALL_FIELDS - allowed and v}
        if allowed >= FULL and own not in withheld_values:
            continue
        mac = hmac.new(key, str(r["record_id"]).encode(), hashlib.sha256).hexdigest()[:12]
        out[str(r["record_id"])] = f"{r['source_id']}/~{mac}"
    return out


def _with_shown_id(row: dict[str, Any], shown: Mapping[str, str]) -> dict[str, Any]:
    rid = str(row.get("record_id"))
    if rid not in shown:
        return row
    # the file line is a handle on the record too: it would link it across responses
    return {**row, "record_id": shown[rid], "source_record_id": None, "source_line": None}


def read_profile(
    store: Store,
    query: Query,
    identity_id: str,
    *,
    registry: Registry | None = None,
    anchor: str | None = None,
    filters: Sequence[str] = (),
) -> Profile:
    """The profile of ``identity_id`` as ``query`` may see it; audited; raises AccessDenied."""
    reg = registry or Registry(store)
    decision = allowed(reg, query, identity_ids=[identity_id], filters=filters)
    if not decision.any_permitted:
        with store.transaction():
            audit_decision(
                store, decision, _response_entry(decision, identity_id, "deny", (), (), {})
            )
        raise AccessDenied(decision.rules or ("default.deny",), decision.decisions)
    view, rows = _visible(store, decision, identity_id, anchor)
    segments = [record_segment(r) for r in rows]  # outputs are keyed by segment
    shown = shown_ids(rows, segments, decision)
    minimised = [
        _with_shown_id(minimise(r, decision.fields_for(g)), shown)
        for r, g in zip(rows, segments, strict=True)
    ]
    by_source: dict[str, list[dict[str, Any]]] = {}
    folders = source_folders(store, {r["source_id"] for r in minimised})
    for g, r in zip(segments, minimised, strict=True):
        clean = {k: _jsonable(v) for k, v in r.items() if v is not None}
        if "source_file" in clean:
            clean["source_file"] = shown_path(clean["source_file"], folders.get(r["source_id"]))
        by_source.setdefault(g, []).append(clean)
    counts = {s: len(v) for s, v in by_source.items()}
    outcomes = _outcomes(decision, counts)
    notices = _commit(store, reg, decision, identity_id, view, outcomes, sorted(by_source))
    return Profile(
        identity_id,
        query,
        by_source,
        **_sections(minimised),
        sources=outcomes,
        edges=tuple((shown.get(a, a), shown.get(b, b)) for a, b in view.edges),
        notices=tuple(notices),
    )
