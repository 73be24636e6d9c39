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
A subject-access report: its checkpoint signature, each disclosure's inclusion proof, and
its own report.subject entry (proven too), which must be for the report's identity and
name exactly the disclosures listed and the withheld count.
--pubkey is required (a verifier key also pins the log's origin). Malformed or crafted
input (extra or missing headers, lines out of order, another origin, entries back-dated
into signed history, rotations not signed by both keys, ...) fails naming the line.
Prints OK or the first failure; exit 1 on failure; never a traceback.
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
from typing import Any, TypeGuard

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

TAG = "idgraph-audit-checkpoint/v1"
FORMAT = "idgraph-audit-export/v1"
ROTATE = "audit.key_rotate"
ROTATE_TAG = "idgraph-audit-key-rotate/v1"
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
    return load_named_key(spec)[1]


def load_named_key(spec: str) -> tuple[str | None, Ed25519PublicKey]:
    """The key, and the log name (origin) when given as a verifier key (which pins it)."""
    try:
        text = Path(spec).read_bytes() if _is_file(spec) else spec.encode()
    except OSError as exc:
        raise Fail(f"--pubkey {spec[:60]}: cannot read: {exc.strerror or exc}") from None
    text = text.strip()
    try:
        if text.startswith(b"-----BEGIN"):
            key = load_pem_public_key(text)
            if not isinstance(key, Ed25519PublicKey):
                raise Fail("--pubkey is not an Ed25519 key")
            return None, key
        if b"+" in text:
            name, kind, vk = parse_vkey(text.decode())
            if kind != 0x01:
                raise Fail(f"--pubkey {name!r} is a witness key, not a log key")
            return name, vk
        return None, Ed25519PublicKey.from_public_bytes(bytes.fromhex(text.decode()))
    except (ValueError, TypeError):
        raise Fail(f"--pubkey {spec[:60]!r}: not a PEM, hex or verifier key") from None


def _is_file(spec: str) -> bool:
    try:
        return Path(spec).is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte: not a file name
        return False


def parse_vkey(text: str) -> tuple[str, int, Ed25519PublicKey]:
    try:
        text = Path(text).read_text().strip() if _is_file(text) else text.strip()
    except (OSError, ValueError):
        raise Fail(f"cannot read the verifier key file {text[:60]}") from None
    try:
        name, kid, material = text.split("+", 2)
        data = base64.b64decode(material, validate=True)
        key = Ed25519PublicKey.from_public_bytes(data[1:])
    except (ValueError, IndexError):
        raise Fail(f"not a verifier key: {text[:80]!r}") from None
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


def parse_note(text: Any) -> Note:
    if not isinstance(text, str):
        raise Fail("the note is not text")
    head, sep, tail = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or len(lines) < 3:
        raise Fail("not a checkpoint note (origin, size, root hash, blank line, signatures)")
    if not _decimal(lines[1]):
        raise Fail(f"bad tree size {lines[1][:24]!r} in the note")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except ValueError:
        raise Fail("the note's root hash is not base64") from None
    if len(root) != 32:
        raise Fail("the note's root hash is not 32 bytes")
    time = next((x[5:] for x in lines[3:] if x.startswith("time ")), None)
    sigs = []
    for line in filter(None, tail.split("\n")):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise Fail(f"bad signature line {line[:80]!r}")
        try:
            data = base64.b64decode(parts[2], validate=True)
        except ValueError:
            raise Fail(f"signature line of {parts[1][:40]!r} is not base64") from None
        sigs.append((parts[1], data[:4], data[4:]))
    return Note(head + "\n", lines[0], int(lines[1]), root, time, sigs)


def _decimal(text: str) -> bool:
    """A tree size as a note writes it: ASCII digits, no leading zero, at most 19."""
    return text.isascii() and text.isdigit() and len(text) <= 19 and (text == "0" or text[0] != "0")


def _count(value: Any) -> TypeGuard[int]:
    """A JSON size or index: a non-negative integer (not a bool, not a float)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


def _when(text: Any) -> datetime | None:
    """An aware ISO 8601 time, else None."""
    try:
        t = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return t if t is not None and t.tzinfo is not None else None


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


def cp_of(o: Any, label: str) -> Cp:
    """A checkpoint from JSON (export line, `audit checkpoint`, proof or report)."""
    if not isinstance(o, dict):
        raise Fail(f"{label}: not a checkpoint object")
    try:
        n = parse_note(o["note"]) if o.get("note") is not None else None
    except Fail as exc:
        raise Fail(f"{label}: {exc}") from None
    size, time = o.get("size"), o.get("time")
    if not _count(size):
        raise Fail(f"{label}: size {str(size)[:24]!r} is not a tree size")
    if time is not None and _when(time) is None:
        raise Fail(f"{label}: time {str(time)[:40]!r} is not an ISO 8601 UTC time")
    try:
        root = bytes.fromhex(o["root"])
        signature = bytes.fromhex(o.get("signature") or "")
    except (KeyError, TypeError, ValueError):
        raise Fail(f"{label}: root or signature is not hex") from None
    pubkey = o.get("pubkey")
    cp = Cp(label, size, root, time, pubkey if isinstance(pubkey, str) else None, signature, n)
    if len(root) != 32:
        raise Fail(f"{label}: root is not 32 bytes")
    if n is not None and (n.size, n.root, n.time) != (cp.size, cp.root, cp.time):
        raise Fail(f"{label}: bad signature (its fields disagree with its signed note)")
    if size == 0 and root != h(b""):
        raise Fail(f"{label}: size 0 but its root is not the root of the empty tree")
    return cp


def kept_checkpoint(path: Path) -> Cp:
    label = f"kept checkpoint {path.name}"
    text = read_text(path, label)
    if text.lstrip().startswith("{"):
        try:
            o = json.loads(text)
        except (ValueError, RecursionError):
            raise Fail(f"{label}: not JSON") from None
        return cp_of(o.get("checkpoint", o) if isinstance(o, dict) else o, label)
    try:
        n = parse_note(text)
    except Fail as exc:
        raise Fail(f"{label}: {exc}") from None
    if _when(n.time) is None and n.time is not None:
        raise Fail(f"{label}: time {n.time[:40]!r} is not an ISO 8601 UTC time")
    if n.size == 0 and n.root != h(b""):
        raise Fail(f"{label}: size 0 but its root is not the root of the empty tree")
    return Cp(label, n.size, n.root, n.time, None, b"", n)


def read_text(path: Path, label: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise Fail(f"{label}: not UTF-8 text") from None
    except OSError as exc:
        raise Fail(f"{label}: cannot read {path}: {exc.strerror or exc}") from None


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
KINDS = ("header", "checkpoint", "consistency", "entry")  # the order an export is written in


def lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` of each line: exactly one header (line 1), then
    checkpoints, consistency proofs and entries, in that order; anything else fails."""
    order = 0
    try:
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                try:
                    obj = json.loads(line)
                except (ValueError, RecursionError):
                    raise Fail(f"line {lineno}: not JSON (or nested too deep)") from None
                if not isinstance(obj, dict) or obj.get("type") not in KINDS:
                    raise Fail(
                        f"line {lineno}: not an export line (a JSON object of type "
                        f"{', '.join(KINDS)})"
                    )
                kind = KINDS.index(obj["type"])
                if lineno == 1 and kind != 0:
                    raise Fail("line 1: not a header (an export starts with its header)")
                if lineno > 1 and kind == 0:
                    raise Fail(f"line {lineno}: a second header")
                if kind < order:
                    raise Fail(
                        f"line {lineno}: {KINDS[kind]} after {KINDS[order]} lines (out of order)"
                    )
                order = kind
                yield lineno, obj
    except UnicodeDecodeError:
        raise Fail(f"{path.name}: not UTF-8 text") from None
    except OSError as exc:
        raise Fail(f"cannot read {path}: {exc.strerror or exc}") from None


def rotation(o: dict[str, Any]) -> tuple[int, str, str] | None:
    if (
        not isinstance(o.get("entry"), str)
        or ROTATE not in o["entry"]
        or not _count(o.get("index"))
    ):
        return None
    try:
        e = json.loads(o["entry"])
        if not isinstance(e, dict) or e.get("action") != ROTATE:
            return None
    except (ValueError, RecursionError):
        return None
    try:
        d = e["detail"]
        old, new = str(d["old_pubkey"]), str(d["new_pubkey"])
        # both keys sign the hand-over: a row written without the old key does not count
        msg = f"{ROTATE_TAG}\n{d.get('origin', '')}\n{old}\n{new}\n".encode()
        for k, sig in ((old, d["old_sig"]), (new, d["new_sig"])):
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(k)).verify(bytes.fromhex(sig), msg)
        return o["index"], old, new
    except (ValueError, KeyError, TypeError, InvalidSignature):
        raise Fail(
            f"entry {o['index']}: a key rotation not signed by both keys (old_sig, new_sig): "
            "it hands over nothing (written without the old key?)"
        ) from None


