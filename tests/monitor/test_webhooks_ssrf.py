"""Issue 16 hardening, written as the attacks: a webhook must not become a way to POST
alerts (personal data) into the operator's own network.

A watch's owner chooses the URL. Refused at creation AND at every delivery: any spelling
of a non-public address (IPv4-mapped, NAT64, 6to4, decimal, octal, short forms), and a
host name that resolves to one, including one that resolved to a public address when the
watch was made and to a private one at delivery (DNS rebinding). The delivery connects to
the address it checked, with the name only in the Host header and the TLS SNI."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from monitor_fixtures import CI, IDENTITY, TODAY, caller, env, join

from idgraph.app import watches as app_watches
from idgraph.app.context import Env
from idgraph.app.errors import Invalid
from idgraph.monitor import alerts, delivery, watches, webhooks

__all__ = ["env"]

LATER = TODAY + timedelta(days=30)
PUBLIC = "93.184.216.34"


class Resolver:
    """A DNS stub: each name answers from a list of answers, one per lookup (the last
    repeats); every lookup is counted."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        seq = self.answers.get(host)
        if not seq:
            raise OSError("no such name")
        return seq.pop(0) if len(seq) > 1 else seq[0]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    stub = Resolver({})
    monkeypatch.setattr(webhooks, "RESOLVER", stub)
    return stub


def _create(env: Env, url: str) -> watches.Watch:
    return app_watches.create_watch(env, caller("gov"), identity_id=IDENTITY, case_id="C1",
                                    purpose=CI, expires=LATER, webhook_url=url)


PRIVATE_ANSWERS = [
    ["127.0.0.1"], ["10.0.0.5"], ["192.168.1.1"], ["172.16.0.1"], ["169.254.169.254"],
    ["100.64.0.1"], ["0.0.0.0"], ["224.0.0.1"], ["240.0.0.1"], ["255.255.255.255"],
    ["::1"], ["fe80::1"], ["fc00::1"], ["::ffff:127.0.0.1"], ["64:ff9b::7f00:1"],
    ["2002:7f00:1::"], ["::127.0.0.1"], ["2001:0:4136:e378:8000:63bf:3fff:fdd2"],
    ["ff02::1"], [PUBLIC, "10.0.0.5"],  # one bad address among good ones is enough
]


@pytest.mark.parametrize("answer", PRIVATE_ANSWERS, ids=[",".join(a) for a in PRIVATE_ANSWERS])
def test_a_name_resolving_into_a_private_network_is_refused_at_creation(
    env: Env, dns: Resolver, answer: list[str],
) -> None:
    dns.answers["hooks.attacker.example"] = [answer]
    with pytest.raises(Invalid, match="resolves to"):
        _create(env, "https://hooks.attacker.example/x")
    assert watches.list_watches(env.store) == []


@pytest.mark.parametrize("url", [
    "http://[::ffff:127.0.0.1]/",  # the red team's: clear text and loopback
    "https://[::ffff:127.0.0.1]/", "https://[::ffff:7f00:1]/", "https://[64:ff9b::a00:5]/",
    "https://[2002:a9fe:a9fe::]/", "https://[::]/", "https://[fe80::1%25eth0]/",
    "https://0.0.0.0/", "https://224.0.0.251/",
    "https://2130706433/", "https://0x7f000001/", "https://017700000001/", "https://127.1/",
    "https://0/", "https://LOCALHOST./", "https://[::1]:8443/", "https://h:99999/",
    "https://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/",  # fullwidth
    "https://partner.example@127.0.0.1/", "https://127.0.0.1#@partner.example/",
    "https://partner.example\\@127.0.0.1/", "https://127.0.0.1:443\\@partner.example/",
])
def test_every_spelling_of_a_local_address_is_refused(env: Env, url: str) -> None:
    """Literal addresses in the forms a URL parser, inet_aton or getaddrinfo accept
    (decimal, hex, octal, short), resolved by the system resolver (no network needed)."""
    with pytest.raises(Invalid):
        _create(env, url)


