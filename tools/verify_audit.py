#!/usr/bin/env python3
"""Check an idgraph audit export (JSON lines) without idgraph: stdlib + cryptography.

    python tools/verify_audit.py export.jsonl --pubkey audit_pub.pem
    python tools/verify_audit.py proof.json --pubkey audit_pub.pem   # from `audit prove --json`

Checks every checkpoint signature, every leaf hash, the gapless index sequence and
non-decreasing times, every inclusion proof and consistency proof (RFC 9162), and that
the entries hash to each checkpoint's root. Prints OK or the first failure; exit 1 on
failure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

TAG = "idgraph-audit-checkpoint/v1"
FORMAT = "idgraph-audit-export/v1"


class Fail(Exception):
    pass


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def node(left: bytes, right: bytes) -> bytes:
    return h(b"\x01" + left + right)


def load_key(spec: str) -> Ed25519PublicKey:
    text = Path(spec).read_bytes() if Path(spec).is_file() else spec.encode()
    if text.strip().startswith(b"-----BEGIN"):
        key = load_pem_public_key(text.strip())
        if not isinstance(key, Ed25519PublicKey):
            raise Fail("--pubkey is not an Ed25519 key")
        return key
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text.decode().strip()))


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


class Checker:
    def __init__(self, key: Ed25519PublicKey | None) -> None:
        self.key = key
        self.header: dict[str, Any] = {}
        self.cps: dict[int, dict[str, Any]] = {}
        self.by_size: dict[int, list[dict[str, Any]]] = {}
        self.frontier: list[tuple[int, bytes]] = []  # perfect subtrees (size, hash)
        self.n = 0
        self.last_time: datetime | None = None

    def root(self) -> bytes:
        if not self.frontier:
            return h(b"")
        r = self.frontier[-1][1]
        for _, x in reversed(self.frontier[:-1]):
            r = node(x, r)
        return r

    def header_line(self, o: dict[str, Any]) -> None:
        if o.get("format") != FORMAT:
            raise Fail(f"unknown format {o.get('format')!r}")
        self.header = o
        if self.key is None:
            print("warning: no --pubkey; trusting the key named in the file", file=sys.stderr)
            self.key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(o["pubkey"]))

    def checkpoint(self, o: dict[str, Any]) -> None:
        cid, size, time = o["id"], o["size"], o["time"]
        msg = f"{TAG}\n{size}\n{o['root']}\n{time}\n".encode()
        try:
            if self.key is None:
                raise Fail("checkpoint before the header line")
            self.key.verify(bytes.fromhex(o["signature"]), msg)
        except Fail:
            raise
        except Exception:
            raise Fail(f"checkpoint {cid}: bad signature") from None
        if cid != len(self.cps):
            raise Fail(f"checkpoint {cid}: expected id {len(self.cps)}")
        prev = self.cps.get(cid - 1)
        older = prev and datetime.fromisoformat(time) < datetime.fromisoformat(prev["time"])
        if prev and (size < prev["size"] or older):
            raise Fail(f"checkpoint {cid}: smaller or older than checkpoint {cid - 1}")
        self.cps[cid] = o
        self.by_size.setdefault(size, []).append(o)

    def consistency(self, o: dict[str, Any]) -> None:
        a, b = self.cps[o["from"]], self.cps[o["to"]]
        path = [bytes.fromhex(p) for p in o["path"]]
        ok = verify_consistency(
            a["size"], b["size"], bytes.fromhex(a["root"]), bytes.fromhex(b["root"]), path
        )
        if not ok or o["old_size"] != a["size"] or o["new_size"] != b["size"]:
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
            cp = self.cps[o["proof"]["checkpoint"]]
            path = [bytes.fromhex(p) for p in o["proof"]["path"]]
            if not verify_inclusion(i, cp["size"], leaf, path, bytes.fromhex(cp["root"])):
                raise Fail(f"entry {i}: inclusion proof fails against checkpoint {cp['id']}")
        self.frontier.append((1, leaf))
        while len(self.frontier) > 1 and self.frontier[-1][0] == self.frontier[-2][0]:
            (s, left), (_, right) = self.frontier[-2], self.frontier.pop()
            self.frontier[-1] = (2 * s, node(left, right))
        self.n += 1
        for cp in self.by_size.get(self.n, []):
            if self.root().hex() != cp["root"]:
                raise Fail(f"entries 0..{i}: do not hash to checkpoint {cp['id']} root")

    def finish(self) -> str:
        if self.n != self.header.get("entries"):
            raise Fail(f"entry {self.n}: file ends, header promised {self.header.get('entries')}")
        for cp in self.cps.values():
            if cp["size"] > self.n:
                raise Fail(f"checkpoint {cp['id']}: signs {cp['size']} entries, file has {self.n}")
        return f"OK: {self.n} entries, {len(self.cps)} checkpoints, root {self.root().hex()}"


def check_proof(proof: dict[str, Any], key: Ed25519PublicKey | None) -> str:
    """One proof as printed by ``idgraph audit prove --json``."""
    checker = Checker(key)
    checker.header_line({"format": FORMAT, "pubkey": proof["checkpoint"]["pubkey"]})
    cp = proof["checkpoint"]
    checker.checkpoint({**cp, "id": 0})
    i, data = proof["index"], proof["entry"].encode()
    leaf = h(b"\x00" + data)
    path = [bytes.fromhex(p) for p in proof["path"]]
    if leaf.hex() != proof["leaf_hash"]:
        raise Fail(f"entry {i}: leaf hash does not match the entry bytes")
    if not verify_inclusion(i, cp["size"], leaf, path, bytes.fromhex(cp["root"])):
        raise Fail(f"entry {i}: inclusion proof fails against checkpoint {cp['id']}")
    return f"OK: entry {i} is in checkpoint {cp['id']} (size {cp['size']}, root {cp['root']})"


def check_export(path: Path, key: Ed25519PublicKey | None) -> str:
    checker = Checker(key)
    handlers = {
        "header": checker.header_line,
        "checkpoint": checker.checkpoint,
        "consistency": checker.consistency,
        "entry": checker.entry,
    }
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            obj = json.loads(line)
            if lineno == 1 and obj.get("type") != "header":
                raise Fail("line 1: not a header")
            handlers[obj["type"]](obj)
    return checker.finish()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", type=Path, help="an export (JSON lines) or one proof (JSON)")
    ap.add_argument("--pubkey", help="PEM file, PEM text or 64 hex chars of the signing key")
    args = ap.parse_args(argv)
    try:
        key = load_key(args.pubkey) if args.pubkey else None
        with args.file.open(encoding="utf-8") as fh:
            first = fh.readline()
        try:
            is_export = json.loads(first).get("type") == "header"
        except ValueError:
            is_export = False  # a pretty-printed proof
        if is_export:
            print(check_export(args.file, key))
        else:
            print(check_proof(json.loads(args.file.read_text(encoding="utf-8")), key))
        return 0
    except (Fail, KeyError, ValueError) as exc:
        print(f"FAIL: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