@dataclass
class Export:
    trust: Trust
    kept: list[Cp]
    allow_tail: bool
    origin: str | None = None  # pinned by a --pubkey vkey's name or a kept note
    header: dict[str, Any] = field(default_factory=dict)
    cps: list[dict[str, Any]] = field(default_factory=list)
    parsed: dict[int, Cp] = field(default_factory=dict)
    checks: dict[int, list[tuple[bytes, str]]] = field(default_factory=dict)
    ceilings: dict[int, tuple[datetime, str]] = field(default_factory=dict)
    floors: dict[int, tuple[datetime, str]] = field(default_factory=dict)
    frontier: list[tuple[int, bytes]] = field(default_factory=list)
    declared: int = 0
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
        for _, o in lines(path):
            if o["type"] == "header":
                if o.get("format") != FORMAT:
                    raise Fail(f"header: unknown format {str(o.get('format'))[:40]!r}")
                if not _count(o.get("entries")):
                    raise Fail(f"header: entries {str(o.get('entries'))[:24]!r} is not a count")
                self.header, self.declared = o, o["entries"]
            elif o["type"] == "checkpoint":
                self.cps.append(o)
            elif o["type"] == "entry" and (r := rotation(o)) is not None:
                rotations.append(r)
        if not self.trust.keys:
            raise Fail(
                f"no --pubkey: the file names key {str(self.header.get('pubkey'))[:16]}..., "
                "but a forger names their own; pass the log's public key obtained "
                "independently (PEM, hex or verifier key)"
            )
        signed = []
        for o in self.cps:
            cid = o.get("id")
            if not _count(cid):
                raise Fail(f"checkpoint id {str(cid)[:24]!r} is not a number")
            if cid in self.parsed:
                raise Fail(f"checkpoint {cid}: repeated")
            cp = cp_of(o, f"checkpoint {cid}")
            self.parsed[cid] = cp
            if cp.pubkey:
                try:
                    own = Ed25519PublicKey.from_public_bytes(bytes.fromhex(cp.pubkey))
                except ValueError:
                    continue
                if cp.signed_by(own):
                    signed.append((cp.size, cp.pubkey))
        self.trust.learn(sorted(rotations), signed)

    def _origin(self, cp: Cp) -> None:
        """Every note names one log: the header's origin, the one a --pubkey verifier key
        or a kept checkpoint pins."""
        if cp.note is None:
            return
        if self.origin is None:
            self.origin = cp.note.origin
        if cp.note.origin != self.origin:
            raise Fail(
                f"{cp.label}: origin {cp.note.origin[:60]!r} is not {self.origin[:60]!r} "
                "(a checkpoint of another log)"
            )

    def _times(self, cp: Cp) -> None:
        t = _when(cp.time)
        if t is None:
            return
        if cp.size and (cp.size - 1 not in self.ceilings or t < self.ceilings[cp.size - 1][0]):
            self.ceilings[cp.size - 1] = (t, cp.label)
        if cp.size not in self.floors or t > self.floors[cp.size][0]:
            self.floors[cp.size] = (t, cp.label)

    def check_checkpoints(self) -> None:
        origin = self.header.get("origin")
        for kept in self.kept:
            self._origin(kept)
        if origin is not None:
            if not isinstance(origin, str):
                raise Fail("header: origin is not text")
            if self.origin is not None and origin != self.origin:
                raise Fail(
                    f"header: origin {origin[:60]!r} is not {self.origin[:60]!r} "
                    "(an export of another log)"
                )
            self.origin = origin
        for pos, o in enumerate(self.cps):
            cp = self.parsed[o["id"]]
            self.trust.check(cp)
            self._origin(cp)
            if o["id"] != pos:
                raise Fail(f"checkpoint {o['id']}: expected id {pos}")
            if pos:
                prev = self.parsed[pos - 1]
                t, pt = _when(cp.time), _when(prev.time)
                older = bool(t and pt and t < pt)
                if cp.size < prev.size or older:
                    raise Fail(f"checkpoint {o['id']}: smaller or older than checkpoint {pos - 1}")
            self.checks.setdefault(cp.size, []).append((cp.root, f"checkpoint {o['id']} root"))
            self._times(cp)
        for kept in self.kept:
            self.trust.check(kept)
            if kept.size > self.declared:
                raise Fail(
                    f"{kept.label}: rollback: it signed {kept.size} entries, the export holds "
                    f"{self.declared}"
                )
            self.checks.setdefault(kept.size, []).append((kept.root, kept.label))
            self._times(kept)
        named = self.header.get("pubkey")
        if named is not None and named not in self.trust.keys:
            raise Fail(
                f"header: names the log key {str(named)[:16]}..., which is not a --pubkey "
                "nor handed over to by a signed rotation in the export (another log's key?)"
            )

    def _cp(self, cid: Any, where: str) -> Cp:
        cp = self.parsed.get(cid) if _count(cid) else None
        if cp is None:
            raise Fail(f"{where}: names unknown checkpoint {str(cid)[:24]}")
        return cp

    def consistency(self, lineno: int, o: dict[str, Any]) -> None:
        where = f"line {lineno} (consistency proof)"
        a, b = self._cp(o.get("from"), where), self._cp(o.get("to"), where)
        path = _hexes(o.get("path"), where)
        ok = verify_consistency(a.size, b.size, a.root, b.root, path)
        if not ok or o.get("old_size") != a.size or o.get("new_size") != b.size:
            raise Fail(f"checkpoints {o['from']}->{o['to']}: consistency proof fails")

    def entry(self, lineno: int, o: dict[str, Any]) -> None:
        i, data = o.get("index"), o.get("entry")
        if not _count(i):
            raise Fail(f"line {lineno}: entry index {str(i)[:24]!r} is not a valid index")
        if i > self.n:
            raise Fail(f"entry {self.n}: missing (next line has index {i})")
        if i < self.n:
            raise Fail(f"entry {i}: repeated or out of order (line {lineno}, expected {self.n})")
        if i >= self.declared:
            raise Fail(f"entry {i}: after the {self.declared} entries the header declares")
        if not isinstance(data, str):
            raise Fail(f"entry {i}: the entry is not text")
        raw_data = data.encode()
        leaf = h(b"\x00" + raw_data)
        if leaf.hex() != o.get("leaf_hash"):
            raise Fail(f"entry {i}: leaf hash does not match the entry bytes")
        self._entry_time(i, data)
        if "proof" in o:
            p = o["proof"]
            cp = self._cp(p.get("checkpoint") if isinstance(p, dict) else None, f"entry {i}")
            path = _hexes(p.get("path"), f"entry {i}")
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

    def _entry_time(self, i: int, data: str) -> None:
        try:
            e = json.loads(data)
        except (ValueError, RecursionError):
            e = None
        t = _when(e.get("time")) if isinstance(e, dict) else None
        if t is None:
            raise Fail(f"entry {i}: time missing or unreadable (an ISO 8601 UTC time)")
        if self.last_time is not None and t < self.last_time:
            raise Fail(f"entry {i}: back-dated (earlier than entry {i - 1})")
        floor = self.floors.get(i)
        if floor is not None and t < floor[0]:
            raise Fail(f"entry {i}: back-dated: before {floor[1]} was signed ({floor[0]})")
        ceiling = self.ceilings.get(i)
        if ceiling is not None and t > ceiling[0]:
            raise Fail(f"entry {i}: dated {t} after {ceiling[1]} was signed ({ceiling[0]})")
        self.last_time = t

    def finish(self) -> str:
        if self.n != self.declared:
            raise Fail(f"entry {self.n}: file ends, header promised {self.declared}")
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


