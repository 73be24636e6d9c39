"""Issue 12 item 3: every error path of ``ingest`` and the data commands, as a user meets it.

Each case is a folder of files (malformed manifests, malformed data files, odd names) and
a command line. Run through the CLI, it must end with a message naming the file (or
what is wrong) and the expected exit status, and no Python traceback may reach the
user: not on stdout, not on stderr, not as an exception escaping the command. A few
cases also run as a real process (the console script), the way the user runs them.

Add a malformed input by adding a row to :data:`CASES`.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from idgraph.cli import app

runner = CliRunner()

HEADER = "ID,LAST,FIRST,DOB\n"
GOOD_ROWS = "1,Smith,John,1980-03-15\n2,Jones,Mary,1975-07-04\n"


def manifest(data: str = "people.csv", sid: str = "src_a", fmt: str = "csv",
             extra: str = "", fields: str = "{last_name: LAST, first_name: FIRST}") -> str:
    """A manifest whose input is ``data`` (YAML text, so a case can break any part)."""
    return (f"id: {sid}\ntitle: t\nkind: other\njurisdiction: US\ncollected_for: testing\n"
            f"retention_days: 30\ninput: {{path: '{data}', format: {fmt}{extra}}}\n"
            f"record_id: ID\nfields: {fields}\n")


def gz(text: str) -> bytes:
    return gzip.compress(text.encode())


@dataclass(frozen=True)
class Case:
    """Files to write into a fresh folder (path relative to it: text or bytes), the
    command (``{dir}`` is that folder), what the output must name, the exit status."""

    name: str
    files: Mapping[str, str | bytes]
    args: tuple[str, ...]
    names: tuple[str, ...]
    code: int = 1
    env: Mapping[str, str] = field(default_factory=dict)


CSV = HEADER + GOOD_ROWS
CASES: list[Case] = [
    # --- what to ingest is not there ----------------------------------------------------
    Case("missing manifest file", {}, ("ingest", "{dir}/nope.yaml"), ("nope.yaml",)),
    Case("missing folder", {}, ("ingest", "{dir}/no_such_folder"), ("no_such_folder",)),
    Case("folder without manifests", {"empty/readme.txt": "x"}, ("ingest", "{dir}/empty"),
         ("no manifests", "empty")),
    Case("manifest is a folder", {"m.yaml/x": "x"}, ("ingest", "{dir}/m.yaml"), ("m.yaml",)),
    Case("data file missing", {"m.yaml": manifest("nope.csv")}, ("ingest", "{dir}"),
         ("nope.csv",)),
    Case("data path is a folder", {"m.yaml": manifest("sub"), "sub/x.csv": CSV},
         ("ingest", "{dir}"), ("sub",)),
    # --- manifests that do not parse or do not validate ----------------------------------
    Case("manifest YAML error", {"m.yaml": "id: [unclosed\n"}, ("ingest", "{dir}"),
         ("m.yaml", "YAML")),
    Case("manifest not a mapping", {"m.yaml": "- a\n- b\n"}, ("ingest", "{dir}"), ("m.yaml",)),
    Case("manifest empty", {"m.yaml": ""}, ("ingest", "{dir}"), ("m.yaml",)),
    Case("manifest not UTF-8", {"m.yaml": b"id: caf\xe9\n"}, ("ingest", "{dir}"), ("m.yaml",)),
    Case("manifest missing keys", {"m.yaml": "id: x1\ntitle: t\n"}, ("ingest", "{dir}"),
         ("m.yaml", "kind")),
    Case("manifest bad id", {"m.yaml": manifest(sid="Bad Id!"), "people.csv": CSV},
         ("ingest", "{dir}"), ("m.yaml", "id")),
    Case("manifest unknown field", {"m.yaml": manifest(fields="{shoe_size: LAST}"),
                                    "people.csv": CSV}, ("ingest", "{dir}"),
         ("m.yaml", "shoe_size")),
    Case("manifest unknown format", {"m.yaml": manifest(fmt="xlsx"), "people.csv": CSV},
         ("ingest", "{dir}"), ("m.yaml", "format")),
    Case("unknown encoding", {"m.yaml": manifest(extra=", encoding: klingon"),
                              "people.csv": CSV}, ("ingest", "{dir}"),
         ("m.yaml", "encoding", "klingon")),
    Case("multi-character delimiter", {"m.yaml": manifest(extra=", delimiter: ';;'"),
                                       "people.csv": CSV}, ("ingest", "{dir}"),
         ("m.yaml", "delimiter")),
    Case("date format without a directive",
         {"m.yaml": manifest(fields="{last_name: LAST, dob: {column: DOB, format: MM/DD/YYYY}}"),
          "people.csv": CSV}, ("ingest", "{dir}"), ("m.yaml", "dob", "MM/DD/YYYY")),
    Case("invalid date directive",
         {"m.yaml": manifest(fields="{last_name: LAST, dob: {column: DOB, format: '%Q/%d/%Y'}}"),
          "people.csv": CSV}, ("ingest", "{dir}"), ("m.yaml", "dob", "%Q")),
    Case("manifest unknown key", {"m.yaml": manifest() + "colour: red\n", "people.csv": CSV},
         ("ingest", "{dir}"), ("m.yaml", "colour")),
    # --- data files that are rejected whole ----------------------------------------------
    Case("corrupt gzip", {"m.yaml": manifest("bad.csv.gz"),
                          "bad.csv.gz": b"\x1f\x8b\x08\x00garbage"},
         ("ingest", "{dir}"), ("bad.csv.gz", "gzip")),
    Case("truncated gzip", {"m.yaml": manifest("cut.csv.gz"),
                            "cut.csv.gz": gz(CSV * 200)[:-40]},
         ("ingest", "{dir}"), ("cut.csv.gz",)),
    Case("wrong encoding", {"m.yaml": manifest(),
                            "people.csv": (HEADER + "1,M\xfcller,Jan,1980-01-01\n").encode(
                                "latin-1")},
         ("ingest", "{dir}"), ("people.csv",)),
    Case("duplicate header", {"m.yaml": manifest(), "people.csv": "ID,LAST,FIRST,LAST\n1,a,b,c\n"},
         ("ingest", "{dir}"), ("people.csv", "LAST")),
    Case("mapped column missing", {"m.yaml": manifest(), "people.csv": "ID,SURNAME\n1,X\n"},
         ("ingest", "{dir}"), ("people.csv", "LAST")),
    Case("truncated parquet", {"m.yaml": manifest("p.parquet", fmt="parquet"),
                               "p.parquet": b"PAR1\x00\x01garbage"},
         ("ingest", "{dir}"), ("p.parquet",)),
    Case("binary file as csv", {"m.yaml": manifest(), "people.csv": bytes(range(256)) * 4},
         ("ingest", "{dir}"), ("people.csv",)),
    # --- names that look like Rich markup ------------------------------------------------
    Case("brackets in a rejected file's name",
         {"m.yaml": manifest("c2 [v2].csv.gz"), "c2 [v2].csv.gz": b"\x1f\x8b\x08\x00junk"},
         ("ingest", "{dir}"), ("c2 [v2].csv.gz",)),
    Case("closing tag in a rejected file's path",
         {"w[/m.yaml": manifest("x].csv.gz"), "w[/x].csv.gz": b"\x1f\x8b\x08\x00junk"},
         ("ingest", "{dir}/w["), ("w[/x].csv.gz",)),
    Case("closing tag in a broken manifest's path", {"w[/x].yaml": "id: [unclosed\n"},
         ("ingest", "{dir}/w["), ("w[/x].yaml",)),
    Case("brackets in a missing file's name", {}, ("ingest", "{dir}/[bold]m[/x].yaml"),
         ("[bold]m[/x].yaml",)),
    # --- the data dir and the store ------------------------------------------------------
    Case("sources on an empty data dir", {}, ("sources",), ("no sources",)),
    Case("sources --json on an empty data dir", {}, ("sources", "--json"), ("no sources",)),
    Case("quarantine on an empty store", {}, ("quarantine",), ("no sources",)),
    Case("data dir is a file", {"datafile": "x"}, ("--data-dir", "{dir}/datafile", "sources"),
         ("datafile",)),
    Case("data dir inside a file", {"datafile": "x"},
         ("--data-dir", "{dir}/datafile/sub", "sources"), ("datafile",)),
    Case("store is not a DuckDB file", {"dd/idgraph.duckdb": "not a database"},
         ("--data-dir", "{dir}/dd", "sources"), ("idgraph.duckdb",)),
    # --- bad option values (usage errors: exit 2) ----------------------------------------
    Case("ingest without a path", {}, ("ingest",), ("paths",), code=2),
    Case("quarantine --limit negative", {}, ("quarantine", "--limit", "-1"), ("--limit",),
         code=2),
    Case("quarantine --limit not a number", {}, ("quarantine", "--limit", "many"),
         ("--limit",), code=2),
    Case("sources unknown option", {}, ("sources", "--colour"), ("--colour",), code=2),
    Case("ingest unknown option", {}, ("ingest", "--fast", "{dir}"), ("--fast",), code=2),
]


def build(root: Path, case: Case) -> dict[str, str]:
    for rel, content in case.files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
    return {"dir": str(root)}


def invoke(data: Path, args: list[str], env: Mapping[str, str] | None = None) -> Result:
    base = {"COLUMNS": "1000", "IDGRAPH_LOCK_WAIT_SECONDS": "5", **(env or {})}
    if "--data-dir" not in args:
        args = ["--data-dir", str(data), *args]
    return runner.invoke(app, args, env=base)


def no_traceback(text: str) -> None:
    assert "Traceback" not in text, text
    assert 'File "' not in text, text  # no frame of one either


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_error_path_names_the_file_and_prints_no_traceback(case: Case, tmp_path: Path) -> None:
    subs = build(tmp_path / "in", case)
    args = [a.format(**subs) for a in case.args]
    res = invoke(tmp_path / "data", args, case.env)
    out = res.output  # stdout and stderr, interleaved
    no_traceback(out)
    assert res.exception is None or isinstance(res.exception, SystemExit), (
        f"{type(res.exception).__name__}: {res.exception} escaped\n{out}")
    assert res.exit_code == case.code, out
    for name in case.names:
        assert name in out, f"{name!r} not in\n{out}"
    if case.code == 1:
        assert "error:" in res.stderr, out


# --- as a real process: the console script, stdout and stderr apart -----------------------

def _cli() -> list[str]:
    script = Path(sys.executable).parent / "idgraph"
    if script.exists():
        return [str(script)]
    found = shutil.which("idgraph")
    return [found] if found else [sys.executable, "-c", "from idgraph.cli import main; main()"]


def run(args: list[str], env: Mapping[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "1000", **(env or {})}
    return subprocess.run([*_cli(), *args], capture_output=True, text=True, env=full_env,
                          timeout=timeout, check=False)


SUBPROCESS_CASES = [
    "missing manifest file", "manifest YAML error", "closing tag in a rejected file's path",
    "data dir is a file",
]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_error_path_as_a_process(name: str, tmp_path: Path) -> None:
    case = next(c for c in CASES if c.name == name)
    subs = build(tmp_path / "in", case)
    args = [a.format(**subs) for a in case.args]
    if "--data-dir" not in args:
        args = ["--data-dir", str(tmp_path / "data"), *args]
    p = run(args, case.env)
    no_traceback(p.stdout)
    no_traceback(p.stderr)
    assert p.returncode == case.code, (p.stdout, p.stderr)
    for n in case.names:
        assert n in p.stderr, p.stderr
    assert p.stderr.startswith("error:") or "\nerror:" in p.stderr, p.stderr


# --- a busy store: another process holds the DuckDB file -------------------------------------

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _hold(db: Path, seconds: float) -> subprocess.Popen[str]:
    db.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db), str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


@pytest.mark.parametrize("command", [["ingest", "{dir}"], ["sources"], ["quarantine"]])
def test_busy_store_waits_then_names_the_process_that_holds_it(
        tmp_path: Path, command: list[str]) -> None:
    folder = tmp_path / "in"
    build(folder, Case("", {"m.yaml": manifest(), "people.csv": CSV}, (), ()))
    data = tmp_path / "data"
    db = data / "idgraph.duckdb"
    holder = _hold(db, 30)
    try:
        t0 = time.monotonic()
        p = run(["--data-dir", str(data), *[a.format(dir=folder) for a in command]],
                {"IDGRAPH_LOCK_WAIT_SECONDS": "1.5"})
        waited = time.monotonic() - t0
    finally:
        holder.kill()
        holder.wait()
    no_traceback(p.stdout + p.stderr)
    assert p.returncode == 1, p.stderr
    assert waited >= 1.5
    assert f"waiting for the store: in use by process {holder.pid}" in p.stderr, p.stderr
    assert (f"error: the store {db} is in use by process {holder.pid}" in p.stderr
            and "nothing was done, retry" in p.stderr), p.stderr


def test_busy_store_released_while_waiting_goes_ahead(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    build(folder, Case("", {"m.yaml": manifest(), "people.csv": CSV}, (), ()))
    data = tmp_path / "data"
    holder = _hold(data / "idgraph.duckdb", 60)
    env = {**os.environ, "COLUMNS": "1000", "IDGRAPH_LOCK_WAIT_SECONDS": "60"}
    cli = subprocess.Popen([*_cli(), "--data-dir", str(data), "ingest", str(folder)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert cli.stderr is not None
        # the command says it waits (any line before it, e.g. a warning, is skipped), then
        # the lock is freed
        said = [cli.stderr.readline() for _ in range(1)]
        while "waiting for the store" not in said[-1] and said[-1] and len(said) < 50:
            said.append(cli.stderr.readline())
        assert f"waiting for the store: in use by process {holder.pid}" in said[-1], said
    finally:
        holder.kill()
        holder.wait()
    out, err = cli.communicate(timeout=60)
    no_traceback(out + err)
    assert cli.returncode == 0, err
    assert "src_a: read " + str((folder / "people.csv").resolve()) in out
