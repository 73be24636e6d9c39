"""The registry repository's contract on every backend (store/registry.py): users,
credentials, sessions, tokens, login throttling, legal process, cases and their members,
subjects, notes and activity, supplements, notices, subject-access requests, policy
sets, the sources decisions read, and retention. Synthetic data only."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest

from idgraph.store import Store, open_store
from idgraph.store.registry import (
    LegalRow,
    NoteRow,
    RegistryRepo,
    SarRow,
    SubjectRow,
    SupplementRow,
)
from pgdb import fresh_database

T0 = datetime(2026, 12, 5, 9, 0, 0, 123456)


def _repo(store: Store) -> RegistryRepo:
    repo = RegistryRepo(store)
    repo.insert_user("root", "admin", "ops", "government", at=T0, by=None,
                     immigration_agency=False)
    repo.insert_user("gov", "investigator", "ice", "government", at=T0, by="root",
                     immigration_agency=True)
    repo.insert_user("pi", "investigator", "acme", "private", at=T0, by="root",
                     immigration_agency=False)
    return repo


# -- users ---------------------------------------------------------------------------
def test_users(any_store: Store) -> None:
    repo = _repo(any_store)
    assert repo.user_count() == 3
    gov = repo.user("gov")
    assert gov is not None and gov.org == "ice" and gov.immigration_agency is True
    assert gov.disabled is False and gov.disabled_at is None
    assert repo.user("nobody") is None
    assert [u.name for u in repo.users()] == ["gov", "pi", "root"]
    assert repo.user_named_alike("GOV") == "gov" and repo.user_named_alike("x") is None
    assert repo.org_type_other_than("ice", "private") == "government"
    assert repo.org_type_other_than("ice", "government") is None
    assert repo.org_immigration_differs("ice", False) is True
    assert repo.org_immigration_differs("ice", True) is False
    repo.disable_user("pi", at=T0, by="root")
    pi = repo.user("pi")
    assert pi is not None and pi.disabled is True and pi.disabled_at == T0


# -- credentials, sessions, tokens, throttling ----------------------------------------
def test_password_hash_upserts(any_store: Store) -> None:
    repo = RegistryRepo(any_store)
    assert repo.password_hash("gov") is None
    repo.put_password_hash("gov", "$argon2id$a", by="gov", at=T0)
    repo.put_password_hash("gov", "$argon2id$b", by="root", at=T0)
    assert repo.password_hash("gov") == "$argon2id$b"


def test_sessions(any_store: Store) -> None:
    repo = RegistryRepo(any_store)
    later = T0 + timedelta(hours=8)
    repo.insert_session("d1", "gov", at=T0, expires_at=later, client="c", via="web")
    repo.insert_session("d2", "gov", at=T0, expires_at=later, client="c", via="web")
    row = repo.session("d1")
    assert row is not None and row.name == "gov" and row.claims == () and row.purpose is None
    repo.set_session_purpose("d1", purpose="criminal_investigation", claims=("DPPA-b1",),
                             basis=None, case_id="C1")
    row = repo.session("d1")
    assert row is not None and row.claims == ("DPPA-b1",) and row.case_id == "C1"
    repo.touch_session("d1", T0 + timedelta(minutes=5))
    row = repo.session("d1")
    assert row is not None and row.last_seen == T0 + timedelta(minutes=5)
    repo.revoke_session("d1", T0 + timedelta(minutes=6))
    assert repo.revoke_sessions_of("gov", T0 + timedelta(minutes=7)) == 1  # d2 only
    row = repo.session("d1")
    assert row is not None and row.revoked_at == T0 + timedelta(minutes=6)
    repo.drop_stale_sessions(T0 + timedelta(minutes=10))
    assert repo.session("d1") is None and repo.session("d2") is None


def test_tokens(any_store: Store) -> None:
    repo = RegistryRepo(any_store)
    end = T0 + timedelta(days=30)
    repo.insert_token("t1", "gov", "ci", "dig1", by="root", at=T0, expires_at=end)
    repo.insert_token("t2", "pi", "ci", "dig2", by="root", at=T0 + timedelta(seconds=1),
                      expires_at=end)
    assert [t.token_id for t in repo.tokens()] == ["t2", "t1"]
    assert [t.token_id for t in repo.tokens("gov")] == ["t1"]
    repo.note_token_use("t1", T0 + timedelta(hours=1))
    repo.revoke_token("t1", by="root", at=T0 + timedelta(hours=2))
    repo.revoke_token("t1", by="other", at=T0 + timedelta(hours=3))  # once only
    t1 = repo.token("t1")
    assert t1 is not None and t1.revoked_by == "root" and t1.last_used == T0 + timedelta(hours=1)
    assert repo.token("none") is None


def test_login_failures_and_locks(any_store: Store) -> None:
    repo = RegistryRepo(any_store)
    for k in range(3):
        repo.add_failure("name", "h1", T0 + timedelta(minutes=k))
    assert repo.failures_since("name", "h1", T0) == 2  # strictly after
    assert repo.failures_since("client", "h1", T0 - timedelta(1)) == 0
    repo.lock_login("name", "h1", T0 + timedelta(minutes=15))
    repo.lock_login("name", "h1", T0 + timedelta(minutes=30))  # extended
    assert repo.locked_until("name", "h1", T0) == T0 + timedelta(minutes=30)
    assert repo.locked_until("name", "h1", T0 + timedelta(hours=1)) is None
    repo.clear_failures("name", "h1")
    assert repo.failures_since("name", "h1", T0 - timedelta(1)) == 0
    repo.drop_old_failures(T0 + timedelta(hours=1))
    assert repo.locked_until("name", "h1", T0) is None


# -- legal process -------------------------------------------------------------------
def _legal(legal_id: str, case_id: str | None, scope: tuple[str, ...] = ()) -> LegalRow:
    return LegalRow(legal_id, "judicial_warrant", "W-1", "Albany County Court", "J. Doe",
                    "state", "court", date(2026, 1, 1), None, scope, ("court",), case_id,
                    "state", "ice", "gov", None, None, None)


def test_legal_process(any_store: Store) -> None:
    repo = _repo(any_store)
    repo.insert_case("C1", title="t", kind="criminal", org="ice", by="gov", at=T0)
    repo.insert_legal(_legal("LP-1", "C1", ("I1", "I2")), at=T0)
    repo.insert_legal(_legal("LP-2", None)._replace(org=None, issued=date(2025, 1, 1)), at=T0)
    doc = repo.legal("LP-1")
    assert doc is not None and doc.scope_identities == ("I1", "I2")
    assert doc.scope_sources == ("court",) and doc.issued == date(2026, 1, 1)
    assert [d.legal_id for d in repo.legal_list()] == ["LP-2", "LP-1"]
    assert [d.legal_id for d in repo.legal_list("C1")] == ["LP-1"]
    assert repo.identity_scoped_legal() == [("LP-1", ("I1", "I2"), T0)]
    later = T0 + timedelta(days=1)
    repo.verify_legal("LP-1", by="lawyer", at=later, sha256="ab" * 32)
    doc = repo.legal("LP-1")
    assert doc is not None and doc.verified_by == "lawyer" and doc.document_sha256 == "ab" * 32
    assert repo.identity_scoped_legal() == [("LP-1", ("I1", "I2"), later)]
    # LP-2 has no org of its own and no case: its registrant's
    assert repo.legal_orgs() == {"LP-1": "ice", "LP-2": "ice"}


# -- cases ---------------------------------------------------------------------------
def test_cases_and_members(any_store: Store) -> None:
    repo = _repo(any_store)
    repo.insert_case("C1", title="one", kind="criminal", org="ice", by="gov", at=T0)
    repo.insert_case("P1", title="two", kind="civil", org="acme", by="pi",
                     at=T0 + timedelta(seconds=1))
    case = repo.case("C1")
    assert case is not None and case.status == "open" and case.opened_at == T0
    assert [c.case_id for c in repo.cases()] == ["C1", "P1"]
    assert [c.case_id for c in repo.cases(org="acme")] == ["P1"]
    assert repo.members() == {"C1": ("gov",), "P1": ("pi",)}
    later = T0 + timedelta(hours=1)
    repo.add_member("C1", "off", by="chief", at=later)
    assert repo.members("C1") == {"C1": ("gov", "off")}
    assert repo.has_member_row("C1", "off") and not repo.has_member_row("C1", "pi")
    repo.end_membership("C1", "gov", by="chief", at=later)
    assert repo.members("C1") == {"C1": ("off",)}
    hist = repo.membership_history("C1")
    assert [(m.member, m.removed_by) for m in hist] == [("gov", "chief"), ("off", None)]
    repo.close_case("C1", by="gov", at=later)
    assert [c.case_id for c in repo.cases(status="closed")] == ["C1"]


def test_opener_without_row_counts_as_member(any_store: Store) -> None:
    """A case opened before members were kept: its opener is its member."""
    any_store.execute(
        "INSERT INTO cases (case_id, title, status, kind, org, opened_by, opened_at) "
        "VALUES ('OLD', 't', 'open', 'criminal', 'ice', 'gov', ?)", [T0])
    repo = RegistryRepo(any_store)
    assert repo.members("OLD") == {"OLD": ("gov",)}
    hist = repo.membership_history("OLD")
    assert [(m.member, m.added_by, m.removed_at) for m in hist] == [("gov", "gov", None)]


def test_case_material(any_store: Store) -> None:
    repo = RegistryRepo(any_store)
    repo.insert_subject(SubjectRow("C1", "I1", "gov", T0))
    assert repo.is_subject("C1", "I1") and not repo.is_subject("C2", "I1")
    assert repo.subjects("C1") == [SubjectRow("C1", "I1", "gov", T0)]
    assert repo.note_count("C1") == 0
    repo.insert_note(NoteRow("N-1", "C1", "I1", "gov", T0, "seen at <b>x</b>"))
    repo.insert_note(NoteRow("N-2", "C1", None, "gov", T0 + timedelta(1), "case note"))
    assert repo.note_count("C1") == 2
    assert [(n.note_id, n.identity_id, n.text) for n in repo.notes("C1")] == [
        ("N-1", "I1", "seen at <b>x</b>"), ("N-2", None, "case note")]


def _append(store: Store, seq: int, **entry: object) -> None:
    store.execute("INSERT INTO audit_log (seq, entry, leaf_hash) VALUES (?, ?, ?)",
                  [seq, json.dumps(entry), f"h{seq}"])


def test_case_activity(any_store: Store) -> None:
    repo = RegistryRepo(any_store)
    repo.catch_up_activity()  # an empty log: nothing to do
    _append(any_store, 0, action="cases.open", outcome="ok", case_id="C1")
    _append(any_store, 1, action="policy.decide", outcome="permit", case_id="C1")
    _append(any_store, 2, action="policy.decide", outcome="deny", case_id="C1")
    _append(any_store, 3, action="users.add", outcome="ok")
    repo.catch_up_activity()
    _append(any_store, 4, action="profile.read", outcome="ok", case_id="C1",
            identity_ids=["I1"])
    _append(any_store, 5, action="profile.read", outcome="ok", case_id="C2")
    repo.catch_up_activity()
    repo.catch_up_activity()  # each entry noted once
    assert repo.activity_total("C1") == 3  # the gate's permit is not listed
    assert [s for s, _ in repo.activity_entries("C1", limit=2, offset=0)] == [4, 2]
    assert [s for s, _ in repo.activity_entries("C1", limit=2, offset=2)] == [0]
    assert json.loads(repo.activity_entries("C2", limit=5, offset=0)[0][1])["case_id"] == "C2"
    assert any_store.scalar("SELECT count(*) FROM case_activity") == 5


def test_case_activity_survives_a_nul_escape(any_store: Store) -> None:
    """An entry quoting a NUL (``\\u0000``, which PostgreSQL's json type refuses to
    read) neither breaks the case's activity nor hides the entry."""
    repo = RegistryRepo(any_store)
    _append(any_store, 0, action="cases.note", outcome="deny", case_id="C1",
            detail={"text": "a\x00b"})
    _append(any_store, 1, action="profile.read", outcome="ok", case_id="C1")
    assert "\\u0000" in str(any_store.scalar("SELECT entry FROM audit_log WHERE seq = 0"))
    repo.catch_up_activity()
    assert repo.activity_total("C1") == 2
    assert len(repo.case_entries("C1", ["cases.note"], "deny")) == 1