def _hexes(path: Any, where: str) -> list[bytes]:
    if not isinstance(path, list) or not all(isinstance(p, str) for p in path):
        raise Fail(f"{where}: proof path is not a list of hex hashes")
    try:
        return [bytes.fromhex(p) for p in path]
    except ValueError:
        raise Fail(f"{where}: proof path is not a list of hex hashes") from None


def check_export(
    path: Path, trust: Trust, kept: list[Cp], allow_tail: bool, origin: str | None = None
) -> str:
    ex = Export(trust, kept, allow_tail, origin)
    ex.first_pass(path)
    ex.check_checkpoints()
    for lineno, o in lines(path):
        if o["type"] == "consistency":
            ex.consistency(lineno, o)
        elif o["type"] == "entry":
            ex.entry(lineno, o)
    return ex.finish()


# -- single proofs and subject-access reports ---------------------------------------
def _checked(cp: Cp, trust: Trust, kept: list[Cp], origin: str | None = None) -> str:
    """Check ``cp`` (of a proof or report) and the kept checkpoints; return what could
    not be compared (a kept checkpoint of another size: no consistency proof here)."""
    if not trust.keys:
        raise Fail("--pubkey is required to check a proof or a report")
    trust.check(cp)
    if trust.witnesses and not trust.cosigned(cp):
        raise Fail(f"{cp.label}: not cosigned by every --witness-key")
    for other in (*kept, cp):
        if other.note is None:
            continue
        origin = origin or other.note.origin
        if other.note.origin != origin:
            raise Fail(f"{other.label}: origin {other.note.origin[:60]!r} is not {origin[:60]!r}")
    unchecked = []
    for k in kept:
        trust.check(k)
        if k.size == cp.size and k.root != cp.root:
            raise Fail(f"{k.label}: rewrite: same size {k.size}, different root")
        if k.size != cp.size:
            unchecked.append(f"{k.label} (size {k.size})")
    if not unchecked:
        return ""
    return (
        f"; NOT compared with {', '.join(unchecked)}: this file has no consistency proof "
        f"from size {cp.size}; check an export against them"
    )


