"""The error paths of the commands issue 11 added or changed, through the CLI.

Every case must end with a clear one-line ``error: ...`` (or a usage error from the
argument parser) and a non-zero exit: never a Python traceback, never exit 0. Cases
cover unknown and unauthorised users, ids that do not exist, files that are missing or
not what they should be, a bad SHA-256, malformed dates, a policy folder with a syntax
error and an encrypted signing key without its passphrase.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner, Result

from idgraph.cli import app

runner = CliRunner()
PASS = "correct horse battery staple"
BAD_CEDAR = '@id("broken")\npermit (principal, action, resource) when { principal.role == ;\n'
GOOD_CEDAR = (
    '@id("county.no_utility_for_journalism")\n'
    'forbid (principal, action in Action::"read", resource)\n'
    'when { resource.kind == "utility" && context.purpose == "journalism" };\n'
)
SHA = "ab" * 32


def invoke(data: Path, args: list[str], env: Mapping[str, str | None] | None = None) -> Result:
    base: dict[str, str | None] = {
        "IDGRAPH_POLICY_DIR": None,
        "IDGRAPH_AUDIT_KEY_PASSPHRASE": None,
        "IDGRAPH_USER": None,
        "COLUMNS": "1000",  # no wrapping: a message must be one line of its own
    }
    return runner.invoke(app, ["--data-dir", str(data), *args], env={**base, **(env or {})})


def ok(data: Path, *args: str, env: Mapping[str, str | None] | None = None) -> str:
    res = invoke(data, list(args), env)
    assert res.exit_code == 0, (args, res.output, res.exception)
    return res.output.strip()


@dataclass(frozen=True)
class World:
    root: Path
    data: Path
    locked: Path  # a data dir whose signing key is encrypted
    doc: str  # a registered, unverified document of nypd (by inv)
    own: str  # a registered, unverified document of nypd (by sup)
    verified: str  # a verified document of nypd
    sar_closed: str  # a closed subject-access request of nypd


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("cli-errors")
    data = root / "data"
    ok(data, "users", "add", "admin", "--role", "admin", "--org", "ops", "--org-type", "government")
    for name, role, org in [
        ("inv", "investigator", "nypd"),
        ("sup", "supervisor", "nypd"),
        ("ro", "records_officer", "nypd"),
        ("fbi_inv", "investigator", "fbi"),
        ("fbi_sup", "supervisor", "fbi"),
        ("ig", "overseer", "oig"),
        ("gone", "investigator", "nypd"),
    ]:
        ok(data, "users", "add", name, "--role", role, "--org", org,
           "--org-type", "government", "--as", "admin")
    ok(data, "users", "disable", "gone", "--as", "admin")
    ok(data, "cases", "open", "C-1", "--title", "t", "--kind", "criminal", "--as", "inv")
    ok(data, "cases", "open", "F-1", "--title", "t", "--kind", "criminal", "--as", "fbi_inv")
    ok(data, "cases", "open", "S-1", "--title", "t", "--kind", "subject_access", "--as", "ro")
    warrant = ["legal", "add", "--type", "judicial_warrant", "--court", "S.D.N.Y.",
               "--judge", "Hon. A. Reyes", "--judge-appointment", "article_iii",
               "--level", "federal", "--issuer", "court", "--issued", "2026-01-05",
               "--case", "C-1", "--as", "inv"]
    doc = ok(data, *warrant, "--number", "W-1")
    verified = ok(data, *warrant, "--number", "W-2")
    own = ok(data, *warrant[:-1], "sup", "--number", "W-3")
    ok(data, "legal", "verify", verified, "--sha256", SHA, "--as", "sup")
    sar = ok(data, "sar", "open", "P-AAAAAAAAAA", "--case", "S-1", "--requester", "in person",
             "--received", "2026-01-05", "--as", "ro")
    ok(data, "sar", "close", sar, "--as", "ro")
    ok(data, "audit", "checkpoint", "--as", "admin")
    ok(data, "audit", "pubkey", "--out", str(root / "log.pem"))
    ok(data, "audit", "witness", "--state", str(root / "witness"), "--init",
       "--log-key", str(root / "log.pem"))

    (root / "badpol").mkdir()
    (root / "badpol" / "bad.cedar").write_text(BAD_CEDAR)
    (root / "goodpol").mkdir()
    (root / "goodpol" / "county.cedar").write_text(GOOD_CEDAR)
    (root / "emptypol").mkdir()
    (root / "binpol").mkdir()
    (root / "binpol" / "x.cedar").write_bytes(b"\xff\xfe not text")
    other = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (root / "other.pem").write_bytes(other)
    ok(data, "audit", "witness", "--state", str(root / "witness-other"), "--init",
       "--log-key", str(root / "other.pem"))
    (root / "garbage.pem").write_text("this is not a key\n")
    (root / "a-file").write_text("not a folder\n")
    (root / "broken.pem").write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")

    locked = root / "locked"
    with_pass = {"IDGRAPH_AUDIT_KEY_PASSPHRASE": PASS}
    ok(locked, "users", "add", "admin", "--role", "admin", "--org", "ops",
       "--org-type", "government")
    ok(locked, "users", "add", "ig", "--role", "overseer", "--org", "oig",
       "--org-type", "government", "--as", "admin")
    ok(locked, "audit", "checkpoint", "--as", "admin", env=with_pass)
    assert b"ENCRYPTED" in (locked / "audit_ed25519.pem").read_bytes()
    yield World(root, data, locked, doc, own, verified, sar)


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    expect: str = ""  # a fragment the error must contain (case-insensitive)
    env: tuple[tuple[str, str], ...] = ()
    locked: bool = False  # run against the data dir with the encrypted key


BADPOL = (("IDGRAPH_POLICY_DIR", "{root}/badpol"),)
NOPOL = (("IDGRAPH_POLICY_DIR", "{root}/no-such-folder"),)
WARRANT = ("--type", "judicial_warrant", "--court", "S.D.N.Y.", "--judge", "Hon. A. Reyes",
           "--judge-appointment", "article_iii", "--level", "federal", "--issuer", "court",
           "--number", "W-9")

CASES = [
    # legal add
    Case("legal-add-unknown-user", ("legal", "add", *WARRANT, "--issued", "2026-01-05",
                                    "--case", "C-1", "--as", "ghost"), "ghost"),
    Case("legal-add-disabled-user", ("legal", "add", *WARRANT, "--issued", "2026-01-05",
                                     "--case", "C-1", "--as", "gone"), "gone"),
    Case("legal-add-not-permitted", ("legal", "add", *WARRANT, "--issued", "2026-01-05",
                                     "--case", "C-1", "--as", "ro"), "may not"),
    Case("legal-add-bad-date", ("legal", "add", *WARRANT, "--issued", "2026-13-45",
                                "--case", "C-1", "--as", "inv"), "--issued"),
    Case("legal-add-bad-expires", ("legal", "add", *WARRANT, "--issued", "2026-01-05",
                                   "--expires", "soon", "--case", "C-1", "--as", "inv"),
         "--expires"),
    Case("legal-add-bad-type", ("legal", "add", "--type", "napkin", "--number", "X",
                                "--issued", "2026-01-05", "--case", "C-1", "--as", "inv"),
         "napkin"),
    Case("legal-add-warrant-by-agency", ("legal", "add", "--type", "judicial_warrant",
                                         "--level", "federal", "--issuer", "agency",
                                         "--number", "X", "--issued", "2026-01-05",
                                         "--case", "C-1", "--as", "inv")),
    Case("legal-add-no-case", ("legal", "add", *WARRANT, "--issued", "2026-01-05",
                               "--as", "inv"), "--case"),
    Case("legal-add-other-orgs-case", ("legal", "add", *WARRANT, "--issued", "2026-01-05",
                                       "--case", "F-1", "--as", "inv"), "F-1"),
    Case("legal-add-no-such-case", ("legal", "add", *WARRANT, "--issued", "2026-01-05",
                                    "--case", "NOPE-1", "--as", "inv"), "NOPE-1"),
    Case("legal-add-policy-syntax-error", ("legal", "add", *WARRANT, "--issued", "2026-01-05",
                                           "--case", "C-1", "--as", "inv"), "polic", BADPOL),
    # legal verify
    Case("legal-verify-unknown-doc", ("legal", "verify", "LP-0000000000", "--sha256", SHA,
                                      "--as", "sup"), "LP-0000000000"),
    Case("legal-verify-bad-sha256", ("legal", "verify", "{doc}", "--sha256", "xyz",
                                     "--as", "sup"), "sha256"),
    Case("legal-verify-short-sha256", ("legal", "verify", "{doc}", "--sha256", "ab" * 31,
                                       "--as", "sup"), "sha256"),
    Case("legal-verify-by-investigator", ("legal", "verify", "{doc}", "--sha256", SHA,
                                          "--as", "inv"), "may not"),
    Case("legal-verify-by-registrant", ("legal", "verify", "{own}", "--sha256", SHA,
                                        "--as", "sup"), "registrant"),
    Case("legal-verify-other-org", ("legal", "verify", "{doc}", "--sha256", SHA,
                                    "--as", "fbi_sup"), "{doc}"),
    Case("legal-verify-unknown-user", ("legal", "verify", "{doc}", "--sha256", SHA,
                                       "--as", "ghost"), "ghost"),
    Case("legal-verify-twice", ("legal", "verify", "{verified}", "--sha256", SHA,
                                "--as", "sup"), "already verified"),
    Case("legal-list-unknown-user", ("legal", "list", "--as", "ghost"), "ghost"),
    # sar
    Case("sar-open-unknown-user", ("sar", "open", "P-AAAAAAAAAA", "--case", "S-1",
                                   "--requester", "x", "--received", "2026-01-05",
                                   "--as", "ghost"), "ghost"),
    Case("sar-open-not-permitted", ("sar", "open", "P-AAAAAAAAAA", "--case", "S-1",
                                    "--requester", "x", "--received", "2026-01-05",
                                    "--as", "inv"), "may not"),
    Case("sar-open-no-such-case", ("sar", "open", "P-AAAAAAAAAA", "--case", "NOPE",
                                   "--requester", "x", "--received", "2026-01-05",
                                   "--as", "ro"), "NOPE"),
    Case("sar-open-wrong-case-kind", ("sar", "open", "P-AAAAAAAAAA", "--case", "C-1",
                                      "--requester", "x", "--received", "2026-01-05",
                                      "--as", "ro"), "C-1"),
    Case("sar-open-bad-date", ("sar", "open", "P-AAAAAAAAAA", "--case", "S-1",
                               "--requester", "x", "--received", "05/01/2026",
                               "--as", "ro"), "--received"),
    Case("sar-open-future", ("sar", "open", "P-AAAAAAAAAA", "--case", "S-1",
                             "--requester", "x", "--received", "2999-01-01",
                             "--as", "ro"), "future"),
    Case("sar-open-blank-requester", ("sar", "open", "P-AAAAAAAAAA", "--case", "S-1",
                                      "--requester", " ", "--received", "2026-01-05",
                                      "--as", "ro"), "requester"),
    Case("sar-list-unknown-user", ("sar", "list", "--as", "ghost"), "ghost"),
    Case("sar-list-not-permitted", ("sar", "list", "--as", "inv"), "may not"),
    Case("sar-list-bad-status", ("sar", "list", "--status", "pending", "--as", "ro"),
         "pending"),
    Case("sar-close-unknown", ("sar", "close", "SAR-0000000000", "--as", "ro"),
         "SAR-0000000000"),
    Case("sar-close-already-closed", ("sar", "close", "{sar_closed}", "--as", "ro"),
         "already closed"),
    Case("sar-close-unknown-user", ("sar", "close", "{sar_closed}", "--as", "ghost"), "ghost"),
    # policy
    Case("policy-show-syntax-error", ("policy", "show"), "polic", BADPOL),
    Case("policy-show-missing-dir", ("policy", "show"), "no-such-folder", NOPOL),
    Case("policy-install-syntax-error", ("policy", "install", "{root}/badpol", "--as", "admin"),
         "polic"),
    Case("policy-install-not-utf8", ("policy", "install", "{root}/binpol", "--as", "admin"),
         "binpol"),
    Case("policy-install-missing-dir", ("policy", "install", "{root}/no-such-folder",
                                        "--as", "admin"), "no-such-folder"),
    Case("policy-install-a-file", ("policy", "install", "{root}/a-file", "--as", "admin"),
         "a-file"),
    Case("policy-install-not-admin", ("policy", "install", "{root}/goodpol", "--as", "inv"),
         "may not"),
    Case("policy-install-unknown-user", ("policy", "install", "{root}/goodpol",
                                         "--as", "ghost"), "ghost"),
    Case("policy-install-deployment-broken", ("policy", "install", "{root}/goodpol",
                                              "--as", "admin"), "polic", BADPOL),
    # audit
    Case("audit-verify-unknown-user", ("audit", "verify", "--as", "ghost"), "ghost"),
    Case("audit-verify-disabled-user", ("audit", "verify", "--as", "gone"), "gone"),
    Case("audit-verify-missing-pubkey", ("audit", "verify", "--pubkey", "{root}/nope.pem",
                                         "--as", "inv"), "nope.pem"),
    Case("audit-verify-garbage-pubkey", ("audit", "verify", "--pubkey", "{root}/garbage.pem",
                                         "--as", "inv"), "garbage.pem"),
    Case("audit-verify-broken-pem", ("audit", "verify", "--pubkey", "{root}/broken.pem",
                                     "--as", "inv"), "broken.pem"),
    Case("audit-verify-policy-syntax-error", ("audit", "verify", "--as", "inv"), "polic",
         BADPOL),
    Case("audit-export-unknown-user", ("audit", "export", "--out", "{root}/x.jsonl",
                                       "--as", "ghost"), "ghost"),
    Case("audit-export-not-permitted", ("audit", "export", "--out", "{root}/x.jsonl",
                                        "--as", "inv"), "may not"),
    Case("audit-export-out-under-a-file", ("audit", "export", "--out", "{root}/a-file/x.jsonl",
                                           "--as", "ig"), "a-file"),
    Case("audit-export-out-is-a-folder", ("audit", "export", "--out", "{root}/emptypol",
                                          "--as", "ig"), "emptypol"),
    Case("audit-prove-unknown-user", ("audit", "prove", "0", "--as", "ghost"), "ghost"),
    Case("audit-prove-out-of-range", ("audit", "prove", "999999", "--as", "ig"), "999999"),
    Case("audit-prove-negative", ("audit", "prove", "-1", "--as", "ig"), "-1"),
    Case("audit-prove-not-a-number", ("audit", "prove", "first", "--as", "ig"), "index"),
    Case("audit-checkpoint-unknown-user", ("audit", "checkpoint", "--as", "ghost"), "ghost"),
    Case("audit-checkpoint-not-admin", ("audit", "checkpoint", "--as", "inv"), "may not"),
    Case("audit-rotate-key-not-admin", ("audit", "rotate-key", "--as", "ig"), "may not"),
    Case("audit-rotate-key-unknown-user", ("audit", "rotate-key", "--as", "ghost"), "ghost"),
    Case("audit-witness-no-state", ("audit", "witness", "--state", "{root}/no-witness"),
         "no-witness"),
    Case("audit-witness-init-twice", ("audit", "witness", "--state", "{root}/witness",
                                      "--init", "--log-key", "{root}/log.pem"), "witness"),
    Case("audit-witness-bad-name", ("audit", "witness", "--state", "{root}/w4", "--init",
                                    "--name", "not a key name"), "not a key name"),
    Case("audit-witness-missing-log-key", ("audit", "witness", "--state", "{root}/w2",
                                           "--init", "--log-key", "{root}/nope.pem"),
         "nope.pem"),
    Case("audit-witness-garbage-log-key", ("audit", "witness", "--state", "{root}/w3",
                                           "--init", "--log-key", "{root}/garbage.pem"),
         "garbage.pem"),
    Case("audit-witness-garbage-trust", ("audit", "witness", "--state", "{root}/witness",
                                         "--log-key", "{root}/garbage.pem"), "garbage.pem"),
    Case("audit-witness-untrusted-log", ("audit", "witness", "--state", "{root}/witness-other"),
         "trust"),
    # an encrypted signing key, no passphrase (no terminal to ask at)
    Case("locked-checkpoint", ("audit", "checkpoint", "--as", "admin"), "passphrase",
         locked=True),
    Case("locked-rotate-key", ("audit", "rotate-key", "--as", "admin"), "passphrase",
         locked=True),
    Case("locked-pubkey", ("audit", "pubkey",), "passphrase", locked=True),
    Case("locked-export", ("audit", "export", "--out", "{root}/locked.jsonl", "--as", "ig"),
         "passphrase", locked=True),
    Case("locked-wrong-passphrase", ("audit", "checkpoint", "--as", "admin"), "decrypt",
         (("IDGRAPH_AUDIT_KEY_PASSPHRASE", "wrong"),), locked=True),
]


def _fill(text: str, w: World) -> str:
    return text.format(
        root=w.root, doc=w.doc, own=w.own, verified=w.verified, sar_closed=w.sar_closed
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_error_is_one_clear_line(world: World, case: Case) -> None:
    args = [_fill(a, world) for a in case.args]
    env = {k: _fill(v, world) for k, v in case.env}
    res = invoke(world.locked if case.locked else world.data, args, env)
    out = res.output
    assert "Traceback" not in out
    # an uncaught exception shows up as res.exception that is not the exit itself
    assert res.exception is None or isinstance(res.exception, SystemExit), (
        f"{case.id}: uncaught {type(res.exception).__name__}: {res.exception}\n{out}"
    )
    assert res.exit_code != 0, f"{case.id}: exit 0\n{out}"
    errors = [ln for ln in out.splitlines() if re.match(r"\s*(error:|Error:|│ )", ln)]
    assert errors, f"{case.id}: no error message\n{out}"
    if res.exit_code != 2:  # not a usage error (those are the argument parser's panel)
        assert len(out.strip().splitlines()) == 1, f"{case.id}: not one line\n{out}"
    if case.expect:
        expect = _fill(case.expect, world).lower()
        assert expect in out.lower(), f"{case.id}: {expect!r} not in\n{out}"
