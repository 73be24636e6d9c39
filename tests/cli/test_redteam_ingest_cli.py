"""Red team RB (issue 12): ``idgraph ingest``/``sources``/``quarantine`` attacked as a data
engineer would, through the CLI. Each case is the attack.

Holes found (each failed before the fix named):

* two manifests declaring the same source id in one run: the second silently re-versioned
  the first's records (``data.py``: both refused, naming both manifests);
* a data file a reader cannot decode as declared (``utf-16`` without a BOM) and a full disk
  printed tracebacks (``data.py``: one error line, the run says what was stored);
* a template ``{}`` crashed in a worker with a traceback (``manifest.py``: refused at load);
* a FIFO as input hung for ever (``manifest.py``: refused);
* ``IDGRAPH_INGEST_WORKERS=abc`` printed a pydantic traceback, and
  ``IDGRAPH_LOCK_WAIT_SECONDS=abc`` was silently read as 30 (``common.py``: one line naming
  the variable);
* ``quarantine --limit 99999999999999999999`` printed a DuckDB traceback;
* an ESC sequence in a record id, a column name or a file name reached the terminal raw
  from ``quarantine`` and from error lines (``common.py``/``quarantine.py``: escaped);
* ``quarantine --json`` wrote U+2028 and U+0085 raw: a reader splitting lines with
  ``str.splitlines`` cut a JSON line in two;
* Ctrl-C or SIGTERM mid-ingest ended silently (SIGTERM with a multiprocessing
  "leaked semaphore" warning) without saying what was stored (``data.py``);
* Ctrl-C while waiting for a busy store ended silently with exit 130 (``data.py``).
* a file appended to while it was read was stored under the hash of the file before it
  (fixed in ``ingest.py`` by the lead while this ran: the file is rejected).

Holes whose fix was in ``sources/ingest.py`` (fixed by the lead after this ran):

* the default region (``IDGRAPH_DEFAULT_REGION``) decides how phones normalise but a change
  left every row "same" with the old phones: hash with ``m.mapping_digest(region)``;
* a wrong date format on a file under ``ingest_min_values_for_share`` values (10 of 19
  failing) or with an explicit ``max_invalid_share: 0`` was accepted, the rest swapped.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner, Result

from idgraph.cli import app
from idgraph.store import open_store

runner = CliRunner()
ENV = {"COLUMNS": "1000", "IDGRAPH_INGEST_WORKERS": "1", "IDGRAPH_LOCK_WAIT_SECONDS": "5"}
CSV = "ID,LAST,FIRST,DOB,PHONE\n1,Smith,John,1980-03-15,(212) 555-0143\n2,Jones,Mary,1975-07-04,\n"


def manifest(data: str = "people.csv", sid: str = "rb_a", extra: str = "",
             fields: str = "{last_name: LAST, first_name: FIRST, dob: DOB}") -> str:
    return (f"id: {sid}\ntitle: t\nkind: other\njurisdiction: US\ncollected_for: testing\n"
            f"retention_days: 30\ninput: {{path: '{data}', format: csv{extra}}}\n"
            f"record_id: ID\nfields: {fields}\n")


def build(folder: Path, files: Mapping[str, str | bytes]) -> Path:
    for rel, content in files.items():
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
    return folder


def invoke(data: Path, *args: str, env: Mapping[str, str] | None = None) -> Result:
    return runner.invoke(app, ["--data-dir", str(data), *args], env={**ENV, **(env or {})})


def no_traceback(res: Result) -> None:
    assert "Traceback" not in res.output and 'File "' not in res.output, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), (
        f"{type(res.exception).__name__}: {res.exception}\n{res.output}")


def records(data: Path) -> list[tuple[str, int, bool]]:
    con = duckdb.connect(str(data / "idgraph.duckdb"), read_only=True)
    try:
        return [(r[0], int(r[1]), bool(r[2])) for r in con.execute(
            "SELECT record_id, version, is_current FROM records ORDER BY 1, 2").fetchall()]
    finally:
        con.close()


# --- ingest error paths: files, command, exit status, words stderr must hold -------------
ERROR_CASES: list[tuple[str, dict[str, str | bytes], dict[str, str], tuple[str, ...]]] = [
    ("template {} (worker traceback)",
     {"m.yaml": manifest(fields="{last_name: LAST, street: {template: '{} {LAST}'}}"),
      "people.csv": CSV}, {}, ("m.yaml", "fields.street.template")),
    ("utf-16 without a BOM (UnicodeError traceback)",
     {"m.yaml": manifest(extra=", encoding: utf-16"), "people.csv": CSV.encode("utf-16-le")},
     {}, ("people.csv",)),
    ("encoding punycode (UnicodeError traceback)",
     {"m.yaml": manifest(extra=", encoding: punycode"), "people.csv": CSV}, {},
     ("m.yaml", "input.encoding")),
    ("duplicate key in the manifest (second silently won)",
     {"m.yaml": manifest() + "record_id: FIRST\n", "people.csv": CSV}, {},
     ("m.yaml", "record_id", "twice")),
    ("IDGRAPH_INGEST_WORKERS=abc (pydantic traceback)",
     {"m.yaml": manifest(), "people.csv": CSV}, {"IDGRAPH_INGEST_WORKERS": "abc"},
     ("IDGRAPH_INGEST_WORKERS", "abc")),
    ("IDGRAPH_INGEST_MAX_INVALID_SHARE=half (pydantic traceback)",
     {"m.yaml": manifest(), "people.csv": CSV}, {"IDGRAPH_INGEST_MAX_INVALID_SHARE": "half"},
     ("IDGRAPH_INGEST_MAX_INVALID_SHARE",)),
    ("IDGRAPH_LOCK_WAIT_SECONDS=abc (silently 30)",
     {"m.yaml": manifest(), "people.csv": CSV}, {"IDGRAPH_LOCK_WAIT_SECONDS": "abc"},
     ("IDGRAPH_LOCK_WAIT_SECONDS", "abc")),
    ("IDGRAPH_LOCK_WAIT_SECONDS=-1 (silently 30)",
     {"m.yaml": manifest(), "people.csv": CSV}, {"IDGRAPH_LOCK_WAIT_SECONDS": "-1"},
     ("IDGRAPH_LOCK_WAIT_SECONDS", "-1")),
    ("ESC in a missing data file's name (raw to the terminal)",
     {"m.yaml": manifest("XX").replace("'XX'", '"x\\e[2Jy.csv"')}, {}, ("x\\x1b[2Jy.csv",)),
]


@pytest.mark.parametrize(("files", "env", "words"), [c[1:] for c in ERROR_CASES],
                         ids=[c[0] for c in ERROR_CASES])
def test_ingest_error_is_one_line_without_a_traceback(
        tmp_path: Path, files: dict[str, str | bytes], env: dict[str, str],
        words: tuple[str, ...]) -> None:
    folder = build(tmp_path / "in", files)
    res = invoke(tmp_path / "data", "ingest", str(folder), env=env)
    no_traceback(res)
    assert res.exit_code == 1, res.output
    assert "error:" in res.stderr
    assert "\x1b" not in res.stderr, repr(res.stderr)
    for w in words:
        assert w in res.stderr, f"{w!r} not in {res.stderr}"


def test_same_source_id_in_two_manifests_is_refused(tmp_path: Path) -> None:
    """The second manifest used to re-version the first's records as its own."""
    folder = build(tmp_path / "in", {
        "a.yaml": manifest("a.csv", sid="rb_dup"), "a.csv": CSV,
        "b.yaml": manifest("b.csv", sid="rb_dup"),
        "b.csv": "ID,LAST,FIRST,DOB,PHONE\n1,Other,Person,1990-01-01,\n",
        "c.yaml": manifest("a.csv", sid="rb_ok"),
    })
    data = tmp_path / "data"
    res = invoke(data, "ingest", str(folder))
    no_traceback(res)
    assert res.exit_code == 1, res.output
    assert "rb_dup" in res.stderr and "a.yaml" in res.stderr and "b.yaml" in res.stderr
    assert [r[0] for r in records(data)] == ["rb_ok/1", "rb_ok/2"]