def _proved(i: int, p: dict[str, Any], cp: Cp) -> None:
    (leaf,) = _hexes([p.get("leaf_hash")], f"entry {i}")
    if p.get("entry") is not None and (
        not isinstance(p["entry"], str) or h(b"\x00" + p["entry"].encode()) != leaf
    ):
        raise Fail(f"entry {i}: leaf hash does not match the entry bytes")
    path = _hexes(p.get("path"), f"entry {i}")
    if p["tree_size"] != cp.size or not verify_inclusion(i, cp.size, leaf, path, cp.root):
        raise Fail(f"entry {i}: inclusion proof fails against {cp.label}")


def _label(o: Any) -> str:
    return f"checkpoint {str(o.get('id'))[:24]}" if isinstance(o, dict) else "checkpoint"


def check_proof(
    proof: dict[str, Any], trust: Trust, kept: list[Cp], origin: str | None = None
) -> str:
    """One proof as printed by ``idgraph audit prove --json``."""
    if not _count(proof.get("index")) or "checkpoint" not in proof:
        raise Fail("not an export, a proof (index, checkpoint) or a report (disclosures)")
    cp = cp_of(proof["checkpoint"], _label(proof["checkpoint"]))
    unchecked = _checked(cp, trust, kept, origin)
    _proved(proof["index"], proof, cp)
    return (
        f"OK: entry {proof['index']} is in {cp.label} (size {cp.size}, root {cp.root.hex()})"
        f"{unchecked}"
    )


