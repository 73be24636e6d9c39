"""``idgraph serve`` as a process: it serves on the given port, prints where, stops on
Ctrl-C (SIGINT) and says so in one line when the store is held by another process;
``--workers 2`` serves one PostgreSQL database from two processes and is refused on
DuckDB."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import httpx
from api_fixtures import free_port

from idgraph.app import admin, auth
from idgraph.app.context import Caller, Env
from idgraph.settings import Settings
from pgdb import fresh_database

IDGRAPH = str(Path(sys.executable).parent / "idgraph")


def wait_up(url: str, proc: subprocess.Popen[str]) -> httpx.Response:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("idgraph serve did not answer")


def test_serve_answers_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([IDGRAPH, "--data-dir", str(tmp_path / "data"), "serve",
                             "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        r = wait_up(f"http://127.0.0.1:{port}/api/v1/health", proc)
        assert r.status_code == 200 and "server" not in r.headers
        r = httpx.get(f"http://127.0.0.1:{port}/api/v1/users", timeout=5)
        assert r.status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode in (0, 130), out  # 130: stopped by Ctrl-C, as other commands
    assert f"http://127.0.0.1:{port}/" in out and "Traceback" not in out


def test_serve_on_a_store_held_elsewhere_fails_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    con = duckdb.connect(str(data / "idgraph.duckdb"))
    try:
        res = subprocess.run([IDGRAPH, "--data-dir", str(data), "serve", "--port",
                              str(free_port())], capture_output=True, text=True, timeout=120,
                             env={"IDGRAPH_LOCK_WAIT_SECONDS": "0", "PATH": ""})
    finally:
        con.close()
    assert res.returncode != 0
    assert "cannot serve" in res.stderr + res.stdout
    assert "Traceback" not in res.stderr + res.stdout


def test_workers_on_duckdb_are_refused_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "IDGRAPH_DATABASE_URL"}
    res = subprocess.run([IDGRAPH, "--data-dir", str(tmp_path / "data"), "serve",
                          "--workers", "2", "--port", str(free_port())],
                         capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 2, res.stdout + res.stderr
    lines = [line for line in (res.stdout + res.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "--workers 2 needs a PostgreSQL store (IDGRAPH_DATABASE_URL)" in lines[0]
    assert not (tmp_path / "data" / "idgraph.duckdb").exists()


def test_workers_on_postgres_serve_one_database(tmp_path: Path) -> None:
    """``serve --workers 2`` on PostgreSQL: two worker processes answer authenticated
    requests made at once over one database, stop on Ctrl-C, and the audit log the
    requests appended to (from both processes) verifies."""
    data = tmp_path / "data"
    with fresh_database() as url:
        settings = Settings(data_dir=data, database_url=url, threads=1, memory_limit="1GB")
        env = Env.open(settings)
        try:
            root = Caller("root", via="cli")
            admin.add_user(env, root, "root", "admin", "ops", org_type="government")
            env.refresh()
            token = auth.create_token(env, root, user="root", name="workers").secret
        finally:
            env.close()
        port = free_port()
        proc_env = {**os.environ, "IDGRAPH_DATABASE_URL": url,
                    "IDGRAPH_DATABASE_AUTO_UPGRADE": "false", "IDGRAPH_THREADS": "1"}
        proc = subprocess.Popen([IDGRAPH, "--data-dir", str(data), "serve", "--workers", "2",
                                 "--port", str(port)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=proc_env)
        try:
            base = f"http://127.0.0.1:{port}/api/v1"
            assert wait_up(f"{base}/health", proc).status_code == 200
            headers = {"Authorization": f"Bearer {token}"}

            def users(_: int) -> int:
                return httpx.get(f"{base}/users", headers=headers, timeout=60).status_code

            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(pool.map(users, range(40)))
            assert statuses == [200] * 40
        finally:
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=60)
        assert proc.returncode in (0, 130), out
        assert out.count("Application startup complete") == 2, out
        assert "with 2 workers" in out and "Traceback" not in out, out
        res = subprocess.run([IDGRAPH, "--data-dir", str(data), "audit", "verify", "--as", "root"],
                             capture_output=True, text=True, timeout=120, env=proc_env)
        assert res.returncode == 0, res.stdout + res.stderr
