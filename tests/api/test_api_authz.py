"""Authorisation table: every endpoint × every role, a disabled user, an expired token
and no token → the expected status.

A row names the roles the act is open to and the status each gets for the request made
(a request for a missing object shows the role passed the gate: 404 after the decision);
every other role gets 403; the disabled user, the expired token and no token get 401.
Roles and acts: src/idgraph/policy/policies/acts.cedar (acts) and base.cedar (reads).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from api_fixtures import CASE, DISABLED, EXPIRED, ROLE_USERS, SAR_CASE, LiveApi

from idgraph.api.app import API_PREFIX

ROLES = tuple(ROLE_USERS)
ALL = dict.fromkeys(ROLES, 200)
NOBODY = "nobody-at-all"
MAPPING = "fields:\n  full_name: {column: NAME, order: last_first}\nrecord_id: REF\n"
TODAY = date.today().isoformat()

Build = Callable[[LiveApi, str], dict[str, Any]]  # (live, role) -> httpx request kwargs


def _none(_live: LiveApi, _role: str) -> dict[str, Any]:
    return {}


def _read(live: LiveApi, _role: str) -> dict[str, Any]:
    return {"params": live.read_params()}


def _search(live: LiveApi, _role: str) -> dict[str, Any]:
    assert live.person is not None
    return {"params": {**live.read_params(), "name": live.person[0]}}


def _explain(live: LiveApi, _role: str) -> dict[str, Any]:
    assert live.record_ids is not None
    a, b = live.record_ids
    return {"params": {**live.read_params(), "record_a": a, "record_b": b}}


def _json(body: Callable[[str], dict[str, Any]]) -> Build:
    return lambda _live, role: {"json": body(role)}


def _court_upload(live: LiveApi, _role: str) -> dict[str, Any]:
    return {"files": [
        ("manifest", ("court.yaml", (live.synth / "court.yaml").read_bytes(), "text/yaml")),
        ("files", ("court.csv", (live.synth / "court.csv").read_bytes(), "text/csv"))]}


def _match_upload(_live: LiveApi, _role: str) -> dict[str, Any]:
    return {"files": {"list_file": ("l.csv", "REF,NAME\nR1,Smith John\n", "text/csv"),
                      "mapping": ("m.yaml", MAPPING, "text/yaml")},
            "data": {"purpose": "criminal_investigation", "claims": "DPPA-b1",
                     "case_id": CASE}}


def _watch(live: LiveApi, _role: str) -> dict[str, Any]:
    expires = (date.today() + timedelta(days=30)).isoformat()
    return {"json": {"identity_id": live.identity_id, "case_id": CASE,
                     "purpose": "criminal_investigation", "claims": ["DPPA-b1"],
                     "expires": expires}}


WATCH_LIST = dict.fromkeys(("investigator", "supervisor", "overseer"), 200)
CASE_READERS = dict.fromkeys(("investigator", "supervisor", "overseer"), 200)
CASE_WORKERS = dict.fromkeys(("investigator", "supervisor"), 201)


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # under /api/v1; "{identity}" is the example identity
    ok: dict[str, int]  # role -> status; every other role 403
    build: Build = _none
    auth: bool = True
    note: str = field(default="", compare=False)


TABLE: tuple[Row, ...] = (
    Row("GET", "/health", {}, auth=False),
    # reads: base.reader_role (investigator, supervisor for an investigation)
    Row("GET", "/search", {"investigator": 200, "supervisor": 200}, _search),
    Row("GET", "/identities/{identity}", {"investigator": 200, "supervisor": 200}, _read),
    Row("GET", "/identities/{identity}/associates", {"investigator": 200, "supervisor": 200},
        _read),
    Row("GET", "/explain", {"investigator": 200, "supervisor": 200}, _explain),
    # the match is decided when the job runs: the job reports a refusal as a 403 problem
    Row("POST", "/match", dict.fromkeys(ROLES, 202), _match_upload),
    Row("GET", "/match/nope", dict.fromkeys(ROLES, 404)),
    Row("GET", "/match/nope/results", dict.fromkeys(ROLES, 404)),
    # users and credentials
    Row("GET", "/users", {"admin": 200, "supervisor": 200, "overseer": 200}),
    Row("POST", "/users", {"admin": 201}, _json(lambda role: {
        "name": f"u-{role}", "role": "investigator", "org": "nypd",
        "org_type": "government"})),
    Row("POST", f"/users/{NOBODY}/disable", {"admin": 404}),
    Row("GET", "/tokens", ALL),
    Row("POST", "/tokens", dict.fromkeys(ROLES, 201), _json(lambda role: {"name": f"t2-{role}"})),
    Row("POST", "/tokens/nope/revoke", dict.fromkeys(ROLES, 404)),
    # cases and legal process
    Row("GET", "/cases", dict.fromkeys(
        ("investigator", "supervisor", "counsel", "records_officer", "overseer"), 200)),
    Row("POST", "/cases", dict.fromkeys(
        ("investigator", "supervisor", "records_officer", "overseer"), 201),
        _json(lambda role: {"case_id": f"K-{role}", "title": "t", "kind": "criminal"})),
    Row("GET", f"/cases/{CASE}", dict.fromkeys(
        ("investigator", "supervisor", "counsel", "records_officer", "overseer"), 200)),
    Row("POST", "/cases/NOPE/close", dict.fromkeys(
        ("investigator", "supervisor", "records_officer", "overseer"), 404)),
    # case management (issue 16, L): act.cases_assign, act.cases_read, act.cases_material,
    # act.case_need_to_know (the records officer is no member of CASE; notes: members and
    # supervisors, so the overseer is refused them)
    Row("POST", f"/cases/{CASE}/assign", {"supervisor": 422},
        _json(lambda _role: {"remove": [NOBODY]}), note="422: not a member"),
    Row("GET", f"/cases/{CASE}/members", CASE_READERS),
    Row("GET", f"/cases/{CASE}/subjects", CASE_READERS),
    Row("POST", f"/cases/{CASE}/subjects", CASE_WORKERS,
        _json(lambda role: {"identity_id": f"I-authz-{role}"})),
    Row("GET", f"/cases/{CASE}/notes", {"investigator": 200, "supervisor": 200}),
    Row("POST", f"/cases/{CASE}/notes", CASE_WORKERS, _json(lambda role: {"text": role})),
    Row("GET", f"/cases/{CASE}/activity", CASE_READERS),
    Row("GET", "/sar/supplements", {"records_officer": 200, "overseer": 200}),
    Row("POST", f"/sar/NOPE/supplements/{CASE}/sent", {"records_officer": 404}),
    Row("GET", "/legal", dict.fromkeys(
        ("investigator", "supervisor", "counsel", "records_officer", "overseer"), 200)),
    Row("POST", "/legal", dict.fromkeys(("investigator", "supervisor", "counsel"), 201),
        _json(lambda role: {"type": "court_order", "number": f"W-{role}", "issued": TODAY,
                            "court": "NY Sup Ct", "judge": "Hon. A. Smith",
                            "judge_appointment": "state", "level": "state",
                            "issuer": "court", "case_id": CASE})),
    # an unknown document, request or notice of one's organisation is refused like another
    # organisation's (403, the object check in the library), so as not to tell them apart
    Row("POST", "/legal/NOPE/verify", {}, _json(lambda _role: {"sha256": "ab" * 32})),
    # notices, retention, judgements, subject access
    Row("GET", "/notices", dict.fromkeys(
        ("records_officer", "supervisor", "overseer", "admin"), 200)),
    Row("POST", "/notices/NOPE/sent", {"records_officer": 404, "supervisor": 404}),
    Row("POST", "/retention/apply", {"records_officer": 200, "admin": 200},
        _json(lambda _role: {"as_of": "2000-01-01T00:00:00"})),
    Row("GET", "/retention/runs", dict.fromkeys(("records_officer", "admin", "overseer"), 200)),
    Row("POST", "/judgements", {"supervisor": 404, "records_officer": 404},
        _json(lambda _role: {"record_a": "x/1", "record_b": "x/2", "verdict": "unsure"})),
    Row("GET", "/sar", {"records_officer": 200, "overseer": 200}),
    Row("POST", "/sar", {"records_officer": 201}, _json(lambda _role: {
        "identity_id": "I-nope", "case_id": SAR_CASE, "requester": "subject",
        "received": TODAY})),
    Row("POST", "/sar/NOPE/close", {}),
    # reports
    Row("GET", "/reports/subject/{identity}", {"overseer": 200, "records_officer": 403}),
    Row("GET", "/reports/oversight", {"overseer": 200},
        lambda _live, _role: {"params": {"start": "2026-01-01", "end": TODAY}}),
    Row("GET", "/reports/corrections", {"records_officer": 200, "overseer": 200}),
    # audit and policy
    Row("GET", "/audit/verify", ALL),
    Row("POST", "/audit/checkpoint", {"admin": 200}),
    Row("GET", "/audit/proof/0", {"overseer": 200}),
    Row("GET", "/audit/export", {"overseer": 200},
        lambda _live, _role: {"params": {"start": 0, "end": 3}}),
    Row("GET", "/audit/pubkey", ALL, note="public: the key that checks signatures"),
    Row("GET", "/policy", ALL, note="public: the rules are published"),
    # data acts
    Row("GET", "/sources", dict.fromkeys(
        ("admin", "records_officer", "supervisor", "overseer"), 200)),
    Row("GET", "/quarantine", dict.fromkeys(
        ("admin", "records_officer", "supervisor", "overseer"), 200)),
    Row("GET", "/index/check", {"admin": 200, "records_officer": 200}),
    Row("POST", "/index/rebuild", {"admin": 200, "records_officer": 200}),
    Row("POST", "/ingest", {"admin": 200, "records_officer": 200}, _court_upload),
    Row("POST", "/resolve", {"admin": 200, "records_officer": 200},
        _json(lambda _role: {"retrain": False})),
    # watches and alerts (issue 16): act.watch_manage, act.watch_list
    Row("POST", "/watches", {"investigator": 201, "supervisor": 201}, _watch),
    Row("GET", "/watches", WATCH_LIST),
    Row("POST", "/watches/NOPE/cancel", {"investigator": 404, "supervisor": 404}),
    Row("GET", "/watches/deconflictions", WATCH_LIST),
    Row("GET", "/watches/dead-letters", WATCH_LIST),
    Row("GET", "/alerts", {"investigator": 200, "supervisor": 200}),
    Row("GET", "/alerts/stream", {"investigator": 200, "supervisor": 200},
        lambda _live, _role: {"params": {"seconds": 0}}),
    # live feeds (issue 16): a push takes a feed token (idgf_), never a user's token
    Row("POST", "/feeds/court", dict.fromkeys(ROLES, 401),
        lambda _live, _role: {"content": b'{"id": "x"}\n'},
        note="feed-token auth: a user's API token is no feed token"),
    Row("POST", "/feeds/court/tokens", {"admin": 201}, _json(lambda _role: {"days": 1})),
    Row("GET", "/feeds/court/tokens", {"admin": 200}),
    Row("POST", "/feeds/court/tokens/nope/revoke", {"admin": 404}),
    Row("GET", "/feeds/court/status", dict.fromkeys(
        ("admin", "records_officer", "supervisor", "overseer"), 200)),
)
UNAUTHENTICATED = (None, DISABLED, EXPIRED)


def _path(row: Row, live: LiveApi) -> str:
    return API_PREFIX + row.path.replace("{identity}", str(live.identity_id))


def _call(live: LiveApi, who: str | None, row: Row, role_for_body: str) -> httpx.Response:
    with live.client(who) as c:
        return c.request(row.method, _path(row, live), **row.build(live, role_for_body))


def test_the_table_covers_every_api_route() -> None:
    from idgraph.api.openapi import document

    routes = {(m.upper(), p) for p, ops in document()["paths"].items() for m in ops}
    templates = {
        "/identities/{identity}": "/identities/{identity_id}",
        "/identities/{identity}/associates": "/identities/{identity_id}/associates",
        "/match/nope": "/match/{job_id}", "/match/nope/results": "/match/{job_id}/results",
        f"/users/{NOBODY}/disable": "/users/{name}/disable",
        "/tokens/nope/revoke": "/tokens/{token_id}/revoke",
        f"/cases/{CASE}": "/cases/{case_id}",
        "/cases/NOPE/close": "/cases/{case_id}/close",
        f"/cases/{CASE}/assign": "/cases/{case_id}/assign",
        f"/cases/{CASE}/members": "/cases/{case_id}/members",
        f"/cases/{CASE}/subjects": "/cases/{case_id}/subjects",
        f"/cases/{CASE}/notes": "/cases/{case_id}/notes",
        f"/cases/{CASE}/activity": "/cases/{case_id}/activity",
        f"/sar/NOPE/supplements/{CASE}/sent": "/sar/{sar_id}/supplements/{case_id}/sent",
        "/legal/NOPE/verify": "/legal/{legal_id}/verify",
        "/notices/NOPE/sent": "/notices/{notice_id}/sent",
        "/sar/NOPE/close": "/sar/{sar_id}/close",
        "/reports/subject/{identity}": "/reports/subject/{identity_id}",
        "/audit/proof/0": "/audit/proof/{index}",
        "/watches/NOPE/cancel": "/watches/{watch_id}/cancel",
        "/feeds/court": "/feeds/{source}", "/feeds/court/tokens": "/feeds/{source}/tokens",
        "/feeds/court/status": "/feeds/{source}/status",
        "/feeds/court/tokens/nope/revoke": "/feeds/{source}/tokens/{token_id}/revoke",
    }
    covered = {(r.method, API_PREFIX + templates.get(r.path, r.path)) for r in TABLE}
    # a user's own password: checked separately below (it changes the password)
    covered.add(("POST", f"{API_PREFIX}/users/{{name}}/password"))
    assert routes - covered == set(), "routes missing from the authorisation table"
    assert covered - routes == set(), "table rows naming no route"


@pytest.mark.parametrize("row", TABLE, ids=[f"{r.method} {r.path}" for r in TABLE])
def test_authorisation_table(live: LiveApi, row: Row) -> None:
    got: dict[str, int] = {}
    want: dict[str, int] = {}
    for role in ROLES:
        got[role] = _call(live, role, row, role).status_code
        want[role] = 200 if not row.auth else row.ok.get(role, 403)
    for who in UNAUTHENTICATED:
        label = who or "no token"
        got[label] = _call(live, who, row, "admin").status_code
        want[label] = 200 if not row.auth else 401
    assert got == want


def test_own_password_for_every_role_and_not_another_s(live: LiveApi) -> None:
    body = {"password": "a long synthetic passphrase 42"}
    own = {**body, "current": body["password"]}  # (an admin set it already, or none is set)
    for role, name in ROLE_USERS.items():
        with live.client(role) as c:
            r = c.post(f"{API_PREFIX}/users/{name}/password", json=own)
            assert r.status_code == 204, (role, r.text)
            other = ROLE_USERS["investigator" if role != "investigator" else "counsel"]
            r = c.post(f"{API_PREFIX}/users/{other}/password", json=body)
            assert r.status_code == (204 if role == "admin" else 403), (role, r.text)
    for who in UNAUTHENTICATED:
        with live.client(who) as c:
            r = c.post(f"{API_PREFIX}/users/{ROLE_USERS['investigator']}/password", json=body)
            assert r.status_code == 401
    # once set, one's own password changes only on presenting the current one
    name = ROLE_USERS["supervisor"]
    with live.client("supervisor") as c:
        again = {"password": "another long synthetic phrase"}
        r = c.post(f"{API_PREFIX}/users/{name}/password", json=again)
        assert r.status_code == 422 and "current" in r.text, r.text
        r = c.post(f"{API_PREFIX}/users/{name}/password",
                   json={**again, "current": body["password"]})
        assert r.status_code == 204, r.text