def test_case_entries(any_store: Store) -> None:
    repo = RegistryRepo(any_store)
    _append(any_store, 0, action="profile.read", outcome="ok", case_id="C1")
    _append(any_store, 1, action="profile.read", outcome="deny", case_id="C1")
    _append(any_store, 2, action="search.read", outcome="ok", case_id="C1")
    _append(any_store, 3, action="profile.read", outcome="ok", case_id="C2")
    got = repo.case_entries("C1", ["profile.read", "explain.read"], "ok")
    assert [json.loads(e)["action"] for e in got] == ["profile.read"]


def test_supplements(any_store: Store) -> None:
    repo = RegistryRepo(any_store)
    row = SupplementRow("SAR-1", "C1", "I1", "ice", 2, T0, None)
    repo.flag_supplement(row)
    repo.flag_supplement(row._replace(released=9))  # flagged once
    repo.flag_supplement(SupplementRow("SAR-2", "C1", "I2", "acme", 1, T0, None))
    assert repo.supplements_due("ice") == [row]
    assert len(repo.supplements_due(None)) == 2
    assert repo.supplement_sent_at("SAR-1", "C1", "acme") is None  # another org's
    assert repo.supplement_sent_at("SAR-1", "C1", "ice") == (None,)
    repo.mark_supplement_sent("SAR-1", "C1", by="rec", at=T0)
    assert repo.supplement_sent_at("SAR-1", "C1", "ice") == (T0,)
    assert repo.supplements_due("ice") == []


