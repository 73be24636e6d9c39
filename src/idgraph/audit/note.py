"""Checkpoints as C2SP signed notes (https://c2sp.org/signed-note, tlog-checkpoint,
tlog-cosignature).

A checkpoint note body is::

    <origin>
    <tree size, decimal>
    <base64 root hash>
    time <ISO 8601 UTC signing time>      (an extension line)

followed by a blank line and one signature line per signer::

    — <key name> <base64(4-byte key id || signature)>

The log signs the body with Ed25519 under the key name ``origin``; its key id is the first
four bytes of SHA-256(name || 0x0A || 0x01 || public key). A witness cosignature
(``cosignature/v1``) signs ``"cosignature/v1\\ntime <unix seconds>\\n" || body``; its key id
uses type byte 0x04 and the signature field is key id || 8-byte big-endian time ||
signature. Pure functions over text and bytes: no store, no files.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
DASH = "\u2014"  # the em dash that starts every signature line


class NoteError(ValueError):
    """Text that is not a well-formed checkpoint note."""


def raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, key: Ed25519PublicKey, kind: int = ED25519) -> bytes:
    """SHA-256(name || 0x0A || kind || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + raw(key)).digest()[:4]


def vkey(name: str, key: Ed25519PublicKey, kind: int = ED25519) -> str:
    """The verifier key text ``name+keyidhex+base64(kind || public key)``."""
    material = base64.b64encode(bytes([kind]) + raw(key)).decode()
    return f"{name}+{key_id(name, key, kind).hex()}+{material}"


def parse_vkey(text: str) -> tuple[str, int, Ed25519PublicKey]:
    """``(name, kind, key)`` from a verifier key; checks its key id."""
    try:
        name, kid, material = text.strip().split("+", 2)
        data = base64.b64decode(material, validate=True)
        key = Ed25519PublicKey.from_public_bytes(data[1:])
    except ValueError as exc:
        raise NoteError(f"not a verifier key: {text!r}") from exc
    if data[0] not in (ED25519, COSIGNATURE_V1) or key_id(name, key, data[0]).hex() != kid:
        raise NoteError(f"verifier key {name!r}: key id or type does not match")
    return name, data[0], key


@dataclass(frozen=True)
class Signature:
    """One signature line: ``name``, 4-byte ``key_id`` and the bytes after it."""

    name: str
    key_id: bytes
    data: bytes

    def line(self) -> str:
        return f"{DASH} {self.name} {base64.b64encode(self.key_id + self.data).decode()}\n"


@dataclass(frozen=True)
class Note:
    """A parsed checkpoint note: the body fields and the signature lines."""

    body: str
    origin: str
    size: int
    root: bytes
    time: str | None
    signatures: tuple[Signature, ...]

    def text(self) -> str:
        return self.body + "\n" + "".join(s.line() for s in self.signatures)

    def with_signature(self, sig: Signature) -> Note:
        if any(s.name == sig.name and s.key_id == sig.key_id for s in self.signatures):
            return self
        return Note(
            self.body, self.origin, self.size, self.root, self.time, (*self.signatures, sig)
        )

    def signed_by(self, name: str, key: Ed25519PublicKey) -> bool:
        """A valid Ed25519 note signature of ``key`` under ``name``."""
        kid = key_id(name, key)
        for s in self.signatures:
            if s.name == name and s.key_id == kid:
                try:
                    key.verify(s.data, self.body.encode())
                except Exception:  # InvalidSignature or malformed
                    return False
                return True
        return False

    def cosigned_by(self, name: str, key: Ed25519PublicKey) -> int | None:
        """The time (unix seconds) of a valid cosignature/v1 by ``key``, else None."""
        kid = key_id(name, key, COSIGNATURE_V1)
        for s in self.signatures:
            if s.name == name and s.key_id == kid and len(s.data) == 72:
                (t,) = struct.unpack(">Q", s.data[:8])
                try:
                    key.verify(s.data[8:], cosigned_message(self.body, t))
                except Exception:
                    return None
                return int(t)
        return None


def body(origin: str, size: int, root: bytes, time: str) -> str:
    if not origin or "\n" in origin or "+" in origin or " " in origin:
        raise NoteError(f"bad origin {origin!r}")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\ntime {time}\n"


def sign(origin: str, size: int, root: bytes, time: str, key: Ed25519PrivateKey) -> Note:
    """A checkpoint note signed by the log key under the name ``origin``."""
    text = body(origin, size, root, time)
    sig = Signature(origin, key_id(origin, key.public_key()), key.sign(text.encode()))
    return Note(text, origin, size, root, time, (sig,))


def cosigned_message(body_text: str, t: int) -> bytes:
    return f"cosignature/v1\ntime {t}\n".encode() + body_text.encode()


def cosign(note: Note, name: str, key: Ed25519PrivateKey, at: datetime) -> Signature:
    """A cosignature/v1 line by witness ``name`` over ``note``'s body at time ``at``."""
    t = int(at.timestamp())
    sig = key.sign(cosigned_message(note.body, t))
    return Signature(
        name, key_id(name, key.public_key(), COSIGNATURE_V1), struct.pack(">Q", t) + sig
    )


def parse(text: str) -> Note:
    """Parse a signed note; the body must be a checkpoint (origin, size, root, ...)."""
    head, sep, tail = text.partition("\n\n")
    if not sep:
        raise NoteError("no blank line between the note body and its signatures")
    lines = head.split("\n")
    if len(lines) < 3:
        raise NoteError("checkpoint body needs an origin, a size and a root hash")
    origin, size_text, root_text = lines[:3]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise NoteError(f"bad tree size {size_text!r}")
    try:
        root = base64.b64decode(root_text, validate=True)
    except ValueError as exc:
        raise NoteError("root hash is not base64") from exc
    if len(root) != 32:
        raise NoteError("root hash is not 32 bytes")
    time = next((x[5:] for x in lines[3:] if x.startswith("time ")), None)
    return Note(head + "\n", origin, int(size_text), root, time, _signatures(tail))


def parse_signature(line: str) -> Signature:
    """One signature line (``— name base64``)."""
    return _signatures(line)[0]


def _signatures(tail: str) -> tuple[Signature, ...]:
    sigs: list[Signature] = []
    for line in tail.split("\n"):
        if not line:
            continue
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise NoteError(f"bad signature line {line!r}")
        try:
            data = base64.b64decode(parts[2], validate=True)
        except ValueError as exc:
            raise NoteError(f"signature of {parts[1]!r} is not base64") from exc
        if len(data) < 5:
            raise NoteError(f"signature of {parts[1]!r} is too short")
        sigs.append(Signature(parts[1], data[:4], data[4:]))
    if not sigs:
        raise NoteError("note has no signature")
    return tuple(sigs)