FIELDS = ("action", "principal", "organisation", "role", "purpose", "basis", "case_id")


def check_report(
    report: dict[str, Any], trust: Trust, kept: list[Cp], origin: str | None = None
) -> str:
    """A subject-access report's JSON exactly as the subject receives it.

    Besides each disclosure's proof, the report's own ``report.subject`` entry (proven in
    the same checkpoint) must be for this identity and name exactly the disclosures
    listed and the withheld count: a copy with one removed, added or swapped fails."""
    disclosures = report.get("disclosures") or []
    if not isinstance(disclosures, list) or not all(isinstance(d, dict) for d in disclosures):
        raise Fail("the report's disclosures are not a list of objects")
    if not report.get("checkpoint"):
        raise Fail("nothing is signed: the report has no checkpoint")
    cp = cp_of(report["checkpoint"], _label(report["checkpoint"]))
    unchecked = _checked(cp, trust, kept, origin)
    named = _report_entry(report, cp)
    hidden = 0
    seen: set[int] = set()
    for d in disclosures:
        i, p = d.get("index"), d.get("proof")
        if not _count(i):
            raise Fail(f"disclosure index {str(i)[:24]!r} is not a number")
        if i in seen:
            raise Fail(f"disclosure {i}: listed twice")
        seen.add(i)
        if not isinstance(p, dict) or p.get("index", i) != i:
            raise Fail(f"disclosure {i}: no inclusion proof")
        if p.get("tree_size", cp.size) != cp.size:
            raise Fail(f"disclosure {i}: proof is against another tree than {cp.label}")
        _proved(i, {**p, "tree_size": cp.size}, cp)
        if p.get("entry") is None:
            hidden += 1
            continue
        try:
            e = json.loads(p["entry"])
        except (ValueError, RecursionError):
            e = None
        if not isinstance(e, dict):
            raise Fail(f"disclosure {i}: the proven entry is not a JSON object")
        for f in FIELDS:
            if e.get(f) != d.get(f):
                raise Fail(f"disclosure {i}: {f} {d.get(f)!r} is not what entry {i} says")
    r = report["report_entry"]
    if seen != named:
        missing = ", ".join(map(str, sorted(named - seen))) or "none"
        extra = ", ".join(map(str, sorted(seen - named))) or "none"
        raise Fail(
            f"the disclosures listed are not the ones report entry {r} names (missing from "
            f"the report: {missing}; not named by the entry: {extra})"
        )
    return (
        f"OK: {len(disclosures)} disclosures proven in {cp.label} (size {cp.size}, root "
        f"{cp.root.hex()}); {hidden} by leaf hash only (entry names other people); "
        f"report entry {r} names exactly these and {report.get('withheld')} withheld"
        f"{unchecked}"
    )


