"""The match job table on its own: owners only, a bounded number of running jobs, the
uploaded folder removed when a job ends, an internal failure reported without detail."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from idgraph.api.routers import match as match_router
from idgraph.api.routers.match import MAX_RUNNING_PER_USER, MatchJobs
from idgraph.app.context import Caller
from idgraph.app.errors import Conflict, NotFound


class Gate:
    def __init__(self) -> None:
        self.release = threading.Event()

    def match(self, *_: Any, **__: Any) -> Any:
        if not self.release.wait(30):
            raise RuntimeError("never released")
        raise RuntimeError("internal detail that must not leave the server")


def test_running_jobs_are_bounded_per_user_and_folders_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    gate = Gate()
    monkeypatch.setattr(match_router.reads, "match", gate.match)
    jobs, env = MatchJobs(), object()
    alice, bob = Caller("alice", via="api"), Caller("bob", via="api")
    folders = [tmp_path / f"f{i}" for i in range(4)]
    for f in folders:
        f.mkdir()
    started = [jobs.start(env, alice, f / "l.csv", f / "m.yaml", f)  # type: ignore[arg-type]
               for f in folders[:MAX_RUNNING_PER_USER]]
    with pytest.raises(Conflict):
        jobs.start(env, alice, folders[2] / "l.csv", folders[2] / "m.yaml",  # type: ignore[arg-type]
                   folders[2])
    other = jobs.start(env, bob, folders[3] / "l.csv", folders[3] / "m.yaml",  # type: ignore[arg-type]
                       folders[3])
    with pytest.raises(NotFound):
        jobs.get(started[0].job_id, bob)
    gate.release.set()
    for job in [*started, other]:
        assert job.done.wait(30)
        out = jobs.get(job.job_id, bob if job is other else alice).out()
        assert out.status == "failed" and out.error is not None
        assert "internal detail" not in (out.error.detail or "")
    assert not any(f.exists() for f in folders[:2] + folders[3:])