# -- notices and subject-access requests ----------------------------------------------
def test_notices(any_store: Store) -> None:
    repo = RegistryRepo(any_store)
    for nid, due in (("N-b", date(2027, 1, 5)), ("N-a", date(2027, 1, 4))):
        repo.insert_notice(nid, identity_id="I1", org="ice", principal="gov", case_id="C1",
                           sources=["dmv-ny", "jail"], rule="ny.notice", duty="notice:3d",
                           at=T0, due=due)
    assert [n.notice_id for n in repo.unsent_notices()] == ["N-a", "N-b"]
    notice = repo.notice("N-a")
    assert notice is not None and notice.sources == ("dmv-ny", "jail")
    assert notice.due_date == date(2027, 1, 4) and notice.sent_at is None
    repo.mark_notice_sent("N-a", by="rec", at=T0)
    assert [n.notice_id for n in repo.unsent_notices()] == ["N-b"]
    sent = repo.notice("N-a")
    assert sent is not None and sent.sent_at == T0
    repo.insert_notice("N-c", identity_id="I2", org="ice", principal="gov", case_id=None,
                       sources=[], rule="il.notice", duty="notice:3bd",
                       at=T0 - timedelta(1), due=date(2027, 1, 3))
    assert [n.notice_id for n in repo.notice_records()] == ["N-c", "N-a", "N-b"]
    (a, b) = repo.notice_records("I1")
    assert (a.notice_id, a.sent_by, a.sources, b.sent_at) == ("N-a", "rec", ("dmv-ny", "jail"),
                                                             None)


