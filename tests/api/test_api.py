"""The REST API over a live server: reads, jobs, uploads, problems, headers and limits."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from api_fixtures import CASE, EXPIRED, LiveApi

from idgraph.api.deps import locked
from idgraph.api.security import CSP

PROBLEM = "application/problem+json"
MAPPING = """fields:
  full_name: {column: NAME, order: last_first}
  dob: {column: BORN, format: "%Y"}
record_id: REF
"""


def assert_problem(r: httpx.Response, status: int) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers
    body: dict[str, object] = r.json()
    assert body["status"] == status and body["title"] and body["type"]
    return body


def audit_size(live: LiveApi) -> int:
    with locked(live.env):
        row = live.env.store.fetchone("SELECT count(*) FROM audit_log")
    assert row is not None
    return int(row[0])


def test_health_carries_the_security_headers(live: LiveApi) -> None:
    with live.client() as c:
        r = c.get("/api/v1/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["content-security-policy"] == CSP
    assert "frame-ancestors 'none'" in CSP and "script-src 'self'" in CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["cache-control"] == "no-store"
    assert "server" not in r.headers


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer idg_nope_nope"},
    {"Authorization": "Basic cm9vdDpyb290"},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer idg_x_y extra"},
])
def test_without_valid_credentials_401_problem(live: LiveApi, headers: dict[str, str]) -> None:
    with live.client() as c:
        r = c.get("/api/v1/users", headers=headers)
    body = assert_problem(r, 401)
    assert body["type"] == "urn:idgraph:problem:unauthenticated"
    assert r.headers["www-authenticate"] == "Bearer"


def test_expired_token_is_refused(live: LiveApi) -> None:
    with live.client(EXPIRED) as c:
        assert_problem(c.get("/api/v1/search", params={**live.read_params(), "name": "x"}), 401)


def test_search_ranks_and_explains_and_is_audited(live: LiveApi) -> None:
    assert live.person is not None
    name, year = live.person
    before = audit_size(live)
    with live.client("investigator") as c:
        r = c.get("/api/v1/search",
                  params={**live.read_params(), "name": name, "dob": str(year), "limit": 3})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["purpose"] == "criminal_investigation" and body["case_id"] == CASE
    assert 1 <= len(body["hits"]) <= 3
    top = body["hits"][0]
    assert top["identity_id"] == live.identity_id and top["explanation"]
    assert audit_size(live) > before


def test_read_without_purpose_is_a_422_problem_naming_the_field(live: LiveApi) -> None:
    with live.client("investigator") as c:
        body = assert_problem(c.get("/api/v1/search", params={"name": "a b"}), 422)
    assert any(e.get("field") == "purpose" for e in body["errors"])  # type: ignore[union-attr]


def test_validation_errors_are_problems_without_echoing_input(live: LiveApi) -> None:
    with live.client("investigator") as c:
        r = c.get("/api/v1/search", params={**live.read_params(), "limit": "0",
                                             "name": "SECRET NAME"})
    body = assert_problem(r, 422)
    assert body["errors"] and "SECRET" not in r.text


def test_a_protected_attribute_is_refused_403_with_rules(live: LiveApi) -> None:
    with live.client("investigator") as c:
        r = c.get("/api/v1/search",
                  params={**live.read_params(), "name": "a b", "where": "race=x"})
    body = assert_problem(r, 403)
    assert body["rules"]


def test_profile_associates_and_explain(live: LiveApi) -> None:
    with live.client("investigator") as c:
        r = c.get(f"/api/v1/identities/{live.identity_id}", params=live.read_params())
        assert r.status_code == 200, r.text
        profile = r.json()
        assert profile["identity_id"] == live.identity_id and profile["records"]
        assert all("included" in s and "rules" in s for s in profile["sources"].values())
        r = c.get(f"/api/v1/identities/{live.identity_id}/associates",
                  params=live.read_params())
        assert r.status_code == 200, r.text
        assert r.json()["identity_id"] == live.identity_id
        if live.record_ids:
            a, b = live.record_ids
            r = c.get("/api/v1/explain",
                      params={**live.read_params(), "record_a": a, "record_b": b})
            assert r.status_code == 200, r.text


def test_unknown_route_is_a_404_problem_and_unknown_identity_shows_nothing(
    live: LiveApi,
) -> None:
    with live.client("investigator") as c:
        assert_problem(c.get("/api/v1/no-such-thing"), 404)
        assert_problem(c.delete("/api/v1/users"), 405)
        r = c.get("/api/v1/identities/I-nope", params=live.read_params())
    # app.reads.profile answers an unknown identity with an empty profile (no records)
    assert r.status_code in (200, 404), r.text
    if r.status_code == 200:
        assert r.json()["records"] == {}


def test_json_body_over_the_limit_is_413_before_reading(live: LiveApi) -> None:
    big = b'{"retrain": false, "pad": "' + b"x" * (live.settings.api_max_json_bytes + 10) + b'"}'
    with live.client("admin") as c:
        r = c.post("/api/v1/resolve", content=big,
                   headers={"content-type": "application/json"})
    assert_problem(r, 413)


def test_chunked_body_over_the_limit_is_413(live: LiveApi) -> None:
    limit = live.settings.api_max_json_bytes

    def chunks() -> Iterator[bytes]:
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    with live.client("admin") as c:
        r = c.post("/api/v1/resolve", content=chunks(),
                   headers={"content-type": "application/json"})
    assert_problem(r, 413)


def wait_done(c: httpx.Client, job_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        r = c.get(f"/api/v1/match/{job_id}")
        assert r.status_code == 200, r.text
        job: dict[str, object] = r.json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError("the match job did not finish")


def test_bulk_match_job_upload_poll_and_csv(live: LiveApi) -> None:
    assert live.person is not None
    name, year = live.person
    listing = f"REF,NAME,BORN\nR1,{name},{year}\nR2,Zebulon Quartermaine,2001\nR3,,\n"
    files = {"list_file": ("list.csv", listing, "text/csv"),
             "mapping": ("map.yaml", MAPPING, "application/yaml")}
    form = {"purpose": "criminal_investigation", "claims": "DPPA-b1,GLBA-e8",
            "case_id": CASE}
    with live.client("investigator") as c:
        r = c.post("/api/v1/match", files=files, data=form)
        assert r.status_code == 202, r.text
        job_id = str(r.json()["job_id"])
        job = wait_done(c, job_id)
        assert job["status"] == "done", job
        assert job["counts"]["matched"] >= 1  # type: ignore[index]
        r = c.get(f"/api/v1/match/{job_id}/results")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        lines = r.text.strip().splitlines()
        assert len(lines) == 4 and live.identity_id in lines[1]
    with live.client("supervisor") as other:  # a job is its owner's only
        assert_problem(other.get(f"/api/v1/match/{job_id}"), 404)


def test_ingest_upload_lists_a_summary(live: LiveApi) -> None:
    manifest = (live.synth / "court.yaml").read_bytes()
    data = (live.synth / "court.csv").read_bytes()
    with live.client("records_officer") as c:
        r = c.post("/api/v1/ingest", files=[
            ("manifest", ("court.yaml", manifest, "application/yaml")),
            ("files", ("court.csv", data, "text/csv"))])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] and body["summaries"][0]["source_id"] == "court"
    assert body["summaries"][0]["rows"] > 0


@pytest.mark.parametrize("manifest, named", [
    ("input: {path: /etc/passwd, format: csv}\n", "input.path"),
    ("input: {path: ../court.csv, format: csv}\n", "input.path"),
    ("input: {path: court.csv, format: csv, allow_outside: true}\n", "allow_outside"),
    ("fields: {}\n", "input:"),
    ("[unclosed\n", "YAML"),
])
def test_an_uploaded_manifest_reads_only_the_uploaded_files(
    live: LiveApi, manifest: str, named: str,
) -> None:
    with live.client("records_officer") as c:
        r = c.post("/api/v1/ingest", files=[
            ("manifest", ("m.yaml", manifest, "application/yaml")),
            ("files", ("../../court.csv", b"A,B\n1,2\n", "text/csv"))])
    body = assert_problem(r, 422)
    assert named in str(body["detail"])


def test_subject_report_as_html_by_accept_and_json_by_default(live: LiveApi) -> None:
    with live.client("overseer") as c:
        r = c.get(f"/api/v1/reports/subject/{live.identity_id}",
                  headers={"accept": "text/html"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/html")
        assert "<script" not in r.text.lower()
        csp = r.headers["content-security-policy"]  # its own <style> only, by hash
        assert "'unsafe-inline'" not in csp and ("'sha256-" in csp) == ("<style" in r.text)
        assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
        r = c.get(f"/api/v1/reports/subject/{live.identity_id}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(
            "application/json")


def test_audit_verify_is_ok(live: LiveApi) -> None:
    with live.client("overseer") as c:
        r = c.get("/api/v1/audit/verify")
    assert r.status_code in (200, 403), r.text
    if r.status_code == 200:
        assert r.json()["ok"] is True


def last_entries(live: LiveApi, n: int) -> list[dict[str, object]]:
    from idgraph.app.audit import log_of

    with locked(live.env):
        log = log_of(live.env)
        size = log.size()
        stored = log.entries(max(size - n, 0), size)
    return [json.loads(s.data) for s in stored]


def test_an_act_over_the_api_is_audited_as_via_api(live: LiveApi) -> None:
    with live.client("supervisor") as c:
        r = c.post("/api/v1/tokens", json={"name": "audit-me"})
    assert r.status_code == 201, r.text
    entry = last_entries(live, 1)[0]
    assert entry["principal"] == "chief" and entry["action"].startswith("tokens")  # type: ignore[union-attr]
    assert entry["detail"]["via"] == "api"  # type: ignore[index]
    assert r.json()["secret"] not in json.dumps(entry)  # the secret is never logged


def test_a_refused_match_job_reports_the_problem(live: LiveApi) -> None:
    files = {"list_file": ("list.csv", "REF,NAME,BORN\nR1,Smith John,1970\n", "text/csv"),
             "mapping": ("map.yaml", MAPPING, "application/yaml")}
    form = {"purpose": "criminal_investigation", "claims": "DPPA-b1", "case_id": CASE}
    with live.client("counsel") as c:  # counsel reads nothing (base.reader_role)
        r = c.post("/api/v1/match", files=files, data=form)
        assert r.status_code == 202, r.text
        job = wait_done(c, str(r.json()["job_id"]))
        assert job["status"] == "failed"
        assert job["error"]["status"] == 403 and job["error"]["rules"]  # type: ignore[index]
        assert_problem(c.get(f"/api/v1/match/{job['job_id']}/results"), 403)


def test_an_undeclared_search_parameter_is_a_criterion_the_gate_decides(live: LiveApi) -> None:
    before = audit_size(live)
    with live.client("investigator") as c:
        r = c.get("/api/v1/search", params={**live.read_params(), "name": "a b",
                                             "race": "x"})
    body = assert_problem(r, 403)
    assert body["rules"] and audit_size(live) > before


def test_the_search_s_declared_parameters_are_all_known_to_the_route() -> None:
    from idgraph.api.openapi import document
    from idgraph.api.routers.reads import SEARCH_PARAMS

    params = document()["paths"]["/api/v1/search"]["get"]["parameters"]
    assert {p["name"] for p in params} == SEARCH_PARAMS
