"""Manifests that lie (issue 12, items 3, 6, 8 and 10).

Each test is written as the lying manifest: an encoding or delimiter Python cannot use,
a date format that matches nothing, a path that leaves the manifest's folder, a mapping
fixed after a first ingest. Each is refused with the manifest and key named, stops the
batch with the store unchanged, or (a fixed mapping) re-versions every record.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from idgraph.settings import Settings
from idgraph.sources import FileRejected, ManifestError, ingest_manifest, load_manifest
from idgraph.store import Store, open_store

HEADER = ["ID", "FIRST", "MIDDLE", "LAST", "DOB", "YOB", "PHONE", "SEEN"]


def person(i: int, dob: str = "", phone: str = "(212) 555-0134", yob: str = "") -> list[str]:
    """A synthetic row; ``dob`` defaults to a valid US date whose day is over 12."""
    return [str(i), f"Ann{chr(97 + i % 26)}", "Beth", f"Smith{chr(97 + i % 26)}",
            dob or f"03/{13 + i % 15}/19{50 + i % 40}", yob, phone, "2024-05-01"]


def rows(n: int, **kw: str) -> list[list[str]]:
    return [person(i, **kw) for i in range(1, n + 1)]


def write_csv(path: Path, data: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(data)


def base(data_name: str = "people.csv") -> dict[str, Any]:
    return {
        "id": "lies", "title": "Lying manifest", "kind": "dmv", "jurisdiction": "US-NY",
        "regimes": ["DPPA"], "collected_for": "testing", "retention_days": 365,
        "input": {"path": data_name, "format": "csv"}, "record_id": "ID",
        "fields": {"first_name": "FIRST", "last_name": "LAST",
                   "dob": {"column": "DOB", "format": "%m/%d/%Y"}, "phone": "PHONE"},
    }


def write_manifest(folder: Path, data: dict[str, Any], name: str = "lies.yaml") -> Path:
    p = folder / name
    p.write_text(yaml.safe_dump(data))
    return p


def with_(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *head, last = path.split(".")
    node = data
    for k in head:
        node = node.setdefault(k, {})
    node[last] = value
    return data


def snapshot(store: Store) -> dict[str, Any]:
    return {t: store.fetchall(f"SELECT * FROM {t} ORDER BY ALL")
            for t in ("records", "quarantine", "sources", "batches")}


def settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(data_dir=tmp_path / "db", ingest_chunk_rows=7, **kw)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(tmp_path / "db" / "t.duckdb")


# --- item 3: encoding and delimiter are checked when the manifest loads -------------

INPUT_LIES = [
    ("unknown encoding", "input.encoding", "utf-9", "unknown encoding 'utf-9'"),
    ("made-up encoding", "input.encoding", "ebcdic-martian", "unknown encoding"),
    ("binary codec", "input.encoding", "base64", "not a text encoding"),
    ("rot13 codec", "input.encoding", "rot13", "not a text encoding"),
    ("two-char delimiter", "input.delimiter", ";;", "exactly one character"),
    ("word delimiter", "input.delimiter", "tab", "exactly one character"),
    ("empty delimiter", "input.delimiter", "", "exactly one character"),
    ("quote delimiter", "input.delimiter", '"', "cannot be a delimiter"),
    ("newline delimiter", "input.delimiter", "\n", "cannot be a delimiter"),
]


@pytest.mark.parametrize(("label", "key", "value", "message"), INPUT_LIES,
                         ids=[c[0] for c in INPUT_LIES])
def test_input_settings_python_cannot_use_are_refused_at_load(
    tmp_path: Path, store: Store, label: str, key: str, value: str, message: str
) -> None:
    write_csv(tmp_path / "people.csv", rows(3))
    mp = write_manifest(tmp_path, with_(base(), key, value))
    with pytest.raises(ManifestError) as info:
        load_manifest(mp)
    assert info.value.key == key, label
    assert message in str(info.value)
    assert str(info.value).startswith(f"{mp.resolve()}: {key}: ")
    before = snapshot(store)
    with pytest.raises(ManifestError):  # never a LookupError/TypeError traceback
        ingest_manifest(store, mp, settings(tmp_path))
    assert snapshot(store) == before


@pytest.mark.parametrize(("encoding", "delimiter"), [("cp1252", ";"), ("latin-1", "\t"),
                                                     ("UTF8", "|"), ("utf-8-sig", ",")])
def test_usable_input_settings_still_load(
    tmp_path: Path, encoding: str, delimiter: str
) -> None:
    data = with_(with_(base(), "input.encoding", encoding), "input.delimiter", delimiter)
    m = load_manifest(write_manifest(tmp_path, data))
    assert (m.input.encoding, m.input.delimiter) == (encoding, delimiter)


# --- item 6: date formats are checked at load; a column that fails stops the batch ---

FORMAT_LIES = [
    ("no directive", "dob", "MM/DD/YYYY", "no % directive"),
    ("invalid directive", "dob", "%Q/%d/%Y", "unknown directive(s) %Q"),
    ("GNU no-pad directive", "dob", "%-m/%-d/%Y", "unknown directive(s) %-"),
    ("lone percent", "dob", "%m/%d/%Y%", "a lone % at the end"),
    ("no year", "dob", "%m/%d", "no year"),
    ("repeated directive", "dob", "%d/%d/%Y", "cannot be read back"),
    ("timestamp no directive", "observed_at", "YYYY-MM-DD hh:mm", "no % directive"),
]


@pytest.mark.parametrize(("label", "field", "fmt", "message"), FORMAT_LIES,
                         ids=[c[0] for c in FORMAT_LIES])
def test_date_format_that_matches_nothing_is_refused_at_load(
    tmp_path: Path, label: str, field: str, fmt: str, message: str
) -> None:
    data = with_(base(), f"fields.{field}", {"column": "DOB" if field == "dob" else "SEEN",
                                            "format": fmt})
    mp = write_manifest(tmp_path, data)
    with pytest.raises(ManifestError) as info:
        load_manifest(mp)
    assert info.value.key == f"fields.{field}.format", label
    assert message in str(info.value)
    assert "'%m/%d/%Y'" in str(info.value)  # the fix is suggested


@pytest.mark.parametrize("fmt", ["%m/%d/%Y", "%Y-%m-%d", "%Y%m%d", "%d.%m.%Y %H:%M",
                                 "%Y-%m-%dT%H:%M:%S%z", "%m/%d/%y %I:%M %p", "%Y"])
def test_real_date_formats_still_load(tmp_path: Path, fmt: str) -> None:
    data = with_(base(), "fields.observed_at", {"column": "SEEN", "format": fmt})
    assert load_manifest(write_manifest(tmp_path, data)).fields["observed_at"].format == fmt


def _all_bad_dob(data: dict[str, Any]) -> dict[str, Any]:
    # valid strptime, wrong for the file: 03/15/1980 has no month 15
    return with_(data, "fields.dob", {"column": "DOB", "format": "%d/%m/%Y"})


def _bad_dob_values(n_bad: int) -> list[list[str]]:
    data = rows(30)
    for r in data[:n_bad]:
        r[4] = "not a date"
    return data


# (label, manifest change, rows, settings, stops?, field named in the error)
SHARE_CASES: list[tuple[str, Any, list[list[str]], dict[str, Any], bool, str]] = [
    ("wrong dob format: every value fails", _all_bad_dob, rows(30), {}, True, "dob"),
    ("wrong format, tiny file, all fail", _all_bad_dob, rows(2), {}, True, "dob"),
    ("40% of dobs unreadable", lambda d: d, _bad_dob_values(12), {}, True, "dob"),
    ("10% of dobs unreadable: data quality", lambda d: d, _bad_dob_values(3), {}, False, ""),
    ("setting raises the share", lambda d: d, _bad_dob_values(12),
     {"ingest_max_invalid_share": 0.5}, False, ""),
    ("few values, not all bad: not judged", lambda d: d,
     [*_bad_dob_values(2)[:2], *rows(3)[2:]], {}, False, ""),
    ("field override 1 disables the stop", lambda d: with_(
        _all_bad_dob(d), "fields.dob.max_invalid_share", 1.0), rows(30), {}, False, ""),
    ("field override 0.05 is stricter", lambda d: with_(
        d, "fields.dob.max_invalid_share", 0.05), _bad_dob_values(3), {}, True, "dob"),
    ("birth year column of words", lambda d: with_(d, "fields.birth_year", "YOB"),
     rows(30, yob="unknown"), {}, True, "birth_year"),
    ("timestamp with wrong format", lambda d: with_(
        d, "fields.observed_at", {"column": "SEEN", "format": "%m/%d/%Y"}), rows(30), {},
     True, "observed_at"),
    ("unreadable phones are data quality", lambda d: d, rows(30, phone="n/a"), {}, False, ""),
    ("phones with an explicit share stop", lambda d: with_(
        d, "fields.phone", {"column": "PHONE", "max_invalid_share": 0.5}),
     rows(30, phone="n/a"), {}, True, "phone"),
]


@pytest.mark.parametrize(("label", "change", "data", "extra", "stops", "field"), SHARE_CASES,
                         ids=[c[0] for c in SHARE_CASES])
def test_a_column_that_mostly_fails_stops_the_batch(
    tmp_path: Path, store: Store, label: str, change: Any, data: list[list[str]],
    extra: dict[str, Any], stops: bool, field: str,
) -> None:
    write_csv(tmp_path / "people.csv", data)
    mp = write_manifest(tmp_path, change(base()))
    before = snapshot(store)
    if not stops:
        s = ingest_manifest(store, mp, settings(tmp_path, **extra))
        assert s.records_added == len(data) and s.balanced, label
        return
    with pytest.raises(FileRejected) as info:
        ingest_manifest(store, mp, settings(tmp_path, **extra))
    assert snapshot(store) == before, label  # rolled back: nothing stored
    msg = str(info.value)
    assert f"field {field!r}" in msg and "could not be read" in msg, msg
    spec = load_manifest(mp).fields[field]
    if spec.format:
        assert repr(spec.format) in msg
    bad_values = {r[HEADER.index({"dob": "DOB", "birth_year": "YOB", "phone": "PHONE",
                                  "observed_at": "SEEN"}[field])] for r in data}
    assert any(repr(v) in msg for v in bad_values), msg  # example values are shown
    examples = msg.split(", e.g. ", 1)[1].split("; ", 1)[0]
    assert 1 <= examples.count("' (") <= 3, msg  # at most three, each with its reason
    assert f"fields.{field}" in msg and "max_invalid_share" in msg


def test_invalid_share_is_judged_over_the_whole_file(tmp_path: Path, store: Store) -> None:
    """Bad values spread thin over many chunks still add up to a stop."""
    data = rows(40)
    for r in data[::2]:  # every other row: 50%, at most 4 per 7-row chunk
        r[4] = "13/45/1990"
    write_csv(tmp_path / "people.csv", data)
    mp = write_manifest(tmp_path, base())
    with pytest.raises(FileRejected, match=r"field 'dob': 20 of 40 values \(50%\)"):
        ingest_manifest(store, mp, settings(tmp_path))
    assert store.scalar("SELECT count(*) FROM records") == 0


# --- item 8: input.path may not leave the manifest's folder -------------------------

def _outside_file(tmp_path: Path) -> Path:
    other = tmp_path / "elsewhere"
    other.mkdir(exist_ok=True)
    write_csv(other / "secret.csv", rows(3))
    return other / "secret.csv"


def _relative_escape(tmp_path: Path, folder: Path) -> str:
    _outside_file(tmp_path)
    return "../elsewhere/secret.csv"


def _absolute(tmp_path: Path, folder: Path) -> str:
    return str(_outside_file(tmp_path))


def _symlink(tmp_path: Path, folder: Path) -> str:
    (folder / "innocent.csv").symlink_to(_outside_file(tmp_path))
    return "innocent.csv"


def _dotdot_back_in(tmp_path: Path, folder: Path) -> str:
    write_csv(folder / "people.csv", rows(3))
    return "../manifests/./people.csv"


PATH_CASES = [
    ("relative ../", _relative_escape, False),
    ("absolute path", _absolute, False),
    ("symlink leading out", _symlink, False),
    ("../ that comes back in", _dotdot_back_in, True),
]


@pytest.mark.parametrize(("label", "make", "inside"), PATH_CASES,
                         ids=[c[0] for c in PATH_CASES])
def test_input_path_outside_the_manifest_folder_is_refused(
    tmp_path: Path, store: Store, label: str, make: Any, inside: bool
) -> None:
    folder = tmp_path / "manifests"
    folder.mkdir()
    mp = write_manifest(folder, with_(base(), "input.path", make(tmp_path, folder)))
    if inside:
        assert ingest_manifest(store, mp, settings(tmp_path)).records_added == 3
        return
    before = snapshot(store)
    with pytest.raises(ManifestError) as info:
        ingest_manifest(store, mp, settings(tmp_path))
    assert info.value.key == "input.path", label
    assert info.value.path == str(mp.resolve())
    assert "outside the manifest's folder" in str(info.value)
    assert "allow_outside: true" in str(info.value)
    assert snapshot(store) == before


@pytest.mark.parametrize("how", ["manifest", "setting"])
def test_outside_path_read_when_explicitly_allowed(
    tmp_path: Path, store: Store, how: str
) -> None:
    folder = tmp_path / "manifests"
    folder.mkdir()
    data = with_(base(), "input.path", "../elsewhere/secret.csv")
    if how == "manifest":
        data = with_(data, "input.allow_outside", True)
    _outside_file(tmp_path)
    mp = write_manifest(folder, data)
    s = ingest_manifest(store, mp, settings(tmp_path, allow_outside_paths=how == "setting"))
    assert s.records_added == 3


# --- item 10: a changed mapping re-versions the records -----------------------------

def _names(store: Store) -> set[tuple[str, str]]:
    return set(store.fetchall(
        "SELECT source_record_id, first_name FROM records WHERE is_current"))


def test_fixed_mapping_re_versions_every_record(tmp_path: Path, store: Store) -> None:
    write_csv(tmp_path / "people.csv", rows(5))
    wrong = with_(base(), "fields.first_name", "MIDDLE")  # the lie: first_name is MIDDLE
    mp = write_manifest(tmp_path, wrong)
    first = ingest_manifest(store, mp, settings(tmp_path))
    assert first.records_added == 5
    assert {n for _, n in _names(store)} == {"BETH"}
    mp = write_manifest(tmp_path, with_(wrong, "fields.first_name", "FIRST"))  # fixed
    fixed = ingest_manifest(store, mp, settings(tmp_path))
    assert (fixed.records_added, fixed.records_versioned, fixed.records_unchanged) == (0, 5, 0)
    assert fixed.balanced
    assert _names(store) == {(str(i), f"ANN{chr(97 + i % 26)}".upper()) for i in range(1, 6)}
    assert store.scalar("SELECT count(*) FROM records") == 10
    assert store.scalar("SELECT max(version) FROM records WHERE is_current") == 2
    again = ingest_manifest(store, mp, settings(tmp_path))
    assert (again.records_added, again.records_versioned, again.records_unchanged) == (0, 0, 5)
    assert store.scalar("SELECT count(*) FROM records") == 10


def test_row_hash_stays_the_hash_of_the_raw_row(tmp_path: Path, store: Store) -> None:
    write_csv(tmp_path / "people.csv", rows(3))
    wrong = with_(base(), "fields.first_name", "MIDDLE")
    ingest_manifest(store, write_manifest(tmp_path, wrong), settings(tmp_path))
    ingest_manifest(store, write_manifest(tmp_path, base()), settings(tmp_path))
    per_record = store.fetchall("""SELECT count(DISTINCT row_hash), count(DISTINCT mapping_hash)
        FROM records GROUP BY record_id""")
    assert set(per_record) == {(1, 2)}


def test_store_from_before_mapping_hashes_re_versions_once(
    tmp_path: Path, store: Store
) -> None:
    write_csv(tmp_path / "people.csv", rows(4))
    mp = write_manifest(tmp_path, base())
    ingest_manifest(store, mp, settings(tmp_path))
    store.execute("UPDATE records SET mapping_hash = NULL")  # made by an older idgraph
    s = ingest_manifest(store, mp, settings(tmp_path))
    assert (s.records_versioned, s.records_unchanged) == (4, 0)
    s = ingest_manifest(store, mp, settings(tmp_path))
    assert (s.records_versioned, s.records_unchanged) == (0, 4)


def test_retention_removal_survives_a_mapping_change(tmp_path: Path, store: Store) -> None:
    from idgraph.policy import apply_retention

    write_csv(tmp_path / "people.csv", rows(3))
    ingest_manifest(store, write_manifest(tmp_path, base()), settings(tmp_path))
    assert apply_retention(store, as_of=datetime.now() + timedelta(days=400)).removed == 3
    changed = with_(base(), "fields.first_name", "MIDDLE")  # a new mapping, same rows
    s = ingest_manifest(store, write_manifest(tmp_path, changed), settings(tmp_path))
    assert (s.records_added, s.records_versioned, s.rows_quarantined) == (0, 0, 3)
    assert s.balanced
    assert store.scalar("SELECT count(*) FROM records") == 0


MAPPING_CHANGES = [
    ("field column", "fields.first_name", "MIDDLE", True),
    ("date format", "fields.dob", {"column": "DOB", "format": "%m/%d/%y"}, True),
    ("record id", "record_id", "LAST", True),
    ("encoding", "input.encoding", "cp1252", True),
    ("encoding alias", "input.encoding", "UTF8", False),  # the same codec
    ("delimiter", "input.delimiter", ";", True),
    ("title", "title", "Another title", False),
    ("retention", "retention_days", 30, False),
    ("invalid share", "fields.dob.max_invalid_share", 0.5, False),
]


@pytest.mark.parametrize(("label", "key", "value", "changes"), MAPPING_CHANGES,
                         ids=[c[0] for c in MAPPING_CHANGES])
def test_mapping_digest_covers_what_decides_the_values(
    tmp_path: Path, label: str, key: str, value: Any, changes: bool
) -> None:
    a = load_manifest(write_manifest(tmp_path, base(), "a.yaml"))
    b = load_manifest(write_manifest(tmp_path, with_(base(), key, value), "b.yaml"))
    assert (a.mapping_digest() != b.mapping_digest()) is changes, label
    assert len(a.mapping_digest()) == 64


def test_store_without_the_column_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "db" / "old.duckdb"
    store = open_store(db)
    # a store from before the column (and before versioned migrations: schema_version
    # came with them; opening it applies the baseline, whose ALTERs add the column)
    store.execute("ALTER TABLE records DROP COLUMN mapping_hash")
    store.execute("DROP TABLE schema_version")
    write_csv(tmp_path / "people.csv", rows(2))
    mp = write_manifest(tmp_path, base())
    store.close()
    store = open_store(db)
    s = ingest_manifest(store, mp, settings(tmp_path))
    assert s.records_added == 2
    assert store.scalar("SELECT count(DISTINCT mapping_hash) FROM records") == 1
    store.close()