def test_subject_access_requests(any_store: Store) -> None:
    repo = RegistryRepo(any_store)
    a = SarRow("SAR-a", "I1", "walk-in", date(2026, 12, 1), "SA1", "ice", "rec", T0, "open")
    b = a._replace(sar_id="SAR-b", org="acme", opened_at=T0 + timedelta(1))
    repo.insert_sar(a)
    repo.insert_sar(b)
    assert repo.sar("SAR-a") == a and repo.sar("none") is None
    assert repo.sars() == [a, b]
    assert repo.sars(org="acme") == [b]
    repo.close_sar("SAR-a", by="rec", at=T0)
    assert repo.sars(status="open") == [b]
    assert repo.sars(org="ice", status="closed") == [a._replace(status="closed")]


# -- policy sets ---------------------------------------------------------------------
def test_policy_sets(any_store: Store) -> None:
    repo = RegistryRepo(any_store)
    assert repo.current_policy_set() is None
    assert repo.insert_policy_set(digest="d1", ids=["a", "b"], files=["base.cedar"],
                                  folder=None, at=T0, by="system", how="policy.change") == 1
    assert repo.insert_policy_set(digest="d2", ids=[], files=[], folder="/srv/p", at=T0,
                                  by="admin", how="policy.install") == 2
    cur = repo.current_policy_set()
    assert cur is not None and (cur.seq, cur.digest, cur.ids, cur.folder) == (2, "d2", (), "/srv/p")


