"""The data acts of idgraph.app: ingest, resolve, index, sources, quarantine.

Each act is decided by Cedar and audited exactly once (ok, deny or error); failures are
the application's errors (Denied with rules, Invalid naming the field, NotFound)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from data_fixtures import (
    SOURCES,
    audit_rows,
    caller,
    manifest,
    new_env,
    save_fixed_model,
    write_sources,
)

from idgraph.app import data
from idgraph.app.context import Caller, Env
from idgraph.app.errors import AppError, Denied, Invalid, NotFound
from idgraph.sources.listing import SOURCE_KEYS


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("data_acts")
    e = new_env(tmp)
    outcome = data.ingest(e, caller("ro"), [write_sources(tmp / "src")])
    assert outcome.ok, outcome.errors
    save_fixed_model(e)
    data.resolve(e, caller("ro"))
    yield e
    e.close()


def entries_during(env: Env, act: Callable[[], Any]) -> tuple[Any, list[dict[str, Any]]]:
    """What ``act`` returned (or the AppError it raised), and the entries it appended
    (but the policy set's first load in a new store: ``policy.change``)."""
    before = len(audit_rows(env))
    try:
        result: Any = act()
    except AppError as exc:
        result = exc
    return result, [e for e in audit_rows(env)[before:] if e["action"] != "policy.change"]


def test_ingest_reports_each_batch_and_is_audited_once(env: Env) -> None:
    counts = {s.source: s.records for s in data.list_sources(env, caller("ro"))}
    assert counts == {"court": 2, "tx_dmv": 3}
    (entry,) = audit_rows(env, "ingest.run")
    assert entry["outcome"] == "ok" and entry["principal"] == "ro"
    assert entry["sources"] == sorted(SOURCES)
    assert entry["detail"]["rows"] == 5 and entry["detail"]["balanced"] is True


# (act, call) -- every data act, with the roles the contract names
ACTS: dict[str, Callable[[Env, Caller], Any]] = {
    "sources.list": data.list_sources,
    "quarantine.read": lambda e, c: data.quarantine(e, c),
    "index.check": data.index_check,
}
# role holder -> acts permitted (the others refused)
PERMITTED: dict[str, set[str]] = {
    "root": {"sources.list", "quarantine.read", "index.check"},
    "ro": {"sources.list", "quarantine.read", "index.check"},
    "over": {"sources.list", "quarantine.read"},
    "gov": set(),
    "pi": set(),
    "ghost": set(),  # no such user
}


@pytest.mark.parametrize("who", sorted(PERMITTED))
@pytest.mark.parametrize("act", sorted(ACTS))
def test_roles_per_act_each_decision_audited_once(env: Env, act: str, who: str) -> None:
    result, entries = entries_during(env, lambda: ACTS[act](env, caller(who)))
    assert len(entries) == 1, entries
    (entry,) = entries
    assert entry["action"] == act and entry["principal"] == who
    if act in PERMITTED[who]:
        assert not isinstance(result, AppError), result
        assert entry["outcome"] == "ok"
    else:
        assert isinstance(result, Denied) and result.rules, result
        assert entry["outcome"] == "deny" and entry["rules"] == list(result.rules)


@pytest.mark.parametrize(("via", "allowed"), [("cli", True), ("api", False), ("web", False)])
def test_the_local_operator_acts_only_from_the_cli(env: Env, via: str, allowed: bool) -> None:
    op = Caller(actor="operator:someone", via=via)
    result, entries = entries_during(env, lambda: data.list_sources(env, op))
    assert len(entries) == 1
    if allowed:
        assert isinstance(result, list) and entries[0]["outcome"] == "ok"
    else:
        assert isinstance(result, Denied) and entries[0]["outcome"] == "deny"


def test_an_investigator_may_not_ingest_and_nothing_is_stored(env: Env, tmp_path: Path) -> None:
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "x.yaml").write_text(manifest("tx_dmv", "x.csv").replace("id: tx_dmv", "id: x_src"))
    (folder / "x.csv").write_text("id,first,last\n1,A,B\n")
    result, entries = entries_during(env, lambda: data.ingest(env, caller("gov"), [folder]))
    assert isinstance(result, Denied) and result.rules
    assert [(e["action"], e["outcome"]) for e in entries] == [("ingest.run", "deny")]
    assert "x_src" not in {s.source for s in data.list_sources(env, caller("ro"))}


def test_a_rejected_file_is_named_breaks_the_balance_rule_and_is_audited(
        env: Env, tmp_path: Path) -> None:
    (tmp_path / "bad.csv.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    (tmp_path / "bad.yaml").write_text(
        manifest("court", "bad.csv.gz").replace("id: court", "id: bad_src"))
    result, entries = entries_during(env, lambda: data.ingest(env, caller("ro"), [tmp_path]))
    assert isinstance(result, data.IngestOutcome)
    assert not result.ok and result.summaries == []
    assert any("bad.csv.gz" in e and "store unchanged" in e for e in result.errors)
    (entry,) = entries
    assert entry["action"] == "ingest.run" and entry["detail"]["errors"] == 1