def test_the_same_manifest_twice_is_ingested_once(tmp_path: Path) -> None:
    folder = build(tmp_path / "in", {"a.yaml": manifest(), "people.csv": CSV})
    res = invoke(tmp_path / "data", "ingest", str(folder / "a.yaml"), str(folder))
    no_traceback(res)
    assert res.exit_code == 0, res.output
    assert res.stdout.count("rb_a: read ") == 1, res.stdout


def test_a_store_that_cannot_be_written_stops_the_run_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk: DuckDB's IOException used to print a traceback."""
    import idgraph.sources.run as ingest_run

    def full(*_: object, **__: object) -> None:
        raise duckdb.IOException('IO Error: Could not write file "x": No space left on device')

    monkeypatch.setattr(ingest_run, "ingest_manifest", full)
    folder = build(tmp_path / "in", {"a.yaml": manifest(), "b.yaml": manifest(sid="rb_b"),
                                     "people.csv": CSV})
    res = invoke(tmp_path / "data", "ingest", str(folder))
    no_traceback(res)
    assert res.exit_code == 1
    assert "No space left on device" in res.stderr and "rb_a" in res.stderr
    assert "rb_b" in res.stderr  # named as not ingested


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_input_is_refused_not_waited_on(tmp_path: Path) -> None:
    folder = build(tmp_path / "in", {"m.yaml": manifest("pipe.csv")})
    os.mkfifo(folder / "pipe.csv")
    p = subprocess.run([*_cli(), "--data-dir", str(tmp_path / "data"), "ingest", str(folder)],
                       capture_output=True, text=True, timeout=60,
                       env={**os.environ, **ENV}, check=False)
    assert p.returncode == 1, p.stderr
    assert "FIFO" in p.stderr and "Traceback" not in p.stderr


