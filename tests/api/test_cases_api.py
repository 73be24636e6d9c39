"""The case routes over HTTP (issue 16 item 4). Attacks first: a supervisor of another
organisation cannot assign (403, as for an unknown case); a non-member investigator's
search under the case is a 403 naming base.need_to_know; a note's markup comes back as
JSON text. Then the flow: assign, subjects, notes, activity paged."""

from __future__ import annotations

from api_fixtures import ROLE_USERS, LiveApi

from idgraph.api.app import API_PREFIX
from idgraph.api.deps import locked
from idgraph.app import Caller, admin, auth
from idgraph.app import cases as app_cases

OTHER_SUP = "sup-elsewhere"
COLLEAGUE = "det-colleague"
API_CASE = "C-API-CASES"


def _setup(live: LiveApi) -> None:
    """Once: another organisation's supervisor, a colleague of det, a case of det."""
    if COLLEAGUE in live.tokens:
        return
    root = Caller(ROLE_USERS["admin"], via="cli")
    with locked(live.env):
        admin.add_user(live.env, root, OTHER_SUP, "supervisor", "fbi", org_type="government")
        admin.add_user(live.env, root, COLLEAGUE, "investigator", "nypd",
                       org_type="government")
        live.env.refresh()
        for name in (OTHER_SUP, COLLEAGUE):
            live.tokens[name] = auth.create_token(live.env, root, user=name,
                                                  name=f"t-{name}").secret
        app_cases.open_case(live.env, Caller(ROLE_USERS["investigator"]), API_CASE,
                            title="cases api", kind="criminal")


def test_attack_other_org_supervisor_cannot_assign(live: LiveApi) -> None:
    _setup(live)
    with live.client(OTHER_SUP) as c:
        theirs = c.post(f"{API_PREFIX}/cases/{API_CASE}/assign", json={"add": [COLLEAGUE]})
        unknown = c.post(f"{API_PREFIX}/cases/NO-SUCH/assign", json={"add": [COLLEAGUE]})
    assert theirs.status_code == unknown.status_code == 403
    assert theirs.headers["content-type"].startswith("application/problem+json")
    with live.client("supervisor") as c:
        members = c.get(f"{API_PREFIX}/cases/{API_CASE}/members").json()
    assert [m["member"] for m in members] == [ROLE_USERS["investigator"]]


def test_attack_non_member_search_under_the_case_is_403(live: LiveApi) -> None:
    _setup(live)
    params = {**live.read_params(), "case_id": API_CASE, "name": "smith"}
    with live.client(COLLEAGUE) as c:
        r = c.get(f"{API_PREFIX}/search", params=params)
        notes = c.get(f"{API_PREFIX}/cases/{API_CASE}/notes")
    assert r.status_code == 403 and "base.need_to_know" in r.text
    assert notes.status_code == 403 and "act.case_need_to_know" in notes.text


def test_assign_subjects_notes_activity(live: LiveApi) -> None:
    _setup(live)
    det = ROLE_USERS["investigator"]
    with live.client("supervisor") as c:
        r = c.post(f"{API_PREFIX}/cases/{API_CASE}/assign", json={"add": [COLLEAGUE]})
    assert r.status_code == 200 and r.json() == {"case_id": API_CASE,
                                                 "members": [det, COLLEAGUE]}
    xss = "<script>alert(1)</script>"
    with live.client(COLLEAGUE) as c:
        assert c.post(f"{API_PREFIX}/cases/{API_CASE}/subjects",
                      json={"identity_id": "I-api-1"}).status_code == 201
        r = c.post(f"{API_PREFIX}/cases/{API_CASE}/notes",
                   json={"text": xss, "identity_id": "I-api-1"})
        assert r.status_code == 201 and r.headers["content-type"] == "application/json"
        assert r.json()["text"] == xss
        assert c.post(f"{API_PREFIX}/cases/{API_CASE}/notes", json={"text": "x",
                      "identity_id": "I-not-a-subject"}).status_code == 422
        assert c.post(f"{API_PREFIX}/cases/{API_CASE}/notes",
                      json={"text": "x", "extra": 1}).status_code == 422
        page = c.get(f"{API_PREFIX}/cases/{API_CASE}/activity", params={"limit": 2}).json()
        assert page["limit"] == 2 and len(page["items"]) == 2 and page["total"] >= 4
        # newest first: the refused note (an input error, audited) and the note
        assert [(i["action"], i["outcome"]) for i in page["items"]] == [
            ("cases.note", "error"), ("cases.note", "ok")]
        older = c.get(f"{API_PREFIX}/cases/{API_CASE}/activity",
                      params={"offset": 2, "limit": 500}).json()
        assert older["items"][-1]["action"] == "cases.open"
        assert c.get(f"{API_PREFIX}/cases/{API_CASE}/activity",
                     params={"limit": 501}).status_code == 422
    with live.client("supervisor") as c:
        r = c.post(f"{API_PREFIX}/cases/{API_CASE}/assign", json={"remove": [COLLEAGUE]})
    assert r.json()["members"] == [det]
