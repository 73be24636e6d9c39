"""The store's contract on every backend: placeholders, types as DuckDB gives them,
transactions, locks, bulk paths, workspaces and migrations (table-driven)."""

from __future__ import annotations

import threading
from datetime import date, datetime

import pyarrow as pa
import pytest

from idgraph.schema import RECORD_COLUMNS
from idgraph.store import Store, migrations
from idgraph.store.postgres_store import ddl_to_pg, to_pg

ROUND_TRIP = [  # (table, column, value): what goes in comes back, with its Python type
    ("link_runs", "threshold", 0.9),
    ("link_runs", "n_records", 12_345_678_901),
    ("link_runs", "detail", '{"b": [1, 2], "a": "x"}'),  # JSON text kept as written
    ("link_runs", "started_at", datetime(2026, 12, 5, 21, 0, 1, 123456)),
    ("notices", "sources", ["dmv-ny", "jail-x"]),
    ("notices", "sources", []),
    ("notices", "due_date", date(2027, 1, 31)),
    ("users", "disabled", True),
]


@pytest.mark.parametrize(("table", "column", "value"), ROUND_TRIP)
def test_values_round_trip(any_store: Store, table: str, column: str, value: object) -> None:
    key = {"link_runs": "run_id", "notices": "notice_id", "users": "name"}[table]
    extra = {"users": ", role, org, org_type"}.get(table, "")
    extra_vals = ["r", "o", "government"] if table == "users" else []
    marks = ", ".join("?" * (2 + len(extra_vals)))
    any_store.execute(f"INSERT INTO {table} ({key}, {column}{extra}) VALUES ({marks})",
                      ["k", value, *extra_vals])
    got = any_store.scalar(f"SELECT {column} FROM {table} WHERE {key} = ?", ["k"])
    assert got == value and type(got) is type(value)


def test_aggregates_come_back_as_numbers(any_store: Store) -> None:
    any_store.executemany("INSERT INTO link_runs (run_id, n_records) VALUES (?, ?)",
                          [("a", 1), ("b", 2)])
    total, mean = any_store.fetchone("SELECT sum(n_records), avg(n_records) FROM link_runs") or ()
    assert (total, mean) == (3, 1.5) and isinstance(total, int) and isinstance(mean, float)


def test_percent_and_question_marks_in_literals(any_store: Store) -> None:
    any_store.execute("INSERT INTO users (name, role, org, org_type) VALUES (?, ?, ?, ?)",
                      ["a%b?", "r", "o", "g"])
    rows = any_store.fetchall(
        "SELECT name FROM users WHERE name LIKE 'a%' AND name LIKE '%?' AND role = ?", ["r"])
    assert rows == [("a%b?",)]


def test_rollback_leaves_nothing(any_store: Store) -> None:
    with pytest.raises(RuntimeError), any_store.transaction() as con:
        con.execute("INSERT INTO link_runs (run_id) VALUES (?)", ["x"])
        raise RuntimeError("boom")
    assert any_store.scalar("SELECT count(*) FROM link_runs") == 0
    with any_store.transaction() as con:
        con.execute("INSERT INTO link_runs (run_id) VALUES (?)", ["y"])
        with any_store.transaction() as inner:  # nested: joins the outer one
            inner.execute("INSERT INTO link_runs (run_id) VALUES (?)", ["z"])
    assert any_store.scalar("SELECT count(*) FROM link_runs") == 2