# --- quarantine output ---------------------------------------------------------------------
EVIL_ROWS = ("ID,LAST,FIRST,DOB,PHONE\n"
             "\x1b[31m7,Evil,Id,1970-01-01,1\n"
             "8,Sep,Line,1970-01-01,12\u202834\n"
             "9,Nel,Line,1970-01-01,12\x8534\n")


@pytest.fixture
def evil_store(tmp_path: Path) -> Path:
    folder = build(tmp_path / "in", {  # a file named with an ESC sequence, "\e" in YAML
        "m.yaml": manifest("XX", fields="{last_name: LAST, phone: PHONE}").replace(
            "'XX'", '"p\\e[31m.csv"'),
        "p\x1b[31m.csv": EVIL_ROWS})
    data = tmp_path / "data"
    res = invoke(data, "ingest", str(folder))
    assert res.exit_code == 0, res.output
    return data


def test_quarantine_table_escapes_control_characters(evil_store: Path) -> None:
    res = invoke(evil_store, "quarantine")
    no_traceback(res)
    assert res.exit_code == 0, res.output
    assert "\x1b" not in res.stdout and "\x85" not in res.stdout, repr(res.stdout)
    assert "\u2028" not in res.stdout
    assert "p\\x1b[31m.csv" in res.stdout


def test_quarantine_json_lines_survive_splitlines(evil_store: Path) -> None:
    res = invoke(evil_store, "quarantine", "--json")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()  # splits on U+2028, U+0085 too
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 3
    assert {"12\u202834", "12\x8534"} <= {r["value"] for r in rows}


@pytest.mark.parametrize("limit", ["99999999999999999999999", "9223372036854775808"])
def test_quarantine_huge_limit_means_all(evil_store: Path, limit: str) -> None:
    res = invoke(evil_store, "quarantine", "--limit", limit, "--json")
    no_traceback(res)
    assert res.exit_code == 0, res.output
    assert len(res.stdout.splitlines()) == 3


