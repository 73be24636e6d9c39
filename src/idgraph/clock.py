"""One clock for the whole system: UTC, injectable for tests.

Every date a rule reads (is a warrant in force? when is a notice due? is a record
past retention?) and every time an entry is stamped with comes from here, so the
gate and the log never disagree about what day it is. Tests pin the clock with
:func:`frozen` (a context variable, so nothing global is mutated and threads or
tasks started outside the block are unaffected).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime

_FROZEN: ContextVar[datetime | None] = ContextVar("idgraph_clock", default=None)


def now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    pinned = _FROZEN.get()
    return pinned if pinned is not None else datetime.now(UTC)


def now_naive() -> datetime:
    """:func:`now` without tzinfo (what the store's TIMESTAMP columns hold: UTC)."""
    return now().replace(tzinfo=None)


def today() -> date:
    """Today's date in UTC."""
    return now().date()


@contextmanager
def frozen(at: datetime | date) -> Iterator[datetime]:
    """Pin :func:`now` to ``at`` (a naive time is taken as UTC; a date as its midnight)."""
    if not isinstance(at, datetime):
        at = datetime(at.year, at.month, at.day, tzinfo=UTC)
    elif at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    at = at.astimezone(UTC)
    token = _FROZEN.set(at)
    try:
        yield at
    finally:
        _FROZEN.reset(token)
