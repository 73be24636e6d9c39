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

**Where a webhook may go.** Alerts carry personal data and the server sits inside the
operator's network: a webhook must not become a way to POST into it (SSRF). A URL is
refused (:func:`url_problem`) unless it is ``https://`` and its host name resolves only to
public unicast addresses (:func:`address_problem`: no private, loopback, link-local,
multicast, reserved, unspecified, shared (100.64/10) address, and none hidden in an IPv6
form: IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``, NAT64 ``64:ff9b::/96``,
6to4 ``2002::/16``, Teredo). It is checked when the watch is made *and* at every delivery:
:func:`http_post` resolves the name once (:data:`RESOLVER`), checks every address, and
connects to the checked address itself, with the name in the ``Host`` header and the TLS
SNI/certificate check, so a DNS answer that changes between the check and the connection
(DNS rebinding) cannot redirect it. A refused address ends the delivery at once
(:class:`AddressRefused`, dead-lettered, not retried).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

HEADER: Final[str] = "X-Idgraph-Signature"
TOLERANCE: Final[int] = 300  # seconds either side of the receiver's clock
TRIES: Final[int] = 5  # attempts before a delivery is dead-lettered
BASE_DELAY: Final[float] = 0.5  # seconds before the first retry; doubled each time
MAX_DELAY: Final[float] = 60.0
TIMEOUT: Final[float] = 5.0

# post(url, body, headers) -> HTTP status; raises OSError on a network failure
Post = Callable[[str, bytes, dict[str, str]], int]
# resolver(host, port) -> the addresses the name stands for (raises OSError if none)
Resolver = Callable[[str, int], Sequence[str]]


DNS_TIMEOUT: Final[float] = 2.0  # a watch is made under the store's lock: never wait long
_DNS: Final = ThreadPoolExecutor(max_workers=4, thread_name_prefix="idgraph-dns")


def system_resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (``getaddrinfo``, TCP), in its order; a lookup
    slower than :data:`DNS_TIMEOUT` raises ``TimeoutError`` (an ``OSError``: not
    resolved)."""
    infos = _DNS.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM).result(
        timeout=DNS_TIMEOUT)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# the resolver used by url_problem and http_post (a stub in tests)
RESOLVER: Resolver = system_resolve

_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL: Final = ipaddress.ip_network("64:ff9b:1::/48")
_SIXTOFOUR: Final = ipaddress.ip_network("2002::/16")
_TEREDO: Final = ipaddress.ip_network("2001::/32")
_COMPAT: Final = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible ::a.b.c.d


def _embedded(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, compatible, NAT64, 6to4)."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr in _NAT64 or (addr in _COMPAT and int(addr) > 0xFFFF):
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def address_problem(address: str) -> str | None:
    """Why a webhook may not be sent to ``address`` (None: a public unicast address)."""
    try:
        addr = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(addr, ipaddress.IPv6Address):
        if addr in _TEREDO or addr in _NAT64_LOCAL:
            return "a tunnelled IPv6 address"
        inner = _embedded(addr)
        if inner is not None:
            return address_problem(str(inner))
        if addr in _COMPAT or addr.is_site_local:
            return "a reserved IPv6 address"
    if (addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_multicast
            or addr.is_reserved or addr.is_unspecified or not addr.is_global):
        return "a private, loopback, link-local, multicast or reserved address"
    return None


class AddressRefused(OSError):
    """The webhook's host resolves to an address a webhook may not reach."""


def url_problem(url: str, *, resolver: Resolver | None = None,
                must_resolve: bool = False) -> str | None:
    """Why ``url`` may not receive alerts (None: it may): not ``https://``, this host, or a
    name (or literal address, in any spelling) that resolves to a non-public address. A name
    that does not resolve is let through unless ``must_resolve`` (it is checked again at
    every delivery)."""
    try:
        parts = urlsplit(url)
        port = parts.port or 443
    except ValueError:
        return "webhook_url is not a URL"
    if parts.scheme != "https" or not parts.hostname:
        return "webhook_url must be an https:// URL"
    if "@" in parts.netloc or "\\" in url or any(ord(c) < 33 for c in url):
        # user info, backslashes, spaces and controls: parsers disagree on the host
        return "webhook_url may not carry user info, backslashes, spaces or controls"
    host = parts.hostname.lower().rstrip(".")
    if not host or host == "localhost" or host.endswith(".localhost"):
        return "webhook_url may not name this host"
    try:
        literal = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        literal = None
    if literal is not None:
        why = address_problem(host)
        return f"webhook_url may not name {why}" if why else None
    try:
        found = list((resolver or RESOLVER)(host, port))
    except (OSError, UnicodeError):
        found = []
    if not found:
        return "webhook_url's host does not resolve" if must_resolve else None
    for address in found:
        why = address_problem(address)
        if why:
            return f"webhook_url's host resolves to {why}"
    return None


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


class _PinnedHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection to ``address`` for the name ``host``: the TCP connection goes
    to the address that was checked, the TLS SNI, certificate check and ``Host`` header
    use the name."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float,
                 context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self.address = address
        self.tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def pinned_address(url: str, *, resolver: Resolver | None = None) -> str:
    """The address a delivery to ``url`` connects to: the host resolved once, every
    address it gave checked, the first one returned; raises :class:`AddressRefused`
    (refused, or not resolvable). The caller connects to this address, never to the name
    again (a second lookup could answer differently: DNS rebinding)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    found: list[str] = []
    try:
        found.append(str(ipaddress.ip_address(host)))
    except ValueError:
        try:
            found = [str(a) for a in (resolver or RESOLVER)(host, parts.port or 443)]
        except (OSError, UnicodeError, ValueError):
            found = []
    why = url_problem(url, resolver=lambda _h, _p: found, must_resolve=True)
    if why:
        raise AddressRefused(why)
    return found[0]


def http_post(url: str, body: bytes, headers: dict[str, str], *,
              resolver: Resolver | None = None,
              context: ssl.SSLContext | None = None) -> int:
    """POST ``body`` to ``url`` over TLS, connecting to the address checked by
    :func:`pinned_address` (no redirects followed: a 3xx is a failure)."""
    address = pinned_address(url, resolver=resolver)
    parts = urlsplit(url)
    host = str(parts.hostname).lower().rstrip(".")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = _PinnedHTTPS(host, parts.port or 443, address=address, timeout=TIMEOUT,
                        context=context or ssl.create_default_context())
    try:
        conn.request("POST", path, body=body, headers=headers)
        return int(conn.getresponse().status)
    finally:
        conn.close()


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
        except AddressRefused:  # not a passing failure: dead at once, never retried
            return Outcome(False, attempt, "address refused")
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
    "RESOLVER",
    "TOLERANCE",
    "TRIES",
    "AddressRefused",
    "Outcome",
    "Post",
    "ReplayGuard",
    "Resolver",
    "WebhookError",
    "address_problem",
    "backoff",
    "deliver",
    "http_post",
    "pinned_address",
    "sign",
    "signature",
    "system_resolve",
    "url_problem",
    "verify",
]