def test_a_failed_commit_ends_the_transaction(any_store: Store,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # a COMMIT that fails (a signal inside it, a lost connection) must not leave the
    # transaction open: every later statement would be refused
    def failing_commit() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(any_store, "_commit", failing_commit)
    with pytest.raises(KeyboardInterrupt), any_store.transaction() as con:
        con.execute("INSERT INTO link_runs (run_id) VALUES (?)", ["lost"])
    monkeypatch.undo()
    assert not any_store.in_transaction
    with any_store.transaction() as con:
        con.execute("INSERT INTO link_runs (run_id) VALUES (?)", ["kept"])
    assert any_store.fetchall("SELECT run_id FROM link_runs") == [("kept",)]


def test_lock_only_inside_a_transaction(any_store: Store) -> None:
    with pytest.raises(RuntimeError):
        any_store.lock("audit")
    with any_store.transaction():
        any_store.lock("audit")


def test_has_table(any_store: Store) -> None:
    assert any_store.has_table("records") and any_store.has_table("audit_log")
    assert not any_store.has_table("no_such_table")


def test_migrations_recorded_once(any_store: Store) -> None:
    assert migrations.applied(any_store) == list(range(1, migrations.latest() + 1))
    assert migrations.upgrade(any_store) == []


def test_records_table_has_the_record_columns(any_store: Store) -> None:
    got = any_store.fetch_arrow("SELECT * FROM records LIMIT 0").column_names
    assert got == list(RECORD_COLUMNS)


def test_arrow_round_trip(any_store: Store) -> None:
    data = pa.table({"notice_id": ["n1", "n2"], "sources": [["a"], None],
                     "due_date": [date(2027, 1, 1), None]})
    assert any_store.append_arrow("notices", data) == 2
    got = any_store.fetch_arrow(
        "SELECT notice_id, sources, due_date FROM notices ORDER BY notice_id")
    assert got.to_pylist() == data.to_pylist()


def test_workspace_reads_and_writes_back(any_store: Store) -> None:
    any_store.executemany("INSERT INTO link_runs (run_id) VALUES (?)", [("a",), ("b",)])
    any_store.execute("INSERT INTO notices (notice_id) VALUES (?)", ["n0"])
    with any_store.workspace({"link_runs": None}, {"link_runs": "replace",
                                                   "notices": "append"}) as ws:
        assert ws.dialect == "duckdb"
        ws.execute("DELETE FROM link_runs WHERE run_id = 'a'")
        ws.execute("INSERT INTO notices (notice_id) VALUES ('n1')")
    assert any_store.fetchall("SELECT run_id FROM link_runs") == [("b",)]
    assert sorted(any_store.fetchall("SELECT notice_id FROM notices")) == [("n0",), ("n1",)]


def test_workspace_writes_nothing_back_after_an_error(any_store: Store) -> None:
    """A stage that fails leaves the store as it was (on DuckDB, where the workspace is
    the store, because the stage's writes are in the caller's transaction)."""
    with pytest.raises(ValueError), any_store.transaction(), \
            any_store.workspace({}, {"notices": "append"}) as ws:
        ws.execute("INSERT INTO notices (notice_id) VALUES ('n1')")
        raise ValueError("stage failed")
    assert any_store.scalar("SELECT count(*) FROM notices") == 0


def test_sibling_sees_commits(any_store: Store) -> None:
    other = any_store.sibling()
    try:
        any_store.execute("INSERT INTO link_runs (run_id) VALUES (?)", ["a"])
        assert other.scalar("SELECT count(*) FROM link_runs") == 1
    finally:
        other.close()


def test_lock_serialises_writers(any_store: Store) -> None:
    """Two connections increment one counter under the lock: no lost update."""
    any_store.execute("INSERT INTO graph_generation (id, generation) VALUES (0, 0)")
    stores = [any_store.sibling() for _ in range(2)]

    def bump(s: Store) -> None:
        for _ in range(20):
            for _attempt in range(50):
                try:
                    with s.transaction():
                        s.lock("counter")
                        g = s.scalar("SELECT generation FROM graph_generation WHERE id = 0")
                        s.execute("UPDATE graph_generation SET generation = ? WHERE id = 0",
                                  [g + 1])
                    break
                except Exception:  # DuckDB: a write-write conflict between cursors; retry
                    if any_store.dialect == "postgres":
                        raise
    threads = [threading.Thread(target=bump, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert any_store.scalar("SELECT generation FROM graph_generation WHERE id = 0") == 40


@pytest.mark.parametrize(("sql", "pg"), [
    ("SELECT * FROM t WHERE a = ? AND b LIKE 'x%'",
     "SELECT * FROM t WHERE a = %s AND b LIKE 'x%%'"),
    ("SELECT '?' , \"c?\" FROM t WHERE a = ?", "SELECT '?' , \"c?\" FROM t WHERE a = %s"),
    ("SELECT 'it''s ?', ?", "SELECT 'it''s ?', %s"),
])
def test_placeholders(sql: str, pg: str) -> None:
    assert to_pg(sql) == pg


@pytest.mark.parametrize(("ddl", "pg"), [
    ("CREATE TABLE t (a DOUBLE, b BLOB)", "CREATE TABLE t (a DOUBLE PRECISION, b BYTEA)"),
    ("CREATE TABLE t (a DOUBLE PRECISION)", "CREATE TABLE t (a DOUBLE PRECISION)"),
])
def test_ddl_types(ddl: str, pg: str) -> None:
    assert ddl_to_pg(ddl) == pg


def test_kept_row_counts_match_the_tables(any_store: Store) -> None:
    """The counts a search compares (PostgreSQL keeps them by triggers) equal the
    tables' own counts after inserts, version updates, deletes and a truncate."""
    from idgraph.store import records

    s = any_store
    rows = [(f"r{i}", 1, True) for i in range(5)]
    s.executemany("INSERT INTO records (record_id, version, is_current) VALUES (?, ?, ?)", rows)
    s.execute("UPDATE records SET is_current = false WHERE record_id IN ('r0', 'r1')")
    s.execute("INSERT INTO records (record_id, version, is_current) VALUES ('r0', 2, true)")
    s.execute("DELETE FROM records WHERE record_id = 'r4'")
    s.executemany("INSERT INTO link_runs (run_id) VALUES (?)", [("a",), ("b",)])
    with s.transaction():
        s.execute("INSERT INTO batches (batch_id) VALUES ('b1')")
    with pytest.raises(RuntimeError), s.transaction():
        s.execute("INSERT INTO batches (batch_id) VALUES ('b2')")
        raise RuntimeError("rolled back")
    s.execute("INSERT INTO identity_lineage (run_id) VALUES ('a')")
    s.execute("DELETE FROM identity_lineage")
    tables = ["batches", "link_runs", "identity_lineage", "retention_tombstones"]
    want = (s.scalar("SELECT count(*) FROM records WHERE is_current"),
            *(s.scalar(f"SELECT count(*) FROM {t}") for t in tables))
    assert records.change_counts(s, tables) == want == (3, 1, 2, 0, 0)
