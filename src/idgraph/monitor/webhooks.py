"""Webhook signatures and delivery: HMAC-SHA256 over ``timestamp.body``, retried with
exponential back-off, dead-lettered after :data:`TRIES` attempts.

The header a receiver checks is ``X-Idgraph-Signature: t=<unix seconds>,v1=<hex>``
where ``v1 = HMAC-SHA256(secret, f"{t}.".encode() + body)``. :func:`verify` checks it:
a forged body or signature fails the MAC; a replayed request is detectable by its
timestamp (older than ``tolerance`` seconds: refused as stale) and, inside the
tolerance, by a :class:`ReplayGuard` that remembers the signatures it has accepted.

Delivery (:func:`deliver`) is synchronous and takes its ``post`` and ``sleep``
callables, so the retry schedule is testable without a network or a clock; the
alert dispatcher runs it on a worker thread.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

HEADER: Final[str] = "X-Idgraph-Signature"
TOLERANCE: Final[int] = 300  # seconds either side of the receiver's clock
TRIES: Final[int] = 5  # attempts before a delivery is dead-lettered
BASE_DELAY: Final[float] = 0.5  # seconds before the first retry; doubled each time
MAX_DELAY: Final[float] = 60.0
TIMEOUT: Final[float] = 5.0

# post(url, body, headers) -> HTTP status; raises OSError on a network failure
Post = Callable[[str, bytes, dict[str, str]], int]


class WebhookError(ValueError):
    """A webhook that does not verify; ``reason`` is one of ``malformed``, ``signature``,
    ``stale``, ``replayed``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``timestamp.body`` under ``secret``."""
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, *, now: float | None = None) -> str:
    """The ``X-Idgraph-Signature`` header value for ``body`` sent at ``now``."""
    t = int(time.time() if now is None else now)
    return f"t={t},v1={signature(secret, t, body)}"


def _parse(header: str) -> tuple[int, list[str]]:
    t: int | None = None
    sigs: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise WebhookError("malformed", "expected t=<unix>,v1=<hex>")
        if key == "t":
            if not value.isdigit() or t is not None:
                raise WebhookError("malformed", "one numeric timestamp t= is required")
            t = int(value)
        elif key == "v1":
            sigs.append(value.lower())
    if t is None or not sigs:
        raise WebhookError("malformed", "both t= and v1= are required")
    return t, sigs


def verify(secret: bytes, header: str, body: bytes, *, now: float | None = None,
           tolerance: int = TOLERANCE) -> int:
    """Check a delivery: the MAC over ``t.body`` and that ``t`` is within ``tolerance``
    seconds of ``now``. Returns ``t``; raises :class:`WebhookError`."""
    t, sigs = _parse(header)
    expected = signature(secret, t, body)
    if not any(hmac.compare_digest(expected, s) for s in sigs):
        raise WebhookError("signature", "the signature does not match the body")
    current = time.time() if now is None else now
    if abs(current - t) > tolerance:
        raise WebhookError("stale", f"timestamp {t} is more than {tolerance} s from now")
    return t


class ReplayGuard:
    """What a receiver keeps to refuse a replay inside the tolerance window: the
    signatures it has accepted, forgotten once their timestamp is out of the window."""

    def __init__(self, tolerance: int = TOLERANCE) -> None:
        self.tolerance = tolerance
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def check(self, secret: bytes, header: str, body: bytes, *,
              now: float | None = None) -> int:
        """:func:`verify`, then refuse a signature seen before (``replayed``)."""
        current = time.time() if now is None else now
        t = verify(secret, header, body, now=current, tolerance=self.tolerance)
        key = signature(secret, t, body)
        with self._lock:
            for k, seen_t in list(self._seen.items()):
                if abs(current - seen_t) > self.tolerance:
                    del self._seen[k]
            if key in self._seen:
                raise WebhookError("replayed", "this delivery was accepted before")
            self._seen[key] = t
        return t


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a delivery ended: ``delivered`` or ``dead`` after ``attempts`` tries."""

    delivered: bool
    attempts: int
    last_error: str = ""


def backoff(attempt: int, base: float = BASE_DELAY, cap: float = MAX_DELAY) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    return float(min(cap, base * 2 ** (attempt - 1)))


def http_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` to ``url`` (urllib; no redirects followed for a non-2xx)."""
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def deliver(url: str, secret: bytes, body: bytes, *, post: Post = http_post,
            sleep: Callable[[float], None] = time.sleep, tries: int = TRIES,
            base: float = BASE_DELAY, clock: Callable[[], float] = time.time) -> Outcome:
    """POST ``body`` signed (a fresh timestamp per attempt) until a 2xx answer, at most
    ``tries`` times, waiting :func:`backoff` between attempts."""
    last = ""
    for attempt in range(1, tries + 1):
        headers = {"Content-Type": "application/json", HEADER: sign(secret, body, now=clock())}
        try:
            status = post(url, body, headers)
        except OSError as exc:  # network failure: the type only (no URL, no body)
            last = type(exc).__name__
        else:
            if 200 <= status < 300:
                return Outcome(True, attempt)
            last = f"HTTP {status}"
        if attempt < tries:
            sleep(backoff(attempt, base))
    return Outcome(False, tries, last)


__all__ = [
    "HEADER",
    "TOLERANCE",
    "TRIES",
    "Outcome",
    "Post",
    "ReplayGuard",
    "WebhookError",
    "backoff",
    "deliver",
    "http_post",
    "sign",
    "signature",
    "verify",
]
