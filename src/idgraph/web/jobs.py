"""Bulk-match jobs of the web UI: the upload runs in a background thread, the page polls.

A job holds the uploaded list and mapping in a private temporary folder (removed when the
job ends), runs ``app.reads.match`` inside the env's lock (as every app call from a shell
does) and counts the rows done through ``on_rows``. Jobs live in this process's memory
for an hour after they end; the results are rendered to CSV from the ``MatchResult``.

Progress polls do not take the lock (a long match holds it): a job is bound to the
SHA-256 of the session id that started it, and a poll must present that session's
cookie. The results download goes through the full session check.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from idgraph.api.deps import locked
from idgraph.app import reads
from idgraph.app.context import Caller, Env
from idgraph.app.errors import AppError
from idgraph.app.reads import MatchResult

KEEP_SECONDS: Final = 3600
LIST_SUFFIXES: Final = (".csv", ".jsonl", ".parquet")


def session_digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass
class Job:
    job_id: str
    owner: str  # user name
    session: str  # SHA-256 of the session id that started it
    list_name: str
    total: int | None
    done: int = 0
    status: str = "running"  # running | done | failed
    error: AppError | None = None
    result: MatchResult | None = None
    ended: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def advance(self, rows: int) -> None:
        with self.lock:
            self.done += rows

    @property
    def percent(self) -> int | None:
        if self.status == "done":
            return 100
        if not self.total:
            return None
        return min(99, int(100 * self.done / self.total))


_JOBS: dict[str, Job] = {}
_GUARD = threading.Lock()


def count_rows(path: Path) -> int | None:
    """Rows in a CSV (lines less the header) or JSONL list; None for other formats."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        return None
    with path.open("rb") as f:
        lines = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))
    return max(lines - (1 if suffix == ".csv" else 0), 0)


def list_suffix(filename: str | None) -> str:
    """The uploaded list's format from its name (the reader picks it by suffix)."""
    suffix = Path(filename or "").suffix.lower()
    return suffix if suffix in LIST_SUFFIXES else ".csv"


def _prune(now: float) -> None:
    for job_id, job in list(_JOBS.items()):
        if job.ended is not None and now - job.ended > KEEP_SECONDS:
            del _JOBS[job_id]


def start(env: Env, caller: Caller, session_id: str, *, list_name: str, list_bytes: bytes,
          mapping_bytes: bytes) -> Job:
    """Write the upload to a private folder and start matching it in the background."""
    folder = Path(tempfile.mkdtemp(prefix="idgraph-match-"))
    list_path = folder / f"list{list_suffix(list_name)}"
    mapping_path = folder / "mapping.yaml"
    list_path.write_bytes(list_bytes)
    mapping_path.write_bytes(mapping_bytes)
    job = Job(secrets.token_urlsafe(16), caller.actor, session_digest(session_id),
              Path(list_name).name, count_rows(list_path))
    with _GUARD:
        _prune(time.monotonic())
        _JOBS[job.job_id] = job

    def run() -> None:
        try:
            with locked(env):
                result = reads.match(env, caller, list_path, mapping_path, on_rows=job.advance)
            job.result, job.status = result, "done"
        except AppError as exc:
            job.error, job.status = exc, "failed"
        except Exception as exc:
            job.error, job.status = AppError(f"The match failed: {type(exc).__name__}"), "failed"
        finally:
            job.ended = time.monotonic()
            shutil.rmtree(folder, ignore_errors=True)

    threading.Thread(target=run, name=f"match-{job.job_id}", daemon=True).start()
    return job


def get(job_id: str, session_id: str | None) -> Job | None:
    """The job, if the session presented is the one that started it."""
    job = _JOBS.get(job_id)
    if job is None or session_id is None:
        return None
    if not secrets.compare_digest(job.session, session_digest(session_id)):
        return None
    return job
