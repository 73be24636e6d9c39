"""README.md's "A lawful read, end to end" runs as written, so it cannot go stale.

The bash block is taken from the README itself and run in a fresh folder in two parts:
everything up to and including ``idgraph demo`` (with a smaller population), then the
rest, with ``NAME`` and ``YEAR`` set to the person the demo's example search looked for
in this smaller population (the identity id then comes from ``idgraph search --json``,
as the README has it), ``SCAN_SHA256`` filled with the SHA-256 of a stand-in scan, and
``tools/verify_audit.py`` pointed at the checkout. Every command must succeed
(``set -euo pipefail``).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTION = "## A lawful read, end to end"
PEOPLE = "600"  # the README says 2000; fewer keep the test quick, the commands are the same


def walkthrough() -> str:
    """The first bash block after the section heading."""
    text = README.read_text(encoding="utf-8")
    assert SECTION in text, f"README.md has no section {SECTION!r}"
    rest = text[text.index(SECTION) :]
    m = re.search(r"```bash\n(.*?)```", rest, re.S)
    assert m is not None, "no bash block in the walkthrough"
    return m.group(1)


def split_at_demo(block: str) -> tuple[str, str]:
    lines = block.splitlines(keepends=True)
    at = next(i for i, ln in enumerate(lines) if ln.startswith("idgraph demo"))
    return "".join(lines[: at + 1]), "".join(lines[at + 1 :])


def run_bash(script: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGRAPH_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "200"
    res = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, f"README walkthrough failed (exit {res.returncode}):\n{out}"
    assert "Traceback" not in out, out
    return out


def example(db: Path) -> tuple[str, int]:
    """The demo's example person (``idgraph.cli.demo.example_person``): surname first."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute(
            """SELECT last_name || ' ' || first_name, year(dob) FROM records
               WHERE is_current AND source_id = 'ny_dmv' AND dob IS NOT NULL
                 AND first_name IS NOT NULL AND last_name IS NOT NULL
               ORDER BY record_id LIMIT 1"""
        ).fetchone()
    finally:
        con.close()
    assert row is not None, "the demo store has no New York DMV record with a birth date"
    return str(row[0]), int(row[1])


def test_readme_walkthrough_runs(tmp_path: Path) -> None:
    first, second = split_at_demo(walkthrough())
    assert "--people 2000" in first
    first_out = run_bash(first.replace("--people 2000", f"--people {PEOPLE}"), tmp_path)
    name, year = example(tmp_path / "idgraph-data" / "idgraph.duckdb")
    assert f'idgraph search "{name}" --dob {year}' in first_out  # the demo's own example

    line = 'NAME="MARTIN ANTHONY"; YEAR=1961'
    assert line in second and "SCAN_SHA256" in second
    scan = hashlib.sha256(b"synthetic scan of warrant 26-CR-0412").hexdigest()
    script = (
        second.replace(line, f'NAME="{name}"; YEAR={year}')
        .replace("SCAN_SHA256", scan)
        .replace("tools/verify_audit.py", str(ROOT / "tools" / "verify_audit.py"))
    )
    out = run_bash(script, tmp_path)

    # what the README's comments promise
    assert "verified by counsel_ng" in out
    assert "ny.vtl201.basis" in out  # before verification
    assert "ny.vtl201.notice" in out  # after
    assert "policy.install" in out or "county.no_utility_for_journalism" in out
    assert "rotated:" in out
    assert out.count("OK:") >= 4  # two audit verify, two verify_audit.py
    assert (tmp_path / "subject.json").is_file() and (tmp_path / "audit.jsonl").is_file()