@pytest.mark.parametrize(("call", "error", "field"), [
    (lambda e: data.ingest(e, caller("ro"), []), Invalid, "paths"),
    (lambda e: data.quarantine(e, caller("ro"), limit=-1), Invalid, "limit"),
    (lambda e: data.resolve(e, caller("ro"), threshold=2.0), Invalid, "threshold"),
], ids=["no-paths", "negative-limit", "threshold-out-of-range"])
def test_bad_input_is_invalid_naming_the_field_before_any_act(
        env: Env, call: Callable[[Env], Any], error: type[AppError], field: str) -> None:
    result, entries = entries_during(env, lambda: call(env))
    assert isinstance(result, error) and result.field == field
    assert entries == []


@pytest.mark.parametrize(("kw", "named"), [
    ({"source": "nope"}, "no source 'nope'"),
    ({"batch": "b-none"}, "no batch 'b-none'"),
])
def test_quarantine_of_an_unknown_source_or_batch_is_not_found_and_audited(
        env: Env, kw: dict[str, str], named: str) -> None:
    result, entries = entries_during(env, lambda: data.quarantine(env, caller("ro"), **kw))
    assert isinstance(result, NotFound) and named in str(result)
    assert [(e["action"], e["outcome"]) for e in entries] == [("quarantine.read", "error")]


def test_sources_rows_carry_the_json_keys_and_balance(env: Env) -> None:
    rows = data.list_sources(env, caller("ro"))
    for r in rows:
        d = r.as_dict()
        assert tuple(d) == SOURCE_KEYS
        assert d["rows"] == d["rows_recorded"] + d["quarantined_rows"]


def test_index_check_agrees_after_ingest_and_resolve(env: Env) -> None:
    diff = data.index_check(env, caller("ro"))
    assert diff.empty, diff.lines()


def test_index_check_without_an_index_is_not_found(tmp_path: Path) -> None:
    e = new_env(tmp_path)
    try:
        result, entries = entries_during(e, lambda: data.index_check(e, caller("ro")))
        assert isinstance(result, NotFound) and "index rebuild" in str(result)
        assert [(x["action"], x["outcome"]) for x in entries] == [("index.check", "error")]
        written, entries = entries_during(e, lambda: data.index_rebuild(e, caller("ro")))
        assert written == 0 and [x["action"] for x in entries] == ["index.rebuild"]
        assert data.index_check(e, caller("ro")).empty
    finally:
        e.close()


def test_resolve_is_audited_with_its_run(env: Env) -> None:
    summary, entries = entries_during(env, lambda: data.resolve(env, caller("root")))
    (entry,) = entries
    assert entry["action"] == "resolve.run" and entry["outcome"] == "ok"
    assert entry["detail"]["run_id"] == summary.run_id
    assert summary.n_identities == 3


def test_live_ingest_places_new_records(env: Env, tmp_path: Path) -> None:
    folder = tmp_path / "live"
    folder.mkdir()
    (folder / "court.yaml").write_text(manifest("court", "court2.csv"))
    (folder / "court2.csv").write_text(
        "id,first,last,dob,street,city,state,zip,phone\n"
        "3,JOHN,SMITH,1970-05-05,1 PINE RD,DALLAS,TX,75201,\n")
    seen: list[tuple[str, int, int | None]] = []
    outcome = data.ingest(env, caller("ro"), [folder], live=True,
                          on_progress=lambda label, done, total: seen.append((label, done, total)))
    assert outcome.ok and outcome.live is not None and sum(outcome.live.values()) == 1
    assert ("ingesting court", 1, 1) in seen and seen[-1] == ("placing new records", 1, 1)


@pytest.mark.parametrize(("input_", "reason"), [
    ("{path: ../outside.csv, format: csv}", "outside the manifest's folder"),
    ("{path: ../outside.csv, format: csv, allow_outside: true}", "allow_outside is not"),
], ids=["path-outside", "allow-outside"])
def test_a_confined_ingest_reads_only_files_beside_the_manifest(
        env: Env, tmp_path: Path, input_: str, reason: str) -> None:
    (tmp_path / "outside.csv").write_text("id,first,last\n1,SECRET,FILE\n")
    up = tmp_path / "upload"
    up.mkdir()
    text = manifest("court").replace("id: court", "id: up_src")
    (up / "m.yaml").write_text(text.replace("{path: court.csv, format: csv}", input_))
    outcome = data.ingest(env, caller("ro"), [up], confined=True)
    assert not outcome.ok and outcome.summaries == [] and len(outcome.errors) == 1
    assert reason in outcome.errors[0] and "store unchanged" in outcome.errors[0]
    assert "up_src" not in {s.source for s in data.list_sources(env, caller("ro"))}