def test_registry_generation(any_store: Store) -> None:
    """On PostgreSQL every change of a table decisions read moves the generation when it
    commits (workers re-read their registry); an embedded store's stays put."""
    repo = RegistryRepo(any_store)
    start = repo.registry_generation()
    assert start == (0, 0)
    pg = any_store.dialect == "postgres"
    with any_store.transaction():
        repo.insert_user("a", "admin", "ops", "private", at=T0, by=None,
                         immigration_agency=False)
        other = any_store.sibling()
        try:  # not before it commits
            assert RegistryRepo(other).registry_generation() == start
        finally:
            other.close()
    assert repo.registry_generation() == ((1, 0) if pg else start)
    repo.insert_case("C1", title="t", kind="criminal", org="ops", by="a", at=T0)
    repo.insert_policy_set(digest="d", ids=[], files=[], folder=None, at=T0, by="system",
                           how="policy.change")
    gen, policies = repo.registry_generation()
    assert (gen >= 3 and policies == 1) if pg else (gen, policies) == start


def _concurrently(n: int, work: Callable[[int], object]) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run(k: int) -> None:
        try:
            start.wait()
            work(k)
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_policy_sets_from_several_processes_get_one_seq_each() -> None:
    """Workers sharing one PostgreSQL database record sets in one gap-free sequence."""
    n = 4
    with fresh_database() as url:
        stores = [open_store(url, threads=1, memory_limit="1GB", pool_size=1)
                  for _ in range(n)]
        try:
            errors = _concurrently(n, lambda k: RegistryRepo(stores[k]).insert_policy_set(
                digest=f"d{k}", ids=[], files=[], folder=None, at=T0, by="system",
                how="policy.change"))
            assert errors == []
            seqs = sorted(r[0] for r in stores[0].fetchall("SELECT seq FROM policy_sets"))
            assert seqs == list(range(1, n + 1))
        finally:
            for s in stores:
                s.close()


def test_case_activity_from_several_processes_notes_each_entry_once() -> None:
    n = 4
    with fresh_database() as url:
        stores = [open_store(url, threads=1, memory_limit="1GB", pool_size=1)
                  for _ in range(n)]
        try:
            for seq in range(50):
                _append(stores[0], seq, action="profile.read", outcome="ok", case_id="C1")
            errors = _concurrently(n, lambda k: RegistryRepo(stores[k]).catch_up_activity())
            assert errors == []
            repo = RegistryRepo(stores[0])
            assert repo.activity_total("C1") == 50
            assert stores[0].scalar("SELECT count(*) FROM case_activity") == 50
        finally:
            for s in stores:
                s.close()


