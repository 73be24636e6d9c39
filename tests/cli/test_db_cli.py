"""``idgraph db status`` / ``idgraph db upgrade`` on each backend: the schema version, the
pending migrations (``--check`` exits 2 while any is pending), an upgrade that applies
them once, a database newer than the release refused, and a database that cannot be
reached named in one line (its password masked)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from idgraph import clock
from idgraph.cli import app
from idgraph.store import migrations, open_store
from pgdb import BACKENDS, fresh_database  # tests/pgdb.py (tests/conftest.py puts it on the path)

runner = CliRunner()


def invoke(data: Path, args: list[str], url: str | None) -> Result:
    env: Mapping[str, str | None] = {"IDGRAPH_DATABASE_URL": url, "COLUMNS": "1000",
                                     "IDGRAPH_DATABASE_AUTO_UPGRADE": None}
    return runner.invoke(app, ["--data-dir", str(data), *args], env=dict(env))


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """``None`` (the DuckDB file in the data dir) or a fresh PostgreSQL database's URL."""
    if request.param == "duckdb":
        yield None
        return
    with fresh_database() as url:
        yield url


def test_status_then_upgrade_then_status(tmp_path: Path, target: str | None) -> None:
    latest = migrations.latest()
    r = invoke(tmp_path, ["db", "status"], target)
    assert r.exit_code == 0, r.output
    assert ("PostgreSQL" if target else "DuckDB") in r.output
    assert "schema version: none" in r.output and "pending: 0001_baseline" in r.output
    r = invoke(tmp_path, ["db", "status", "--check"], target)
    assert r.exit_code == 2, r.output
    r = invoke(tmp_path, ["db", "upgrade"], target)
    assert r.exit_code == 0, r.output
    assert "applied 0001_baseline" in r.output and f"schema version {latest}" in r.output
    r = invoke(tmp_path, ["db", "upgrade"], target)
    assert r.exit_code == 0 and "up to date" in r.output, r.output
    r = invoke(tmp_path, ["db", "status", "--check"], target)
    assert r.exit_code == 0 and "up to date" in r.output, r.output
    store = open_store(target or tmp_path / "idgraph.duckdb", data_dir=tmp_path,
                       upgrade=False)
    try:
        assert migrations.applied(store) == list(range(1, latest + 1))
    finally:
        store.close()


def test_a_database_newer_than_the_release_is_refused(tmp_path: Path,
                                                      target: str | None) -> None:
    store = open_store(target or tmp_path / "idgraph.duckdb", data_dir=tmp_path)
    try:
        store.execute("INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                      [migrations.latest() + 1, "from_the_future", clock.now_naive()])
    finally:
        store.close()
    for args in (["db", "status"], ["db", "upgrade"], ["sources"]):
        r = invoke(tmp_path, args, target)
        assert r.exit_code == 1, (args, r.output)
        assert "newer than this release" in r.output and "Traceback" not in r.output


def test_an_unreachable_database_is_one_line_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql://nobody:s3cret@/idgraph?host={tmp_path}/nosock"
    r = invoke(tmp_path, ["db", "status"], url)
    assert r.exit_code == 1
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot open the database"), r.output
    assert "s3cret" not in r.output and "nobody:***@" in r.output