def test_a_public_name_is_accepted_and_an_unresolvable_one_checked_later(
    env: Env, dns: Resolver,
) -> None:
    dns.answers["hooks.partner.example"] = [[PUBLIC, "2606:2800:220:1:248:1893:25c8:1946"]]
    assert _create(env, "https://hooks.partner.example/idgraph").webhook_url
    # not resolvable now (a new name, a DNS outage): made, and checked at each delivery
    assert _create(env, "https://not-yet.partner.example/x").webhook_url


class Connections:
    """Stands in for the network: records where a delivery connects and for which
    name it would check the certificate, then fails like a closed port."""

    def __init__(self) -> None:
        self.addresses: list[tuple[str, int]] = []
        self.server_names: list[str | None] = []

    def create_connection(self, address: tuple[str, int], *args: Any) -> object:
        self.addresses.append(address)
        return object()

    def context(self) -> ssl.SSLContext:
        outer = self

        class _Ctx(ssl.SSLContext):
            def wrap_socket(self, sock: Any, *args: Any, **kw: Any) -> Any:  # type: ignore[override]
                outer.server_names.append(kw.get("server_hostname"))
                raise ConnectionRefusedError("test network")

        return _Ctx(ssl.PROTOCOL_TLS_CLIENT)


@pytest.fixture
def net(monkeypatch: pytest.MonkeyPatch) -> Connections:
    fake = Connections()
    monkeypatch.setattr(webhooks.socket, "create_connection", fake.create_connection)
    return fake


def test_delivery_connects_to_the_address_it_checked_with_the_name_for_tls(
    dns: Resolver, net: Connections,
) -> None:
    """Resolved once per attempt; the TCP connection goes to that address, never to the
    name (a second lookup could answer 127.0.0.1); SNI and the certificate check use
    the name."""
    dns.answers["hooks.partner.example"] = [[PUBLIC], ["127.0.0.1"]]
    with pytest.raises(ConnectionRefusedError):
        webhooks.http_post("https://hooks.partner.example:8443/in", b"{}", {},
                           context=net.context())
    assert dns.calls == ["hooks.partner.example"]
    assert net.addresses == [(PUBLIC, 8443)]
    assert net.server_names == ["hooks.partner.example"]