# --- mapping changes -------------------------------------------------------------------------
def test_default_region_change_reversions_phones(tmp_path: Path) -> None:
    folder = build(tmp_path / "in", {
        "m.yaml": manifest(fields="{last_name: LAST, phone: PHONE}"),
        "people.csv": "ID,LAST,FIRST,DOB,PHONE\n1,Smith,J,,020 7946 0018\n"})
    data = tmp_path / "data"
    assert invoke(data, "ingest", str(folder)).exit_code == 0
    res = invoke(data, "ingest", str(folder), env={"IDGRAPH_DEFAULT_REGION": "GB"})
    assert res.exit_code == 0, res.output
    assert records(data) == [("rb_a/1", 1, False), ("rb_a/1", 2, True)]


def test_retired_record_stays_out_after_a_mapping_change(tmp_path: Path) -> None:
    """Retention tombstones match the raw row, which a mapping change does not touch."""
    from datetime import timedelta

    from idgraph import clock
    from idgraph.policy.retention import apply_retention

    folder = build(tmp_path / "in", {"m.yaml": manifest(), "people.csv": CSV})
    data = tmp_path / "data"
    assert invoke(data, "ingest", str(folder)).exit_code == 0
    store = open_store(data / "idgraph.duckdb")
    try:
        apply_retention(store, as_of=clock.now_naive() + timedelta(days=31))
    finally:
        store.close()
    assert records(data) == []
    (folder / "m.yaml").write_text(manifest(fields="{last_name: FIRST, first_name: LAST}"))
    res = invoke(data, "ingest", str(folder))
    assert res.exit_code == 0, res.output
    assert records(data) == []
    assert "retention" in invoke(data, "quarantine", "--json").stdout


