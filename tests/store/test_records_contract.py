"""The records repository (idgraph.store.records) on each backend: sources, batches,
records, quarantine, and the bring-back of a merged batch from its workspace."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pytest

from idgraph.schema import RECORD_COLUMNS
from idgraph.store import Store, records

T0 = datetime(2026, 1, 2, 3, 4, 5)


def _source(sid: str = "dmv", regimes: tuple[str, ...] = ("DPPA", "GLBA")) -> records.SourceRow:
    return records.SourceRow(sid, "Title", "dmv", "US-NY", list(regimes), "testing", 30,
                             f"/m/{sid}", json.dumps({"id": sid}), T0)


def _record(rid: str, *, version: int = 1, current: bool = True, batch: str = "b1",
            **values: Any) -> dict[str, Any]:
    sid, _, srid = rid.partition("/")
    row: dict[str, Any] = dict.fromkeys(RECORD_COLUMNS)
    row.update(record_id=rid, source_id=sid, source_record_id=srid, version=version,
               is_current=current, row_hash=f"h{version}", batch_id=batch, ingested_at=T0,
               source_file="f.csv", source_line=2, raw=json.dumps({"ID": srid}), **values)
    return row


def _insert(store: Store, *rows: dict[str, Any]) -> None:
    cols = list(RECORD_COLUMNS)
    store.executemany(f"INSERT INTO records ({', '.join(cols)}) VALUES "
                      f"({', '.join('?' * len(cols))})", [[r[c] for c in cols] for r in rows])


def _batch(bid: str, sid: str, finished: datetime, added: int) -> records.BatchRow:
    return records.BatchRow(bid, sid, "f.csv", "0" * 64, T0, finished, added + 1, added, 0, 0,
                            1, 0, added + 2, 0, added + 1)


def test_sources_register_refresh_and_list(any_store: Store) -> None:
    assert records.list_sources(any_store) == [] and records.source_count(any_store) == 0
    records.register_source(any_store, _source())
    records.register_source(any_store, _source(regimes=("DPPA",)))  # a refresh
    records.register_source(any_store, _source("news"))
    assert records.source_count(any_store) == 2
    assert records.source_exists(any_store, "dmv") and not records.source_exists(any_store, "x")
    assert json.loads(records.source_manifest(any_store, "news") or "") == {"id": "news"}
    assert records.source_manifest(any_store, "x") is None
    assert records.source_manifest_paths(any_store, ["dmv", "x"]) == {"dmv": "/m/dmv"}
    _insert(any_store, _record("dmv/1", current=False), _record("dmv/1", version=2),
            _record("dmv/2"))
    records.insert_batch(any_store, _batch("b1", "dmv", datetime(2026, 1, 3), 2))
    records.insert_batch(any_store, _batch("b2", "dmv", datetime(2026, 1, 4), 1))
    dmv, news = records.list_sources(any_store)
    assert (dmv.source, dmv.regimes, dmv.records, dmv.versions, dmv.batches) == (
        "dmv", "DPPA", 2, 3, 2)
    assert (dmv.rows, dmv.rows_recorded, dmv.quarantined_rows) == (5, 3, 2)
    assert (dmv.last_batch, dmv.last_ingest, dmv.last_batch_records) == (
        "b2", datetime(2026, 1, 4), 1)
    assert isinstance(dmv.rows, int) and isinstance(dmv.last_batch_rows, int)
    assert (news.records, news.batches, news.last_batch, news.regimes) == (
        0, 0, None, "DPPA, GLBA")
    assert records.batch_exists(any_store, "b1") and not records.batch_exists(any_store, "b9")


def test_record_reads(any_store: Store) -> None:
    _insert(any_store,
            _record("dmv/1", current=False, batch="b0"),
            _record("dmv/1", version=2, batch="b1", origin_jurisdiction="US-NY"),
            _record("dmv/2", batch="b1", last_name="GARCIA", first_name="MARIA",
                    dob=date(1980, 3, 15)),
            _record("news/7", batch="b2", phone="+12125550134", house_number="12",
                    street="MAIN ST", zip="12207"))
    assert records.current_record_count(any_store) == 3
    assert records.batch_record_ids(any_store, ["b1", "b2"]) == ["dmv/1", "dmv/2", "news/7"]
    assert records.batch_record_ids(any_store, []) == []
    assert records.replaced_in_batch(any_store, "b1") == ["dmv/1"]
    assert sorted(records.batch_records(any_store, "b1")) == [
        (2, "1", "dmv/1", 2), (2, "2", "dmv/2", 1)]
    assert sorted(records.record_segments(any_store), key=str) == [
        ("dmv", "US-NY"), ("dmv", None), ("news", None)]
    assert records.record_segments(any_store, ["news/7"]) == [("news", None)]
    assert records.example_person(any_store, "dmv") == ("GARCIA", "MARIA", 1980)
    assert records.example_person(any_store, "news") is None
    any_store.executemany("INSERT INTO identity_members VALUES (?, ?)",
                          [["i1", "dmv/1"], ["i1", "dmv/2"], ["i2", "news/7"]])
    got = records.member_records(any_store, ["i1", "i2"], ["dmv"], ["record_id", "dob"])
    assert sorted(got, key=lambda x: x[1]["record_id"]) == [
        ("i1", {"record_id": "dmv/1", "dob": None}),
        ("i1", {"record_id": "dmv/2", "dob": date(1980, 3, 15)})]
    assert records.member_records(any_store, [], ["dmv"], ["record_id"]) == []
    with pytest.raises(ValueError):
        records.member_records(any_store, ["i1"], ["dmv"], ["record_id; DROP TABLE x"])
    found = records.records_sharing_values(
        any_store, exclude_identity="i1", source_ids=["dmv", "news"],
        addresses=["12\x1fMAIN ST\x1f12207"], phones=[], plates=[], columns=["record_id"])
    assert found == [("i2", {"record_id": "news/7"})]
    assert records.records_sharing_values(
        any_store, exclude_identity="i2", source_ids=["news"], addresses=[],
        phones=["+12125550134"], plates=[], columns=["record_id"]) == []


def test_quarantine_listing(any_store: Store) -> None:
    rows = [("dmv", "f.csv", 3, "1", "dob", "02/30", "not a date", "b1", "field"),
            ("dmv", "f.csv", 5, None, "ID", None, "missing record id in column 'ID'", "b1",
             None),
            ("dmv", "g.csv", None, None, None, None, "unreadable", "b2", "row"),
            ("news", "n.csv", 2, "9", "phone", "x", "100% wrong", "b3", "field")]
    any_store.executemany(
        f"INSERT INTO quarantine ({', '.join(records.QUARANTINE_COLUMNS)}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    assert records.quarantine_totals(any_store, None, None) == (4, 2)
    assert records.quarantine_totals(any_store, "dmv", "b1") == (2, 1)
    got = records.list_quarantine_rows(any_store, "dmv", None, 0)
    assert [(r.file, r.line, r.kind) for r in got] == [
        ("f.csv", 3, "field"), ("f.csv", 5, "row"), ("g.csv", None, "row")]
    assert len(records.list_quarantine_rows(any_store, None, None, 2)) == 2
    assert records.list_quarantine_rows(any_store, None, "b3", 0)[0].reason == "100% wrong"
    assert records.batch_quarantine(any_store, "b1") == [
        (3, "1", "dob", "not a date", "field"),
        (5, None, "ID", "missing record id in column 'ID'", None)]


def test_a_merged_batch_comes_back_from_its_workspace(any_store: Store) -> None:
    _insert(any_store, _record("dmv/1"), _record("dmv/2"), _record("news/1"))
    any_store.execute("INSERT INTO retention_tombstones (record_id, row_hash, source_id) "
                      "VALUES ('dmv/9', 'h1', 'dmv'), ('news/9', 'h1', 'news')")
    with any_store.transaction(), records.ingest_workspace(any_store, "dmv") as ws:
        records.load_current(any_store, ws, ["dmv/1", "dmv/3", "dmv/9"])
        # the workspace holds the current versions and tombstones of the ids asked for
        assert ws.fetchall("SELECT record_id FROM records ORDER BY 1") == (
            [("dmv/1",), ("dmv/2",), ("news/1",)] if ws is any_store else [("dmv/1",)])
        assert ws.fetchall("SELECT record_id FROM retention_tombstones ORDER BY 1") == (
            [("dmv/9",), ("news/9",)] if ws is any_store else [("dmv/9",)])
        # what ingest's merge does: supersede dmv/1, add its version 2 and dmv/3
        ws.execute("UPDATE records SET is_current = false WHERE record_id = 'dmv/1'")
        new = [_record("dmv/1", version=2, batch="b2"), _record("dmv/3", batch="b2")]
        ws.append_arrow("records", pa.Table.from_pylist(new))
        ws.execute(f"INSERT INTO quarantine ({', '.join(records.QUARANTINE_COLUMNS)}) VALUES "
                   "('dmv', 'f', 4, '4', NULL, NULL, 'dup', 'b2', 'row')")
        records.apply_batch(any_store, ws, "b2")
    assert any_store.fetchall(
        "SELECT record_id, version, is_current, batch_id FROM records ORDER BY 1, 2") == [
        ("dmv/1", 1, False, "b1"), ("dmv/1", 2, True, "b2"), ("dmv/2", 1, True, "b1"),
        ("dmv/3", 1, True, "b2"), ("news/1", 1, True, "b1")]
    assert any_store.fetchall("SELECT reason, batch_id FROM quarantine") == [("dup", "b2")]


def test_an_error_in_the_workspace_writes_nothing(any_store: Store) -> None:
    _insert(any_store, _record("dmv/1"))
    with pytest.raises(RuntimeError), any_store.transaction(), \
            records.ingest_workspace(any_store, "dmv") as ws:
        ws.execute("UPDATE records SET is_current = false")
        raise RuntimeError("stop")
    assert any_store.fetchall("SELECT is_current FROM records") == [(True,)]


def test_ingest_workspace_needs_a_transaction_on_postgres(pg_store: Store) -> None:
    with pytest.raises(RuntimeError), records.ingest_workspace(pg_store, "dmv"):
        pass


def test_literal() -> None:
    assert records.literal("o'neil") == "'o''neil'"
    with pytest.raises(ValueError):
        records.literal("a\x00b")