# -- what decisions read of sources and records ----------------------------------------
def _record(store: Store, record_id: str, *, current: bool = True, version: int = 1,
            origin: str | None = None, ingested: datetime = T0) -> None:
    source = record_id.split("/", 1)[0]
    store.execute(
        "INSERT INTO records (record_id, source_id, source_record_id, version, is_current, "
        "row_hash, ingested_at, origin_jurisdiction, full_name) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [record_id, source, record_id.split("/", 1)[1], version, current,
         f"h-{record_id}-{version}", ingested, origin, "ANA LOPEZ"])


def _source(store: Store, sid: str, days: int | None, regimes: list[str]) -> None:
    store.execute(
        "INSERT INTO sources (source_id, kind, jurisdiction, regimes, retention_days, "
        "manifest_path) VALUES (?, ?, ?, ?, ?, ?)",
        [sid, "dmv", "US-NY", regimes, days, f"/srv/{sid}/manifest.yaml"])


def test_sources_and_segments(any_store: Store) -> None:
    _source(any_store, "dmv", 30, ["DPPA"])
    _source(any_store, "jail", None, [])
    _record(any_store, "dmv/1", origin="US-CA")
    _record(any_store, "dmv/2", origin="US-CA")
    _record(any_store, "dmv/3", origin="US-AZ", current=False)
    _record(any_store, "jail/1")
    repo = RegistryRepo(any_store)
    assert sorted(repo.sources()) == [("dmv", "dmv", "US-NY", ("DPPA",), 30),
                                      ("jail", "dmv", "US-NY", (), None)]
    assert sorted(repo.current_segments_of(["dmv/1", "jail/1", "dmv/3", "x/1"])) == [
        ("dmv/1", "dmv", "US-CA"), ("jail/1", "jail", None)]
    rows = repo.record_columns(["dmv/3", "jail/1"], ["record_id", "is_current", "full_name"])
    assert sorted(rows) == [("dmv/3", False, "ANA LOPEZ"), ("jail/1", True, "ANA LOPEZ")]
    with pytest.raises(ValueError, match="not record columns"):
        repo.record_columns(["dmv/1"], ["record_id; DROP TABLE records"])


# -- retention -----------------------------------------------------------------------
def test_retention(any_store: Store) -> None:
    _source(any_store, "dmv", 30, [])
    _source(any_store, "jail", None, [])
    old = T0 - timedelta(days=31)
    _record(any_store, "dmv/1", ingested=old)
    _record(any_store, "dmv/1", ingested=old, version=2, current=False)
    _record(any_store, "dmv/2", ingested=T0 - timedelta(days=29))
    _record(any_store, "jail/1", ingested=old)
    repo = RegistryRepo(any_store)
    assert repo.expired(T0) == [("dmv/1", "dmv")]
    assert repo.tombstoned([]) == set()
    with any_store.transaction():
        repo.remove_records(["dmv/1"], run_id="RET-1", at=T0)
        repo.insert_retention_run("RET-1", ran_at=T0, as_of=T0, actor="rec", removed=1,
                                  by_source=json.dumps({"dmv": 1}), hashes=["abc"])
    assert repo.expired(T0) == []
    left = any_store.fetchall("SELECT record_id FROM records ORDER BY record_id")
    assert left == [("dmv/2",), ("jail/1",)]
    pairs = [("dmv/1", "h-dmv/1-1"), ("dmv/1", "h-dmv/1-2"), ("dmv/2", "h-dmv/2-1")]
    assert repo.tombstoned(pairs) == {("dmv/1", "h-dmv/1-1"), ("dmv/1", "h-dmv/1-2")}
    (run,) = repo.retention_runs()
    assert (run.run_id, run.removed, run.actor) == ("RET-1", 1, "rec")
    assert json.loads(run.by_source or "{}") == {"dmv": 1}
