"""The record_joined hook: registration is idempotent, every listener is called in
order, and a listener's exception is recorded (no personal data) and never stops the
others."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from idgraph.monitor import events
from idgraph.monitor.events import RecordJoined

EVENT = RecordJoined("bookings/B1", "I-1", "bookings", "US-TX", "b1", "new",
                     datetime(2026, 12, 5, tzinfo=UTC))


def test_listeners_are_called_once_each_in_order_and_failures_are_recorded() -> None:
    seen: list[tuple[str, int]] = []

    def first(env: Any, evs: Sequence[RecordJoined]) -> None:
        seen.append(("first", len(evs)))

    def broken(env: Any, evs: Sequence[RecordJoined]) -> None:
        raise RuntimeError("secret name WILLIAM ONEIL")

    def last(env: Any, evs: Sequence[RecordJoined]) -> None:
        seen.append(("last", len(evs)))

    events.clear_failures()
    for fn in (first, first, broken, last):
        events.on_record_joined(fn)
    try:
        events.record_joined(None, [EVENT])  # type: ignore[arg-type]
        events.record_joined(None, [])  # type: ignore[arg-type]  # nothing to tell
    finally:
        for fn in (first, broken, last):
            events.remove_listener(fn)
    events.remove_listener(first)  # not registered: no error
    assert seen == [("first", 1), ("last", 1)]
    (failure,) = events.listener_failures()
    assert failure.error == "RuntimeError" and failure.events == 1
    assert "broken" in failure.listener and "WILLIAM" not in repr(failure)
    assert first not in events.listeners()
