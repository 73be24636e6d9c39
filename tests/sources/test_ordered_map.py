"""sources.parallel.ordered_map with a pool: the file is read in a thread of its own;
results come in order, an exception of the reading or of the work is raised in order,
and closing the results early stops the reading."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from idgraph.sources.parallel import ordered_map


def square(ctx: int, item: int) -> int:
    if item == ctx:
        raise ValueError(f"bad item {item}")
    return item * item


def test_results_come_in_order() -> None:
    with ThreadPoolExecutor(2) as pool:
        assert list(ordered_map(square, -1, range(50), pool)) == [i * i for i in range(50)]


def test_a_reading_error_comes_after_the_results_before_it() -> None:
    def items() -> Iterator[int]:
        yield from range(5)
        raise OSError("disk gone")

    got: list[int] = []
    with ThreadPoolExecutor(2) as pool, pytest.raises(OSError, match="disk gone"):
        for r in ordered_map(square, -1, items(), pool):
            got.append(r)
    assert got == [0, 1, 4, 9, 16]


def test_a_work_error_is_raised_at_its_place() -> None:
    got: list[int] = []
    with ThreadPoolExecutor(2) as pool, pytest.raises(ValueError, match="bad item 3"):
        for r in ordered_map(square, 3, range(10), pool):
            got.append(r)
    assert got == [0, 1, 4]


def test_closing_early_stops_the_reading() -> None:
    read: list[int] = []

    def items() -> Iterator[int]:
        for i in range(10_000):
            read.append(i)
            yield i

    with ThreadPoolExecutor(2) as pool:
        results = ordered_map(square, -1, items(), pool, in_flight=2)
        assert next(results) == 0
        results.close()
    assert len(read) < 20
    assert not [t for t in threading.enumerate() if t.name == "idgraph-ingest-reader"]


def test_the_reading_starts_before_the_first_result_is_asked_for() -> None:
    # a map made ahead of time (the next file's) keeps the workers busy meanwhile
    started = threading.Event()

    def items() -> Iterator[int]:
        started.set()
        yield from range(3)

    with ThreadPoolExecutor(2) as pool:
        results = ordered_map(square, -1, items(), pool)
        assert started.wait(5)
        assert list(results) == [0, 1, 4]


def test_a_map_never_iterated_is_closed_without_a_thread_left() -> None:
    with ThreadPoolExecutor(2) as pool:
        results = ordered_map(square, -1, iter(range(10_000)), pool, in_flight=2)
        results.close()
        results.close()  # idempotent
        assert list(results) == []
    assert not [t for t in threading.enumerate() if t.name == "idgraph-ingest-reader"]
