"""The shared hook between feeds and alerts: :func:`record_joined`.

A feed (:mod:`idgraph.monitor.feeds`) calls :func:`record_joined` after it has
committed a batch of records and placed each one into an identity. Every listener
registered with :func:`on_record_joined` (the alerts of :mod:`idgraph.monitor.alerts`)
is then called with the environment and the events, in registration order.

A listener's exception never reaches the feed: the feed's records are already
committed. It is caught, logged without personal data (the listener's name and the
exception's type only) and recorded in :func:`listener_failures`.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # typing only: monitor/ sits below app/ and never imports it at run time
    from idgraph.app.context import Env

_log = logging.getLogger(__name__)

KINDS = ("new", "changed")


@dataclass(frozen=True, slots=True)
class RecordJoined:
    """A new or changed record placed into an identity, committed."""

    record_id: str
    identity_id: str
    source_id: str
    origin_jurisdiction: str | None
    batch_id: str
    kind: str  # "new" | "changed"
    at: datetime


Listener = Callable[["Env", Sequence[RecordJoined]], None]


@dataclass(frozen=True, slots=True)
class ListenerFailure:
    """A listener that raised: its name, the exception's type, when, how many events.

    Holds no personal data (no record ids, no message text)."""

    listener: str
    error: str
    at: datetime
    events: int
    outcome: Literal["raised"] = "raised"


_lock = threading.Lock()
_listeners: list[Listener] = []
_failures: deque[ListenerFailure] = deque(maxlen=1000)


def _name(listener: Listener) -> str:
    module = getattr(listener, "__module__", None) or "?"
    qual = getattr(listener, "__qualname__", None) or type(listener).__name__
    return f"{module}.{qual}"


def on_record_joined(listener: Listener) -> None:
    """Register ``listener`` (idempotent: registering it again changes nothing)."""
    with _lock:
        if listener not in _listeners:
            _listeners.append(listener)


def remove_listener(listener: Listener) -> None:
    """Unregister ``listener`` (no error if it was not registered)."""
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def listeners() -> tuple[Listener, ...]:
    """The registered listeners, in call order."""
    with _lock:
        return tuple(_listeners)


def record_joined(env: Env, events: Sequence[RecordJoined]) -> None:
    """Tell every listener that ``events`` were committed.

    Called by the feeds after commit. A listener's exception is caught, logged
    (listener name and exception type only: no personal data) and recorded in
    :func:`listener_failures`; the next listener still runs."""
    if not events:
        return
    for listener in listeners():
        try:
            listener(env, events)
        except Exception as exc:  # a listener never loses the feed's commit
            failure = ListenerFailure(
                listener=_name(listener),
                error=type(exc).__name__,
                at=datetime.now(UTC),
                events=len(events),
            )
            with _lock:
                _failures.append(failure)
            _log.warning(
                "record_joined listener %s raised %s (%d events)",
                failure.listener,
                failure.error,
                failure.events,
            )


def listener_failures() -> tuple[ListenerFailure, ...]:
    """The most recent listener failures (at most 1000), oldest first."""
    with _lock:
        return tuple(_failures)


def clear_failures() -> None:
    """Forget the recorded failures (tests)."""
    with _lock:
        _failures.clear()