def test_file_appended_while_read_is_not_recorded_under_the_old_hash(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A source system still writing the export: rows appended after ingest hashed the
    file were stored under the hash of a file that did not hold them."""
    import idgraph.sources.ingest as ingest_mod
    from idgraph.sources import readers

    real = readers.read_chunks
    folder = build(tmp_path / "in", {"m.yaml": manifest(), "people.csv": CSV})

    def growing(path: Path, *args: Any, **kw: Any) -> Iterator[readers.Chunk]:
        for i, chunk in enumerate(real(path, *args, **kw)):
            if i == 0:
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write("3,Late,Row,1980-01-01,\n")
            yield chunk

    monkeypatch.setattr(ingest_mod, "read_chunks", growing)
    data = tmp_path / "data"
    res = invoke(data, "ingest", str(folder), env={"IDGRAPH_INGEST_CHUNK_ROWS": "1"})
    no_traceback(res)
    import hashlib
    con = duckdb.connect(str(data / "idgraph.duckdb"), read_only=True)
    try:
        stored = con.execute("SELECT file_sha256 FROM batches").fetchall()
    finally:
        con.close()
    now = hashlib.sha256((folder / "people.csv").read_bytes()).hexdigest()
    # either the file is rejected (nothing stored), or the hash is of what was read
    assert (res.exit_code == 1 and stored == []) or stored == [(now,)], (res.output, stored)


def _us_dates_small_file() -> str:
    """19 rows of US dates (MM/DD/YYYY): 10 have a day above 12, the other 9 read the
    same either way round, so '%d/%m/%Y' fails on 10 and swaps day and month on 9."""
    rows = [f"{i},L{i},F,{i % 12 + 1:02d}/{13 + i % 15:02d}/1980," if i < 10
            else f"{i},L{i},F,{i % 12 + 1:02d}/{i % 12 + 1:02d}/1980," for i in range(19)]
    return "ID,LAST,FIRST,DOB,PHONE\n" + "\n".join(rows) + "\n"


@pytest.mark.parametrize("share", ["", ", max_invalid_share: 0"],
                         ids=["default share: 10 of 19 failed", "explicit max_invalid_share 0"])
def test_wrong_date_format_on_a_small_file_stops(tmp_path: Path, share: str) -> None:
    folder = build(tmp_path / "in", {
        "m.yaml": manifest(fields="{last_name: LAST, dob: {column: DOB, format: "
                                  f"'%d/%m/%Y'{share}}}}}"),
        "people.csv": _us_dates_small_file()})
    data = tmp_path / "data"
    res = invoke(data, "ingest", str(folder))
    no_traceback(res)
    assert res.exit_code == 1 and "dob" in res.stderr, res.output


# --- interrupted ingests ---------------------------------------------------------------------
def _cli() -> list[str]:
    script = Path(sys.executable).parent / "idgraph"
    return [str(script)] if script.exists() else [
        sys.executable, "-c", "from idgraph.cli import main; main()"]


def _children(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True,
                         check=False).stdout
    pairs = [tuple(int(x) for x in line.split()) for line in out.splitlines() if line.strip()]
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        for child, parent in pairs:
            if parent == p and child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["Ctrl-C", "SIGTERM"])
def test_interrupted_ingest_says_what_was_stored(tmp_path: Path, sig: int, code: int) -> None:
    rows = "".join(f"{i},Name{i},Given{i % 97},19{50 + i % 40}-01-0{1 + i % 9},\n"
                   for i in range(120_000))
    folder = build(tmp_path / "in", {
        "a.yaml": manifest(sid="rb_a"), "people.csv": CSV,
        "b.yaml": manifest("big.csv", sid="rb_b"),
        "big.csv": "ID,LAST,FIRST,DOB,PHONE\n" + rows})
    data = tmp_path / "data"
    env = {**os.environ, **ENV, "IDGRAPH_INGEST_WORKERS": "2", "IDGRAPH_INGEST_CHUNK_ROWS": "5000"}
    p = subprocess.Popen([*_cli(), "--data-dir", str(data), "ingest", str(folder)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    kids: set[int] = set()
    while time.monotonic() < deadline and len(kids) < 3:  # forkserver + 2 workers
        time.sleep(0.1)
        kids = _children(p.pid)
    time.sleep(1.0)
    assert p.poll() is None, "ingest ended before the signal: make the file bigger"
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == code, err
    assert "Traceback" not in err and "leaked semaphore" not in err, err
    how = "interrupted" if sig == signal.SIGINT else "terminated (SIGTERM)"
    # under load the signal may land while rb_a is still being ingested: either way the
    # source being ingested is named, none of it is stored, and what came before is
    m = re.search(rf"{re.escape(how)} while ingesting (rb_[ab]): nothing of it was stored",
                  err)
    # or it lands in the search index's update after a source was committed: stored, said so
    after = re.search(rf"{re.escape(how)} after storing (rb_[ab]): its records are stored", err)
    assert m or after, err
    if m:
        before = {"rb_a": set(), "rb_b": {"rb_a"}}[m.group(1)]
    else:
        assert after is not None
        before = {"rb_a": {"rb_a"}, "rb_b": {"rb_a", "rb_b"}}[after.group(1)]
    if before:
        assert "rb_a: read" in out  # committed before the signal, and said so
    ids = {r[0].split("/")[0] for r in records(data)}
    assert ids == before, err
    time.sleep(1.5)
    assert not [k for k in kids if _alive(k)], "workers outlived the interrupted ingest"


HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize(("sig", "code", "how"), [
    (signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated (SIGTERM)")],
    ids=["Ctrl-C", "SIGTERM"])
def test_interrupted_while_waiting_for_the_store_says_so(
        tmp_path: Path, sig: int, code: int, how: str) -> None:
    """Ctrl-C while another process holds the store used to end silently (exit 130)."""
    folder = build(tmp_path / "in", {"m.yaml": manifest(), "people.csv": CSV})
    data = tmp_path / "data"
    data.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(data / "idgraph.duckdb")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        p = subprocess.Popen([*_cli(), "--data-dir", str(data), "ingest", str(folder)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, **ENV, "IDGRAPH_LOCK_WAIT_SECONDS": "60"},
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        assert p.stderr is not None
        assert "waiting for the store" in p.stderr.readline()
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
    finally:
        holder.kill()
        holder.wait()
    assert p.returncode == code, err
    assert "Traceback" not in err
    assert f"error: {how}: no source whose ingest had not finished was stored" in err, err

