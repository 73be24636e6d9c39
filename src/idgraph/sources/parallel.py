"""Run a pure per-chunk function in worker processes, results in input order.

Normalisation is CPU-bound Python; on a 2-core machine two workers roughly halve the
wall time while the main process reads files and writes the store. Workers start with
``forkserver`` (never ``fork``: the parent holds a DuckDB connection with threads).

Workers die with the process that started the pool: a SIGKILL of ``idgraph ingest``
cannot leave them running (each holds hundreds of MB). A forkserver worker's OS parent
is the forkserver, not the ingest process, so each worker watches the ingest process
itself (by PID and start time, so a reused PID is not mistaken for it) and also asks the
kernel (``PR_SET_PDEATHSIG``, Linux) to kill it when the forkserver exits, which the
forkserver does as soon as the ingest process is gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from queue import Empty, Full, Queue
from typing import TypeVar

C = TypeVar("C")
T = TypeVar("T")
R = TypeVar("R")


WATCH_SECONDS = 0.5  # how often a worker checks that the process that started it lives
_PR_SET_PDEATHSIG = 1


def process_start_time(pid: int) -> str | None:
    """An identity of process ``pid`` beyond its number: its start time in clock ticks
    since boot (``/proc/<pid>/stat``, field 22); ``None`` when it does not exist. Where
    there is no ``/proc``, ``""`` for a process that exists."""
    if not os.path.isdir("/proc/self"):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return ""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses
    fields = stat[stat.rfind(")") + 2:].split()
    if fields and fields[0] in ("Z", "X"):  # a zombie is dead, only not yet reaped
        return None
    return fields[19] if len(fields) > 19 else ""


def _die_with_parent_signal() -> None:
    """Ask the kernel to SIGKILL this process when its parent (the forkserver) exits."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _watch(pid: int, started: str | None, every: float) -> None:
    while True:
        if process_start_time(pid) != started:
            os._exit(1)  # the ingest process is gone: nothing will read our results
        time.sleep(every)


def _init_worker(parent_pid: int, parent_started: str | None, every: float) -> None:
    """Pool initializer: exit when the process that started the pool dies."""
    _die_with_parent_signal()
    if process_start_time(parent_pid) != parent_started:
        os._exit(1)
    threading.Thread(target=_watch, args=(parent_pid, parent_started, every),
                     name="idgraph-parent-watch", daemon=True).start()


@contextmanager
def worker_pool(workers: int) -> Iterator[Executor | None]:
    """A process pool of ``workers``, or None (run in-process) when workers < 2.

    The workers exit within about :data:`WATCH_SECONDS` of this process dying, however
    it dies (SIGKILL included)."""
    if workers < 2:
        yield None
        return
    me = os.getpid()
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=mp.get_context("forkserver"),
        initializer=_init_worker, initargs=(me, process_start_time(me), WATCH_SECONDS),
    )
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def ordered_map(
    func: Callable[[C, T], R], ctx: C, items: Iterable[T], pool: Executor | None,
    in_flight: int = 3,
) -> OrderedMap[R]:
    """``func(ctx, item)`` for each item, in order, at most ``in_flight`` queued at once.

    With a pool, ``items`` is iterated (the file read) in a thread of its own that starts
    at once, so reading overlaps what the caller does with each result (the store's
    writes, which release the GIL) as well as the workers' normalising, and a map made
    ahead of time (the next file's, while this one is merged) keeps the workers busy.
    An exception raised by ``items`` or by ``func`` is raised here, in order;
    :meth:`OrderedMap.close` (or the end, or an error) stops the reading and cancels
    what was queued.
    """
    return OrderedMap(func, ctx, items, pool, in_flight)


class OrderedMap(Iterator[R]):
    """The iterator :func:`ordered_map` returns."""

    def __init__(self, func: Callable[[C, T], R], ctx: C, items: Iterable[T],
                 pool: Executor | None, in_flight: int) -> None:
        self._closed = False
        self._reader: threading.Thread | None = None
        if pool is None:
            self._plain: Iterator[R] | None = (func(ctx, item) for item in items)
            return
        self._plain = None
        self._queue: Queue[Future[R] | _Raised | None] = Queue(maxsize=in_flight)
        self._stop = threading.Event()

        def put(entry: Future[R] | _Raised | None) -> bool:
            while not self._stop.is_set():
                try:
                    self._queue.put(entry, timeout=0.1)
                    return True
                except Full:
                    continue
            return False

        def read() -> None:
            try:
                for item in items:
                    if not put(pool.submit(func, ctx, item)):
                        return
            except BaseException as exc:  # handed to the consumer, raised there
                put(_Raised(exc))
                return
            put(None)

        self._reader = threading.Thread(target=read, name="idgraph-ingest-reader",
                                        daemon=True)
        self._reader.start()

    def __next__(self) -> R:
        if self._closed:
            raise StopIteration
        if self._plain is not None:
            try:
                return next(self._plain)
            except BaseException:
                self.close()
                raise
        try:
            entry = self._queue.get()
            if entry is None:
                raise StopIteration
            if isinstance(entry, _Raised):
                raise entry.exc
            return entry.result()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop reading; cancel what was queued but not taken (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._reader is None:
            return
        self._stop.set()
        while True:
            try:
                left = self._queue.get_nowait()
            except Empty:
                break
            if isinstance(left, Future):
                left.cancel()
        self._reader.join()


class _Raised:
    """An exception of the reading thread, carried to the consumer."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