def test_dns_rebinding_after_creation_is_refused_at_delivery_and_dead_lettered(
    env: Env, dns: Resolver, net: Connections, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Public when the watch is made, 169.254.169.254 (cloud metadata) when the alert
    goes: the delivery never connects, is not retried, and is shown as a dead letter."""
    monkeypatch.setattr(alerts.DISPATCHER, "post", webhooks.http_post)
    monkeypatch.setattr(alerts.DISPATCHER, "sleep", lambda s: None)
    dns.answers["hooks.rebind.example"] = [[PUBLIC], ["169.254.169.254"]]
    _create(env, "https://hooks.rebind.example/x")
    join(env, "court", case_number="CR-1")
    alerts.DISPATCHER.join()
    assert net.addresses == []
    [dead] = app_watches.list_dead_letters(env, caller("gov"))
    assert (dead.attempts, dead.last_error) == (1, "address refused")


def test_refused_address_is_not_retried() -> None:
    calls: list[str] = []

    def post(url: str, body: bytes, headers: dict[str, str]) -> int:
        calls.append(url)
        raise webhooks.AddressRefused("resolves to a private address")

    out = webhooks.deliver("https://x.example/", b"k", b"{}", post=post, sleep=lambda s: None)
    assert (out.delivered, out.attempts, out.last_error, len(calls)) == (
        False, 1, "address refused", 1)


@pytest.mark.parametrize(("address", "refused"), [
    (PUBLIC, False), ("2606:2800:220:1:248:1893:25c8:1946", False),
    ("8.8.8.8", False), ("192.0.2.1", True), ("198.51.100.7", True), ("203.0.113.9", True),
    ("::ffff:8.8.8.8", False), ("64:ff9b::808:808", False), ("64:ff9b:1::1", True),
    ("::", True), ("not-an-ip", True),
])
def test_address_problem_table(address: str, refused: bool) -> None:
    assert (webhooks.address_problem(address) is not None) is refused


def test_the_dispatcher_module_is_the_one_alerts_re_exports() -> None:
    assert alerts.DISPATCHER is delivery.DISPATCHER
    assert alerts.Dispatcher is delivery.Dispatcher
    assert alerts.list_dead_letters is delivery.list_dead_letters


def test_a_slow_resolver_never_holds_the_store_for_long(monkeypatch: pytest.MonkeyPatch) -> None:
    """A watch is made under the store's lock: a name whose DNS answers slowly (an
    attacker's server that stalls) must not stall every other request. The lookup gives
    up after DNS_TIMEOUT; creation lets the name through (checked again at delivery),
    delivery refuses it."""
    import time

    def stall(*_a: Any, **_k: Any) -> Any:
        time.sleep(1.0)
        return [(0, 0, 0, "", ("127.0.0.1", 443))]

    monkeypatch.setattr(webhooks, "DNS_TIMEOUT", 0.1)
    monkeypatch.setattr(webhooks.socket, "getaddrinfo", stall)
    started = time.monotonic()
    assert webhooks.url_problem("https://slow.attacker.example/") is None
    with pytest.raises(webhooks.AddressRefused, match="does not resolve"):
        webhooks.pinned_address("https://slow.attacker.example/")
    assert time.monotonic() - started < 0.9


def _self_signed(tmp: Any, name: str) -> tuple[str, str]:
    """A throwaway certificate and key for ``name`` (synthetic; for this test only)."""
    from datetime import UTC, datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1)).not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_a_real_pinned_delivery_sends_the_name_as_host_and_sni(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """End to end over real TLS on 127.0.0.1 (allowed for this test only): the
    connection goes to the resolved address; the receiver sees ``Host: hooks.test:<port>``
    and SNI ``hooks.test``; the certificate is checked against the name (a certificate
    for another name fails); the signed body arrives intact."""
    import http.server
    import threading

    cert, key = _self_signed(tmp_path, "hooks.test")
    seen: dict[str, Any] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen["host"] = self.headers["Host"]
            seen["path"] = self.path
            seen["body"] = self.rfile.read(int(self.headers["Content-Length"]))
            seen["sig"] = self.headers[webhooks.HEADER]
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    server_ctx.sni_callback = lambda sock, name, ctx: seen.__setitem__("sni", name)
    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = server_ctx.wrap_socket(httpd.socket, server_side=True)
    port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    real = webhooks.address_problem
    monkeypatch.setattr(webhooks, "address_problem",
                        lambda a: None if a == "127.0.0.1" else real(a))
    monkeypatch.setattr(webhooks, "RESOLVER", Resolver({"hooks.test": [["127.0.0.1"]]}))
    client_ctx = ssl.create_default_context(cafile=cert)
    try:
        body = b'{"alert_id": "A-1"}'
        headers = {"Content-Type": "application/json",
                   webhooks.HEADER: webhooks.sign(b"k" * 32, body)}
        status = webhooks.http_post(f"https://hooks.test:{port}/in?x=1", body, headers,
                                    context=client_ctx)
        assert status == 204
        assert seen["host"] == f"hooks.test:{port}" and seen["sni"] == "hooks.test"
        assert seen["path"] == "/in?x=1" and seen["body"] == body
        webhooks.verify(b"k" * 32, seen["sig"], seen["body"])
        # the same address under a name the certificate does not carry: refused by TLS
        monkeypatch.setattr(webhooks, "RESOLVER", Resolver({"other.test": [["127.0.0.1"]]}))
        with pytest.raises(ssl.SSLCertVerificationError):
            webhooks.http_post(f"https://other.test:{port}/in", body, headers,
                               context=client_ctx)
    finally:
        httpd.shutdown()
        httpd.server_close()
