"""Run a pure per-chunk function in worker processes, results in input order.

Normalisation is CPU-bound Python; on a 2-core machine two workers roughly halve the
wall time while the main process reads files and writes the store. Workers start with
``forkserver`` (never ``fork``: the parent holds a DuckDB connection with threads).
"""

from __future__ import annotations

import multiprocessing as mp
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

C = TypeVar("C")
T = TypeVar("T")
R = TypeVar("R")


@contextmanager
def worker_pool(workers: int) -> Iterator[Executor | None]:
    """A process pool of ``workers``, or None (run in-process) when workers < 2."""
    if workers < 2:
        yield None
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("forkserver"))
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def ordered_map(
    func: Callable[[C, T], R], ctx: C, items: Iterable[T], pool: Executor | None,
    in_flight: int = 3,
) -> Iterator[R]:
    """``func(ctx, item)`` for each item, in order, at most ``in_flight`` queued at once."""
    if pool is None:
        for item in items:
            yield func(ctx, item)
        return
    queue: deque[Future[R]] = deque()
    try:
        for item in items:
            queue.append(pool.submit(func, ctx, item))
            if len(queue) >= in_flight:
                yield queue.popleft().result()
        while queue:
            yield queue.popleft().result()
    finally:
        for f in queue:
            f.cancel()
