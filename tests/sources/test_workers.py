"""Issue 12 item 11: a SIGKILLed ingest process does not leave its workers running.

A child process starts :func:`worker_pool` with two workers (forkserver, as ingest does),
makes both work, prints their PIDs and waits; the test SIGKILLs it and expects every
worker gone within a few seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

CHILD = """
import json, os, sys, time
from idgraph.sources.parallel import worker_pool

def whoami(_: int) -> int:
    time.sleep(0.3)
    return os.getpid()

if __name__ == "__main__":
    with worker_pool(2) as pool:
        assert pool is not None
        pids = sorted(set(pool.map(whoami, range(4))))
        print(json.dumps(pids), flush=True)
        time.sleep(60)
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


def _alive(pid: int) -> bool:
    """Running (a zombie awaiting its reaper is not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:][:1] not in ("Z", "X")


def test_workers_exit_when_the_ingest_process_is_killed(tmp_path: os.PathLike[str]) -> None:
    script = os.path.join(str(tmp_path), "child.py")
    with open(script, "w", encoding="utf-8") as fh:
        fh.write(CHILD)
    child = subprocess.Popen([sys.executable, script], stdout=subprocess.PIPE, text=True,
                             cwd=str(tmp_path))
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        pids: list[int] = json.loads(line)
        assert len(pids) == 2 and all(_alive(p) for p in pids), line
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    left = [p for p in pids if _alive(p)]
    for p in left:  # do not leave them behind when the test fails
        os.kill(p, signal.SIGKILL)
    assert not left, f"workers {left} outlived the SIGKILLed process that started them"


def test_start_time_tells_a_reused_pid_from_the_original() -> None:
    from idgraph.sources.parallel import process_start_time

    me = process_start_time(os.getpid())
    assert me  # a number of clock ticks
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert process_start_time(child.pid) is None  # reaped: gone
