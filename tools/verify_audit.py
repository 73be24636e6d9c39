#!/usr/bin/env python3
"""Check idgraph audit evidence without idgraph: stdlib + cryptography only.

    python tools/verify_audit.py export.jsonl --pubkey audit_pub.pem \\
        --checkpoint kept/00000041.txt --witness-key "$(cat witness.vkey)"
    python tools/verify_audit.py proof.json --pubkey audit_pub.pem     # `audit prove --json`
    python tools/verify_audit.py report.json --pubkey audit_pub.pem    # `report subject` JSON

An export: every checkpoint signature (C2SP signed note, or the legacy v1 message) by a
trusted key within the sizes it may sign (key rotations recorded in the log extend
trust from --pubkey), every leaf hash, the gapless index sequence, non-decreasing times,
every inclusion and consistency proof (RFC 9162), and that the entries hash to each
checkpoint's root. Checkpoints kept earlier (--checkpoint, repeatable) must be
consistent with the export: a kept size beyond the export is a rollback, a different
root at the same size a rewrite. Nothing signed fails; entries after the last checkpoint
(or the last one every --witness-key cosigned) fail unless --allow-unsigned-tail.
A subject-access report: its checkpoint signature and each disclosure's inclusion proof.
Prints OK or the first failure; exit 1 on failure.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

TAG = "idgraph-audit-checkpoint/v1"
FORMAT = "idgraph-audit-export/v1"
ROTATE = "audit.key_rotate"
DASH = "\u2014"


class Fail(Exception):
    pass


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def node(left: bytes, right: bytes) -> bytes:
    return h(b"\x01" + left + right)


def raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(name: str, key: Ed25519PublicKey, kind: int) -> bytes:
    return h(name.encode() + b"\n" + bytes([kind]) + raw(key))[:4]


# -- keys -------------------------------------------------------------------------
def load_key(spec: str) -> Ed25519PublicKey:
    """PEM file or text, 64 hex characters, or a signed-note verifier key (vkey)."""
    text = Path(spec).read_bytes() if Path(spec).is_file() else spec.encode()
    text = text.strip()
    if text.startswith(b"-----BEGIN"):
        key = load_pem_public_key(text)
        if not isinstance(key, Ed25519PublicKey):
            raise Fail("--pubkey is not an Ed25519 key")
        return key
    if b"+" in text:
        return parse_vkey(text.decode())[2]
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text.decode()))


def parse_vkey(text: str) -> tuple[str, int, Ed25519PublicKey]:
    text = Path(text).read_text().strip() if Path(text).is_file() else text.strip()
    try:
        name, kid, material = text.split("+", 2)
        data = base64.b64decode(material, validate=True)
        key = Ed25519PublicKey.from_public_bytes(data[1:])
    except ValueError as exc:
        raise Fail(f"not a verifier key: {text!r}") from exc
    if key_id(name, key, data[0]).hex() != kid:
        raise Fail(f"verifier key {name!r}: key id does not match")
    return name, data[0], key


# -- signed notes -----------------------------------------------------------------
@dataclass
class Note:
    body: str
    origin: str
    size: int
    root: bytes
    time: str | None
    sigs: list[tuple[str, bytes, bytes]]  # (name, key id, data)

    def signed_by(self, key: Ed25519PublicKey) -> bool:
        kid = key_id(self.origin, key, 0x01)
        for name, k, data in self.sigs:
            if name == self.origin and k == kid:
                try:
                    key.verify(data, self.body.encode())
                    return True
                except Exception:
                    return False
        return False

    def cosigned_by(self, name: str, key: Ed25519PublicKey) -> bool:
        kid = key_id(name, key, 0x04)
        for n, k, data in self.sigs:
            if n == name and k == kid and len(data) == 72:
                (t,) = struct.unpack(">Q", data[:8])
                msg = f"cosignature/v1\ntime {t}\n".encode() + self.body.encode()
                try:
                    key.verify(data[8:], msg)
                    return True
                except Exception:
                    return False
        return False


def parse_note(text: str) -> Note:
    head, sep, tail = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or len(lines) < 3 or not lines[1].isdigit():
        raise Fail("not a checkpoint note (origin, size, root hash, blank line, signatures)")
    root = base64.b64decode(lines[2], validate=True)
    time = next((x[5:] for x in lines[3:] if x.startswith("time ")), None)
    sigs = []
    for line in filter(None, tail.split("\n")):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise Fail(f"bad signature line {line!r}")
        data = base64.b64decode(parts[2], validate=True)
        sigs.append((parts[1], data[:4], data[4:]))
    return Note(head + "\n", lines[0], int(lines[1]), root, time, sigs)


@dataclass
class Cp:
    """A checkpoint from any source: export line, kept file, proof or report."""

    label: str
    size: int
    root: bytes
    time: str | None
    pubkey: str | None
    signature: bytes
    note: Note | None

    def signed_by(self, key: Ed25519PublicKey) -> bool:
        if self.note is not None:
            return self.note.signed_by(key)
        msg = f"{TAG}\n{self.size}\n{self.root.hex()}\n{self.time}\n".encode()
        try:
            key.verify(self.signature, msg)
            return True
        except Exception:
            return False


def cp_of(o: dict[str, Any], label: str) -> Cp:
    """A checkpoint from JSON (export line, `audit checkpoint`, proof or report)."""
    n = parse_note(o["note"]) if o.get("note") else None
    cp = Cp(
        label,
        o["size"],
        bytes.fromhex(o["root"]),
        o.get("time"),
        o.get("pubkey"),
        bytes.fromhex(o.get("signature", "")),
        n,
    )
    if n is not None and (n.size, n.root, n.time) != (cp.size, cp.root, cp.time):
        raise Fail(f"{label}: bad signature (its fields disagree with its signed note)")
    return cp


def kept_checkpoint(path: Path) -> Cp:
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        o = json.loads(text)
        return cp_of(o.get("checkpoint", o), f"kept checkpoint {path.name}")
    n = parse_note(text)
    return Cp(f"kept checkpoint {path.name}", n.size, n.root, n.time, None, b"", n)


# -- RFC 9162 proofs ----------------------------------------------------------------
def verify_inclusion(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> bool:
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(m: int, n: int, root_m: bytes, root_n: bytes, path: list[bytes]) -> bool:
    if m == n:
        return not path and root_m == root_n
    if m == 0 or m > n:
        return m == 0 and not path
    if not path:
        return False
    nodes = [root_m, *path] if m & (m - 1) == 0 else list(path)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == root_m and sr == root_n and sn == 0


# -- trust ------------------------------------------------------------------------
@dataclass
class Trust:
    """Trusted log keys (hex -> (min size, max size or None)) and required witnesses."""

    keys: dict[str, Ed25519PublicKey]
    windows: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    witnesses: list[tuple[str, Ed25519PublicKey]] = field(default_factory=list)

    def signer(self, cp: Cp) -> str | None:
        """The trusted key that signed ``cp`` within its window, else None."""
        for hx, key in self.keys.items():
            lo, hi = self.windows.get(hx, (0, None))
            if lo <= cp.size and (hi is None or cp.size <= hi) and cp.signed_by(key):
                return hx
        return None

    def learn(self, rotations: list[tuple[int, str, str]], signed: list[tuple[int, str]]) -> None:
        """Extend trust along key rotations (same rule as idgraph.audit.trust)."""
        self.windows = {k: (0, None) for k in self.keys}
        done: set[int] = set()
        progress = True
        while progress:
            progress = False
            for i, (r, old, new) in enumerate(rotations):
                if i in done or (old not in self.windows and new not in self.windows):
                    continue
                if not any(s > r and self._ok(k, s) for s, k in signed):
                    continue
                self.windows[old] = (self.windows.get(old, (0, None))[0], r + 1)
                self.windows[new] = (r + 1, self.windows.get(new, (0, None))[1])
                for k in (old, new):
                    self.keys.setdefault(k, Ed25519PublicKey.from_public_bytes(bytes.fromhex(k)))
                done.add(i)
                progress = True

    def _ok(self, k: str, s: int) -> bool:
        w = self.windows.get(k)
        return w is not None and w[0] <= s and (w[1] is None or s <= w[1])

    def check(self, cp: Cp) -> str:
        hx = self.signer(cp)
        if hx is None:
            raise Fail(f"{cp.label}: bad signature (no trusted key signed it)")
        return hx

    def cosigned(self, cp: Cp) -> bool:
        return all(cp.note is not None and cp.note.cosigned_by(n, k) for n, k in self.witnesses)


# -- exports ------------------------------------------------------------------------
def lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            obj = json.loads(line)
            if lineno == 1 and obj.get("type") != "header":
                raise Fail("line 1: not a header")
            yield obj


def rotation(o: dict[str, Any]) -> tuple[int, str, str] | None:
    if ROTATE not in o["entry"]:
        return None
    try:
        e = json.loads(o["entry"])
        if e["action"] != ROTATE:
            return None
        return o["index"], e["detail"]["old_pubkey"], e["detail"]["new_pubkey"]
    except (ValueError, KeyError, TypeError):
        return None


@dataclass
class Export:
    trust: Trust
    kept: list[Cp]
    allow_tail: bool
    header: dict[str, Any] = field(default_factory=dict)
    cps: list[dict[str, Any]] = field(default_factory=list)
    parsed: dict[int, Cp] = field(default_factory=dict)
    checks: dict[int, list[tuple[bytes, str]]] = field(default_factory=dict)
    frontier: list[tuple[int, bytes]] = field(default_factory=list)
    n: int = 0
    last_time: datetime | None = None
    notes: list[str] = field(default_factory=list)

    def root(self) -> bytes:
        if not self.frontier:
            return h(b"")
        r = self.frontier[-1][1]
        for _, x in reversed(self.frontier[:-1]):
            r = node(x, r)
        return r

    def first_pass(self, path: Path) -> None:
        rotations: list[tuple[int, str, str]] = []
        for o in lines(path):
            if o["type"] == "header":
                if o.get("format") != FORMAT:
                    raise Fail(f"unknown format {o.get('format')!r}")
                self.header = o
            elif o["type"] == "checkpoint":
                self.cps.append(o)
            elif o["type"] == "entry" and (r := rotation(o)) is not None:
                rotations.append(r)
        if not self.trust.keys:
            print("warning: no --pubkey; trusting the key named in the file", file=sys.stderr)
            hx = self.header["pubkey"]
            self.trust.keys[hx] = Ed25519PublicKey.from_public_bytes(bytes.fromhex(hx))
        signed = []
        for o in self.cps:
            cp = cp_of(o, f"checkpoint {o['id']}")
            self.parsed[o["id"]] = cp
            if o.get("pubkey"):
                own = Ed25519PublicKey.from_public_bytes(bytes.fromhex(o["pubkey"]))
                if cp.signed_by(own):
                    signed.append((cp.size, o["pubkey"]))
        self.trust.learn(sorted(rotations), signed)

    def check_checkpoints(self) -> None:
        origin = self.header.get("origin")
        for pos, o in enumerate(self.cps):
            cp = self.parsed[o["id"]]
            self.trust.check(cp)
            if cp.note is not None and origin and cp.note.origin != origin:
                raise Fail(f"checkpoint {o['id']}: origin {cp.note.origin!r} is not {origin!r}")
            if o["id"] != pos:
                raise Fail(f"checkpoint {o['id']}: expected id {pos}")
            if pos:
                prev = self.cps[pos - 1]
                t, pt = o.get("time"), prev.get("time")
                older = bool(t and pt and datetime.fromisoformat(t) < datetime.fromisoformat(pt))
                if o["size"] < prev["size"] or older:
                    raise Fail(f"checkpoint {o['id']}: smaller or older than checkpoint {pos - 1}")
            self.checks.setdefault(cp.size, []).append((cp.root, f"checkpoint {o['id']} root"))
        for kept in self.kept:
            self.trust.check(kept)
            if kept.size > self.header["entries"]:
                raise Fail(
                    f"{kept.label}: rollback: it signed {kept.size} entries, the export holds "
                    f"{self.header['entries']}"
                )
            self.checks.setdefault(kept.size, []).append((kept.root, kept.label))

    def consistency(self, o: dict[str, Any]) -> None:
        a, b = self.parsed[o["from"]], self.parsed[o["to"]]
        path = [bytes.fromhex(p) for p in o["path"]]
        ok = verify_consistency(a.size, b.size, a.root, b.root, path)
        if not ok or o["old_size"] != a.size or o["new_size"] != b.size:
            raise Fail(f"checkpoints {o['from']}->{o['to']}: consistency proof fails")

    def entry(self, o: dict[str, Any]) -> None:
        i, data = o["index"], o["entry"].encode()
        if i != self.n:
            raise Fail(f"entry {self.n}: missing (next line has index {i})")
        leaf = h(b"\x00" + data)
        if leaf.hex() != o["leaf_hash"]:
            raise Fail(f"entry {i}: leaf hash does not match the entry bytes")
        t = datetime.fromisoformat(json.loads(data)["time"])
        if self.last_time is not None and t < self.last_time:
            raise Fail(f"entry {i}: back-dated (earlier than entry {i - 1})")
        self.last_time = t
        if "proof" in o:
            cp = self.parsed[o["proof"]["checkpoint"]]
            path = [bytes.fromhex(p) for p in o["proof"]["path"]]
            if not verify_inclusion(i, cp.size, leaf, path, cp.root):
                raise Fail(f"entry {i}: inclusion proof fails against {cp.label}")
        self.frontier.append((1, leaf))
        while len(self.frontier) > 1 and self.frontier[-1][0] == self.frontier[-2][0]:
            (s, left), (_, right) = self.frontier[-2], self.frontier.pop()
            self.frontier[-1] = (2 * s, node(left, right))
        self.n += 1
        for root, label in self.checks.get(self.n, []):
            if self.root() != root:
                what = "rewrite: " if label.startswith("kept") else ""
                raise Fail(f"entries 0..{i}: {what}do not hash to {label}")

    def finish(self) -> str:
        if self.n != self.header.get("entries"):
            raise Fail(f"entry {self.n}: file ends, header promised {self.header.get('entries')}")
        for cp in self.parsed.values():
            if cp.size > self.n:
                raise Fail(f"{cp.label}: signs {cp.size} entries, file has {self.n}")
        if not self.parsed:
            raise Fail("nothing is signed: the export has no checkpoint")
        signed = max(cp.size for cp in self.parsed.values())
        self._tail(signed, "unsigned: after the last checkpoint")
        for name, key in self.trust.witnesses:
            sizes = [
                c.size for c in self.parsed.values() if c.note and c.note.cosigned_by(name, key)
            ]
            if not sizes:
                raise Fail(f"no checkpoint is cosigned by witness {name}")
            self._tail(max(sizes), f"not cosigned by witness {name}")
        tail = f"; {'; '.join(self.notes)}" if self.notes else ""
        return (
            f"OK: {self.n} entries, {len(self.parsed)} checkpoints, {len(self.kept)} kept "
            f"checkpoints consistent, root {self.root().hex()}{tail}"
        )

    def _tail(self, covered: int, what: str) -> None:
        if covered >= self.n:
            return
        msg = f"entries {covered}..{self.n - 1} are {what}"
        if not self.allow_tail:
            raise Fail(f"{msg} (--allow-unsigned-tail to accept)")
        self.notes.append(msg)


def check_export(path: Path, trust: Trust, kept: list[Cp], allow_tail: bool) -> str:
    ex = Export(trust, kept, allow_tail)
    ex.first_pass(path)
    ex.check_checkpoints()
    for o in lines(path):
        if o["type"] == "consistency":
            ex.consistency(o)
        elif o["type"] == "entry":
            ex.entry(o)
    return ex.finish()


# -- single proofs and subject-access reports ---------------------------------------
def _checked(cp: Cp, trust: Trust, kept: list[Cp]) -> None:
    if not trust.keys:
        raise Fail("--pubkey is required to check a proof or a report")
    trust.check(cp)
    if trust.witnesses and not trust.cosigned(cp):
        raise Fail(f"{cp.label}: not cosigned by every --witness-key")
    for k in kept:
        trust.check(k)
        if k.size == cp.size and k.root != cp.root:
            raise Fail(f"{k.label}: rewrite: same size {k.size}, different root")


def _proved(i: int, p: dict[str, Any], cp: Cp) -> None:
    leaf = bytes.fromhex(p["leaf_hash"])
    if p.get("entry") is not None and h(b"\x00" + p["entry"].encode()) != leaf:
        raise Fail(f"entry {i}: leaf hash does not match the entry bytes")
    path = [bytes.fromhex(x) for x in p["path"]]
    if p["tree_size"] != cp.size or not verify_inclusion(i, cp.size, leaf, path, cp.root):
        raise Fail(f"entry {i}: inclusion proof fails against {cp.label}")


def check_proof(proof: dict[str, Any], trust: Trust, kept: list[Cp]) -> str:
    """One proof as printed by ``idgraph audit prove --json``."""
    cp = cp_of(proof["checkpoint"], f"checkpoint {proof['checkpoint'].get('id')}")
    _checked(cp, trust, kept)
    _proved(proof["index"], proof, cp)
    return f"OK: entry {proof['index']} is in {cp.label} (size {cp.size}, root {cp.root.hex()})"


FIELDS = ("action", "principal", "organisation", "role", "purpose", "basis", "case_id")


def check_report(report: dict[str, Any], trust: Trust, kept: list[Cp]) -> str:
    """A subject-access report's JSON exactly as the subject receives it."""
    disclosures = report.get("disclosures") or []
    if not disclosures:
        return "OK: the report lists no disclosures (nothing to prove)"
    if not report.get("checkpoint"):
        raise Fail("nothing is signed: the report has disclosures but no checkpoint")
    cp = cp_of(report["checkpoint"], f"checkpoint {report['checkpoint'].get('id')}")
    _checked(cp, trust, kept)
    hidden = 0
    for d in disclosures:
        i, p = d["index"], d.get("proof")
        if p is None or p.get("index", i) != i:
            raise Fail(f"disclosure {i}: no inclusion proof")
        _proved(i, p, cp)
        if p.get("entry") is None:
            hidden += 1
            continue
        e = json.loads(p["entry"])
        for f in FIELDS:
            if e.get(f) != d.get(f):
                raise Fail(f"disclosure {i}: {f} {d.get(f)!r} is not what entry {i} says")
    return (
        f"OK: {len(disclosures)} disclosures proven in {cp.label} (size {cp.size}, root "
        f"{cp.root.hex()}); {hidden} by leaf hash only (entry names other people)"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("file", type=Path, help="an export (JSON lines), a proof or a report (JSON)")
    ap.add_argument("--pubkey", action="append", default=[], help="trusted log key (repeatable)")
    ap.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        type=Path,
        help="a checkpoint kept earlier: signed note or JSON (repeatable)",
    )
    ap.add_argument(
        "--witness-key",
        action="append",
        default=[],
        help="verifier key (name+id+key) of a required witness (repeatable)",
    )
    ap.add_argument(
        "--allow-unsigned-tail",
        action="store_true",
        help="report, but accept, entries after the last (witnessed) checkpoint",
    )
    args = ap.parse_args(argv)
    try:
        keys = {raw(k).hex(): k for k in map(load_key, args.pubkey)}
        witnesses = [(name, key) for name, _, key in map(parse_vkey, args.witness_key)]
        trust = Trust(keys, witnesses=witnesses)
        kept = [kept_checkpoint(p) for p in args.checkpoint]
        with args.file.open(encoding="utf-8") as fh:
            first = fh.readline()
        try:
            is_export = json.loads(first).get("type") == "header"
        except ValueError:
            is_export = False  # pretty-printed JSON
        if is_export:
            print(check_export(args.file, trust, kept, args.allow_unsigned_tail))
            return 0
        data = json.loads(args.file.read_text(encoding="utf-8"))
        if "disclosures" in data:
            print(check_report(data, trust, kept))
        else:
            print(check_proof(data, trust, kept))
        return 0
    except (Fail, KeyError, ValueError, TypeError) as exc:
        print(f"FAIL: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
