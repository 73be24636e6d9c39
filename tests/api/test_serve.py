"""``idgraph serve`` as a process: it serves on the given port, prints where, stops on
Ctrl-C (SIGINT) and says so in one line when the store is held by another process."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
from api_fixtures import free_port

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