def _report_entry(report: dict[str, Any], cp: Cp) -> set[int]:
    """Check the report's own ``report.subject`` entry; return the disclosure indexes
    it names."""
    r, p = report.get("report_entry"), report.get("report_proof")
    if not _count(r) or not isinstance(p, dict) or not isinstance(p.get("entry"), str):
        raise Fail(
            "no report entry: the report does not carry its report.subject entry with an "
            "inclusion proof, so nothing binds which disclosures it lists"
        )
    if p.get("index", r) != r or p.get("tree_size", cp.size) != cp.size:
        raise Fail(f"report entry {r}: proof is for another entry or tree than {cp.label}")
    _proved(r, {**p, "tree_size": cp.size}, cp)
    try:
        e = json.loads(p["entry"])
    except (ValueError, RecursionError):
        e = None
    detail = e.get("detail") if isinstance(e, dict) else None
    if not isinstance(e, dict) or not isinstance(detail, dict):
        raise Fail(f"report entry {r}: not a JSON object with a detail")
    if e.get("action") != "report.subject" or e.get("outcome") != "ok":
        raise Fail(f"report entry {r}: is {e.get('action')!r}, not an ok report.subject entry")
    if e.get("identity_ids") != [report.get("identity_id")]:
        raise Fail(
            f"report entry {r}: is a report on {e.get('identity_ids')!r}, not on "
            f"{report.get('identity_id')!r}"
        )
    if detail.get("copy") != report.get("copy"):
        raise Fail(f"report entry {r}: copy {report.get('copy')!r} is not what it says")
    shown = detail.get("shown")
    if not isinstance(shown, list) or not all(_count(i) for i in shown):
        raise Fail(f"report entry {r}: names no list of disclosures shown")
    withheld = report.get("withheld")
    if type(withheld) is not int or withheld != detail.get("withheld"):
        raise Fail(
            f"withheld count {repr(withheld)[:24]} is not what report entry {r} says "
            f"({detail.get('withheld')!r})"
        )
    return set(shown)


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
        print(run(args))
        return 0
    except Fail as exc:
        print(f"FAIL: {exc}")
    except Exception as exc:  # never a traceback: whatever slipped past is malformed input
        print(f"FAIL: malformed input ({type(exc).__name__}: {str(exc)[:200]})")
    return 1


def run(args: argparse.Namespace) -> str:
    keys: dict[str, Ed25519PublicKey] = {}
    origins: set[str] = set()
    for spec in args.pubkey:
        name, key = load_named_key(spec)
        keys[raw(key).hex()] = key
        if name is not None:
            origins.add(name)
    if len(origins) > 1:
        raise Fail(f"--pubkey verifier keys name {len(origins)} different logs")
    origin = next(iter(origins), None)
    witnesses = [(name, key) for name, _, key in map(parse_vkey, args.witness_key)]
    trust = Trust(keys, witnesses=witnesses)
    kept = [kept_checkpoint(p) for p in args.checkpoint]
    text = read_text(args.file, args.file.name)
    first = text.split("\n", 1)[0]
    try:
        head = json.loads(first)
    except (ValueError, RecursionError):
        head = None  # pretty-printed JSON (a proof or a report), or not JSON at all
    if isinstance(head, dict) and head.get("type") in KINDS:
        return check_export(args.file, trust, kept, args.allow_unsigned_tail, origin)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise Fail(f"{args.file.name}: not JSON (an export, a proof or a report)") from None
    if not isinstance(data, dict):
        raise Fail(f"{args.file.name}: not an export, a proof or a report")
    if "disclosures" in data:
        return check_report(data, trust, kept, origin)
    return check_proof(data, trust, kept, origin)


if __name__ == "__main__":
    sys.exit(main())
